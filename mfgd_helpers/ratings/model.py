"""The model: a global mean, a bias per user and per item, and k factors each.

A rating of item i by user u is predicted as ::

    r̂_ui = mean + user_bias[u] + item_bias[i] + P[u] · Q[i]

P (n_users, k) and Q (n_items, k) play the parts of C and Fᵀ in D ≈ C F:
row u of P times row i of Q is entry (u, i) of P Qᵀ, but only the entries
that are asked for are ever computed, never the n_users × n_items matrix.

**Cold start.** A user (or item) without a rating in the training set is an
index in range whose rows are zero: its bias and factors stay 0 (training
sets them so and never moves them), so its prediction is the biases only,
``mean + item_bias[i]`` for a new user. To leave room for users who arrive
later, pass a larger ``n_users`` when building the ratings.
"""

from __future__ import annotations

import functools
import numbers
from dataclasses import dataclass

import torch

from ..threads import one_thread_if_small
from ..validation import Seed, check_dim, check_dtype, check_scalar, check_seed
from .checks import check_index_vector, check_same_length

__all__ = ["Model", "init_model", "predict"]

CHUNK = 1 << 16  # ratings handled per vectorized step where the whole set would not fit


def on_one_thread(function):
    """Run ``function`` on one torch thread, then restore the caller's setting.

    Everything here is memory-bound vector work, and on a busy 2-core machine
    two threads made it 10 to 100 times slower, not faster (measured: an SGD
    epoch of 1 million ratings took 50 s on two threads and 0.5 s on one;
    ``make_ratings`` of 1 million ratings 4.0 s and 0.3 s): a parallel region
    waits for its slowest thread, and that thread is often descheduled. (On a
    quiet machine two threads gain at most 1.65 times, with large batches.)
    """
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with one_thread_if_small(0):
            return function(*args, **kwargs)
    return wrapper


@dataclass(repr=False, eq=False)
class Model:
    """Biased matrix factorization: ``mean + user_bias[u] + item_bias[i] + P[u] · Q[i]``.

    Attributes
    ----------
    mean : float
        The global mean (fixed during training: the mean of the training ratings).
    user_bias : (n_users,) tensor
    item_bias : (n_items,) tensor
    P : (n_users, k) tensor
        One row of k factors per user (k may be 0: biases only).
    Q : (n_items, k) tensor
        One row of k factors per item.

    The tensors share one dtype (float32 or float64). ``n_users``,
    ``n_items``, ``k``, ``dtype`` and ``nbytes`` are read from them.

    Examples
    --------
    >>> model = init_model(4, 3, 2, mean=3.5, seed=0)
    >>> model
    Model(n_users=4, n_items=3, k=2, mean=3.5)
    >>> model.P.shape, model.item_bias.shape, model.nbytes
    (torch.Size([4, 2]), torch.Size([3]), 84)
    """

    mean: float
    user_bias: torch.Tensor
    item_bias: torch.Tensor
    P: torch.Tensor
    Q: torch.Tensor

    def __post_init__(self):
        self.mean = check_scalar(self.mean, "mean", float)
        for name in ("user_bias", "item_bias", "P", "Q"):
            t = getattr(self, name)
            if not isinstance(t, torch.Tensor):
                raise TypeError(f"{name} == {f'{t!r}'[:40]} ({type(t).__name__}), must be a "
                                "tensor. Build a model with init_model(n_users, n_items, k).")
            check_dtype(t.dtype, f"{name}.dtype")
        dtypes = {t.dtype for t in (self.user_bias, self.item_bias, self.P, self.Q)}
        if len(dtypes) > 1:
            raise TypeError(f"the model's tensors mix dtypes {sorted(map(str, dtypes))}; "
                            "convert them all with .float() or .double().")
        for bias, factors, who in ((self.user_bias, self.P, "user"), (self.item_bias, self.Q, "item")):
            if bias.dim() != 1 or factors.dim() != 2 or factors.shape[0] != bias.shape[0]:
                raise ValueError(
                    f"{who}_bias has shape {tuple(bias.shape)} and "
                    f"{'P' if who == 'user' else 'Q'} {tuple(factors.shape)}: they must be "
                    f"(n_{who}s,) and (n_{who}s, k) with the same n_{who}s.")
        if self.P.shape[1] != self.Q.shape[1]:
            raise ValueError(f"P has shape {tuple(self.P.shape)} and Q {tuple(self.Q.shape)}: "
                             "they must have the same number k of columns.")

    @property
    def n_users(self) -> int:
        return self.P.shape[0]

    @property
    def n_items(self) -> int:
        return self.Q.shape[0]

    @property
    def k(self) -> int:
        return self.P.shape[1]

    @property
    def dtype(self) -> torch.dtype:
        return self.P.dtype

    @property
    def nbytes(self) -> int:
        """Bytes held by the parameters."""
        return sum(t.numel() * t.element_size()
                   for t in (self.user_bias, self.item_bias, self.P, self.Q))

    def clone(self) -> "Model":
        """A copy that shares no memory with this model (and has no autograd history)."""
        return Model(self.mean, *(t.detach().clone() for t in self._tensors()))

    def _tensors(self) -> tuple:
        return self.user_bias, self.item_bias, self.P, self.Q

    def __repr__(self) -> str:
        return (f"Model(n_users={self.n_users}, n_items={self.n_items}, k={self.k}, "
                f"mean={self.mean:.4g})")


