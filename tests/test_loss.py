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


def test_hidden_entries_of_either_side_may_hold_nan():
    mask = torch.tensor([[True, False], [True, True]])
    A = torch.tensor([[1.0, float("nan")], [2.0, 3.0]])
    B = torch.tensor([[0.0, 5.0], [float("nan"), 1.0]])
    with pytest.raises(ValueError, match=r"B contains 1 observed NaN"):
        mf.criterion(A, B, mask=mask)
    B[1, 0] = 0.0
    B[0, 1] = float("inf")  # hidden
    assert mf.criterion(A, B, mask=mask).item() == 1 + 4 + 4


def test_mixed_precision_is_computed_in_float64():
    A = torch.tensor([[1.0, 2.0]], dtype=torch.float64) + 1e-12
    loss = mf.criterion(A, torch.tensor([[1.0, 2.0]]))
    assert loss.dtype == torch.float64 and loss.item() == pytest.approx(2e-24, rel=1e-3)


def test_the_loss_keeps_the_graph_of_either_side():
    A = torch.ones(2, 2, requires_grad=True)
    B = torch.zeros(2, 2, requires_grad=True)
    mf.criterion(A, B, mask=torch.eye(2, dtype=torch.bool)).backward()
    assert torch.equal(A.grad, 2 * torch.eye(2)) and torch.equal(B.grad, -2 * torch.eye(2))


@pytest.mark.parametrize("shape", [(256, 256), (256, 257), (300, 301)])  # 1, 1 + a bit, 2 pieces
def test_the_fast_loss_value_equals_the_loss_over_pieces(shape):
    from mfgd_helpers.loss import _loss_value, _objective

    g = torch.Generator().manual_seed(0)
    R = torch.randn(*shape, generator=g)
    C, F = torch.randn(shape[0], 3, generator=g), torch.randn(3, shape[1], generator=g)
    for l2 in (0.0, 0.25):
        value = _loss_value(R.view(-1), C.t().contiguous().view(-1), F.reshape(-1), l2)
        assert value == pytest.approx(_objective(R, C, F, l2).item(), rel=1e-6)
        exact = (R.double() ** 2).sum() + l2 * ((C.double() ** 2).sum() + (F.double() ** 2).sum())
        assert value == pytest.approx(exact.item(), rel=1e-6)
