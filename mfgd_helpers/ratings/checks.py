"""Input checks for ratings: index vectors, rating values, and the objects built from them.

The same vocabulary as ``mfgd_helpers.validation``: a value of the wrong kind
is a ``TypeError`` (float indices, a list of strings), a value of the right
kind that breaks a bound is a ``ValueError`` (a negative index, NaN, lengths
that differ), and every message names the parameter, the value and the fix.
"""

from __future__ import annotations

import torch

from ..validation import FLOAT_DTYPES, _as_tensor

__all__ = ["check_index_vector", "check_same_length", "check_value_vector"]


def _one_dimensional(x: torch.Tensor, name: str, what: str) -> torch.Tensor:
    if x.dim() == 0:
        return x.reshape(1)
    if x.dim() != 1:
        raise ValueError(f"{name} must be 1-D ({what}); got shape {tuple(x.shape)}. "
                         f"Use {name}.reshape(-1) if the shape is an accident.")
    return x


def check_index_vector(x, name: str, size: int | None, size_name: str) -> torch.Tensor:
    """Return ``x`` as a 1-D int64 tensor of indices in ``[0, size)``.

    Any integer dtype is accepted (and becomes int64); floats, bools and
    complex numbers are refused, since a float index is usually a column of
    ratings passed in the wrong place. ``size=None`` checks only the lower
    bound (the caller infers the size from the largest index).

    Examples
    --------
    >>> check_index_vector([0, 2, 1], "users", 3, "n_users")
    tensor([0, 2, 1])
    >>> check_index_vector([0.0, 1.0], "users", 3, "n_users")
    Traceback (most recent call last):
    ...
    TypeError: users has dtype torch.float32, must hold integer indices ...
    >>> check_index_vector([0, 3], "users", 3, "n_users")
    Traceback (most recent call last):
    ...
    ValueError: users contains 1 index >= n_users == 3, the first users[1] == 3. ...
    """
    x = _one_dimensional(_as_tensor(x, name, "a vector of indices"), name, "one index per rating")
    if x.numel() == 0:  # torch.as_tensor([]) is float32; emptiness is the caller's to judge
        return x.to(torch.int64)
    if x.dtype == torch.bool or x.is_floating_point() or x.is_complex():
        raise TypeError(
            f"{name} has dtype {x.dtype}, must hold integer indices (0, 1, 2, ...). "
            f"If they are whole numbers, convert them with {name}.long(); if they are "
            "ratings, they were passed in the wrong place.")
    x = x.to(torch.int64)
    negative = x < 0
    if bool(negative.any()):
        first = int(negative.nonzero()[0])
        raise ValueError(
            f"{name} contains {int(negative.sum())} negative {_indices(negative)}, the first "
            f"{name}[{first}] == {int(x[first])}; indices count from 0. Remove those "
            "ratings, or renumber them from 0.")
    if size is not None:
        too_big = x >= size
        if bool(too_big.any()):
            first = int(too_big.nonzero()[0])
            raise ValueError(
                f"{name} contains {int(too_big.sum())} {_indices(too_big)} >= {size_name} == "
                f"{size}, the first {name}[{first}] == {int(x[first])}. Pass {size_name}="
                f"{int(x.max()) + 1} or more, or remove those ratings.")
    return x


def _indices(flags: torch.Tensor) -> str:
    return "index" if int(flags.sum()) == 1 else "indices"


def check_value_vector(x, name: str = "values") -> torch.Tensor:
    """Return ``x`` as a 1-D finite float32 or float64 tensor (integers become float32).

    Examples
    --------
    >>> check_value_vector([4, 5, 3])
    tensor([4., 5., 3.])
    >>> check_value_vector([4.0, float("nan")])
    Traceback (most recent call last):
    ...
    ValueError: values contains 1 NaN or inf, the first values[1] == nan. ...
    """
    x = _one_dimensional(_as_tensor(x, name, "a vector of ratings"), name, "one value per rating")
    if x.dtype == torch.bool or x.is_complex():
        raise TypeError(f"{name} has dtype {x.dtype}, must be real numbers (the ratings). "
                        f"Convert it with {name}.float().")
    if x.is_floating_point() and x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} has dtype {x.dtype}, must be torch.float32 or torch.float64. "
                        f"Convert it with {name}.float().")
    if not x.is_floating_point():
        x = x.to(torch.float32)
    bad = ~torch.isfinite(x)
    if bool(bad.any()):
        first = int(bad.nonzero()[0])
        raise ValueError(
            f"{name} contains {int(bad.sum())} NaN or inf, the first {name}[{first}] == "
            f"{x[first].item()}. Remove those ratings (a missing rating is simply not "
            "listed).")
    return x


def check_same_length(**vectors: torch.Tensor) -> int:
    """The common length of the vectors, or a ValueError naming each length.

    >>> check_same_length(users=torch.zeros(3), items=torch.zeros(2))
    Traceback (most recent call last):
    ...
    ValueError: users and items must have one entry per rating; got lengths 3 and 2.
    """
    lengths = {name: len(v) for name, v in vectors.items()}
    if len(set(lengths.values())) > 1:
        names = list(lengths)
        joined = ", ".join(names[:-1]) + f" and {names[-1]}"
        shown = ", ".join(str(n) for n in list(lengths.values())[:-1])
        raise ValueError(f"{joined} must have one entry per rating; got lengths {shown} "
                         f"and {list(lengths.values())[-1]}.")
    return next(iter(lengths.values()))

