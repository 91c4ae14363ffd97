"""Missing entries: the masked loss, its gradients and masked training."""

import numpy as np
import pytest
import torch

import mfgd_helpers as mf


@pytest.fixture
def problem():
    D = mf.make_target(12, 15, 2, seed=0)
    mask = mf.random_mask(D.shape, 0.5, seed=1)
    C, F = mf.init_factors(12, 15, 2, seed=2)
    return D, mask, C, F


def _scrambled(D, mask):
    """D with every hidden entry replaced by a very different value."""
    other = D.clone()
    hidden = int((~mask).sum())
    other[~mask] = torch.linspace(-50.0, 50.0, hidden, dtype=D.dtype)
    assert not torch.equal(other, D)
    return other


def _rmse(A, B, where):
    return torch.sqrt(((A - B)[where] ** 2).mean()).item()


# --- hidden entries have no influence at all ------------------------------------------

def test_the_masked_loss_ignores_hidden_entries_exactly(problem):
    D, mask, C, F = problem
    other = _scrambled(D, mask)
    D_hat = (C @ F).detach()
    assert torch.equal(mf.criterion(D, D_hat, mask=mask), mf.criterion(other, D_hat, mask=mask))
    # without the mask the change is visible: the test above can fail
    assert mf.criterion(other, D_hat).item() > 100 * mf.criterion(D, D_hat).item()


def test_the_masked_loss_is_the_sum_over_observed_entries(problem):
    D, mask, C, F = problem
    D, D_hat = D.double(), (C @ F).detach().double()
    expected = sum((D[i, j] - D_hat[i, j]).item() ** 2
                   for i, j in mask.nonzero().tolist())
    assert mf.criterion(D, D_hat, mask=mask).item() == pytest.approx(expected, rel=1e-12)


def test_an_all_true_mask_is_the_plain_loss(problem):
    D, _, C, F = problem
    everything = torch.ones_like(D, dtype=torch.bool)
    assert mf.criterion(D, C @ F, mask=everything).item() == pytest.approx(
        mf.criterion(D, C @ F).item(), rel=1e-6)


def test_analytic_gradients_ignore_hidden_entries_exactly(problem):
    D, mask, C, F = problem
    other = _scrambled(D, mask)
    for a, b in zip(mf.analytic_gradients(D, C, F, mask=mask),
                    mf.analytic_gradients(other, C, F, mask=mask)):
        assert torch.equal(a, b)


def test_autograd_gradients_ignore_hidden_entries_exactly(problem):
    D, mask, C, F = problem
    grads = []
    for target in (D, _scrambled(D, mask)):
        c, f = C.detach().clone().requires_grad_(), F.detach().clone().requires_grad_()
        mf.criterion(target, c @ f, mask=mask).backward()
        grads.append((c.grad, f.grad))
    assert torch.equal(grads[0][0], grads[1][0]) and torch.equal(grads[0][1], grads[1][1])


@pytest.mark.parametrize("method", ["autograd", "analytic"])
@pytest.mark.parametrize("l2", [0.0, 0.05])
def test_training_history_ignores_hidden_entries_exactly(problem, method, l2):
    D, mask, C, F = problem
    kwargs = dict(lr=0.02, n_iterations=200, method=method, mask=mask, l2=l2)
    a = mf.train(D, C, F, **kwargs)
    b = mf.train(_scrambled(D, mask), C, F, **kwargs)
    assert a.losses == b.losses and a.final_loss == b.final_loss
    assert torch.equal(a.C, b.C) and torch.equal(a.F, b.F)


# --- masked gradients against autograd --------------------------------------------------

