"""Step size from curvature: the largest stable learning rate and a safe default."""

from __future__ import annotations

import warnings

import torch

from .threads import one_thread_if_small
from .gradients import _gradients
from .loss import _hide, _residual
from .training import _warn_at_caller
from .validation import (
    MaskLike,
    MatrixLike,
    check_dim,
    check_factors,
    check_no_overflow,
    check_target,
)

__all__ = ["CurvatureWarning", "curvature", "max_stable_lr", "suggest_lr"]

EXACT_LIMIT = 100  # unknowns k(n + m) up to which the full Hessian is built


class CurvatureWarning(RuntimeWarning):
    """The Lanczos estimate of the curvature stopped at its cap before converging.

    The value returned is then a lower bound on the largest eigenvalue (a
    Ritz value never exceeds it), so a step size computed from it may be too
    large. Pass a larger ``n_iter`` to ``curvature``.

    Examples
    --------
    >>> import warnings
    >>> from mfgd_helpers import make_target, init_factors, curvature
    >>> D = make_target(40, 30, 3, seed=0)
    >>> C, F = init_factors(40, 30, 5, seed=1)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     estimate = curvature(D, C, F, n_iter=3)
    >>> [w.category.__name__ for w in caught]
    ['CurvatureWarning']
    """


def _hvp(R, C, F, V, W, mask):
    """The Hessian of sum(R²), R = C F - D, applied to the direction (V, W).

    It is the derivative of the gradients ``_gradients(R, C, F)`` along
    (V, W), by the product rule: R changes by dR = V F + C W (on the observed
    entries), C by V and F by W.
    """
    dR = _hide(V @ F + C @ W, mask)
    (a, b), (c, d) = _gradients(dR, C, F), _gradients(R, V, W)
    return a + c, b + d


def curvature(D: MatrixLike, C: MatrixLike, F: MatrixLike, *, mask: MaskLike | None = None,
              n_iter: int = 200) -> float:
    """Largest eigenvalue of the loss's Hessian at (C, F).

    Near (C, F) the loss is, to second order, a quadratic whose curvatures
    are the Hessian's eigenvalues; away from a minimum some may be negative
    (a saddle). At a minimum with this curvature, gradient descent with a
    fixed learning rate ``lr`` can settle only while ``lr < 2 / curvature``.
    Elsewhere ``2 / curvature`` is the descent-lemma step for the local
    curvature (below it, one step lowers the loss as far as the quadratic
    model at (C, F) can tell), not a cliff: the curvature changes along the
    path. The Hessian-vector products are exact (derived by hand) and
    computed in float64. Small problems (k(n + m) <= 100 unknowns) get the
    eigenvalue of the full Hessian; larger ones the Lanczos method, from a
    fixed random start, with at most ``n_iter`` products. It stops when the
    top Ritz value is within 1e-9 (relative) of an eigenvalue of the Hessian;
    from a random start that is, with probability one, the largest one,
    approached from below (a Ritz value never exceeds it). After ``n_iter``
    products without reaching that tolerance it returns the last Ritz value,
    a lower bound, and warns.

    Parameters
    ----------
    D : (n, m) tensor, numpy array or nested list
        The target; finite where observed.
    C, F : (n, k) and (k, m) tensors, arrays or lists
        The point where the curvature is taken (usually the start).
    mask : (n, m) bool tensor, optional
        True marks an observed entry; the loss counts only those.
    n_iter : int >= 1
        The most Hessian-vector products the Lanczos method may use.

    Returns
    -------
    float >= 0 (0 when the Hessian has no positive eigenvalue).

    Warns
    -----
    CurvatureWarning
        When the Lanczos method stops at ``n_iter`` products before its
        estimate converged; pass a larger ``n_iter``.

    Examples
    --------
    >>> import torch
    >>> D = torch.ones(1, 1)
    >>> C, F = torch.tensor([[1.0]]), torch.tensor([[1.0]])
    >>> round(curvature(D, C, F), 6)   # loss (cf - 1)^2 at c = f = 1
    4.0
    """
    n_iter = check_dim(n_iter, "n_iter")
    D, mask = check_target(D, mask, dtype=torch.float64)
    C, F = check_factors(D, C, F)
    D, C, F = D.detach(), C.detach(), F.detach()
    with torch.no_grad(), one_thread_if_small(D.numel()):
        R = _residual(D, C, F, mask)
        # a bound on the Hessian's largest eigenvalue (its entries are sums of
        # 2 C Cᵀ, 2 FᵀF and 2 R terms): beyond float64 the eigensolver fails
        size = max(*D.shape, C.shape[1])
        what = "the Hessian's entries (products of C, F and C F - D)"
        bound = 2 * ((C.abs().max() + F.abs().max()) ** 2 * size + R.abs().max())
        check_no_overflow(bound * (C.numel() + F.numel()), what, torch.float64)
        top = _top_eigenvalue(R, C, F, mask, n_iter)
    check_no_overflow(torch.tensor(top, dtype=torch.float64), what, torch.float64)
    return top


