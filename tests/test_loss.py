import numpy as np
import pytest
import torch

import mfgd_helpers as mf


def test_criterion_is_the_sum_of_squared_differences():
    A = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    B = torch.tensor([[1.0, 0.0], [0.0, 4.0]])
    assert mf.criterion(A, B).item() == 4.0 + 9.0


def test_criterion_is_differentiable():
    D, C, F = mf.example_problem()
    loss = mf.criterion(D, C @ F)
    assert loss.dim() == 0 and loss.grad_fn is not None
    loss.backward()
    assert C.grad is not None and F.grad is not None


def test_criterion_accepts_numpy():
    assert mf.criterion(np.ones((2, 2)), np.zeros((2, 2))).item() == 4.0


def test_mask_counts_observed_entries_only():
    A, B = torch.zeros(2, 2), torch.tensor([[1.0, 100.0], [2.0, 3.0]])
    mask = torch.tensor([[True, False], [True, True]])
    assert mf.criterion(A, B, mask=mask).item() == 1 + 4 + 9


def test_shape_mismatch_is_not_broadcast():
    with pytest.raises(ValueError, match=r"A has shape \(3, 4\) but B has shape \(1, 4\)"):
        mf.criterion(torch.ones(3, 4), torch.ones(1, 4))


def test_bad_input_type():
    with pytest.raises(TypeError, match="A must be a matrix: a tensor, a numpy array or a nested list"):
        mf.criterion(object(), torch.ones(1))
