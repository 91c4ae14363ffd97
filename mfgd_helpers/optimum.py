"""The closed-form optimum: truncated SVD (Eckart–Young)."""

from __future__ import annotations

import torch

from .validation import MatrixLike, check_dim, check_matrix

__all__ = ["best_rank_k_loss", "truncated_svd"]


def best_rank_k_loss(D: MatrixLike, k: int) -> float:
    """The smallest loss any rank-k factorization C @ F can reach on D.

    By the Eckart–Young theorem it is the sum of the squared singular values
    of D beyond the k-th: the floor that gradient descent can approach but
    never beat. Computed in float64.

    Parameters
    ----------
    D : (n, m) tensor or array
    k : int >= 1; k >= min(n, m) gives 0.

    Examples
    --------
    >>> import torch
    >>> best_rank_k_loss(torch.diag(torch.tensor([3.0, 2.0, 1.0])), 1)
    5.0
    >>> best_rank_k_loss(torch.ones(3, 4), 1) < 1e-12
    True
    """
    D = check_matrix(D, "D")
    k = check_dim(k, "k")
    s = torch.linalg.svdvals(D.detach().double())
    return float((s[k:] ** 2).sum())


def truncated_svd(D: MatrixLike, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The best rank-k factors of D: C = U_k √S_k (n, k) and F = √S_k V_kᵀ (k, m).

    ``criterion(D, C @ F)`` equals ``best_rank_k_loss(D, k)`` up to rounding.

    Parameters
    ----------
    D : (n, m) tensor, numpy array or nested list
    k : int >= 1
        Columns of C (rows of F).

    Returns
    -------
    (C, F) : tensors of D's dtype, without grad. When k exceeds min(n, m),
        the extra columns of C and rows of F are zero.

    Examples
    --------
    >>> import torch
    >>> D = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    >>> C, F = truncated_svd(D, 1)
    >>> C.shape, F.shape
    (torch.Size([2, 1]), torch.Size([1, 2]))
    >>> torch.allclose(C @ F, torch.tensor([[2.0, 0.0], [0.0, 0.0]]), atol=1e-6)
    True
    """
    D = check_matrix(D, "D")
    k = check_dim(k, "k")
    U, S, Vh = torch.linalg.svd(D.detach().double(), full_matrices=False)
    r = min(k, S.numel())
    root = S[:r].sqrt()
    C = torch.zeros(D.shape[0], k, dtype=torch.float64)
    F = torch.zeros(k, D.shape[1], dtype=torch.float64)
    C[:, :r] = U[:, :r] * root
    F[:r] = root[:, None] * Vh[:r]
    return C.to(D.dtype), F.to(D.dtype)
