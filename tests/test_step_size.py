import pytest
import torch

import mfgd_helpers as mf
from mfgd_helpers import step_size


def _hessian(D, C, F):
    def loss(flat):
        c = flat[: C.numel()].view_as(C)
        f = flat[C.numel():].view_as(F)
        return mf.criterion(D, c @ f)

    flat = torch.cat([C.flatten(), F.flatten()]).double()
    return torch.autograd.functional.hessian(loss, flat)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_curvature_is_the_top_hessian_eigenvalue(seed):
    D = mf.make_target(4, 3, 2, seed=seed, dtype=torch.float64)
    C, F = mf.init_factors(4, 3, 2, seed=seed + 10, dtype=torch.float64)
    C, F = C.detach(), F.detach()
    top = torch.linalg.eigvalsh(_hessian(D, C, F)).max().item()
    assert mf.curvature(D, C, F) == pytest.approx(top, rel=1e-6)
    assert mf.max_stable_lr(D, C, F) == pytest.approx(2 / top, rel=1e-6)


def test_curvature_with_eigenvalues_of_opposite_sign():
    # loss (c f - 10)^2 at c = f = 0.1: Hessian [[0.02, -19.96], [-19.96, 0.02]],
    # eigenvalues 19.98 and -19.94, nearly equal in size
    D, C, F = torch.tensor([[10.0]]), torch.tensor([[0.1]]), torch.tensor([[0.1]])
    top = torch.linalg.eigvalsh(_hessian(D.double(), C.double(), F.double())).max().item()
    assert mf.curvature(D, C, F) == pytest.approx(top, rel=1e-6)


def test_a_step_above_the_bound_diverges_and_the_suggestion_converges():
    D, C, F = mf.example_problem()
    bound = mf.max_stable_lr(D, C, F)
    good = mf.train(D, C, F, lr=mf.suggest_lr(D, C, F), n_iterations=2000, method="analytic")
    assert not good.diverged and good.final_loss < 1e-6
    with pytest.warns(RuntimeWarning, match="diverged"):
        bad = mf.train(D, C, F, lr=4 * bound, n_iterations=2000, method="analytic")
    assert bad.diverged


def _masked_top_eigenvalue(D, C, F, mask):
    """The top eigenvalue of the masked loss's Hessian, by autograd, in float64."""
    n, k = C.shape

    def loss(x):
        Cx, Fx = x[: n * k].view(n, k), x[n * k:].view(k, -1)
        return (((Cx @ Fx - D) * mask) ** 2).sum()

    x = torch.cat([C.flatten(), F.flatten()]).double()
    H = torch.autograd.functional.hessian(loss, x)
    return torch.linalg.eigvalsh(H)[-1].item()


@pytest.mark.parametrize("fraction", [0.3, 0.6])
def test_suggest_lr_with_mask_uses_the_masked_curvature_and_sigma(fraction):
    D = mf.make_target(6, 5, 2, seed=0).double()
    C, F = (t.detach().double() for t in mf.init_factors(6, 5, 2, seed=1))
    mask = mf.random_mask(D.shape, fraction, seed=2)
    hidden_as_nan = torch.where(mask, D, float("nan"))
    lam = _masked_top_eigenvalue(D, C, F, mask)
    sigma1 = torch.linalg.matrix_norm(D * mask, ord=2).item()
    expected = 1 / max(lam, 4 * sigma1)
    assert mf.curvature(hidden_as_nan, C, F, mask=mask) == pytest.approx(lam, rel=1e-9)
    assert mf.suggest_lr(hidden_as_nan, C, F, mask=mask) == pytest.approx(expected, rel=1e-9)
    assert mf.max_stable_lr(D, C, F, mask=mask) == pytest.approx(2 / lam, rel=1e-9)
    assert mf.suggest_lr(D, C, F) != pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize("seed", [0, 1])
def test_lanczos_branch_matches_the_exact_hessian(monkeypatch, seed):
    # force the branch used for large problems onto small ones, where the
    # exact Hessian is cheap to build with autograd
    monkeypatch.setattr(step_size, "EXACT_LIMIT", 0)
    D = mf.make_target(6, 5, 2, seed=seed, dtype=torch.float64)
    C, F = mf.init_factors(6, 5, 3, seed=seed + 3, dtype=torch.float64)
    C, F = C.detach(), F.detach()
    top = torch.linalg.eigvalsh(_hessian(D, C, F)).max().item()
    estimate = mf.curvature(D, C, F)
    assert estimate == pytest.approx(top, rel=1e-8)
    assert estimate <= top * (1 + 1e-12)  # a Ritz value never overshoots


