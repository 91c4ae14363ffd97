"""Step size from curvature: the largest stable learning rate and a safe default."""

from __future__ import annotations

import torch

from .threads import one_thread_if_small
from .validation import as_matrix, check_factors, check_target

__all__ = ["curvature", "max_stable_lr", "suggest_lr"]

EXACT_LIMIT = 400  # unknowns k(n + m) up to which the full Hessian is built


def _hvp(R, C, F, V, W, mask):
    """Hessian of sum(R**2), R = C F - D, applied to the direction (V, W)."""
    dR = V @ F + C @ W
    if mask is not None:
        dR = dR * mask
    return 2 * (dR @ F.T + R @ W.T), 2 * (C.T @ dR + V.T @ R)


def curvature(D, C, F, *, mask=None, n_iter: int = 200) -> float:
    """Largest eigenvalue of the loss's Hessian at (C, F).

    Gradient descent with a fixed learning rate ``lr`` is stable near (C, F)
    only while ``lr < 2 / curvature``. The Hessian-vector products are exact
    (derived by hand) and computed in float64. Small problems (k(n + m) <= 400
    unknowns) get the exact eigenvalue from the full Hessian; larger ones a
    deterministic power iteration, plain and shifted by the dominant
    magnitude, whose best Rayleigh quotient is a lower bound that converges
    to the answer.

    Examples
    --------
    >>> import torch
    >>> D = torch.ones(1, 1)
    >>> C, F = torch.tensor([[1.0]]), torch.tensor([[1.0]])
    >>> round(curvature(D, C, F), 6)   # loss (cf - 1)^2 at c = f = 1
    4.0
    """
    D, mask = check_target(D, mask, dtype=torch.float64)
    D = D.detach()
    C = as_matrix(C, "C", dtype=torch.float64).detach()
    F = as_matrix(F, "F", dtype=torch.float64).detach()
    check_factors(D, C, F)
    R = C @ F - D
    if mask is not None:
        R = R * mask
    with one_thread_if_small(D.numel()):
        return _top_eigenvalue(R, C, F, mask, n_iter)


def _top_eigenvalue(R, C, F, mask, n_iter):
    nC, dim = C.numel(), C.numel() + F.numel()
    if dim <= EXACT_LIMIT:
        H = torch.empty(dim, dim, dtype=torch.float64)
        basis = torch.eye(dim, dtype=torch.float64)
        for j in range(dim):
            HV, HW = _hvp(R, C, F, basis[j, :nC].view_as(C), basis[j, nC:].view_as(F), mask)
            H[:, j] = torch.cat([HV.flatten(), HW.flatten()])
        return max(float(torch.linalg.eigvalsh((H + H.T) / 2)[-1]), 0.0)

    g = torch.Generator().manual_seed(0)
    start = (torch.randn(C.shape, generator=g, dtype=torch.float64),
             torch.randn(F.shape, generator=g, dtype=torch.float64))

    def power(shift):
        V, W = start
        best, last = -float("inf"), 0.0
        for _ in range(n_iter):
            norm = torch.sqrt((V * V).sum() + (W * W).sum())
            if norm == 0:
                return 0.0, 0.0
            V, W = V / norm, W / norm
            HV, HW = _hvp(R, C, F, V, W, mask)
            last = float((V * HV).sum() + (W * HW).sum())  # Rayleigh quotient
            best = max(best, last)
            V, W = HV + shift * V, HW + shift * W
        return best, last

    best, last = power(0.0)
    shifted, _ = power(abs(last))
    return max(best, shifted, 0.0)


def max_stable_lr(D, C, F, *, mask=None) -> float:
    """``2 / curvature(D, C, F)``: above this step size the iteration blows up.

    Examples
    --------
    >>> import torch
    >>> D, C, F = torch.ones(1, 1), torch.tensor([[1.0]]), torch.tensor([[1.0]])
    >>> round(max_stable_lr(D, C, F), 6)
    0.5
    """
    lam = curvature(D, C, F, mask=mask)
    return float("inf") if lam == 0 else 2.0 / lam


def suggest_lr(D, C, F, *, mask=None) -> float:
    """A safe fixed learning rate for training from (C, F): 1 / curvature.

    The curvature is taken as the larger of its value at the start and the
    value expected at a balanced solution (4 σ₁(D), since there C Cᵀ and FᵀF
    both carry σ₁; with a mask, σ₁ of D with its hidden entries set to 0), because the factors grow or shrink while training. Half
    the largest stable step at both places, so the run neither diverges nor
    crawls.

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
