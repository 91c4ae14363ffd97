"""Training on observed ratings: full-batch gradient descent and minibatch SGD.

Both minimize the loss J of ``loss.py`` (squared errors on the observed
ratings plus the per-rating L2 penalty) with gradients written by hand:

* ``fit_gd``: one step per epoch with the gradient of every rating, the
  series' loop ``θ -= lr · ∂J/∂θ`` without a dense mask;
* ``fit_sgd``: one step per batch of ratings (shuffled each epoch), each
  step gathering the rows of the batch's users and items and adding their
  updates back, so a step costs O(batch_size · k) whatever the number of
  users and items. With one batch of all the ratings it is ``fit_gd``.

Why by hand and not with autograd: the gradient of a gathered row is a
scatter of per-rating terms back into that row, three lines that the
module docstring of ``loss.py`` writes out. Autograd would give the same
numbers (the tests check it in float64) but materializes the gradient of
the whole table, n_users × k, for every batch, unless sparse gradients
and a sparse optimizer are brought in. Written by hand, the minibatch step
touches only the batch's rows, and the full-batch step is the same code
summed over all ratings.

Like everything in this package they run on one thread (``on_one_thread``
in model.py says why).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable, Optional

import torch

from ..training import DivergenceWarning, _caller_frame
from ..validation import (Seed, check_bool, check_callable, check_dim, check_instance,
                          check_scalar, check_seed)
from .data import Ratings, check_ratings
from .loss import _add_gradients, _check_l2, _check_pair, rmse
from .model import CHUNK, Model, init_model, on_one_thread

__all__ = ["FitResult", "fit_gd", "fit_sgd", "print_epoch"]

PROGRESS_AFTER = 2.0  # seconds into an epoch before ``verbose`` shows an in-place progress line
PROGRESS_EVERY = 1.0  # seconds between two updates of that line


@dataclass(repr=False)
class FitResult:
    """What ``fit_sgd`` and ``fit_gd`` return.

    Attributes
    ----------
    model : Model
        The trained model: with a validation set (and ``restore_best``), the
        model of the best validation epoch; else the model after the last epoch.
    train_rmse : list of float
        One per epoch: the RMSE on the training ratings over the epoch, each
        rating's error measured just before the step that used it (for
        ``fit_gd``, exactly the RMSE of the model the epoch started from). A
        stopped run is shorter than ``epochs``.
    validation_rmse : list of float
        One per epoch, of the model after that epoch; empty without a
        validation set.
    best_epoch : int or None
        The 1-based epoch of the lowest validation RMSE (None without a
        validation set).
    diverged_at : int or None
        The 1-based epoch whose RMSE was not finite; training stopped there.
    diverged : bool
        ``diverged_at is not None`` (a property).
    method, k, lr, l2, epochs, batch_size : the settings (batch_size None for "gd").
    seconds : float
        Wall-clock time of the epochs (not in the repr: it varies).

    Examples
    --------
    >>> from mfgd_helpers.ratings import make_ratings, split
    >>> train, validation = split(make_ratings(300, 200, 6000, k=3, seed=0), (0.9, 0.1))
    >>> result = fit_sgd(train, k=3, lr=0.02, epochs=100, validation=validation, patience=3)
    >>> result
    FitResult(method='sgd', k=3, lr=0.02, epochs=36/100, best_epoch=33, validation_rmse=0.65...)
    >>> result.diverged, len(result.train_rmse) == len(result.validation_rmse) == 36
    (False, True)
    """

    model: Model
    train_rmse: list
    validation_rmse: list
    best_epoch: Optional[int]
    diverged_at: Optional[int]
    method: str
    k: int
    lr: float
    l2: float
    epochs: int
    batch_size: Optional[int]
    seconds: float = field(default=0.0, compare=False)

    @property
    def diverged(self) -> bool:
        """True when an RMSE became inf or NaN (then training stopped there)."""
        return self.diverged_at is not None

    def __repr__(self) -> str:
        if self.diverged:
            state = f"diverged at epoch {self.diverged_at}"
        elif self.best_epoch is not None:
            state = (f"best_epoch={self.best_epoch}, "
                     f"validation_rmse={self.validation_rmse[self.best_epoch - 1]:.4g}")
        elif self.train_rmse:
            state = f"train_rmse={self.train_rmse[-1]:.4g}"
        else:
            state = "no epoch run"
        return (f"FitResult(method={self.method!r}, k={self.k}, lr={self.lr:g}, "
                f"epochs={len(self.train_rmse)}/{self.epochs}, {state})")


def print_epoch(epoch: int, train_rmse: float, validation_rmse: Optional[float] = None) -> None:
    """A training callback that prints one line per epoch (``verbose=True`` uses it).

    Examples
    --------
    >>> print_epoch(3, 0.81234, 0.84561)
    epoch 3: train RMSE 0.8123, validation RMSE 0.8456
    >>> print_epoch(1, 1.0)
    epoch 1: train RMSE 1.0000
    """
    tail = "" if validation_rmse is None else f", validation RMSE {validation_rmse:.4f}"
    print(f"epoch {epoch}: train RMSE {train_rmse:.4f}{tail}")


class _Progress:
    """An in-place line ``epoch e: 45% of N ratings`` for epochs longer than a few seconds."""

    def __init__(self, enabled: bool, total: int):
        self.enabled, self.total, self.shown = enabled, total, False

    def start(self, epoch: int) -> None:
        self.epoch, self.started = epoch, time.perf_counter()
        self.last = self.started - PROGRESS_EVERY

    def update(self, done: int) -> None:
        now = time.perf_counter()
        if self.enabled and now - self.started >= PROGRESS_AFTER and now - self.last >= PROGRESS_EVERY:
            self.last, self.shown = now, True
            print(f"\repoch {self.epoch}: {done / self.total:4.0%} of {self.total:,} ratings",
                  end="", flush=True)

    def clear(self) -> None:
        if self.shown:
            print("\r" + " " * 60 + "\r", end="", flush=True)
            self.shown = False


def _check_common(train, validation, k, init, lr, epochs, l2, patience, restore_best,
                  init_std, callback, verbose):
    train = check_ratings(train, "train")
    lr = check_scalar(lr, "lr", float, min_val=0, include_boundaries="neither",
                      fix="Pass a small positive float such as lr=0.01.")
    epochs = check_dim(epochs, "epochs", minimum=0)
    l2 = _check_l2(l2)
    check_instance(validation, "validation", Ratings, "a Ratings",
                   "Pass the validation part of split(ratings).")
    if patience is not None:
        patience = check_dim(patience, "patience")
        if validation is None:
            raise ValueError(f"patience == {patience} needs a validation set to watch; pass "
                             "validation=... (e.g. from split) or patience=None.")
    restore_best = check_bool(restore_best, "restore_best")
    init_std = check_scalar(init_std, "init_std", float, min_val=0, fix="Pass e.g. init_std=0.1.")
    verbose = check_bool(verbose, "verbose")
    callback = check_callable(callback, "callback", "f(epoch, train_rmse, validation_rmse)")
    check_instance(init, "init", Model, "a Model", "Pass a Model from init_model or a FitResult.")
    if init is None and k is None:
        raise TypeError("k is missing: pass the number of factors, e.g. k=10 (k=0 trains the "
                        "biases only), or a starting model init=...")
    if k is not None:
        k = check_dim(k, "k", minimum=0)
    if init is not None:
        if k is not None and k != init.k:
            raise ValueError(f"k == {k} but init has k == {init.k}; pass one of them.")
        if (init.n_users, init.n_items) != (train.n_users, train.n_items):
            raise ValueError(f"init has {init.n_users} users × {init.n_items} items, train "
                             f"{train.n_users} × {train.n_items}; they must match.")
        if init.dtype != train.values.dtype:
            raise TypeError(f"init has dtype {init.dtype}, train's values "
                            f"{train.values.dtype}; make both float32 or both float64.")
    return (train, lr, epochs, l2, patience, restore_best, init_std,
            callback or (print_epoch if verbose else None), verbose)


def _start(train: Ratings, k, init, init_std, g) -> Model:
    """The starting model; rows of users and items without a training rating are zero."""
    if init is not None:
        model = init.clone()
    else:
        mean = train.values.double().mean().item()
        model = init_model(train.n_users, train.n_items, k, mean=mean, std=init_std, seed=g,
                           dtype=train.values.dtype)
    for index, size, tensors in ((train.users, train.n_users, (model.user_bias, model.P)),
                                 (train.items, train.n_items, (model.item_bias, model.Q))):
        unseen = torch.bincount(index, minlength=size) == 0
        for t in tensors:
            t[unseen] = 0
    return model


def _warn_diverged(epoch: int, which: str, value: float, lr: float, hint: str) -> None:
    message = (f"Training diverged in epoch {epoch}: the {which} RMSE became {value} with "
               f"lr={lr:g}. Try lr={lr / 10:g} or smaller.{hint}")
    frame = _caller_frame()
    if frame is None:
        warnings.warn(message, DivergenceWarning, stacklevel=3)
        return
    warnings.warn_explicit(message, DivergenceWarning, frame.f_code.co_filename,
                           frame.f_lineno, module=frame.f_globals.get("__name__"),
                           module_globals=frame.f_globals)


def _loop(model, run_epoch, epochs, validation, patience, restore_best, callback, lr, hint):
    """Epochs with validation, early stopping and divergence checks; returns the history."""
    train_rmse, validation_rmse = [], []
    best, best_epoch, diverged_at = None, None, None
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        value = run_epoch(epoch)
        checked = rmse(model, validation) if validation is not None else None
        for which, v in (("train", value), ("validation", checked)):
            if v is not None and not math.isfinite(v):
                diverged_at = epoch
                _warn_diverged(epoch, which, v, lr, hint() if callable(hint) else hint)
                break
        if diverged_at:
            break
        train_rmse.append(value)
        if checked is not None:
            validation_rmse.append(checked)
        if callback is not None:
            callback(epoch, value, checked)
        if checked is None:
            continue
        if best_epoch is None or checked < validation_rmse[best_epoch - 1]:
            best_epoch = epoch
            best = model.clone() if restore_best else None
        elif patience is not None and epoch - best_epoch >= patience:
            break
    seconds = time.perf_counter() - start
    if best is not None:
        model = best
    return model, train_rmse, validation_rmse, best_epoch, diverged_at, seconds


@on_one_thread
def fit_sgd(train: Ratings, *, k: Optional[int] = None, lr: float, epochs: int,
            batch_size: int = 1024, l2: float = 0.02, validation: Optional[Ratings] = None,
            patience: Optional[int] = None, restore_best: bool = True, shuffle: bool = True,
            init: Optional[Model] = None, init_std: float = 0.1, seed: Seed = 0,
            callback: Optional[Callable] = None, verbose: bool = False) -> FitResult:
    """Fit a biased factorization to ratings by minibatch stochastic gradient descent.

    Each epoch visits every training rating once, in a new random order
    (``shuffle``), ``batch_size`` ratings per step. A step computes every
    gradient term of its batch at the current parameters, then adds
    ``-lr ×`` them into the rows of the batch's users and items: a user
    rated twice in a batch gets both terms, and with ``batch_size=1`` this
    is the classic one-rating-at-a-time update ::

        e = r̂_ui - r_ui
        b_u -= lr · 2 (e + l2 b_u)             b_i -= lr · 2 (e + l2 b_i)
        p_u -= lr · 2 (e q_i + l2 p_u)         q_i -= lr · 2 (e p_u + l2 q_i)

    so lr is the step per rating whatever the batch size (on 100,000
    ratings, batches of 1, 256 and 4096 reached the same validation RMSE to
    3 decimals in the same number of epochs). One limit: a popular item
    rated c times in a batch takes c steps at once, so lr · c must stay
    below about 1 (its bias diverges beyond); on long-tailed data large
    batches need a smaller lr, and the divergence warning says so.

    Parameters
    ----------
    train : Ratings
        The ratings to fit (not modified).
    k : int >= 0
        Factors per user and item (0: biases only). Required unless ``init``.
    lr : float > 0
        Step per rating; about 0.01 for ratings on a 1-5 scale.
    epochs : int >= 0
        Passes over the training ratings (0 returns the starting model).
    batch_size : int >= 1
        Ratings per step (a batch larger than the set is the whole set).
    l2 : float >= 0
        L2 penalty on biases and factors, counted once per rating.
    validation : Ratings, optional
        Measured after every epoch; the best epoch's model is returned
        (``restore_best``), and ``patience`` stops training early.
    patience : int >= 1, optional
        Stop after this many epochs without a new best validation RMSE.
    restore_best : bool
        Return the model of the best validation epoch (the default), not the last.
    shuffle : bool
        A new random order every epoch; False keeps the stored order.
    init : Model, optional
        The starting model (copied); default: zero biases, the training mean,
        and factors from N(0, init_std²).
    init_std : float >= 0
    seed : None, int or torch.Generator
        Draws the starting factors, then each epoch's order.
    callback : callable(epoch, train_rmse, validation_rmse), optional
        Called after every epoch (validation_rmse None without a validation set).
    verbose : bool
        Shorthand for ``callback=print_epoch``; epochs longer than a few
        seconds also show an in-place progress line.

    Returns
    -------
    FitResult

    Warns
    -----
    DivergenceWarning
        When an RMSE becomes inf or NaN: training stops in that epoch and the
        message names a smaller lr.

    Notes
    -----
    Users and items without a training rating keep zero biases and factors,
    so they are predicted by the biases only (cold start). Memory: the model,
    one permutation of the ratings per epoch, and the batch's rows.

    Examples
    --------
    >>> from mfgd_helpers.ratings import make_ratings, rmse, split
    >>> train, test = split(make_ratings(400, 300, 20000, k=4, seed=0), (0.9, 0.1))
    >>> result = fit_sgd(train, k=4, lr=0.02, epochs=40, l2=0.05)
    >>> round(test.noise_floor, 2), round(rmse(result.model, test), 2)
    (0.5, 0.56)
    """
    (train, lr, epochs, l2, patience, restore_best, init_std, callback,
     verbose) = _check_common(train, validation, k, init, lr, epochs, l2, patience,
                              restore_best, init_std, callback, verbose)
    batch_size = check_dim(batch_size, "batch_size")
    shuffle = check_bool(shuffle, "shuffle")
    g = check_seed(seed)
    model = _start(train, k, init, init_std, g)
    if validation is not None:
        _check_pair(model, validation, "validation")
    n = len(train)
    params = (model.mean, *model._tensors())
    progress = _Progress(verbose, n)

    def run_epoch(epoch: int) -> float:
        progress.start(epoch)
        order = torch.randperm(n, generator=g) if shuffle else None
        squares = 0.0
        with torch.no_grad():
            for start in range(0, n, batch_size):
                if order is None:
                    end = start + batch_size
                    users, items, values = (train.users[start:end], train.items[start:end],
                                            train.values[start:end])
                else:
                    rows = order[start:start + batch_size]
                    users, items, values = (train.users.index_select(0, rows),
                                            train.items.index_select(0, rows),
                                            train.values.index_select(0, rows))
                squares += _add_gradients(params, users, items, values, l2, -lr, params[1:])
                if start % (256 * batch_size) == 0:
                    progress.update(start)
        progress.clear()
        return math.sqrt(squares / n)

    hint = "" if batch_size == 1 else (
        f" A step adds up the terms of all the batch's ratings of one user or item, so a "
        f"popular item in a large batch takes a large step: batch_size={max(1, batch_size // 4)} "
        "helps too.")
    model, *history, seconds = _loop(model, run_epoch, epochs, validation, patience,
                                     restore_best, callback, lr, hint)
    return FitResult(model, *history, method="sgd", k=model.k, lr=lr, l2=l2, epochs=epochs,
                     batch_size=batch_size, seconds=seconds)


@on_one_thread
def fit_gd(train: Ratings, *, k: Optional[int] = None, lr: float, epochs: int,
           l2: float = 0.02, validation: Optional[Ratings] = None,
           patience: Optional[int] = None, restore_best: bool = True,
           init: Optional[Model] = None, init_std: float = 0.1, seed: Seed = 0,
           callback: Optional[Callable] = None, verbose: bool = False) -> FitResult:
    """Fit a biased factorization to ratings by full-batch gradient descent.

    The series' loop on the observed ratings: each epoch computes the
    gradient of J over all training ratings (``gradients``), then takes one
    step ::

        for θ in (user_bias, item_bias, P, Q):
            θ -= lr * ∂J/∂θ

    The gradient of a user's row sums over that user's ratings, so the
    stable lr shrinks as the busiest user or item gets more ratings: on
    long-tailed data full-batch steps must be small and the many users with
    few ratings learn slowly. ``fit_sgd`` avoids that; this loop is its
    reference (one batch of all ratings, in the same units of lr).

    Parameters are those of ``fit_sgd`` (no ``batch_size``, ``shuffle``:
    every step uses every rating); ``seed`` draws the starting factors only.

    Returns
    -------
    FitResult

    Examples
    --------
    >>> from mfgd_helpers.ratings import make_ratings
    >>> train = make_ratings(50, 40, 1000, k=2, popularity=0.0, seed=0)
    >>> result = fit_gd(train, k=2, lr=0.005, epochs=300)
    >>> result.train_rmse[0] > result.train_rmse[-1], result.diverged
    (True, False)
    """
    (train, lr, epochs, l2, patience, restore_best, init_std, callback,
     verbose) = _check_common(train, validation, k, init, lr, epochs, l2, patience,
                              restore_best, init_std, callback, verbose)
    g = check_seed(seed)
    model = _start(train, k, init, init_std, g)
    if validation is not None:
        _check_pair(model, validation, "validation")
    n = len(train)
    params = (model.mean, *model._tensors())
    grads = tuple(torch.zeros_like(t) for t in params[1:])
    progress = _Progress(verbose, n)

    def run_epoch(epoch: int) -> float:
        progress.start(epoch)
        squares = 0.0
        with torch.no_grad():
            for grad in grads:
                grad.zero_()
            for start in range(0, n, CHUNK):
                rows = slice(start, start + CHUNK)
                squares += _add_gradients(params, train.users[rows], train.items[rows],
                                          train.values[rows], l2, 1.0, grads)
                progress.update(start)
            for theta, grad in zip(params[1:], grads):
                theta.sub_(grad, alpha=lr)
        progress.clear()
        return math.sqrt(squares / n)

    def hint() -> str:
        busiest = max(int(torch.bincount(train.users).max()), int(torch.bincount(train.items).max()))
        return (f" A full-batch step adds up the gradients of all the ratings of a user or "
                f"item, so the stable lr shrinks with the busiest one ({busiest} ratings "
                "here); fit_sgd steps one batch at a time.")

    model, *history, seconds = _loop(model, run_epoch, epochs, validation, patience,
                                     restore_best, callback, lr, hint)
    return FitResult(model, *history, method="gd", k=model.k, lr=lr, l2=l2, epochs=epochs,
                     batch_size=None, seconds=seconds)
