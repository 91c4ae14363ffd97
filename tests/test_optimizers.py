"""The manual loop and torch.optim, step sizes from curvature, symmetric starts.

The loops here are the ones notebook 10 writes out, so its claims are checked
outside the notebook too.
"""

import math

import pytest
import torch

import mfgd_helpers as mf

SOURCE_LR, SOURCE_FINAL = 0.001, 0.0014


def _leaves(C, F, dtype):
    return (C.detach().clone().to(dtype).requires_grad_(),
            F.detach().clone().to(dtype).requires_grad_())


def manual_loop(D, C, F, lr, n, *, fused=False, dtype=torch.float32):
    """The notebooks' loop; fused=True writes the update as SGD does, in one operation."""
    C, F = _leaves(C, F, dtype)
    D = D.to(dtype)
    losses = []
    for _ in range(n):
        loss = mf.criterion(D, C @ F)
        loss.backward()
        losses.append(loss.item())
        with torch.no_grad():
            if fused:
                C.add_(C.grad, alpha=-lr)
                F.add_(F.grad, alpha=-lr)
            else:
                C -= lr * C.grad
                F -= lr * F.grad
        C.grad.zero_()
        F.grad.zero_()
    return losses, C.detach(), F.detach()


def optim_loop(D, C, F, n, make, *, dtype=torch.float32):
    """The same loop with a torch.optim optimizer doing the update."""
    C, F = _leaves(C, F, dtype)
    D = D.to(dtype)
    optimizer = make([C, F])
    losses = []
    for _ in range(n):
        optimizer.zero_grad()
        loss = mf.criterion(D, C @ F)
        loss.backward()
        losses.append(loss.item())
        optimizer.step()
    return losses, C.detach(), F.detach()


def _max_rel(a, b):
    return max(abs(x - y) / abs(y) for x, y in zip(a, b))


PROBLEMS = {
    "source": lambda: mf.example_problem(),
    "random": lambda: (mf.make_target(6, 5, 2, seed=0), *mf.init_factors(6, 5, 2, seed=1)),
}


# --- manual loop == torch.optim.SGD -----------------------------------------------------

@pytest.mark.parametrize("name", PROBLEMS)
@pytest.mark.parametrize("lr", [0.01, 0.05])
def test_sgd_is_the_manual_step_bit_for_bit(name, lr):
    D, C, F = PROBLEMS[name]()
    manual = manual_loop(D, C, F, lr, 300, fused=True)
    sgd = optim_loop(D, C, F, 300, lambda p: torch.optim.SGD(p, lr=lr))
    assert manual[0] == sgd[0]
    assert torch.equal(manual[1], sgd[1]) and torch.equal(manual[2], sgd[2])


@pytest.mark.parametrize("name", PROBLEMS)
def test_sgd_matches_the_textbook_step(name):
    D, C, F = PROBLEMS[name]()
    sgd = lambda p: torch.optim.SGD(p, lr=0.01)  # noqa: E731
    # float64: the two ways of rounding lr * grad agree to ~1e-14
    a = manual_loop(D, C, F, 0.01, 500, dtype=torch.float64)[0]
    b = optim_loop(D, C, F, 500, sgd, dtype=torch.float64)[0]
    assert _max_rel(a, b) < 1e-12
    # float32: `C -= lr * C.grad` rounds twice, SGD once; the histories drift
    # apart by less than float32's own error against float64
    a32 = manual_loop(D, C, F, 0.01, 500)[0]
    b32 = optim_loop(D, C, F, 500, sgd)[0]
    assert a32[0] == b32[0]
    assert _max_rel(a32, b32) < 1e-4
    assert _max_rel(a32, b32) <= 2 * _max_rel(a32, a)


def test_train_autograd_is_the_sgd_loop():
    D, C, F = mf.example_problem()
    D, C, F = D.double(), C.detach().double(), F.detach().double()
    result = mf.train(D, C, F, lr=0.01, n_iterations=500, method="autograd")
    sgd = optim_loop(D, C, F, 500, lambda p: torch.optim.SGD(p, lr=0.01), dtype=torch.float64)
    assert _max_rel(result.losses, sgd[0]) < 1e-12