def _top_eigenvalue(R, C, F, mask, n_iter):
    nC, dim = C.numel(), C.numel() + F.numel()

    def hessian_times(x):
        HV, HW = _hvp(R, C, F, x[:nC].view_as(C), x[nC:].view_as(F), mask)
        return torch.cat([HV.flatten(), HW.flatten()])

    if dim <= EXACT_LIMIT:
        H = torch.stack([hessian_times(e) for e in torch.eye(dim, dtype=torch.float64)], dim=1)
        return max(float(torch.linalg.eigvalsh((H + H.T) / 2)[-1]), 0.0)
    start = torch.randn(dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return max(_lanczos_top(hessian_times, start, n_iter), 0.0)


def _lanczos_top(matvec, start, max_steps, rtol=1e-9):
    """Largest eigenvalue of the symmetric operator ``matvec`` by the Lanczos method.

    Builds an orthonormal basis Q of the Krylov space of ``start`` (fully
    reorthogonalized, twice, so rounding cannot bring back converged
    directions) and the tridiagonal T = Qᵀ A Q. The top eigenvalue θ of T
    (a Ritz value) is a lower bound on the top eigenvalue of A; ``beta * |s|``
    (s: the last entry of θ's eigenvector of T) bounds its distance to an
    eigenvalue of A. Stops when that bound is below ``rtol * max|θ|``, when
    the Krylov space is exhausted (then T's eigenvalues are exact), or after
    ``max_steps`` products; in that last case it warns (CurvatureWarning) and
    returns the last Ritz value, a lower bound.

    >>> A = torch.diag(torch.arange(1.0, 101.0, dtype=torch.float64))
    >>> round(_lanczos_top(lambda x: A @ x, torch.ones(100, dtype=torch.float64), 100), 9)
    100.0
    """
    dim = start.numel()
    steps = min(max_steps, dim)
    Q = torch.zeros(steps + 1, dim, dtype=torch.float64)
    Q[0] = start / torch.linalg.vector_norm(start)
    alphas, betas, top, converged = [], [], 0.0, False
    for j in range(steps):
        w = matvec(Q[j])
        alphas.append(float(w @ Q[j]))
        basis = Q[: j + 1]
        for _ in range(2):
            w = w - basis.T @ (basis @ w)
        beta = float(torch.linalg.vector_norm(w))
        T = torch.diag(torch.tensor(alphas, dtype=torch.float64))
        if betas:
            off = torch.tensor(betas, dtype=torch.float64)
            T = T + torch.diag(off, 1) + torch.diag(off, -1)
        theta, S = torch.linalg.eigh(T)
        top, scale = float(theta[-1]), float(theta.abs().max())
        error = beta * abs(float(S[-1, -1]))
        if error <= rtol * scale or beta == 0.0:
            converged = True
            break
        betas.append(beta)
        Q[j + 1] = w / beta
    if not converged:
        _warn_at_caller(
            f"mf.curvature stopped at n_iter == {max_steps} Hessian-vector products before "
            f"the Lanczos method converged: {top:.6g} is within {error:.2g} of an "
            f"eigenvalue (asked: {rtol:g} relative) and may be below the largest one. "
            f"Pass a larger n_iter, such as n_iter={2 * max_steps}.", CurvatureWarning)
    return top


def max_stable_lr(D: MatrixLike, C: MatrixLike, F: MatrixLike, *,
                  mask: MaskLike | None = None) -> float:
    """``2 / curvature(D, C, F)``: the step bound of a minimum with this curvature.

    A minimum at which the largest curvature is λ = ``curvature(D, C, F)``
    cannot be a stable limit of gradient descent with a fixed step above
    2 / λ: the iterates are pushed away from it. Away from a minimum, 2 / λ
    is the descent-lemma step for the local curvature, not a cliff: the
    curvature changes along the path, so a run above it may still converge
    (to a flatter minimum), cycle or bounce, and a run below it is not
    guaranteed to converge.

    Parameters
    ----------
    D : (n, m) tensor, numpy array or nested list
        The target; finite where observed.
    C, F : (n, k) and (k, m) tensors, arrays or lists
        The point where the curvature is taken (usually the start).
    mask : (n, m) bool tensor, optional
        True marks an observed entry; the loss counts only those.

    Returns
    -------
    float (inf when the curvature is 0).

    Examples
    --------
    >>> import torch
    >>> D, C, F = torch.ones(1, 1), torch.tensor([[1.0]]), torch.tensor([[1.0]])
    >>> round(max_stable_lr(D, C, F), 6)
    0.5
    """
    lam = curvature(D, C, F, mask=mask)
    return float("inf") if lam == 0 else 2.0 / lam


def suggest_lr(D: MatrixLike, C: MatrixLike, F: MatrixLike, *,
               mask: MaskLike | None = None) -> float:
    """A safe fixed learning rate for training from (C, F): 1 / curvature.

    The curvature is taken as the larger of its value at the start and the
    value expected at a balanced solution, 4 σ₁(D) (there C Cᵀ and FᵀF both
    carry σ₁; with a mask, σ₁ of D with its hidden entries set to 0),
    because the factors grow or shrink while training. The result is half
    the ``max_stable_lr`` of both places, so that the run neither diverges
    nor crawls: a heuristic, a reliable rule of thumb on these problems, not
    a guarantee (the curvature along the path may exceed both).

    Parameters
    ----------
    D : (n, m) tensor, numpy array or nested list
        The target; finite where observed.
    C, F : (n, k) and (k, m) tensors, arrays or lists
        The point where the curvature is taken (usually the start).
    mask : (n, m) bool tensor, optional
        True marks an observed entry; the loss counts only those.

    Returns
    -------
    float > 0

    Examples
    --------
    >>> from mfgd_helpers import example_problem
    >>> D, C, F = example_problem()
    >>> lr = suggest_lr(D, C, F)
    >>> 0.001 < lr < max_stable_lr(D, C, F)
    True
    """
    D64, _ = check_target(D, mask, dtype=torch.float64)  # hidden entries -> 0
    lam = curvature(D, C, F, mask=mask)
    sigma1 = float(torch.linalg.matrix_norm(D64.detach(), ord=2))
    return 1.0 / max(lam, 4.0 * sigma1, 1e-12)
