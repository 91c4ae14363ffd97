"""The exact words of the package's errors and warnings.

Each message names the parameter, the value, the bound it broke and the fix;
these tests pin the words, so that a changed message is a deliberate change.
"""

import math
import warnings

import numpy as np
import pytest
import torch

import mfgd_helpers as mf
from mfgd_helpers import validation as v

D, C, F = (t.detach() for t in mf.example_problem())

CASES = [
    ('scalar type', lambda: v.check_scalar("a", "lr", float, min_val=0),
     TypeError, "lr == 'a' (str), must be a number >= 0."),
    ('scalar int from float', lambda: v.check_scalar(2.5, "k", int, min_val=1, fix="Pass k=2."),
     TypeError, 'k == 2.5 (float), must be an integer >= 1. Pass k=2.'),
    ('scalar nan', lambda: v.check_scalar(math.nan, "lr", float, min_val=0, include_boundaries="neither"),
     ValueError, 'lr == nan, must be a finite number > 0.'),
    ('scalar below closed', lambda: v.check_scalar(-1, "l2", float, min_val=0),
     ValueError, 'l2 == -1.0, must be a number >= 0.'),
    ('scalar at open', lambda: v.check_scalar(0, "lr", float, min_val=0, include_boundaries="neither"),
     ValueError, 'lr == 0.0, must be a number > 0.'),
    ('scalar above closed', lambda: v.check_scalar(2, "f", float, min_val=0, max_val=1),
     ValueError, 'f == 2.0, must be a number >= 0 and <= 1.'),
    ('scalar at open max', lambda: v.check_scalar(1, "f", float, min_val=0, max_val=1, include_boundaries="left"),
     ValueError, 'f == 1.0, must be a number >= 0 and < 1.'),
    ('scalar tensor', lambda: v.check_scalar(torch.tensor(True), "k", int),
     TypeError, 'k == tensor(True) (Tensor), must be an integer.'),
    ('bad target type', lambda: v.check_scalar(1, "k", complex),
     TypeError, "target_type must be int or float; got <class 'complex'>."),
    ('bad boundaries', lambda: v.check_scalar(1, "k", int, include_boundaries="all"),
     ValueError, "include_boundaries == 'all', must be one of ('both', 'neither', 'left', 'right')."),
    ('bool', lambda: v.check_bool("yes", "verbose"),
     TypeError, "verbose == 'yes' (str), must be True or False."),
    ('choice value', lambda: v.check_choice("adam", "method", ("autograd", "analytic"), "Pick one."),
     ValueError, "method == 'adam', must be one of ('autograd', 'analytic'). Pick one."),
    ('choice type', lambda: v.check_choice(1, "method", ("autograd", "analytic")),
     TypeError, "method == 1 (int), must be one of ('autograd', 'analytic')."),
    ('callable', lambda: v.check_callable(3, "callback", "f(i, loss)"),
     TypeError, 'callback == 3 is not callable; pass a function f(i, loss) or None.'),
    ('dtype', lambda: v.check_dtype(torch.int64),
     TypeError, 'dtype == torch.int64, must be torch.float32 or torch.float64. Pass dtype=torch.float32 (the default) or dtype=torch.float64 for more digits.'),
    ('instance', lambda: v.check_instance(3, "label", str, "a string", "Pass label='x'.", optional=False),
     TypeError, "label == 3 (int), must be a string. Pass label='x'."),
    ('seed', lambda: v.check_seed(-1),
     ValueError, 'seed == -1, must be an integer >= 0 and <= 18446744073709551615. Pass e.g. seed=0 for reproducible numbers, None for fresh ones, or a torch.Generator.'),
    ('matrix sparse', lambda: v.check_matrix(torch.ones(2, 2).to_sparse(), "D"),
     TypeError, 'D is a sparse_coo tensor; a matrix must be dense. Convert it with D.to_dense().'),
    ('matrix str', lambda: v.check_matrix("ab", "D"),
     TypeError, "D == 'ab' (str), must be a matrix: a tensor, a numpy array or a nested list."),
    ('matrix object array', lambda: v.check_matrix(np.array([[object()]]), "D"),
     TypeError, 'D is a numpy array of dtype object, must hold numbers (a matrix). Convert it with D.astype(float).'),
    ('matrix ragged', lambda: v.check_matrix([[1, 2], [3]], "D"),
     ValueError, 'D is a ragged list: row 0 has 2 entries but row 1 has 1; a matrix needs rows of equal length.'),
    ('matrix strings', lambda: v.check_matrix([["a"]], "D"),
     TypeError, "D must be a matrix: a tensor, a numpy array or a nested list of numbers; got list (too many dimensions 'str')."),
    ('matrix complex', lambda: v.check_matrix(torch.ones(1, 1, dtype=torch.complex64), "D"),
     TypeError, 'D has dtype torch.complex64, must be real numbers. Convert it with D.real or D.float().'),
    ('matrix half', lambda: v.check_matrix(torch.ones(1, 1, dtype=torch.float16), "D"),
     TypeError, 'D has dtype torch.float16, must be torch.float32 or torch.float64: half precision overflows at 65504 and rounds away the small steps. Convert it with D.float().'),
    ('matrix 1-D', lambda: v.check_matrix(torch.ones(3), "D"),
     ValueError, 'D must be 2-D (n, m); got shape (3,). Use D.reshape(1, -1) for a single row.'),
    ('matrix empty', lambda: v.check_matrix(torch.ones(0, 3), "D"),
     ValueError, 'D is empty (shape (0, 3)); every dimension must be >= 1.'),
    ('matrix nan', lambda: v.check_matrix(torch.tensor([[1.0, math.nan]]), "D"),
     ValueError, 'D contains 1 NaN or inf value(s), the first at [0, 1] == nan. To fix it, remove or replace them (for missing entries pass a mask instead).'),
    ('target observed nan', lambda: v.check_target(torch.tensor([[math.nan, 1.0]]), torch.tensor([[True, False]])),
     ValueError, 'D contains 1 observed NaN or inf value(s), the first at [0, 0] == nan. To fix it, mark it unobserved (False) in the mask or replace it.'),
    ('mask dtype', lambda: v.check_mask(torch.ones(1, 2), torch.Size([1, 2])),
     TypeError, 'mask has dtype torch.float32, must be boolean (True = observed). Build it with a comparison, e.g. mask = torch.rand(n, m) < 0.5, or convert with mask != 0.'),
    ('mask shape', lambda: v.check_mask(torch.ones(2, 2, dtype=torch.bool), torch.Size([1, 2])),
     ValueError, "mask has shape (2, 2), must match D's shape (1, 2)."),
    ('mask empty', lambda: v.check_mask(torch.zeros(1, 2, dtype=torch.bool), torch.Size([1, 2])),
     ValueError, 'mask observes no entry (all False); at least one entry must be True.'),
    ('factors n', lambda: v.check_factors(D, torch.ones(2, 2), F),
     ValueError, 'C has shape (2, 2) but D has shape (3, 4): C must have n == 3 rows. Build it as C of shape (3, k).'),
    ('factors k', lambda: v.check_factors(D, C, torch.ones(3, 4)),
     ValueError, 'F has shape (3, 4) but C has shape (3, 2): F must have k == 2 rows. Build it as F of shape (2, 4).'),
    ('factors m', lambda: v.check_factors(D, C, torch.ones(2, 5)),
     ValueError, 'F has shape (2, 5) but D has shape (3, 4): F must have m == 4 columns. Build it as F of shape (2, 4).'),
    ('overflow32', lambda: v.check_no_overflow(torch.tensor(math.inf), "the squares of A - B", torch.float32),
     ValueError, 'the squares of A - B overflow torch.float32 (largest value 3.4e+38) although every input is finite. Scale the data down or compute in float64 (.double()).'),
    ('overflow64', lambda: v.check_no_overflow(torch.tensor(math.inf), "the gradients", torch.float64),
     ValueError, 'the gradients overflow torch.float64 (largest value 1.8e+308) although every input is finite. Scale the data down.'),
    ('criterion shapes', lambda: mf.criterion(D, C),
     ValueError, 'A has shape (3, 4) but B has shape (3, 2); the loss compares entry by entry, so the shapes must be equal (check the order of C @ F).'),
    ('train lr too large', lambda: mf.train(D, C, F, lr=1e300, n_iterations=1),
     ValueError, 'lr == 1e+300 with l2 == 0 is too large for torch.float32: the step 2 lr (1 + l2) exceeds its largest value 3.4e+38. Pass a small lr such as lr=0.01 (mf.suggest_lr gives a safe one).'),
    ('mask sparse', lambda: v.check_mask(torch.ones(1, 2, dtype=torch.bool).to_sparse(), torch.Size([1, 2])),
     TypeError, 'mask is a sparse_coo tensor; a boolean mask must be dense. Convert it with mask.to_dense().'),
    ('mask string', lambda: v.check_mask("all", torch.Size([1, 2])),
     TypeError, "mask == 'all' (str), must be a boolean mask: a tensor, a numpy array or a nested list."),
    ('matrix numpy strings', lambda: v.check_matrix(np.array([["a", "b"]]), "D"),
     TypeError, 'D is a numpy array of dtype <U1, must hold numbers (a matrix). Convert it with D.astype(float).'),
    ('matrix ragged many rows', lambda: v.check_matrix([[1.0]] * 9 + [[1.0, 2.0]], "D"),
     ValueError, 'D is a ragged list: row 0 has 1 entries but row 9 has 2; a matrix needs rows of equal length.'),
    ('scalar right-closed', lambda: v.check_scalar(0, "f", float, min_val=0, max_val=1, include_boundaries="right"),
     ValueError, 'f == 0.0, must be a number > 0 and <= 1.'),
    ('choice of numbers', lambda: v.check_choice(3, "k", (1, 2)),
     ValueError, 'k == 3, must be one of (1, 2).'),
    ('scalar 1-element tensor', lambda: v.check_scalar(torch.tensor([1.0]), "lr", float),
     TypeError, 'lr == tensor([1.]) (Tensor), must be a number.'),
    ('scalar numpy 1-element', lambda: v.check_scalar(np.array([1.0]), "lr", float),
     TypeError, 'lr == array([1.]) (ndarray), must be a number.'),
    ('scalar bool tensor', lambda: v.check_scalar(torch.tensor(True), "lr", float),
     TypeError, 'lr == tensor(True) (Tensor), must be a number.'),
    ('scalar numpy bool', lambda: v.check_scalar(np.bool_(False), "k", int),
     TypeError, f'k == {np.bool_(False)!r} ({type(np.bool_(False)).__name__}), must be an integer.'),  # numpy's own words
]