@on_one_thread
def init_model(n_users: int, n_items: int, k: int, *, mean: float = 0.0, std: float = 0.1,
               seed: Seed = 0, dtype: torch.dtype = torch.float32) -> Model:
    """A starting model: zero biases, factors drawn from N(0, std²).

    Parameters
    ----------
    n_users, n_items : int >= 1
    k : int >= 0
        Factors per user and item; 0 gives the biases-only model.
    mean : float
        The global mean (``fit_sgd`` and ``fit_gd`` use the training mean).
    std : float >= 0
        Standard deviation of the factors. Not 0 when training: with P and Q
        both zero their gradients are zero too, and they never move.
    seed : None, int or torch.Generator
        P is drawn first, then Q, from a local generator.
    dtype : torch.float32 or torch.float64

    Returns
    -------
    Model

    Examples
    --------
    >>> model = init_model(1000, 500, 8, mean=3.5, seed=0)
    >>> round(model.P.std().item(), 2), model.user_bias.abs().max().item()
    (0.1, 0.0)
    """
    n_users, n_items = check_dim(n_users, "n_users"), check_dim(n_items, "n_items")
    k = check_dim(k, "k", minimum=0)
    mean = check_scalar(mean, "mean", float)
    std = check_scalar(std, "std", float, min_val=0, fix="Pass e.g. std=0.1.")
    dtype = check_dtype(dtype)
    g = check_seed(seed)
    P = torch.randn(n_users, k, generator=g, dtype=dtype).mul_(std)
    Q = torch.randn(n_items, k, generator=g, dtype=dtype).mul_(std)
    return Model(mean, torch.zeros(n_users, dtype=dtype), torch.zeros(n_items, dtype=dtype), P, Q)


def check_model(model, name: str = "model") -> Model:
    """``model`` if it is a Model, else a TypeError saying how to make one."""
    if not isinstance(model, Model):
        raise TypeError(f"{name} == {f'{model!r}'[:60]} ({type(model).__name__}), must be a "
                        "Model. Train one with fit_sgd, or build one with init_model.")
    return model


def _forward(mean, user_bias, item_bias, P, Q, users, items):
    """The gathered rows and the predictions of one chunk: (P[u], Q[i], b_u, b_i, r̂)."""
    pu, qi = P.index_select(0, users), Q.index_select(0, items)
    bu, bi = user_bias.index_select(0, users), item_bias.index_select(0, items)
    return pu, qi, bu, bi, (pu * qi).sum(1).add_(bu).add_(bi).add_(mean)


def _predict(model: Model, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
    """Predictions for checked index vectors, a chunk at a time (no autograd)."""
    out = torch.empty(len(users), dtype=model.dtype)
    with torch.no_grad():
        for start in range(0, len(users), CHUNK):
            end = start + CHUNK
            out[start:end] = _forward(model.mean, *model._tensors(),
                                      users[start:end], items[start:end])[-1]
    return out


def _is_scalar(x) -> bool:
    return isinstance(x, numbers.Integral) or getattr(x, "ndim", None) == 0


@on_one_thread
def predict(model: Model, users, items) -> torch.Tensor:
    """Predicted ratings ``mean + user_bias[u] + item_bias[i] + P[u] · Q[i]``.

    Parameters
    ----------
    model : Model
    users, items : 1-D integer tensors, arrays or lists of equal length (or two ints)
        Indices from 0; a user or item that had no training rating gets the
        biases only (its rows are zero, see the module's notes on cold start).

    Returns
    -------
    1-D tensor of the model's dtype (0-d for two ints), without autograd history.

    Raises
    ------
    TypeError
        For float or bool indices, or a model that is not a Model.
    ValueError
        For indices out of range or vectors of different lengths.

    Examples
    --------
    >>> model = init_model(3, 2, 1, mean=3.0, seed=0)
    >>> model.user_bias[0] = 0.5
    >>> predict(model, [0, 0], [1, 1]) - model.P[0, 0] * model.Q[1, 0]
    tensor([3.5000, 3.5000])
    >>> predict(model, 3, 0)
    Traceback (most recent call last):
    ...
    ValueError: users contains 1 index >= n_users == 3, the first users[0] == 3. ...
    """
    model = check_model(model)
    scalar = _is_scalar(users) and _is_scalar(items)
    users = check_index_vector(users, "users", model.n_users, "n_users")
    items = check_index_vector(items, "items", model.n_items, "n_items")
    check_same_length(users=users, items=items)
    out = _predict(model, users, items)
    return out[0] if scalar else out

