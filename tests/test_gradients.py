import pytest
import torch

import mfgd_helpers as mf


def _autograd(D, C, F, mask=None):
    C = C.clone().requires_grad_()
    F = F.clone().requires_grad_()
    mf.criterion(D, C @ F, mask=mask).backward()
    return C.grad, F.grad


@pytest.mark.parametrize("n, m, k", [(3, 4, 2), (1, 1, 1), (7, 2, 5), (20, 30, 4)])
def test_analytic_equals_autograd_in_float64(n, m, k):
    g = torch.Generator().manual_seed(n * 100 + m * 10 + k)
    D = torch.randn(n, m, generator=g, dtype=torch.float64)
    C = torch.randn(n, k, generator=g, dtype=torch.float64)
    F = torch.randn(k, m, generator=g, dtype=torch.float64)
    dC, dF = mf.analytic_gradients(D, C, F)
    aC, aF = _autograd(D, C, F)
    torch.testing.assert_close(dC, aC, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(dF, aF, rtol=1e-12, atol=1e-12)


def test_analytic_with_mask_equals_autograd():
    g = torch.Generator().manual_seed(0)
    D = torch.randn(5, 6, generator=g, dtype=torch.float64)
    C = torch.randn(5, 2, generator=g, dtype=torch.float64)
    F = torch.randn(2, 6, generator=g, dtype=torch.float64)
    mask = torch.rand(5, 6, generator=g) < 0.5
    dC, dF = mf.analytic_gradients(D, C, F, mask=mask)
    aC, aF = _autograd(D, C, F, mask)
    torch.testing.assert_close(dC, aC, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(dF, aF, rtol=1e-12, atol=1e-12)


def test_gradcheck_on_the_loss():
    g = torch.Generator().manual_seed(1)
    D = torch.randn(3, 4, generator=g, dtype=torch.float64)
    C = torch.randn(3, 2, generator=g, dtype=torch.float64, requires_grad=True)
    F = torch.randn(2, 4, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda c, f: mf.criterion(D, c @ f), (C, F))


def test_gradients_vanish_at_an_exact_factorization():
    C = torch.tensor([[1.0], [2.0]])
    F = torch.tensor([[3.0, 4.0]])
    dC, dF = mf.analytic_gradients(C @ F, C, F)
    assert torch.count_nonzero(dC) == 0 and torch.count_nonzero(dF) == 0


def test_analytic_gradients_do_not_build_a_graph():
    D, C, F = mf.example_problem()
    dC, dF = mf.analytic_gradients(D, C, F)
    assert dC.grad_fn is None and dF.grad_fn is None and C.grad is None


def test_shape_errors():
    with pytest.raises(ValueError, match="F must have k == 2 rows"):
        mf.analytic_gradients(torch.ones(3, 4), torch.ones(3, 2), torch.ones(3, 4))


@pytest.mark.parametrize("l2", [0.0, 0.3])
@pytest.mark.parametrize("masked", [False, True])
def test_the_fast_path_step_is_the_step_of_the_gradients(l2, masked):
    """_descent_step, fused and in place, takes the step C - lr dC, F - lr dF of _gradients."""
    from mfgd_helpers.gradients import _descent_step, _gradients
    from mfgd_helpers.loss import _residual

    g = torch.Generator().manual_seed(0)
    D, C, F = (torch.rand(*s, generator=g, dtype=torch.float64) for s in ((5, 7), (5, 3), (3, 7)))
    mask = torch.rand(5, 7, generator=g) < 0.6 if masked else None
    D = torch.where(mask, D, 0.0) if masked else D
    R = _residual(D, C, F, mask)
    dC, dF = _gradients(R, C, F, l2)
    expected = C - 0.05 * dC, F - 0.05 * dF
    C_work, F_work = C.clone(), F.clone()
    _descent_step(C_work, F_work, 0.05, l2)(_residual(D, C_work, F_work, mask, out=torch.empty(5, 7, dtype=torch.float64)))
    torch.testing.assert_close((C_work, F_work), expected, rtol=1e-14, atol=1e-14)
    dC_public, dF_public = mf.analytic_gradients(D, C, F, mask, l2=l2)
    torch.testing.assert_close((dC_public, dF_public), (dC, dF), rtol=0, atol=0)


def test_the_l2_gradients_are_those_of_the_penalized_loss():
    g = torch.Generator().manual_seed(1)
    D, C, F = (torch.rand(*s, generator=g, dtype=torch.float64) for s in ((4, 6), (4, 2), (2, 6)))
    Cg, Fg = C.clone().requires_grad_(), F.clone().requires_grad_()
    (mf.criterion(D, Cg @ Fg) + 0.7 * (Cg.pow(2).sum() + Fg.pow(2).sum())).backward()
    dC, dF = mf.analytic_gradients(D, C, F, l2=0.7)
    torch.testing.assert_close((dC, dF), (Cg.grad, Fg.grad), rtol=1e-12, atol=1e-12)