@pytest.mark.parametrize("name, call, error, message", CASES, ids=[c[0] for c in CASES])
def test_message(name, call, error, message):
    with pytest.raises(error) as caught:
        call()
    assert str(caught.value) == message


def test_the_divergence_warning_names_the_iteration_the_loss_and_a_smaller_lr():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mf.train(D, C, F, lr=5.0, n_iterations=50)
    assert [str(w.message) for w in caught] == [
        "Training diverged at iteration 4: the loss became inf with lr=5. Try lr=0.5 or "
        "smaller (mf.max_stable_lr(D, C, F) gives the bound, mf.suggest_lr a safe value)."]
    assert caught[0].category is mf.DivergenceWarning  # its line: tests/test_training.py


def test_numbers_in_any_wrapper_are_accepted_and_bounds_are_inclusive_where_said():
    assert v.check_scalar(np.array(0.5), "lr", float) == 0.5
    assert v.check_scalar(torch.tensor(3), "k", int) == 3 and type(v.check_scalar(np.int8(3), "k", int)) is int
    assert v.check_scalar(1, "f", float, min_val=0, max_val=1, include_boundaries="right") == 1.0
    assert v.check_scalar(0, "f", float, min_val=0, max_val=1, include_boundaries="left") == 0.0
    assert v.check_scalar(0, "f", float, min_val=0, max_val=1) == 0.0
    assert v.check_choice(2, "k", (1, 2)) == 2
    assert v.check_bool(np.bool_(True), "flag") is True and v.check_bool(torch.tensor(False), "flag") is False


def test_gradient_step_says_what_to_do_first():
    Cg, Fg = C.clone().requires_grad_(), F.clone().requires_grad_()
    with pytest.raises(RuntimeError) as caught:
        mf.gradient_step(Cg, Fg, lr=0.1)
    assert str(caught.value) == (
        "C.grad is None: compute the loss and call loss.backward() before gradient_step, "
        "so that the gradients exist.")
    with pytest.raises(TypeError) as caught:
        mf.gradient_step(C, Fg, lr=0.1)
    assert str(caught.value) == (
        "C must be a tensor with requires_grad=True; create it with C.requires_grad_().")


def test_autograd_training_inside_inference_mode_says_why_it_cannot():
    with torch.inference_mode(), pytest.raises(RuntimeError) as caught:
        mf.train(D, C, F, lr=0.1, n_iterations=1)
    assert "method='autograd' needs autograd, which torch.inference_mode() turns off" in str(
        caught.value)
