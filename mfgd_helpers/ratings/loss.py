"""The loss on observed ratings, its gradients by hand, and the RMSE.

Training minimizes the sum over the observed ratings only ::

    J = Σ_(u,i) (r̂_ui - r_ui)² + l2 (b_u² + b_i² + |p_u|² + |q_i|²)

the series' loss sum((C F - D)²) over the observed entries, with the L2
penalty counted once per rating, as stochastic gradient descent applies it:
a user with many ratings is penalized more, and one rating's gradient
touches only the rows of its user and item. Its gradients, written out ::

    ∂J/∂p_u = Σ_i 2 (e_ui q_i + l2 p_u),  ∂J/∂b_u = Σ_i 2 (e_ui + l2 b_u),   e = r̂ - r

(and the same for items) are sums over ratings of per-rating terms, so they
are computed a chunk of ratings at a time: the rows of the chunk's users
and items are gathered, and the terms added back into their rows.
"""

from __future__ import annotations

import math

import torch

from ..validation import check_scalar
from .data import Ratings, check_ratings
from .model import CHUNK, Model, _forward, check_model, on_one_thread

__all__ = ["gradients", "objective", "rmse"]


def _check_pair(model, ratings, name: str = "ratings") -> tuple[Model, Ratings]:
    """A Model and Ratings that fit it: same dtype, indices within the model's ranges."""
    model, ratings = check_model(model), check_ratings(ratings, name)
    if ratings.n_users > model.n_users or ratings.n_items > model.n_items:
        raise ValueError(
            f"{name} has {ratings.n_users} users × {ratings.n_items} items but the model "
            f"{model.n_users} × {model.n_items}: build the ratings with the model's "
            "n_users and n_items.")
    if ratings.values.dtype != model.dtype:
        raise TypeError(f"{name} has values of dtype {ratings.values.dtype}, the model "
                        f"{model.dtype}; make both float32 or both float64.")
    return model, ratings


def _check_l2(l2) -> float:
    return check_scalar(l2, "l2", float, min_val=0,
                        fix="Pass l2=0 for no penalty or a small value such as l2=0.02.")


@on_one_thread
def rmse(model: Model, ratings: Ratings) -> float:
    """Root mean squared error of the model's predictions on the ratings.

    Parameters
    ----------
    model : Model
    ratings : Ratings
        Within the model's ``n_users`` and ``n_items``, of the model's dtype.

    Returns
    -------
    float (inf or NaN when the model holds non-finite values)

    Examples
    --------
    >>> from mfgd_helpers.ratings import init_model
    >>> r = Ratings(users=[0, 1], items=[0, 0], values=[4.0, 2.0])
    >>> rmse(init_model(2, 1, 0, mean=3.0), r)      # the global mean: errors 1 and -1
    1.0
    """
    model, ratings = _check_pair(model, ratings)
    squares = 0.0
    with torch.no_grad():
        for start in range(0, len(ratings), CHUNK):
            end = start + CHUNK
            err = _forward(model.mean, *model._tensors(), ratings.users[start:end],
                           ratings.items[start:end])[-1].sub_(ratings.values[start:end])
            squares += err.double().square_().sum().item()
    return math.sqrt(squares / len(ratings))


@on_one_thread
def objective(model: Model, ratings: Ratings, *, l2: float = 0.0) -> torch.Tensor:
    """The training loss J (see the module's docstring), a differentiable 0-d tensor.

    Written with plain tensor operations, so that autograd can differentiate
    it (set ``requires_grad`` on the model's tensors first). It holds every
    rating's gathered rows at once: for small sets, to check ``gradients``.

    Examples
    --------
    >>> from mfgd_helpers.ratings import init_model
    >>> r = Ratings(users=[0, 1], items=[0, 0], values=[4.0, 2.0])
    >>> objective(init_model(2, 1, 0, mean=3.0), r)
    tensor(2.)
    """
    model, ratings = _check_pair(model, ratings)
    l2 = _check_l2(l2)
    pu, qi, bu, bi, pred = _forward(model.mean, *model._tensors(), ratings.users, ratings.items)
    loss = torch.sum((pred - ratings.values) ** 2)
    if l2:
        loss = loss + l2 * (torch.sum(bu ** 2) + torch.sum(bi ** 2)
                            + torch.sum(pu ** 2) + torch.sum(qi ** 2))
    return loss


def _add_gradients(params, users, items, values, l2: float, scale: float, into) -> float:
    """Add ``scale`` × the gradient of J on one chunk of ratings into ``into``; return Σ e².

    ``params`` and ``into`` are ``(user_bias, item_bias, P, Q)`` (plus the mean
    first in ``params``). Every term is computed from ``params`` before
    anything is added, so ``into = params`` with ``scale = -lr`` is one
    stochastic-gradient step on the chunk, and separate buffers with
    ``scale = 1`` accumulate the full gradient. The scale is folded into the
    terms, and the rows are added back with a plain ``index_add_``: given an
    ``alpha``, torch 2.13's CPU ``index_add_`` takes a path ~5 times slower.
    """
    pu, qi, bu, bi, err = _forward(*params, users, items)
    err.sub_(values)
    squares = err.dot(err).item()
    e = err.mul_(2 * scale)  # scale · 2 e, one per rating
    decay = 2 * scale * l2
    user_bias, item_bias, P, Q = into
    g_p = qi * e[:, None]                             # scale · 2 e q_i
    g_q = qi.mul_(decay).addcmul_(e[:, None], pu)     # scale · 2 (e p_u + l2 q_i), in place
    g_p.add_(pu, alpha=decay)                         # scale · 2 (e q_i + l2 p_u)
    P.index_add_(0, users, g_p)
    Q.index_add_(0, items, g_q)
    user_bias.index_add_(0, users, bu.mul_(decay).add_(e))
    item_bias.index_add_(0, items, bi.mul_(decay).add_(e))
    return squares


@on_one_thread
def gradients(model: Model, ratings: Ratings, *, l2: float = 0.0) -> Model:
    """The gradient of J with respect to the biases and factors, by hand.

    Computed a chunk of ratings at a time (no n_users × n_items array, no
    autograd), by the same code as a step of ``fit_sgd``.

    Parameters
    ----------
    model : Model
    ratings : Ratings
    l2 : float >= 0

    Returns
    -------
    Model
        A model whose tensors are the gradients ``∂J/∂user_bias``,
        ``∂J/∂item_bias``, ``∂J/∂P``, ``∂J/∂Q``; its ``mean`` is 0 (the global
        mean is not trained). Rows of users and items without a rating are 0.

    Examples
    --------
    >>> from mfgd_helpers.ratings import init_model
    >>> r = Ratings(users=[0, 1], items=[0, 0], values=[4.0, 2.0])
    >>> g = gradients(init_model(2, 1, 0, mean=3.0), r)   # errors -1 and +1
    >>> g.user_bias, g.item_bias
    (tensor([-2.,  2.]), tensor([0.]))
    """
    model, ratings = _check_pair(model, ratings)
    l2 = _check_l2(l2)
    params = (model.mean, *(t.detach() for t in model._tensors()))
    grads = tuple(torch.zeros_like(t) for t in params[1:])
    with torch.no_grad():
        for start in range(0, len(ratings), CHUNK):
            end = start + CHUNK
            _add_gradients(params, ratings.users[start:end], ratings.items[start:end],
                           ratings.values[start:end], l2, 1.0, grads)
    return Model(0.0, *grads)
