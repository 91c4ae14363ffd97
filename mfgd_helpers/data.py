"""Data generation: the low-rank target D and the starting factors C and F."""

from __future__ import annotations

import torch

from .memory import check_memory
from .validation import Seed, check_dim, check_dtype, check_seed

__all__ = ["example_problem", "init_factors", "make_target"]


def make_target(n: int, m: int, k: int, *, seed: Seed = None,
                dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Make a target D = rand(n, k) @ rand(k, m) whose rank is at most k.

    Parameters
    ----------
    n, m : int
        Shape of D (n rows, m columns), each >= 1.
    k : int
        Inner dimension (the true rank for generic draws), >= 1.
    seed : None, int or torch.Generator
        Source of randomness; a local generator, so the global RNG is untouched.
    dtype : torch.float32 or torch.float64
        float32 by default, as in the original notebook.

    Returns
    -------
    Tensor of shape (n, m), entries in [0, k).

    Examples
    --------
    >>> D = make_target(3, 4, 2, seed=0)
    >>> D.shape, D.dtype
    (torch.Size([3, 4]), torch.float32)
    >>> torch.linalg.matrix_rank(D).item()
    2
    >>> torch.equal(D, make_target(3, 4, 2, seed=0))
    True
    """
    n, m, k = check_dim(n, "n"), check_dim(m, "m"), check_dim(k, "k")
    dtype = check_dtype(dtype)
    g = check_seed(seed)
    check_memory((n * m + n * k + k * m) * torch.empty((), dtype=dtype).element_size(),
                 f"make_target(n={n}, m={m}, k={k}) builds D of {n} × {m} "
                 f"{str(dtype).removeprefix('torch.')} entries")
    left = torch.rand(n, k, generator=g, dtype=dtype)
    right = torch.rand(k, m, generator=g, dtype=dtype)
    return left @ right


def init_factors(n: int, m: int, k: int, *, seed: Seed = None,
                 dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw starting factors C (n, k) and F (k, m), uniform on [0, 1).

    Both are leaf tensors with ``requires_grad=True``, ready for autograd.

    Parameters
    ----------
    n, m : int
        Shape of the target D, each >= 1.
    k : int
        Columns of C and rows of F, >= 1.
    seed : None, int or torch.Generator
        Source of randomness; a local generator, so the global RNG is untouched.
    dtype : torch.float32 or torch.float64

    Returns
    -------
    (C, F) : leaf tensors of shapes (n, k) and (k, m).

    Examples
    --------
    >>> C, F = init_factors(3, 4, 2, seed=1)
    >>> tuple(C.shape), tuple(F.shape), C.requires_grad, C.is_leaf, C.grad is None
    ((3, 2), (2, 4), True, True, True)
    """
    n, m, k = check_dim(n, "n"), check_dim(m, "m"), check_dim(k, "k")
    dtype = check_dtype(dtype)
    g = check_seed(seed)
    C = torch.rand(n, k, generator=g, dtype=dtype).requires_grad_()
    F = torch.rand(k, m, generator=g, dtype=dtype).requires_grad_()
    return C, F


def example_problem() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The 3x4, k=2 problem printed (to 4 decimals) in the original notebook.

    Returns D and fresh leaf tensors C, F with ``requires_grad=True``. The
    notebooks start from these numbers so that every printed value can be
    checked against the source.

    Examples
    --------
    >>> D, C, F = example_problem()
    >>> D[0]
    tensor([0.0456, 0.1537, 0.0830, 0.0980])
    >>> C.requires_grad, F.shape
    (True, torch.Size([2, 4]))
    """
    D = torch.tensor([[0.0456, 0.1537, 0.0830, 0.0980],
                      [0.2683, 0.4260, 0.4277, 0.4913],
                      [0.4779, 0.7156, 0.7563, 0.8673]])
    C = torch.tensor([[0.9721, 0.2518],
                      [0.0386, 0.5858],
                      [0.4206, 0.2610]], requires_grad=True)
    F = torch.tensor([[0.8656, 0.0336, 0.1317, 0.2444],
                      [0.4919, 0.4990, 0.4563, 0.7689]], requires_grad=True)
    return D, C, F
