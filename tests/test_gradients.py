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
