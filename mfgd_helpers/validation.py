"""Input checks shared by the public functions.

Every check raises ``TypeError`` or ``ValueError`` with a message that names
the parameter, the value received, the bound it broke and how to fix it.
"""

from __future__ import annotations

import math
import numbers

import torch

__all__ = [
    "as_matrix",
    "check_dim",
    "check_factors",
    "check_lr",
    "check_mask",
    "check_n_iterations",
    "check_target",
]


def check_dim(value, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` as an ``int`` after checking it is an integer >= minimum.

    Examples
    --------
    >>> check_dim(3, "k")
    3
    >>> check_dim(0, "k")
    Traceback (most recent call last):
    ...
    ValueError: k == 0, must be an integer >= 1. ...
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} == {value!r} ({type(value).__name__}), must be an integer "
            f">= {minimum}. Pass a whole number such as {name}={max(minimum, 2)}."
        )
    if value < minimum:
        raise ValueError(
            f"{name} == {value}, must be an integer >= {minimum}. "
            f"Pass a whole number such as {name}={max(minimum, 2)}."
        )
    return int(value)


def check_n_iterations(value) -> int:
    """Check the number of training iterations (0 is allowed: no update)."""
    return check_dim(value, "n_iterations", minimum=0)


def check_lr(lr) -> float:
    """Return the learning rate as a float after checking it is finite and > 0.

    Examples
    --------
    >>> check_lr(0.01)
    0.01
    >>> check_lr(-1)
    Traceback (most recent call last):
    ...
    ValueError: lr == -1.0, must be > 0 and finite. ...
    """
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real):
        raise TypeError(
            f"lr == {lr!r} ({type(lr).__name__}), must be a positive number. "
            "Pass a float such as lr=0.01."
        )
    lr = float(lr)
    if not math.isfinite(lr) or lr <= 0:
        raise ValueError(
            f"lr == {lr}, must be > 0 and finite. "
            "Pass a small positive float such as lr=0.01 "
            "(mf.suggest_lr gives a safe one, mf.max_stable_lr the largest stable one)."
        )
    return lr


def as_matrix(x, name: str, *, dtype: torch.dtype | None = None,
              finite: bool = True) -> torch.Tensor:
    """Return ``x`` as a finite 2-D floating-point tensor.

    Accepts tensors, numpy arrays and nested lists. Integer input becomes
    float32; a floating tensor keeps its dtype (and its autograd history)
    unless ``dtype`` is given. ``finite=False`` skips the NaN/inf check (for a
    target whose missing entries are masked, see ``check_target``).

    Examples
    --------
    >>> as_matrix([[1, 2], [3, 4]], "D")
    tensor([[1., 2.],
            [3., 4.]])
    >>> as_matrix([1.0, 2.0], "D")
    Traceback (most recent call last):
    ...
    ValueError: D must be 2-D (n, m); got shape (2,). Use D.reshape(1, -1) for a single row.
    """
    if not isinstance(x, torch.Tensor):
        try:
            x = torch.as_tensor(x)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise TypeError(
                f"{name} must be a 2-D tensor, numpy array or nested list of numbers; "
                f"got {type(x).__name__} ({exc})."
            ) from None
    if x.is_complex() or x.dtype == torch.bool:
        raise TypeError(
            f"{name} has dtype {x.dtype}, must be real numbers. "
            f"Convert it with {name}.float()."
        )
    if dtype is not None and x.dtype != dtype:
        x = x.to(dtype)
    elif not x.is_floating_point():
        x = x.to(torch.float32)
    if x.dim() != 2:
        raise ValueError(
            f"{name} must be 2-D (n, m); got shape {tuple(x.shape)}. "
            f"Use {name}.reshape(1, -1) for a single row."
        )
    if x.numel() == 0:
        raise ValueError(
            f"{name} is empty (shape {tuple(x.shape)}); every dimension must be >= 1."
        )
    if finite:
        _check_finite(x, name)
    return x


def _check_finite(x: torch.Tensor, name: str, where: torch.Tensor | None = None) -> None:
    with torch.no_grad():
        bad_entries = ~torch.isfinite(x)
        if where is not None:
            bad_entries &= where
        if bool(bad_entries.any()):
            bad = int(bad_entries.sum())
            i, j = (int(v) for v in bad_entries.nonzero()[0])
            scope = "observed " if where is not None else ""
            hint = ("mark it unobserved (False) in the mask or replace it" if where is not None
                    else "remove or replace them (for missing entries pass a mask instead)")
            raise ValueError(
                f"{name} contains {bad} {scope}NaN or inf value(s), the first at "
                f"[{i}, {j}] == {x[i, j].item()}. To fix it, {hint}."
            )


def check_target(D, mask=None, *, dtype: torch.dtype | None = None):
    """Return ``(D, mask)`` checked together; hidden entries of D become 0.

    Without a mask D must be finite. With a mask only the observed entries
    must be: a hidden entry may hold anything (NaN is a common placeholder),
    and is replaced by 0 so that no NaN can leak into a loss or gradient.

    Examples
    --------
    >>> import torch
    >>> D = torch.tensor([[1.0, float("nan")]])
    >>> check_target(D, torch.tensor([[True, False]]))
    (tensor([[1., 0.]]), tensor([[ True, False]]))
    """
    D = as_matrix(D, "D", dtype=dtype, finite=mask is None)
    mask = check_mask(mask, D.shape)
    if mask is not None:
        _check_finite(D, "D", where=mask)
        D = torch.where(mask, D, torch.zeros((), dtype=D.dtype))
    return D, mask


def check_factors(D: torch.Tensor, C: torch.Tensor, F: torch.Tensor) -> None:
    """Check that C (n, k) and F (k, m) fit D (n, m).

    Examples
    --------
    >>> import torch
    >>> check_factors(torch.ones(3, 4), torch.ones(3, 2), torch.ones(2, 4))
    >>> check_factors(torch.ones(3, 4), torch.ones(3, 2), torch.ones(3, 4))
    Traceback (most recent call last):
    ...
    ValueError: F has shape (3, 4) but C has shape (3, 2): F must have k == 2 rows. ...
    """
    n, m = D.shape
    if C.shape[0] != n:
        raise ValueError(
            f"C has shape {tuple(C.shape)} but D has shape {tuple(D.shape)}: "
            f"C must have n == {n} rows. Build it as C of shape ({n}, k)."
        )
    k = C.shape[1]
    if F.shape[0] != k:
        raise ValueError(
            f"F has shape {tuple(F.shape)} but C has shape {tuple(C.shape)}: "
            f"F must have k == {k} rows. Build it as F of shape ({k}, {m})."
        )
    if F.shape[1] != m:
        raise ValueError(
            f"F has shape {tuple(F.shape)} but D has shape {tuple(D.shape)}: "
            f"F must have m == {m} columns. Build it as F of shape ({k}, {m})."
        )
    if not (C.dtype == F.dtype == D.dtype):
        raise TypeError(
            f"D, C and F must share one dtype; got D {D.dtype}, C {C.dtype}, "
            f"F {F.dtype}. Convert them with .to({D.dtype})."
        )


def check_mask(mask, shape: torch.Size, name: str = "mask") -> torch.Tensor | None:
    """Return ``mask`` as a boolean tensor of ``shape`` (True = observed), or None.

    Examples
    --------
    >>> import torch
    >>> check_mask([[True, False]], torch.Size([1, 2]))
    tensor([[ True, False]])
    >>> check_mask([[1, 0]], torch.Size([1, 2]))
    Traceback (most recent call last):
    ...
    TypeError: mask has dtype torch.int64, must be boolean (True = observed). ...
    """
    if mask is None:
        return None
    if not isinstance(mask, torch.Tensor):
        mask = torch.as_tensor(mask)
    if mask.dtype != torch.bool:
        raise TypeError(
            f"{name} has dtype {mask.dtype}, must be boolean (True = observed). "
            f"Build it with a comparison, e.g. {name} = torch.rand(n, m) < 0.5, "
            f"or convert with {name}.bool()."
        )
    if mask.shape != shape:
        raise ValueError(
            f"{name} has shape {tuple(mask.shape)}, must match D's shape {tuple(shape)}."
        )
    if not bool(mask.any()):
        raise ValueError(
            f"{name} observes no entry (all False); at least one entry must be True."
        )
    return mask
