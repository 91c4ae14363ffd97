"""Every public function against the inputs users do send.

One table: for each public function and each of its parameters, the bad
values of that parameter's kind (matrix, mask, number, whole number, seed,
flag, choice, callable, dtype). Each call must raise TypeError (wrong kind)
or ValueError (right kind, wrong value) with a message that names the
parameter; the values a Python number stands for (numpy scalars, 0-d
tensors) and plain integer matrices must instead be accepted and give the
right answer.
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest
import torch

import mfgd_helpers as mf

D0, C0, F0 = (t.detach() for t in mf.example_problem())
MASK0 = torch.ones(3, 4, dtype=torch.bool)
MASK0[0, 0] = False


def nan_at(t, i=1, j=1):
    t = t.clone()
    t[i, j] = math.nan
    return t


def inf_at(t, i=0, j=1):
    t = t.clone()
    t[i, j] = math.inf
    return t


# (label, value, error) for a matrix argument of shape `like`
def bad_matrices(like):
    n, m = like.shape
    return [
        ("a string", "abc", TypeError),
        ("None", None, TypeError),
        ("a dict", {"a": 1}, TypeError),
        ("a numpy array of objects", np.array([[object()] * m] * n), TypeError),
        ("a ragged list", [[1.0] * m, [1.0] * (m + 1)] + [[1.0] * m] * (n - 2), ValueError),
        ("a list of strings", [["a"] * m] * n, TypeError),
        ("1-D", torch.ones(n * m), ValueError),
        ("3-D", torch.ones(n, m, 1), ValueError),
        ("empty", torch.ones(0, m), ValueError),
        ("bool", torch.ones(n, m, dtype=torch.bool), TypeError),
        ("complex", torch.ones(n, m, dtype=torch.complex64), TypeError),
        ("float16", torch.ones(n, m, dtype=torch.float16), TypeError),
        ("sparse", torch.ones(n, m).to_sparse(), TypeError),
        ("NaN", nan_at(like.float()), ValueError),
        ("inf", inf_at(like.float()), ValueError),
    ]


BAD_MASKS = [
    ("a string", "all", TypeError),
    ("a ragged list", [[True] * 4, [True] * 3, [True] * 4], ValueError),
    ("floats", MASK0.float(), TypeError),
    ("integers", MASK0.long(), TypeError),
    ("the wrong shape", torch.ones(4, 3, dtype=torch.bool), ValueError),
    ("all False", torch.zeros(3, 4, dtype=torch.bool), ValueError),
    ("sparse", MASK0.to_sparse(), TypeError),
]


def bad_numbers(*, positive=True, low_closed=False):
    cases = [
        ("a string", "0.1", TypeError),
        ("None", None, TypeError),
        ("a bool", True, TypeError),
        ("complex", 0.1 + 0j, TypeError),
        ("a 1-element list", [0.1], TypeError),
        ("a 2-element tensor", torch.tensor([0.1, 0.2]), TypeError),
        ("NaN", math.nan, ValueError),
        ("inf", math.inf, ValueError),
        ("negative", -0.5, ValueError),
    ]
    if positive and not low_closed:
        cases.append(("zero", 0.0, ValueError))
    return cases


def bad_whole_numbers(minimum=1):
    return [
        ("a string", "3", TypeError),
        ("None", None, TypeError),
        ("a bool", True, TypeError),
        ("a float", 2.5, TypeError),
        ("a whole float", 3.0, TypeError),
        ("below the minimum", minimum - 1, ValueError),
        ("a numpy bool", np.bool_(True), TypeError),
    ]


BAD_SEEDS = [
    ("a string", "0", TypeError),
    ("a float", 1.5, TypeError),
    ("a bool", True, TypeError),
    ("negative", -1, ValueError),
    ("2**64", 2**64, ValueError),
]

BAD_FLAGS = [("an int", 1, TypeError), ("a string", "yes", TypeError), ("None", None, TypeError)]
BAD_DTYPES = [("int64", torch.int64, TypeError), ("complex64", torch.complex64, TypeError),
              ("float16", torch.float16, TypeError), ("a string", "float32", TypeError),
              ("numpy's float32", np.float32, TypeError)]


def train(**kw):
    args = dict(D=D0, C=C0, F=F0, lr=0.01, n_iterations=3) | kw
    return mf.train(args.pop("D"), args.pop("C"), args.pop("F"), **args)


def stepped(**kw):
    C = C0.clone().requires_grad_()
    F = F0.clone().requires_grad_()
    mf.criterion(D0, C @ F).backward()
    args = dict(C=C, F=F, lr=0.01) | kw
    return mf.gradient_step(**args)


# function name -> (call(**override), {parameter: cases})
def table():
    DCF = {"D": bad_matrices(D0), "C": bad_matrices(C0), "F": bad_matrices(F0)}
    rows = {
        "criterion": (lambda **kw: mf.criterion(**(dict(A=D0, B=C0 @ F0) | kw)),
                      {"A": bad_matrices(D0), "B": bad_matrices(D0), "mask": BAD_MASKS}),
        "analytic_gradients": (
            lambda **kw: mf.analytic_gradients(**(dict(D=D0, C=C0, F=F0) | kw)),
            DCF | {"mask": BAD_MASKS, "l2": bad_numbers(low_closed=True)}),
        "train": (train, DCF | {
            "mask": BAD_MASKS, "lr": bad_numbers(), "n_iterations": bad_whole_numbers(0),
            "log_every": bad_whole_numbers(1), "l2": bad_numbers(low_closed=True),
            "verbose": BAD_FLAGS,
            "method": [("unknown", "adam", ValueError), ("not a string", 1, TypeError)],
            "callback": [("not callable", 3, TypeError)]}),
        "gradient_step": (stepped, {"lr": bad_numbers(),
                                    "C": [("a list", [[1.0]], TypeError),
                                          ("no grad", C0.clone(), TypeError)]}),
        "curvature": (lambda **kw: mf.curvature(**(dict(D=D0, C=C0, F=F0) | kw)),
                      DCF | {"mask": BAD_MASKS, "n_iter": bad_whole_numbers(1)}),
        "max_stable_lr": (lambda **kw: mf.max_stable_lr(**(dict(D=D0, C=C0, F=F0) | kw)),
                          DCF | {"mask": BAD_MASKS}),
        "suggest_lr": (lambda **kw: mf.suggest_lr(**(dict(D=D0, C=C0, F=F0) | kw)),
                       DCF | {"mask": BAD_MASKS}),
        "best_rank_k_loss": (lambda **kw: mf.best_rank_k_loss(**(dict(D=D0, k=1) | kw)),
                             {"D": bad_matrices(D0), "k": bad_whole_numbers(1)}),
        "truncated_svd": (lambda **kw: mf.truncated_svd(**(dict(D=D0, k=1) | kw)),
                          {"D": bad_matrices(D0), "k": bad_whole_numbers(1)}),
        "make_target": (lambda **kw: mf.make_target(**(dict(n=3, m=4, k=2, seed=0) | kw)),
                        {"n": bad_whole_numbers(1), "m": bad_whole_numbers(1),
                         "k": bad_whole_numbers(1), "seed": BAD_SEEDS, "dtype": BAD_DTYPES}),
        "init_factors": (lambda **kw: mf.init_factors(**(dict(n=3, m=4, k=2, seed=0) | kw)),
                         {"n": bad_whole_numbers(1), "k": bad_whole_numbers(1),
                          "seed": BAD_SEEDS, "dtype": BAD_DTYPES}),
        "random_mask": (
            lambda **kw: mf.random_mask(**(dict(shape=(3, 4), observed_fraction=0.5,
                                                seed=0) | kw)),
            {"observed_fraction": bad_numbers() + [("above 1", 1.5, ValueError)],
             "seed": BAD_SEEDS,
             "shape": [("a string", "3x4", TypeError), ("one number", (12,), ValueError),
                       ("a zero", (0, 4), ValueError), ("a float", (3.0, 4), TypeError)]}),
        "load_sample_image": (
            lambda **kw: mf.load_sample_image(**(dict(size=32) | kw)),
            {"name": [("unknown", "lena.png", ValueError), ("a number", 3, TypeError)],
             "size": [case for case in bad_whole_numbers(8) if case[0] != "None"]
                     + [("larger than the photo", 10_000, ValueError)]}),
        "describe_graph": (
            lambda **kw: mf.describe_graph(**(dict(tensor=mf.criterion(D0, C0 @ F0)) | kw)),
            {"tensor": [("a string", "loss", TypeError), ("a float", 1.0, TypeError)],
             "params": [("a list", [C0], TypeError), ("a non-tensor value", {"C": 1.0},
                                                      TypeError)]}),
        "plot_graph": (
            lambda **kw: mf.plot_graph(**(dict(tensor=mf.criterion(D0, C0 @ F0)) | kw)),
            {"tensor": [("a string", "loss", TypeError)],
             "params": [("a list", [C0], TypeError)],
             "ax": [("a number", 3, TypeError), ("a string", "left", TypeError)]}),
        "plot_loss": (
            lambda **kw: mf.plot_loss(**(dict(result=[1.0, 0.5]) | kw)),
            {"result": [("a string", "losses", TypeError), ("None", None, TypeError)],
             "optimum": [("NaN", math.nan, ValueError), ("a string", "0", TypeError),
                         ("negative", -1.0, ValueError)],
             "ax": [("a number", 3, TypeError)]}),
        "plot_matrices": (
            lambda **kw: mf.plot_matrices(**(dict(D=D0, D_hat=C0 @ F0) | kw)),
            {"D": bad_matrices(D0), "D_hat": bad_matrices(D0),
             "titles": [("too few", ("D", "D_hat"), ValueError), ("a string", "D", TypeError)],
             "fig": [("a number", 3, TypeError)],
             "annotate": [("a string", "yes", TypeError)],
             "shared_scale": [("an int", 2, TypeError)]}),
        "playground": (
            lambda **kw: mf.playground(**kw),
            {"lr": [("a string", "0.1", TypeError), ("NaN", math.nan, ValueError),
                    ("zero", 0.0, ValueError)],
             "k": [("a float", 1.5, TypeError), ("zero", 0, ValueError)],
             "seed": [("negative", -1, ValueError), ("a float", 1.5, TypeError)],
             "settings": [("a dict", {"lr": 0.1}, TypeError)]}),
    }
    for function, (call, parameters) in rows.items():
        for parameter, cases in parameters.items():
            for label, value, error in cases:
                yield pytest.param(call, parameter, value, error,
                                   id=f"{function}-{parameter}-{label}")


@pytest.mark.parametrize("call, parameter, value, error", list(table()))
def test_bad_input_is_a_clear_error_naming_the_parameter(call, parameter, value, error):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning instead of an error does not count
        with pytest.raises(error) as caught:
            call(**{parameter: value})
    message = str(caught.value)
    assert re.search(rf"(?<![\w.]){re.escape(parameter)}(?![\w(])", message), (
        f"the message does not name {parameter!r}: {message}")
    assert not message.startswith(("The size of tensor", "expected", "mat1 and mat2")), message


def test_every_public_function_is_in_the_table():
    import inspect

    covered = {p.id.split("-")[0] for p in table()}
    functions = {name for name in mf.__all__ if inspect.isfunction(getattr(mf, name))
                 and inspect.signature(getattr(mf, name)).parameters}
    assert functions - covered == set()


# accepted, and right -------------------------------------------------------------


def test_numpy_scalars_and_0d_tensors_stand_for_numbers():
    reference = train(lr=0.01, n_iterations=3, l2=0.1)
    for lr, n, l2 in [(np.float32(0.01), np.int64(3), np.float64(0.1)),
                      (torch.tensor(0.01), torch.tensor(3), torch.tensor(0.1))]:
        result = train(lr=lr, n_iterations=n, l2=l2)
        assert result.losses == pytest.approx(reference.losses, rel=1e-6)
    assert mf.best_rank_k_loss(D0, np.int32(1)) == mf.best_rank_k_loss(D0, 1)
    assert torch.equal(mf.make_target(3, 4, 2, seed=np.uint8(5)), mf.make_target(3, 4, 2, seed=5))


def test_integer_matrices_are_converted_not_overflowed():
    A = torch.tensor([[100]], dtype=torch.int8)
    assert mf.criterion(A, -A).item() == 40000.0
    assert mf.criterion([[1, 2]], [[0, 0]]).item() == 5.0
    dC, dF = mf.analytic_gradients([[2]], [[1]], [[1]])
    assert dC.item() == -2.0 and dF.item() == -2.0


def test_numpy_and_list_inputs_give_the_tensor_answer():
    expected = mf.criterion(D0, C0 @ F0, mask=MASK0)
    assert mf.criterion(D0.numpy(), (C0 @ F0).numpy(), mask=MASK0.numpy()) == expected
    assert mf.criterion(D0.tolist(), (C0 @ F0).tolist(), mask=MASK0.tolist()) == expected


def test_hidden_nan_is_fine_but_observed_nan_is_not():
    D = D0.clone()
    D[0, 0] = math.nan  # hidden by MASK0
    assert math.isfinite(mf.criterion(D, C0 @ F0, mask=MASK0).item())
    assert math.isfinite(train(D=D, mask=MASK0).final_loss)
    with pytest.raises(ValueError, match=r"D contains 1 observed NaN"):
        train(D=nan_at(D0), mask=MASK0)


# magnitudes: never a silent NaN or inf -------------------------------------------


def test_a_loss_that_overflows_float32_is_an_error_with_the_fix():
    with pytest.raises(ValueError, match=r"overflow torch.float32 .*float64"):
        mf.criterion(torch.full((2, 2), 1e20), torch.zeros(2, 2))
    assert math.isfinite(mf.criterion(torch.full((2, 2), 1e20).double(),
                                      torch.zeros(2, 2)).item())


def test_gradients_that_overflow_are_an_error():
    with pytest.raises(ValueError, match=r"the gradients overflow"):
        mf.analytic_gradients(torch.zeros(2, 2), torch.full((2, 1), 1e13), torch.full((1, 2), 1e13))


def test_curvature_of_huge_factors_is_an_error_not_an_eigensolver_failure():
    with pytest.raises(ValueError, match=r"Hessian's entries .* overflow torch.float64"):
        mf.curvature(D0.double(), C0.double() * 1e200, F0.double() * 1e200)


def test_a_step_too_large_for_the_dtype_is_an_error():
    with pytest.raises(ValueError, match=r"lr == 1e\+300 .* too large for torch.float32"):
        train(lr=1e300, method="analytic")
    with pytest.raises(ValueError, match=r"the step with lr=1e\+300 overflow"):
        stepped(lr=1e300)


def test_a_nan_gradient_is_refused_by_gradient_step():
    C = C0.clone().requires_grad_()
    F = F0.clone().requires_grad_()
    (mf.criterion(D0, C @ F) * math.nan).backward()
    with pytest.raises(ValueError, match=r"C.grad contains NaN or inf"):
        mf.gradient_step(C, F, lr=0.01)
    assert torch.equal(C.detach(), C0), "a refused step must not change C"


def test_a_target_too_large_to_train_on_warns_at_iteration_one():
    with pytest.warns(mf.DivergenceWarning, match="iteration 1"):
        result = train(D=D0 * 1e20, method="analytic")
    assert result.diverged_at == 1 and result.losses == []


def test_curvature_never_returns_inf_for_finite_input():
    D = torch.zeros(1, 1, dtype=torch.float64)
    for scale in (0.6e154, 0.9e154, 1e200):
        C = torch.full((1, 4), scale, dtype=torch.float64)
        with pytest.raises(ValueError, match=r"Hessian's entries .* overflow torch.float64"):
            mf.curvature(D, C, torch.ones(4, 1, dtype=torch.float64))