def test_zero_grad_sets_gradients_to_none():
    D, C, F = mf.example_problem()
    optimizer = torch.optim.SGD([C, F], lr=0.01)
    mf.criterion(D, C @ F).backward()
    optimizer.step()
    optimizer.zero_grad()
    assert C.grad is None and F.grad is None  # unlike C.grad.zero_() in the manual loop


# --- momentum and Adam are the textbook formulas ---------------------------------------

def test_sgd_momentum_is_the_heavy_ball_update():
    D, C, F = mf.example_problem()
    lr, beta = 0.01, 0.9
    C1, F1 = _leaves(C, F, torch.float32)
    velocity = [None, None]
    losses = []
    for _ in range(200):
        loss = mf.criterion(D, C1 @ F1)
        loss.backward()
        losses.append(loss.item())
        with torch.no_grad():
            for i, p in enumerate((C1, F1)):
                # v = beta v + grad (v = grad at the first step); p -= lr v
                velocity[i] = (p.grad.clone() if velocity[i] is None
                               else velocity[i].mul_(beta).add_(p.grad))
                p.add_(velocity[i], alpha=-lr)
                p.grad.zero_()
    sgd = optim_loop(D, C, F, 200, lambda p: torch.optim.SGD(p, lr=lr, momentum=beta))
    assert losses == sgd[0]


def test_adam_is_the_textbook_update():
    D, C, F = mf.example_problem()
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    C1, F1 = _leaves(C, F, torch.float64)
    D64 = D.double()
    m = [torch.zeros_like(C1), torch.zeros_like(F1)]
    v = [torch.zeros_like(C1), torch.zeros_like(F1)]
    losses = []
    for t in range(1, 301):
        loss = mf.criterion(D64, C1 @ F1)
        loss.backward()
        losses.append(loss.item())
        with torch.no_grad():
            for i, p in enumerate((C1, F1)):
                m[i] = b1 * m[i] + (1 - b1) * p.grad
                v[i] = b2 * v[i] + (1 - b2) * p.grad ** 2
                m_hat, v_hat = m[i] / (1 - b1 ** t), v[i] / (1 - b2 ** t)
                p -= lr * m_hat / (v_hat.sqrt() + eps)
                p.grad.zero_()
    adam = optim_loop(D, C, F, 300, lambda p: torch.optim.Adam(p, lr=lr), dtype=torch.float64)
    assert _max_rel(losses, adam[0]) < 1e-9


# --- the step size: why the source needed 10000 iterations -------------------------------

@pytest.fixture(scope="module")
def after_one_step():
    """The source's factors after its single step with lr = 0.01 (loss 1.8740)."""
    D, C, F = mf.example_problem()
    mf.criterion(D, C @ F).backward()
    mf.gradient_step(C, F, 0.01)
    return D, C.detach(), F.detach()


def _reach(losses, target):
    return next((i for i, v in enumerate(losses) if v <= target), None)


def test_the_source_step_is_far_below_the_stable_bound(after_one_step):
    D, C, F = after_one_step
    assert mf.criterion(D, C @ F).item() == pytest.approx(1.8740, abs=1e-4)
    bound = mf.max_stable_lr(D, C, F)
    assert bound == pytest.approx(2 / mf.curvature(D, C, F))
    assert 200 < bound / SOURCE_LR < 350
    assert SOURCE_LR < mf.suggest_lr(D, C, F) < bound


def test_a_good_step_reaches_the_source_loss_far_sooner(after_one_step):
    D, C, F = after_one_step
    slow = mf.train(D, C, F, lr=SOURCE_LR, n_iterations=10000, method="analytic")
    fast = mf.train(D, C, F, lr=mf.suggest_lr(D, C, F), n_iterations=10000, method="analytic")
    n_slow, n_fast = _reach(slow.losses, SOURCE_FINAL), _reach(fast.losses, SOURCE_FINAL)
    assert 9000 < n_slow < 10000       # the source's table reaches 0.0014 at 9000-10000
    assert n_fast is not None and n_fast < 200
    assert n_slow / n_fast > 40
    assert fast.final_loss < 1e-6


