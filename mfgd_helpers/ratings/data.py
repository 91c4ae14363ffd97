"""Ratings: the observed (user, item, value) triples, a generator of them, and a split.

A set of ratings is three vectors of one entry per rating, never a
n_users × n_items matrix: memory grows with the number of ratings only.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass
from typing import Optional, Sequence

import torch

from ..validation import Seed, check_dim, check_dtype, check_instance, check_scalar, check_seed
from .checks import check_index_vector, check_same_length, check_value_vector
from .model import CHUNK, Model, _forward, on_one_thread

__all__ = ["Ratings", "make_ratings", "split"]

MAX_POPULARITY = 4.0  # beyond it the weights of the tail underflow to 0


@dataclass(frozen=True, repr=False, eq=False)
class Ratings:
    """Observed ratings: ``values[j]`` is the rating of item ``items[j]`` by user ``users[j]``.

    Checked when made: indices are converted to int64, integer values to
    float32; a float index, a negative or too large index, NaN or inf, an
    empty set or vectors of different lengths raise a clear error. A
    (user, item) pair should appear once; that is not checked (it would
    cost a sort), ``make_ratings`` guarantees it.

    Attributes
    ----------
    users, items : (n_ratings,) int64 tensors
        Indices from 0.
    values : (n_ratings,) float32 or float64 tensor
    n_users, n_items : int
        The index ranges; None (the default) takes the largest index + 1.
        Users or items without a rating are allowed (cold start).
    truth : Model or None
        The model that generated the ratings (``make_ratings``), else None.
    noise_floor : float or None
        The RMSE of ``truth`` on these ratings: the RMSE of the noise, the
        best any model can reach on average (None without ``truth``).

    Examples
    --------
    >>> r = Ratings(users=[0, 0, 2], items=[1, 0, 1], values=[4, 5, 3])
    >>> r
    Ratings(3 ratings, 3 users × 2 items)
    >>> r.values, r.users.dtype, len(r)
    (tensor([4., 5., 3.]), torch.int64, 3)
    >>> Ratings(users=[0, 1], items=[0, 1.5], values=[4, 5])
    Traceback (most recent call last):
    ...
    TypeError: items has dtype torch.float32, must hold integer indices ...
    """

    users: torch.Tensor
    items: torch.Tensor
    values: torch.Tensor
    n_users: Optional[int] = None
    n_items: Optional[int] = None
    truth: Optional[Model] = None

    def __post_init__(self):
        set_ = functools.partial(object.__setattr__, self)
        for name in ("n_users", "n_items"):
            size = getattr(self, name)
            if size is not None:
                set_(name, check_dim(size, name))
        for name, size in (("users", "n_users"), ("items", "n_items")):
            set_(name, check_index_vector(getattr(self, name), name, getattr(self, size), size))
        set_("values", check_value_vector(self.values, "values"))
        n = check_same_length(users=self.users, items=self.items, values=self.values)
        if n == 0:
            raise ValueError("the ratings are empty (0 ratings); at least one rating is needed.")
        for name, index in (("n_users", self.users), ("n_items", self.items)):
            if getattr(self, name) is None:
                set_(name, int(index.max()) + 1)
        check_instance(self.truth, "truth", Model, "a Model")
        if self.truth is not None and (self.truth.n_users, self.truth.n_items) != (
                self.n_users, self.n_items):
            raise ValueError(f"truth has {self.truth.n_users} users × {self.truth.n_items} "
                             f"items, the ratings {self.n_users} × {self.n_items}; they must "
                             "match (or pass truth=None).")

    def __len__(self) -> int:
        return len(self.values)

    @property
    def nbytes(self) -> int:
        """Bytes held by the three vectors."""
        return sum(t.numel() * t.element_size() for t in (self.users, self.items, self.values))

    @functools.cached_property
    def noise_floor(self) -> Optional[float]:
        if self.truth is None:
            return None
        from .loss import rmse  # loss.py checks its arguments with this module's Ratings

        return rmse(self.truth, self)

    def __repr__(self) -> str:
        return f"Ratings({len(self)} ratings, {self.n_users} users × {self.n_items} items)"


def check_ratings(ratings, name: str) -> Ratings:
    """``ratings`` if it is a Ratings, else a TypeError saying how to make one."""
    return check_instance(ratings, name, Ratings, "a Ratings",
                          "Build one with Ratings(users, items, values) or make_ratings.",
                          optional=False)


# --- the generator -------------------------------------------------------------------

@on_one_thread
def make_ratings(n_users: int, n_items: int, n_ratings: int, k: int = 10, *,
                 mean: float = 3.5, bias_std: float = 0.5, factor_std: float = 0.5,
                 noise_std: float = 0.5, popularity: float = 0.8, seed: Seed = 0,
                 dtype: torch.dtype = torch.float32) -> Ratings:
    """Explicit ratings from a known biased low-rank model plus Gaussian noise.

    Each rating is ``mean + b_u + b_i + p_u · q_i + noise`` for distinct
    (user, item) pairs. A pair is drawn with probability proportional to
    ``w_u · w_i``, where user activity and item popularity follow a Zipf-like
    law, ``w ∝ rank ** -popularity`` (ranks shuffled over the indices), so a
    few users and items have many ratings and most have few. A user's weight
    is capped so that no user is expected to rate more than half the items
    (and likewise for items), otherwise the heaviest users would run out of
    items. Memory and time grow with ``n_ratings`` and ``n_users + n_items``,
    never with ``n_users × n_items`` (10 million ratings of 1 million users ×
    100,000 items take a few seconds).

    Parameters
    ----------
    n_users, n_items : int >= 1
    n_ratings : int, 1 to n_users * n_items
    k : int >= 0
        Rank of the interaction term p_u · q_i.
    mean : float
        Global mean of the ratings.
    bias_std : float >= 0
        Standard deviation of the user and of the item biases.
    factor_std : float >= 0
        Standard deviation of the interaction p_u · q_i (whatever k is: the
        entries of p_u and q_i have std ``sqrt(factor_std) / k ** 0.25``).
    noise_std : float >= 0
        Standard deviation of the Gaussian noise: the noise floor.
    popularity : float, 0 to 4
        The Zipf exponent of item popularity and user activity; 0 is uniform.
    seed : None, int or torch.Generator
        Everything is drawn from one local generator: the same seed gives the
        same ratings.
    dtype : torch.float32 or torch.float64
        The dtype of the values and of the true model.

    Returns
    -------
    Ratings
        Sorted by user, then item; ``truth`` holds the generating model and
        ``noise_floor`` the RMSE of the noise.

    Examples
    --------
    >>> r = make_ratings(1000, 500, 20000, k=5, seed=0)
    >>> r, r.users.dtype, r.values.dtype
    (Ratings(20000 ratings, 1000 users × 500 items), torch.int64, torch.float32)
    >>> round(r.noise_floor, 2), round(r.values.std().item(), 1)   # the noise, all of it
    (0.5, 1.0)
    >>> len(set(zip(r.users.tolist(), r.items.tolist())))   # distinct pairs
    20000
    """
    n_users, n_items = check_dim(n_users, "n_users"), check_dim(n_items, "n_items")
    n_ratings = check_dim(n_ratings, "n_ratings")
    pairs = n_users * n_items
    if n_ratings > pairs:
        raise ValueError(
            f"n_ratings == {n_ratings} exceeds n_users × n_items == {pairs}, the number of "
            f"distinct (user, item) pairs. Pass n_ratings <= {pairs}.")
    if pairs >= 2**62:
        raise ValueError(f"n_users × n_items == {pairs} is too large for int64 pair keys; "
                         "pass fewer than 2**62 pairs.")
    k = check_dim(k, "k", minimum=0)
    mean = check_scalar(mean, "mean", float)
    stds = {name: check_scalar(value, name, float, min_val=0, fix=f"Pass e.g. {name}=0.5.")
            for name, value in (("bias_std", bias_std), ("factor_std", factor_std),
                                ("noise_std", noise_std))}
    popularity = check_scalar(popularity, "popularity", float, min_val=0,
                              max_val=MAX_POPULARITY,
                              fix="Pass 0 for uniform, about 0.8 for a realistic long tail.")
    dtype = check_dtype(dtype)
    g = check_seed(seed)

    entry_std = math.sqrt(stds["factor_std"]) / k ** 0.25 if k else 0.0
    truth = Model(
        mean,
        torch.randn(n_users, generator=g, dtype=dtype).mul_(stds["bias_std"]),
        torch.randn(n_items, generator=g, dtype=dtype).mul_(stds["bias_std"]),
        torch.randn(n_users, k, generator=g, dtype=dtype).mul_(entry_std),
        torch.randn(n_items, k, generator=g, dtype=dtype).mul_(entry_std),
    )
    user_cdf = _cdf(_zipf(n_users, popularity, g), cap=0.5 * n_items / n_ratings)
    item_cdf = _cdf(_zipf(n_items, popularity, g), cap=0.5 * n_users / n_ratings)
    if pairs <= 4 * n_ratings:
        keys = _distinct_pairs_dense(user_cdf, item_cdf, n_ratings, g)
    else:
        keys = _distinct_pairs(user_cdf, item_cdf, n_ratings, g)
    users, items = keys.div(n_items, rounding_mode="floor"), keys.remainder(n_items)
    del keys
    values = torch.empty(n_ratings, dtype=dtype)
    with torch.no_grad():
        for start in range(0, n_ratings, CHUNK):
            end = start + CHUNK
            values[start:end] = _forward(mean, *truth._tensors(), users[start:end],
                                         items[start:end])[-1]
    values.add_(torch.randn(n_ratings, generator=g, dtype=dtype), alpha=stds["noise_std"])
    return Ratings(users, items, values, n_users, n_items, truth)


def _zipf(n: int, exponent: float, g: torch.Generator) -> torch.Tensor:
    """Weights rank ** -exponent (float64), the ranks 1..n shuffled over the n indices."""
    ranks = torch.randperm(n, generator=g).to(torch.float64).add_(1)
    return ranks.pow_(-exponent)


def _cdf(weights: torch.Tensor, cap: float) -> torch.Tensor:
    """The cumulative distribution of ``weights`` after capping each probability at ``cap``.

    Water-filling: the mass above the cap is spread over the uncapped entries
    in proportion to their weights, until none exceeds the cap. A cap below
    1/n cannot be met and gives the uniform distribution.
    """
    p = weights / weights.sum()
    if cap * len(p) <= 1 + 1e-9:
        p.fill_(1.0 / len(p))
    for _ in range(100):
        over = p > cap
        free = p < cap
        if not bool(over.any()) or not bool(free.any()):
            break
        excess = float((p[over] - cap).sum())
        p[over] = cap
        p[free] *= 1 + excess / float(p[free].sum())
    cdf = p.cumsum_(0)
    cdf /= cdf[-1].clone()
    cdf[-1] = 1.0  # exactly: every uniform draw in [0, 1) falls in a category
    return cdf


def _draw_sorted(cdf: torch.Tensor, n: int, g: torch.Generator) -> torch.Tensor:
    """n independent draws of the distribution ``cdf``, in increasing order.

    Sorted uniforms come from cumulative sums of exponentials, and the number
    of draws per category from one search of the categories' bounds among
    them: O(n) without a sort and without a binary search per draw (which
    costs ~10 times more at 10 million draws).
    """
    spacings = torch.empty(n + 1, dtype=torch.float64).exponential_(generator=g)
    sums = spacings.cumsum_(0)
    uniforms = sums[:-1].div_(sums[-1])
    below = torch.searchsorted(uniforms, cdf)  # draws below each category's upper bound
    counts = torch.diff(below, prepend=below.new_zeros(1))
    return torch.repeat_interleave(torch.arange(len(cdf)), counts)


def _distinct_pairs(user_cdf, item_cdf, n: int, g: torch.Generator) -> torch.Tensor:
    """n distinct pair keys ``user * n_items + item``, sorted, for sparse sets.

    Rounds of rejection: draw as many pairs as are missing, keep the new
    distinct ones. Accepting each new pair at its first draw is sampling
    without replacement, one pair at a time, with probability ∝ w_u w_i; a
    round never accepts more than it drew, so it never overshoots.
    """
    n_items = len(item_cdf)
    kept = torch.empty(0, dtype=torch.int64)   # sorted, distinct
    fresh = torch.empty(0, dtype=torch.int64)  # sorted, distinct, disjoint from kept
    missing = n
    while missing:
        users = _draw_sorted(user_cdf, missing, g)
        items = _draw_sorted(item_cdf, missing, g)[torch.randperm(missing, generator=g)]
        candidates = torch.unique(users.mul_(n_items).add_(items))
        del users, items
        for old in (kept, fresh):
            if len(old):
                where = torch.searchsorted(old, candidates).clamp_(max=len(old) - 1)
                candidates = candidates[old[where] != candidates]
        if not len(kept):
            kept = candidates
        else:
            fresh = torch.sort(torch.cat([fresh, candidates])).values
            if 8 * len(fresh) > len(kept):
                kept, fresh = torch.sort(torch.cat([kept, fresh])).values, fresh[:0]
        missing = n - len(kept) - len(fresh)
    return torch.sort(torch.cat([kept, fresh])).values if len(fresh) else kept


def _distinct_pairs_dense(user_cdf, item_cdf, n: int, g: torch.Generator) -> torch.Tensor:
    """The same sampling for dense sets (n_users × n_items <= 4 n): exponential keys.

    Efraimidis and Spirakis: the n pairs with the smallest Exp(1) / w are a
    weighted sample without replacement. It touches every pair, so it is used
    only when there are at most 4 times as many pairs as ratings.
    """
    user_p = torch.diff(user_cdf, prepend=user_cdf.new_zeros(1))
    item_p = torch.diff(item_cdf, prepend=item_cdf.new_zeros(1))
    weights = torch.outer(user_p, item_p).view(-1)
    keys = torch.empty_like(weights).exponential_(generator=g).div_(weights)
    return torch.sort(torch.topk(keys, n, largest=False).indices).values


# --- the split -------------------------------------------------------------------------

@on_one_thread
def split(ratings: Ratings, fractions: Sequence[float] = (0.8, 0.1, 0.1), *,
          seed: Seed = 0) -> tuple[Ratings, ...]:
    """Split ratings at random into parts (train, validation, test), user by user.

    Each rating goes to a part at random with the given probabilities
    (exactly ``round`` of each fraction of the ratings), then every user with
    at least 2 ratings and none in the first part (train) gets back the one
    of theirs drawn first, so that the model has seen them. A user with a
    single rating may land anywhere: the validation and test parts then hold
    a few cold-start users, as real data does.

    Parameters
    ----------
    ratings : Ratings
    fractions : sequence of 2 or more numbers > 0 that sum to 1
        The first part is the training set.
    seed : None, int or torch.Generator

    Returns
    -------
    tuple of Ratings, one per fraction, in the original order within each,
    with the same ``n_users``, ``n_items`` and ``truth``.

    Examples
    --------
    >>> train, validation, test = split(make_ratings(200, 100, 5000, seed=0), seed=0)
    >>> len(train), len(validation), len(test)
    (4000, 500, 500)
    >>> train.n_users, train.truth is test.truth
    (200, True)
    """
    ratings = check_ratings(ratings, "ratings")
    if isinstance(fractions, (str, bytes)) or not hasattr(fractions, "__len__"):
        raise TypeError(f"fractions == {fractions!r} ({type(fractions).__name__}), must be a "
                        "sequence of numbers such as (0.8, 0.1, 0.1).")
    fractions = [check_scalar(f, f"fractions[{j}]", float, min_val=0, max_val=1,
                              include_boundaries="right",
                              fix="Each part needs a fraction > 0, e.g. (0.8, 0.1, 0.1).")
                 for j, f in enumerate(fractions)]
    if len(fractions) < 2 or abs(math.fsum(fractions) - 1) > 1e-6:
        raise ValueError(f"fractions == {tuple(fractions)} must hold 2 or more numbers that "
                         f"sum to 1 (they sum to {math.fsum(fractions):.6g}); e.g. (0.8, 0.1, "
                         "0.1) for train, validation and test.")
    g = check_seed(seed)
    n = len(ratings)
    bounds = torch.tensor([round(n * c) for c in itertools.accumulate(fractions[:-1])])
    draw = torch.randperm(n, generator=g)  # the order in which the ratings are drawn
    part = torch.bucketize(draw, bounds, right=True)
    users = ratings.users
    first = torch.full((ratings.n_users,), n, dtype=torch.int64).scatter_reduce_(
        0, users, draw, "amin")
    count = torch.bincount(users, minlength=ratings.n_users)
    in_train = torch.bincount(users[part == 0], minlength=ratings.n_users)
    missing = (count >= 2) & (in_train == 0)
    part[missing[users] & (draw == first[users])] = 0
    parts = []
    for j, fraction in enumerate(fractions):
        keep = part == j
        if not bool(keep.any()):
            raise ValueError(f"fractions[{j}] == {fraction} leaves part {j} empty with "
                             f"{n} ratings; pass a larger fraction or more ratings.")
        parts.append(Ratings(users[keep], ratings.items[keep], ratings.values[keep],
                             ratings.n_users, ratings.n_items, ratings.truth))
    return tuple(parts)

