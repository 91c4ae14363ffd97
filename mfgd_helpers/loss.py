"""The loss: sum of squared differences, optionally over observed entries only."""

from __future__ import annotations

import torch

from .validation import check_mask

__all__ = ["criterion"]


def _as_tensor(x, name: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    try:
        x = torch.as_tensor(x)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(
            f"{name} must be a tensor, numpy array or nested list of numbers; "
            f"got {type(x).__name__}."
        ) from None
    return x if x.is_floating_point() else x.float()


def criterion(A, B, mask=None) -> torch.Tensor:
    """Sum of squared differences ``sum((A - B) ** 2)``, a differentiable scalar.

    Parameters
    ----------
    A, B : Tensor or array of the same shape
        Typically the target D and the product D_hat = C @ F.
    mask : bool Tensor of the same shape, optional
        True marks an observed entry; only those are summed, so hidden
        entries may hold anything (NaN included).

    Returns
    -------
    0-d Tensor; it carries ``grad_fn`` when A or B requires grad.

    Raises
    ------
    ValueError
        If the shapes differ (no silent broadcasting) or the mask does not fit.

    Examples
    --------
    >>> import torch
    >>> criterion(torch.zeros(2, 2), torch.ones(2, 2))
    tensor(4.)
    >>> criterion(torch.zeros(2, 2), torch.ones(2, 2), mask=torch.eye(2, dtype=torch.bool))
    tensor(2.)
    """
    A, B = _as_tensor(A, "A"), _as_tensor(B, "B")
    if A.shape != B.shape:
        raise ValueError(
            f"A has shape {tuple(A.shape)} but B has shape {tuple(B.shape)}; "
            "the loss compares entry by entry, so the shapes must be equal "
            "(check the order of C @ F)."
        )
    if mask is None:
        return torch.sum((A - B) ** 2)
    mask = check_mask(mask, A.shape)
    # where(), not a product: a NaN placeholder at a hidden entry must not leak
    return torch.sum(torch.where(mask, A - B, torch.zeros((), dtype=A.dtype)) ** 2)