def test_lanczos_with_eigenvalues_of_opposite_sign(monkeypatch):
    monkeypatch.setattr(step_size, "EXACT_LIMIT", 0)
    D, C, F = torch.tensor([[10.0]]), torch.tensor([[0.1]]), torch.tensor([[0.1]])
    top = torch.linalg.eigvalsh(_hessian(D.double(), C.double(), F.double())).max().item()
    assert mf.curvature(D, C, F) == pytest.approx(top, rel=1e-9)


def test_lanczos_on_a_large_masked_problem_agrees_with_the_full_hessian(monkeypatch):
    # 30×25 with k = 6: 330 unknowns, above EXACT_LIMIT, so Lanczos runs;
    # then the same with the limit raised, so the full Hessian is built
    D = mf.make_target(30, 25, 4, seed=0)
    C, F = mf.init_factors(30, 25, 6, seed=1)
    mask = mf.random_mask(D.shape, 0.6, seed=2)
    lanczos = mf.curvature(D, C, F, mask=mask)
    monkeypatch.setattr(step_size, "EXACT_LIMIT", 10_000)
    exact = mf.curvature(D, C, F, mask=mask)
    assert lanczos == pytest.approx(exact, rel=1e-8)


def test_lanczos_stops_early_and_respects_n_iter(monkeypatch):
    calls = []
    hvp = step_size._hvp
    monkeypatch.setattr(step_size, "_hvp", lambda *a: calls.append(1) or hvp(*a))
    D = mf.make_target(40, 30, 3, seed=0)
    C, F = mf.init_factors(40, 30, 5, seed=1)
    mf.curvature(D, C, F)
    assert 0 < len(calls) < 200          # converged long before the cap
    calls.clear()
    with pytest.warns(step_size.CurvatureWarning):
        mf.curvature(D, C, F, n_iter=5)
    assert len(calls) == 5


def _large_problem():
    # 40×30 with k = 5: 350 unknowns, so the Lanczos branch runs
    D = mf.make_target(40, 30, 3, seed=0, dtype=torch.float64)
    C, F = mf.init_factors(40, 30, 5, seed=1, dtype=torch.float64)
    return D, C.detach(), F.detach()


@pytest.mark.callers_line
def test_lanczos_warns_when_it_stops_at_its_cap():
    D, C, F = _large_problem()
    with pytest.warns(step_size.CurvatureWarning,
                      match=r"stopped at n_iter == 3 .* Pass a larger n_iter, such as n_iter=6\.") as caught:
        capped = mf.curvature(D, C, F, n_iter=3)
    assert len(caught) == 1
    assert caught[0].filename == __file__  # the caller's line, not the package's
    assert issubclass(step_size.CurvatureWarning, RuntimeWarning)
    # what it returns is a Ritz value: below the converged estimate
    assert capped < mf.curvature(D, C, F) * (1 - 1e-6)


def test_lanczos_does_not_warn_when_it_converges(recwarn):
    D, C, F = _large_problem()
    mf.curvature(D, C, F)                   # converges long before 200 products
    mf.curvature(D, C, F, n_iter=150)
    assert not [w for w in recwarn if issubclass(w.category, step_size.CurvatureWarning)]


def test_lanczos_on_the_whole_space_is_exact_and_a_smaller_cap_warns(recwarn):
    # n_iter == dim: at the last product the Krylov space is exhausted, the
    # error bound is 0 up to rounding, and T's eigenvalues are exact
    A = torch.diag(torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0], dtype=torch.float64))
    start = torch.ones(5, dtype=torch.float64)
    assert step_size._lanczos_top(lambda x: A @ x, start, 5) == pytest.approx(5.0, rel=1e-12)
    assert not recwarn.list
    with pytest.warns(step_size.CurvatureWarning, match="n_iter == 2 "):
        assert step_size._lanczos_top(lambda x: A @ x, start, 2) < 5.0


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-3, ValueError), (2.5, TypeError),
                                        (True, TypeError), ("10", TypeError)])
def test_curvature_rejects_a_bad_n_iter(bad, error):
    D, C, F = mf.example_problem()
    with pytest.raises(error, match="n_iter == .*, must be an integer >= 1"):
        mf.curvature(D, C, F, n_iter=bad)
