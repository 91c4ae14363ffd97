"""Input checks shared by every public function.

Two checks do the work: ``check_scalar`` for numbers (modelled on
scikit-learn's ``check_scalar``) and ``check_matrix`` for matrices, with
``check_mask`` for the boolean masks of observed entries. The rest are
presets of these. The same mistake gets the same answer everywhere:

* ``TypeError`` for a value of the wrong kind: a string for a number, a bool,
  a complex number, a float where a whole number is needed, a sparse or
  complex tensor, a mask of numbers;
* ``ValueError`` for a value of the right kind that is out of bounds: a
  negative learning rate, NaN, a matrix of the wrong shape or with NaN.

Every message names the parameter, the value received, the bound it broke
and how to fix it. numpy scalars and 0-d tensors are accepted wherever a
Python number is.
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Sequence, Union

import torch

if TYPE_CHECKING:
    import numpy as np

# What the public functions accept (for type hints and the docs)
MatrixLike = Union[torch.Tensor, "np.ndarray", Sequence[Sequence[float]]]
MaskLike = Union[torch.Tensor, "np.ndarray", Sequence[Sequence[bool]]]
Seed = Union[None, int, torch.Generator]

__all__ = [
    "check_bool",
    "check_callable",
    "check_choice",
    "check_dim",
    "check_dtype",
    "check_finite",
    "check_instance",
    "check_factors",
    "check_lr",
    "check_mask",
    "check_no_overflow",
    "check_matrix",
    "check_scalar",
    "check_seed",
    "check_target",
]

FLOAT_DTYPES = (torch.float32, torch.float64)
_BOUNDARIES = ("both", "neither", "left", "right")


def _plain_number(x):
    """A numpy scalar or 0-d array/tensor as the Python number it holds; else ``x``."""
    if isinstance(x, torch.Tensor):
        if x.dim() != 0 or x.layout != torch.strided:
            return x
        if x.dtype == torch.bool:
            return bool(x.item())
        return x.detach().item()
    item = getattr(x, "item", None)
    if callable(item) and getattr(x, "shape", None) == ():  # numpy scalar or 0-d array
        return item()
    return x


def check_scalar(x, name: str, target_type: type, *, min_val=None, max_val=None,
                 include_boundaries: str = "both", fix: str = ""):
    """Return ``x`` as a Python ``int`` or ``float`` after checking its type and bounds.

    Parameters
    ----------
    x : number
        A Python number, a numpy scalar or a 0-d tensor. bool and complex
        values are refused.
    name : str
        The parameter's name, used in the message.
    target_type : {int, float}
        ``int`` accepts whole numbers only (``3.0`` is refused); ``float``
        accepts any finite real number (NaN and inf are refused).
    min_val, max_val : number, optional
        Bounds; ``include_boundaries`` says whether they are allowed
        ("both", "neither", "left" or "right").
    fix : str
        How to fix a bad value, appended to the message.

    Returns
    -------
    int or float

    Raises
    ------
    TypeError
        If ``x`` is not a number of ``target_type``.
    ValueError
        If ``x`` is NaN, infinite or outside the bounds.

    Examples
    --------
    >>> import numpy as np
    >>> check_scalar(np.float32(0.5), "lr", float, min_val=0, include_boundaries="neither")
    0.5
    >>> check_scalar(0, "lr", float, min_val=0, include_boundaries="neither")
    Traceback (most recent call last):
    ...
    ValueError: lr == 0.0, must be a number > 0.
    >>> check_scalar(True, "k", int, min_val=1, fix="Pass k=2.")
    Traceback (most recent call last):
    ...
    TypeError: k == True (bool), must be an integer >= 1. Pass k=2.
    """
    if target_type not in (int, float):
        raise TypeError(f"target_type must be int or float; got {target_type!r}.")
    if include_boundaries not in _BOUNDARIES:
        raise ValueError(f"include_boundaries == {include_boundaries!r}, must be one of "
                         f"{_BOUNDARIES}.")
    low_ok = include_boundaries in ("both", "left")
    high_ok = include_boundaries in ("both", "right")
    kind = "an integer" if target_type is int else "a number"
    bounds = []
    if min_val is not None:
        bounds.append(f"{'>=' if low_ok else '>'} {min_val}")
    if max_val is not None:
        bounds.append(f"{'<=' if high_ok else '<'} {max_val}")
    wanted = f"{kind} {' and '.join(bounds)}".rstrip()
    tail = f" {fix}" if fix else ""

    value = _plain_number(x)
    abstract = numbers.Integral if target_type is int else numbers.Real
    if isinstance(value, bool) or not isinstance(value, abstract):
        shown = f"tensor({value!r})" if isinstance(x, torch.Tensor) and value is not x else f"{x!r}"
        raise TypeError(f"{name} == {shown} ({type(x).__name__}), must be {wanted}.{tail}")
    value = target_type(value)
    if target_type is float and not math.isfinite(value):
        raise ValueError(f"{name} == {value}, must be a finite {wanted[2:]}.{tail}")
    too_low = min_val is not None and (value < min_val if low_ok else value <= min_val)
    too_high = max_val is not None and (value > max_val if high_ok else value >= max_val)
    if too_low or too_high:
        raise ValueError(f"{name} == {value}, must be {wanted}.{tail}")
    return value


def check_dim(value, name: str, *, minimum: int = 1) -> int:
    """A size or a count: an integer >= ``minimum``.

    Examples
    --------
    >>> check_dim(3, "k")
    3
    >>> check_dim(0, "k")
    Traceback (most recent call last):
    ...
    ValueError: k == 0, must be an integer >= 1. Pass a whole number such as k=2.
    """
    return check_scalar(value, name, int, min_val=minimum,
                        fix=f"Pass a whole number such as {name}={max(minimum, 2)}.")


def check_lr(lr, name: str = "lr") -> float:
    """A learning rate: a finite number > 0.

    Examples
    --------
    >>> check_lr(0.01)
    0.01
    >>> check_lr(-1)
    Traceback (most recent call last):
    ...
    ValueError: lr == -1.0, must be a number > 0. Pass a small positive float such as lr=0.01 ...
    """
    return check_scalar(
        lr, name, float, min_val=0, include_boundaries="neither",
        fix=f"Pass a small positive float such as {name}=0.01 (mf.suggest_lr gives a "
            "safe one, mf.max_stable_lr the bound).")


def check_seed(seed=None) -> torch.Generator:
    """Turn ``seed`` into a local ``torch.Generator`` (the global RNG is never used).

    ``seed`` may be None (fresh entropy), an integer in [0, 2**64), or a
    Generator, which is returned unchanged so that several calls can share
    one stream.

    Examples
    --------
    >>> g = check_seed(0)
    >>> torch.rand(1, generator=g).item() == torch.rand(1, generator=check_seed(0)).item()
    True
    >>> check_seed(-1)
    Traceback (most recent call last):
    ...
    ValueError: seed == -1, must be an integer >= 0 and <= 18446744073709551615. ...
    """
    if isinstance(seed, torch.Generator):
        return seed
    g = torch.Generator()
    if seed is None:
        g.seed()
        return g
    seed = check_scalar(seed, "seed", int, min_val=0, max_val=2**64 - 1,
                        fix="Pass e.g. seed=0 for reproducible numbers, None for fresh "
                            "ones, or a torch.Generator.")
    return g.manual_seed(seed)


def check_bool(x, name: str) -> bool:
    """True or False (numpy's and 0-d tensors' included), nothing else.

    >>> check_bool(1, "verbose")
    Traceback (most recent call last):
    ...
    TypeError: verbose == 1 (int), must be True or False.
    """
    value = _plain_number(x)
    if not isinstance(value, bool):
        raise TypeError(f"{name} == {x!r} ({type(x).__name__}), must be True or False.")
    return value


def check_choice(x, name: str, choices: tuple, fix: str = ""):
    """One of ``choices``.

    >>> check_choice("fast", "method", ("autograd", "analytic"))
    Traceback (most recent call last):
    ...
    ValueError: method == 'fast', must be one of ('autograd', 'analytic').
    """
    if not isinstance(x, str) and any(isinstance(c, str) for c in choices):
        raise TypeError(f"{name} == {x!r} ({type(x).__name__}), must be one of "
                        f"{choices}.{' ' + fix if fix else ''}")
    if x not in choices:
        raise ValueError(f"{name} == {x!r}, must be one of {choices}.{' ' + fix if fix else ''}")
    return x


def check_callable(x, name: str, signature: str):
    """A callable or None.

    >>> check_callable(3, "callback", "f(iteration, loss)")
    Traceback (most recent call last):
    ...
    TypeError: callback == 3 is not callable; pass a function f(iteration, loss) or None.
    """
    if x is not None and not callable(x):
        raise TypeError(f"{name} == {x!r} is not callable; pass a function {signature} or None.")
    return x


def check_instance(x, name: str, types, what: str, fix: str = "", *, optional: bool = True):
    """``x`` if it is an instance of ``types`` (or None, when ``optional``).

    >>> check_instance(3, "label", str, "a string", "Pass e.g. label='my run'.")
    Traceback (most recent call last):
    ...
    TypeError: label == 3 (int), must be a string or None. Pass e.g. label='my run'.
    """
    if (x is None and optional) or isinstance(x, types):
        return x
    shown = f"{x!r}"[:60]
    raise TypeError(f"{name} == {shown} ({type(x).__name__}), must be {what}"
                    f"{' or None' if optional else ''}.{' ' + fix if fix else ''}")


def check_dtype(dtype, name: str = "dtype") -> torch.dtype:
    """torch.float32 or torch.float64: the dtypes the package computes in.

    >>> check_dtype(torch.int64)
    Traceback (most recent call last):
    ...
    TypeError: dtype == torch.int64, must be torch.float32 or torch.float64. ...
    """
    if dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{name} == {dtype!r}, must be torch.float32 or torch.float64. Pass "
            f"{name}=torch.float32 (the default) or {name}=torch.float64 for more digits."
        )
    return dtype


def _as_tensor(x, name: str, what: str) -> torch.Tensor:
    """``x`` as a dense tensor, or a clear error for what cannot be one."""
    if isinstance(x, torch.Tensor):
        if x.layout != torch.strided:
            raise TypeError(
                f"{name} is a {str(x.layout).replace('torch.', '')} tensor; {what} must be "
                f"dense. Convert it with {name}.to_dense()."
            )
        return x
    if isinstance(x, (str, bytes, dict, set)) or x is None:
        raise TypeError(
            f"{name} == {x!r:.60} ({type(x).__name__}), must be {what}: a tensor, a "
            "numpy array or a nested list."
        )
    dtype = getattr(x, "dtype", None)
    if dtype is not None and getattr(dtype, "kind", "") in "OUSV" and not isinstance(
            dtype, torch.dtype):
        raise TypeError(f"{name} is a numpy array of dtype {dtype}, must hold numbers "
                        f"({what}). Convert it with {name}.astype(float).")
    try:
        return torch.as_tensor(x)
    except (TypeError, ValueError, RuntimeError, OverflowError) as exc:
        rows = [len(r) for r in x] if isinstance(x, (list, tuple)) and all(
            isinstance(r, (list, tuple)) for r in x) else None
        other = next((i for i, r in enumerate(rows or ()) if r != rows[0]), None)
        if other is not None:
            raise ValueError(
                f"{name} is a ragged list: row 0 has {rows[0]} entries but row {other} has "
                f"{rows[other]}; {what} needs rows of equal length."
            ) from None
        raise TypeError(
            f"{name} must be {what}: a tensor, a numpy array or a nested list of "
            f"numbers; got {type(x).__name__} ({exc})."
        ) from None


def check_matrix(x, name: str, *, dtype: torch.dtype | None = None,
                 finite: bool = True) -> torch.Tensor:
    """Return ``x`` as a dense 2-D float32 or float64 tensor.

    Accepts tensors, numpy arrays and nested lists. Integer input becomes
    float32 (so that squares cannot overflow an integer type); a float32 or
    float64 tensor keeps its dtype (and its autograd history) unless
    ``dtype`` is given. bool, complex, half-precision and sparse tensors are
    refused. ``finite=False`` skips the NaN/inf check (for a target whose
    hidden entries are masked, see ``check_target``).

    Examples
    --------
    >>> check_matrix([[1, 2], [3, 4]], "D")
    tensor([[1., 2.],
            [3., 4.]])
    >>> check_matrix([1.0, 2.0], "D")
    Traceback (most recent call last):
    ...
    ValueError: D must be 2-D (n, m); got shape (2,). Use D.reshape(1, -1) for a single row.
    >>> check_matrix([[1, 2], [3]], "D")
    Traceback (most recent call last):
    ...
    ValueError: D is a ragged list: row 0 has 2 entries but row 1 has 1; a matrix needs rows of equal length.
    """
    x = _as_tensor(x, name, "a matrix")
    if x.is_complex() or x.dtype == torch.bool:
        raise TypeError(
            f"{name} has dtype {x.dtype}, must be real numbers. "
            f"Convert it with {name}.real or {name}.float()."
        )
    if x.is_floating_point() and x.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{name} has dtype {x.dtype}, must be torch.float32 or torch.float64: half "
            f"precision overflows at 65504 and rounds away the small steps. Convert it "
            f"with {name}.float()."
        )
    if dtype is not None:
        x = x.to(check_dtype(dtype))
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
        check_finite(x, name)
    return x


def check_finite(x: torch.Tensor, name: str, where: torch.Tensor | None = None) -> None:
    """Refuse NaN or inf in ``x`` (only where ``where`` is True, when given).

    >>> check_finite(torch.tensor([[1.0, float("inf")]]), "C")
    Traceback (most recent call last):
    ...
    ValueError: C contains 1 NaN or inf value(s), the first at [0, 1] == inf. ...
    """
    with torch.no_grad():
        if where is None and x.is_floating_point() and math.isfinite(x.sum().item()):
            return  # no NaN or inf term, cheaply (a sum that overflows is checked entry by entry)
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


def check_mask(mask, shape: torch.Size, name: str = "mask") -> torch.Tensor | None:
    """Return ``mask`` as a boolean tensor of ``shape`` (True = observed), or None.

    Examples
    --------
    >>> check_mask([[True, False]], torch.Size([1, 2]))
    tensor([[ True, False]])
    >>> check_mask([[1, 0]], torch.Size([1, 2]))
    Traceback (most recent call last):
    ...
    TypeError: mask has dtype torch.int64, must be boolean (True = observed). ...
    """
    if mask is None:
        return None
    mask = _as_tensor(mask, name, "a boolean mask")
    if mask.dtype != torch.bool:
        raise TypeError(
            f"{name} has dtype {mask.dtype}, must be boolean (True = observed). "
            f"Build it with a comparison, e.g. {name} = torch.rand(n, m) < 0.5, "
            f"or convert with {name} != 0."
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


def check_target(D, mask=None, *, dtype: torch.dtype | None = None):
    """Return ``(D, mask)`` checked together; hidden entries of D become 0.

    Without a mask D must be finite. With a mask only the observed entries
    must be: a hidden entry may hold anything (NaN is a common placeholder),
    and is replaced by 0 so that no NaN can leak into a loss or gradient.

    Examples
    --------
    >>> D = torch.tensor([[1.0, float("nan")]])
    >>> check_target(D, torch.tensor([[True, False]]))
    (tensor([[1., 0.]]), tensor([[ True, False]]))
    """
    D = check_matrix(D, "D", dtype=dtype, finite=mask is None)
    mask = check_mask(mask, D.shape)
    if mask is not None:
        check_finite(D, "D", where=mask)
        D = torch.where(mask, D, torch.zeros((), dtype=D.dtype))
    return D, mask


def check_factors(D: torch.Tensor, C, F):
    """Return C (n, k) and F (k, m) as matrices of D's dtype that fit D (n, m).

    Examples
    --------
    >>> C, F = check_factors(torch.ones(3, 4), [[1, 2]] * 3, torch.ones(2, 4))
    >>> C.dtype, tuple(C.shape)
    (torch.float32, (3, 2))
    >>> check_factors(torch.ones(3, 4), torch.ones(3, 2), torch.ones(3, 4))
    Traceback (most recent call last):
    ...
    ValueError: F has shape (3, 4) but C has shape (3, 2): F must have k == 2 rows. ...
    """
    C = check_matrix(C, "C")
    F = check_matrix(F, "F")
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
    return C.to(D.dtype), F.to(D.dtype)


def check_no_overflow(value: torch.Tensor, what: str, dtype: torch.dtype) -> None:
    """Refuse a non-finite result computed from finite input: it overflowed ``dtype``.

    >>> check_no_overflow(torch.tensor(float("inf")), "the squares of A - B", torch.float32)
    Traceback (most recent call last):
    ...
    ValueError: the squares of A - B overflow torch.float32 (largest value 3.4e+38) ...
    """
    if not bool(torch.isfinite(value.detach()).all()):
        largest = torch.finfo(dtype).max
        wider = " or compute in float64 (.double())" if dtype == torch.float32 else ""
        raise ValueError(
            f"{what} overflow {dtype} (largest value {largest:.2g}) although every "
            f"input is finite. Scale the data down{wider}."
        )