def test_far_above_the_bound_diverges(after_one_step):
    D, C, F = after_one_step
    bound = mf.max_stable_lr(D, C, F)
    with pytest.warns(RuntimeWarning, match="diverged"):
        result = mf.train(D, C, F, lr=2 * bound, n_iterations=500, method="analytic")
    assert result.diverged


@pytest.mark.parametrize("factor, stable", [(0.6, True), (0.98, True), (1.02, False), (1.4, False)])
def test_the_bound_is_sharp_on_the_smallest_problem(factor, stable):
    # loss (c f - 1)^2: at the best balanced point c = f = 1 the curvature is 4,
    # and every other solution c f = 1 is more curved, so with lr above
    # 2 / 4 no solution is stable and gradient descent cannot settle
    D = torch.tensor([[1.0]])
    bound = mf.max_stable_lr(D, torch.tensor([[1.0]]), torch.tensor([[1.0]]))
    assert bound == pytest.approx(0.5)
    C, F = torch.tensor([[1.05]]), torch.tensor([[0.97]])
    result = mf.train(D, C, F, lr=factor * bound, n_iterations=2000, method="analytic")
    assert (result.final_loss < 1e-8) == stable, result.final_loss


# --- a symmetric start stays symmetric ---------------------------------------------------

@pytest.mark.parametrize("method", ["autograd", "analytic"])
@pytest.mark.parametrize("shape", [(3, 4, 2), (8, 6, 3)])
def test_symmetric_start_collapses_to_rank_one(method, shape):
    n, m, k = shape
    D = mf.example_problem()[0] if shape == (3, 4, 2) else mf.make_target(n, m, k, seed=0)
    C, F = 0.5 * torch.ones(n, k), 0.5 * torch.ones(k, m)
    result = mf.train(D, C, F, lr=mf.suggest_lr(D, C, F), n_iterations=2000, method=method)
    for j in range(1, k):
        # equal up to float32 rounding (the fast path's matrix kernels may
        # round columns differently), and such tiny differences do not grow
        torch.testing.assert_close(result.C[:, j], result.C[:, 0], rtol=0, atol=1e-6)
        torch.testing.assert_close(result.F[j], result.F[0], rtol=0, atol=1e-6)
    s = torch.linalg.svdvals(result.D_hat.double())
    assert s[1].item() < 1e-6 * s[0].item()
    rank1, rankk = mf.best_rank_k_loss(D, 1), mf.best_rank_k_loss(D, k)
    assert result.final_loss == pytest.approx(rank1, rel=1e-3)
    assert rank1 > 1e3 * max(rankk, 1e-9)  # the floor it is stuck at is far above rank k's


def test_random_start_breaks_the_symmetry():
    D = mf.example_problem()[0]
    C, F = mf.init_factors(3, 4, 2, seed=0)
    result = mf.train(D, C, F, lr=mf.suggest_lr(D, C, F), n_iterations=2000, method="analytic")
    assert result.final_loss < mf.best_rank_k_loss(D, 1) / 1000
    s = torch.linalg.svdvals(result.D_hat.double())
    assert s[1].item() > 0.01


def test_a_tiny_perturbation_escapes_the_symmetric_saddle():
    D = mf.example_problem()[0]
    g = torch.Generator().manual_seed(0)
    C = 0.5 * torch.ones(3, 2) + 1e-3 * torch.randn(3, 2, generator=g)
    F = 0.5 * torch.ones(2, 4)
    result = mf.train(D, C, F, lr=mf.suggest_lr(D, C, F), n_iterations=2000, method="analytic")
    assert math.isfinite(result.final_loss)
    assert result.final_loss < mf.best_rank_k_loss(D, 1) / 1000
