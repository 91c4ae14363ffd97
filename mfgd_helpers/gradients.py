"""Gradients of the loss, derived by hand (no autograd)."""

from __future__ import annotations

import torch

from .validation import as_matrix, check_factors, check_target

__all__ = ["analytic_gradients"]


def analytic_gradients(D, C, F, mask=None):
    """Gradients of ``criterion(D, C @ F)`` with respect to C and F, by hand.

    With the residual R = C F - D (zero on unobserved entries when ``mask`` is
    given), the loss is sum(R ** 2) and

        dC = 2 R Fᵀ        dF = 2 Cᵀ R

    These are exactly what ``loss.backward()`` stores in ``C.grad`` and
    ``F.grad``, computed without building a graph.

    Parameters
    ----------
    D : (n, m) tensor or array
    C : (n, k) tensor or array
    F : (k, m) tensor or array
    mask : (n, m) bool tensor, optional; True marks an observed entry.
        Hidden entries of D may hold anything, NaN included.

    Returns
    -------
    (dC, dF) : tensors shaped like C and F, without autograd history.

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
    C = as_matrix(C, "C", dtype=D.dtype)
    F = as_matrix(F, "F", dtype=D.dtype)
    check_factors(D, C, F)
    with torch.no_grad():
        R = C @ F - D
        if mask is not None:
            R = R * mask
        return 2 * R @ F.T, 2 * C.T @ R