@pytest.mark.parametrize("n, m, k, seed", [(5, 6, 2, 0), (1, 7, 3, 1), (9, 4, 4, 2)])
def test_masked_analytic_gradients_equal_autograd_in_float64(n, m, k, seed):
    g = torch.Generator().manual_seed(seed)
    D = torch.randn(n, m, generator=g, dtype=torch.float64)
    C = torch.randn(n, k, generator=g, dtype=torch.float64)
    F = torch.randn(k, m, generator=g, dtype=torch.float64)
    mask = mf.random_mask((n, m), 0.5, seed=g)
    dC, dF = mf.analytic_gradients(D, C, F, mask=mask)
    c, f = C.clone().requires_grad_(), F.clone().requires_grad_()
    mf.criterion(D, c @ f, mask=mask).backward()
    torch.testing.assert_close(dC, c.grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(dF, f.grad, rtol=1e-12, atol=1e-12)
    # and the hand formula with the hidden residuals set to zero
    R = torch.where(mask, C @ F - D, 0.0)
    torch.testing.assert_close(dC, 2 * R @ F.T, rtol=1e-12, atol=1e-12)


def test_gradcheck_on_the_masked_loss():
    g = torch.Generator().manual_seed(3)
    D = torch.randn(4, 5, generator=g, dtype=torch.float64)
    mask = mf.random_mask((4, 5), 0.6, seed=g)
    C = torch.randn(4, 2, generator=g, dtype=torch.float64, requires_grad=True)
    F = torch.randn(2, 5, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda c, f: mf.criterion(D, c @ f, mask=mask), (C, F))


# --- training on half of the entries recovers the other half ------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_training_on_half_the_entries_recovers_the_hidden_ones(seed):
    D = mf.make_target(20, 20, 2, seed=seed)
    mask = mf.random_mask(D.shape, 0.5, seed=seed + 10)
    C, F = mf.init_factors(20, 20, 2, seed=seed + 20)
    lr = mf.suggest_lr(D, C, F, mask=mask)
    result = mf.train(D, C, F, lr=lr, n_iterations=3000, method="analytic", mask=mask)
    assert not result.diverged
    spread = D.std().item()
    hidden = _rmse(D, result.D_hat, ~mask)
    assert _rmse(D, result.D_hat, mask) < 0.01 * spread
    assert hidden < 0.05 * spread, (hidden, spread)
    # far better than guessing the mean of the observed entries
    guess = torch.full_like(D, D[mask].mean().item())
    assert hidden < 0.1 * _rmse(D, guess, ~mask)


def test_without_the_mask_the_placeholders_are_learned_instead(problem):
    D, mask, C, F = problem
    placeholder = torch.where(mask, D, 0.0)  # hidden entries stored as 0
    lr = mf.suggest_lr(placeholder, C, F, mask=mask)
    masked = mf.train(placeholder, C, F, lr=lr, n_iterations=3000, method="analytic", mask=mask)
    lr = mf.suggest_lr(placeholder, C, F)
    plain = mf.train(placeholder, C, F, lr=lr, n_iterations=3000, method="analytic")
    assert _rmse(D, masked.D_hat, ~mask) < 0.2 * _rmse(D, plain.D_hat, ~mask)


# --- both training paths agree with a mask and with l2 -------------------------------------

@pytest.mark.parametrize("l2", [0.0, 0.01, 0.2])
def test_both_paths_agree_with_mask_and_l2(problem, l2):
    D, mask, C, F = problem
    kwargs = dict(lr=0.02, n_iterations=400, mask=mask, l2=l2)
    a = mf.train(D, C, F, method="autograd", **kwargs)
    b = mf.train(D, C, F, method="analytic", **kwargs)
    np.testing.assert_allclose(a.losses, b.losses, rtol=1e-5)
    assert a.final_loss == pytest.approx(b.final_loss, rel=1e-5)
    torch.testing.assert_close(a.C, b.C, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(a.F, b.F, rtol=1e-4, atol=1e-5)


def test_the_recorded_loss_includes_the_penalty(problem):
    D, mask, C, F = problem
    result = mf.train(D, C, F, lr=0.02, n_iterations=1, mask=mask, l2=0.3)
    expected = (mf.criterion(D, C @ F, mask=mask)
                + 0.3 * (C.pow(2).sum() + F.pow(2).sum())).item()
    assert result.losses[0] == pytest.approx(expected, rel=1e-6)


def test_l2_shrinks_the_factors(problem):
    D, mask, C, F = problem
    norms = []
    for l2 in (0.0, 0.1, 1.0):
        r = mf.train(D, C, F, lr=0.02, n_iterations=2000, method="analytic", mask=mask, l2=l2)
        norms.append((r.C.pow(2).sum() + r.F.pow(2).sum()).item())
    assert norms[0] > norms[1] > norms[2]


# --- bad masks are clear errors everywhere ------------------------------------------------

BAD_MASKS = [
    (torch.ones(3, 3, dtype=torch.bool), ValueError,
     r"mask has shape \(3, 3\), must match D's shape \(3, 4\)"),
    (torch.ones(4, 3, dtype=torch.bool), ValueError,
     r"mask has shape \(4, 3\), must match D's shape \(3, 4\)"),
    (torch.ones(3, 4), TypeError,
     r"mask has dtype torch.float32, must be boolean \(True = observed\).*mask != 0"),
    (torch.ones(3, 4, dtype=torch.int64), TypeError,
     r"mask has dtype torch.int64, must be boolean"),
    ([[1, 0, 1, 0]] * 3, TypeError, r"mask has dtype torch.int64, must be boolean"),
    (torch.zeros(3, 4, dtype=torch.bool), ValueError,
     r"mask observes no entry \(all False\); at least one entry must be True"),
]


def _call(function, mask):
    D, C, F = mf.example_problem()
    if function == "criterion":
        return mf.criterion(D, C @ F, mask=mask)
    if function == "analytic_gradients":
        return mf.analytic_gradients(D, C, F, mask=mask)
    return mf.train(D, C, F, lr=0.01, n_iterations=3, mask=mask,
                    method=function.split(":")[1])


@pytest.mark.parametrize("function", ["criterion", "analytic_gradients",
                                      "train:autograd", "train:analytic"])
@pytest.mark.parametrize("mask, exc, match", BAD_MASKS)
def test_bad_masks_are_clear_errors(function, mask, exc, match):
    with pytest.raises(exc, match=match):
        _call(function, mask)


@pytest.mark.parametrize("function", ["criterion", "analytic_gradients", "train:analytic"])
def test_a_boolean_list_mask_is_accepted(function):
    mask = [[True, False, True, True]] * 3
    _call(function, mask)  # no error
