"""Gradients of the loss, derived by hand (no autograd)."""

from __future__ import annotations

import torch

from .loss import _residual
from .validation import (
    MaskLike,
    MatrixLike,
    check_factors,
    check_no_overflow,
    check_scalar,
    check_target,
)

__all__ = ["analytic_gradients"]


def _gradients(R, C, F, l2: float = 0.0):
    """dC = 2 R Fᵀ + 2 l2 C and dF = 2 Cᵀ R + 2 l2 F, from the residual R = C F - D."""
    dC, dF = 2 * R @ F.T, 2 * C.T @ R
    if l2:
        dC, dF = dC + 2 * l2 * C, dF + 2 * l2 * F
    return dC, dF


def _descent_step(C, F, lr: float, l2: float):
    """The update C -= lr dC, F -= lr dF of ``_gradients``, fused and in place.

    Returns ``step(R)``, which applies it for the residual R. The same
    arithmetic in two BLAS calls: C ← (1 - 2 lr l2) C - 2 lr R Fᵀ is one
    ``addmm_``; Cᵀ R is computed into a buffer first, because F's update
    needs the old C. The views and the buffer are made once, here, because
    on small matrices making them costs as much as the arithmetic. For the
    fast path, where C and F hold no autograd history.
    """
    Ct, Ft = C.T, F.T
    CtR = torch.empty_like(F)
    alpha, shrink = -2.0 * lr, 1.0 - 2.0 * lr * l2

    if not l2:
        def step(R) -> None:
            torch.mm(Ct, R, out=CtR)                  # Cᵀ R, with the old C
            C.addmm_(R, Ft, alpha=alpha)              # C - lr 2 R Fᵀ (beta=1 left out: it costs a few % at 3 × 4)
            F.add_(CtR, alpha=alpha)                  # F - lr 2 Cᵀ R
        return step

    def step(R) -> None:
        torch.mm(Ct, R, out=CtR)                      # Cᵀ R, with the old C
        C.addmm_(R, Ft, beta=shrink, alpha=alpha)     # C - lr (2 R Fᵀ + 2 l2 C)
        F.mul_(shrink)
        F.add_(CtR, alpha=alpha)                      # F - lr (2 Cᵀ R + 2 l2 F)

    return step


def analytic_gradients(D: MatrixLike, C: MatrixLike, F: MatrixLike,
                       mask: MaskLike | None = None, *,
                       l2: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients of ``criterion(D, C @ F)`` with respect to C and F, by hand.

    With the residual R = C F - D (zero on unobserved entries when ``mask`` is
    given), the loss is sum(R ** 2) and

        dC = 2 R Fᵀ        dF = 2 Cᵀ R

    These are exactly what ``loss.backward()`` stores in ``C.grad`` and
    ``F.grad``, computed without building a graph. With ``l2`` the loss gains
    l2 (|C|² + |F|²), and the gradients 2 l2 C and 2 l2 F.

    Parameters
    ----------
    D : (n, m) tensor, numpy array or nested list
        The target; finite where observed.
    C : (n, k) tensor, array or list
    F : (k, m) tensor, array or list
        Converted to D's dtype.
    mask : (n, m) bool tensor, optional
        True marks an observed entry. Hidden entries of D may hold anything,
        NaN included.
    l2 : float >= 0
        Weight of the L2 penalty, as in ``train``.

    Returns
    -------
    (dC, dF) : tensors shaped like C and F, without autograd history.

    Raises
    ------
    TypeError, ValueError
        For input that ``criterion`` or ``train`` would refuse, or gradients
        that overflow the dtype.

    Examples
    --------
    >>> import torch
    >>> D, C, F = torch.ones(2, 2), torch.ones(2, 1), torch.zeros(1, 2)
    >>> dC, dF = analytic_gradients(D, C, F)
    >>> dC
    tensor([[0.],
            [0.]])
    >>> dF
    tensor([[-4., -4.]])
    """
    D, mask = check_target(D, mask)
    C, F = check_factors(D, C, F)
    l2 = check_scalar(l2, "l2", float, min_val=0, fix="Pass l2=0 for no penalty.")
    with torch.no_grad():
        dC, dF = _gradients(_residual(D, C, F, mask), C, F, l2)
        check_no_overflow(dC.abs().max() + dF.abs().max(), "the gradients", D.dtype)
    return dC, dF
