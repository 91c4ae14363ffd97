"""Training: the manual gradient step and the full gradient-descent loop."""

from __future__ import annotations

import math
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import torch

from .gradients import _descent_step
from .loss import _loss_value, _objective, _residual
from .memory import RATINGS_PATH, check_memory
from .threads import one_thread_if_small
from .validation import (
    MaskLike,
    MatrixLike,
    check_bool,
    check_callable,
    check_choice,
    check_dim,
    check_factors,
    check_lr,
    check_no_overflow,
    check_scalar,
    check_target,
)

__all__ = ["DivergenceWarning", "TrainResult", "gradient_step", "print_progress", "train"]

_PACKAGE = str(Path(__file__).resolve().parent)


class DivergenceWarning(RuntimeWarning):
    """Training stopped at a non-finite loss.

    It is shown for every diverging run, re-runs of the same cell included
    (Python would otherwise show it once per line), and it points at the line
    that called ``mf.train``. Silence it by category:
    ``warnings.filterwarnings("ignore", category=mf.DivergenceWarning)``.

    Examples
    --------
    >>> import warnings
    >>> from mfgd_helpers import example_problem, train
    >>> D, C, F = example_problem()
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     result = train(D, C, F, lr=5.0, n_iterations=50)
    >>> [w.category.__name__ for w in caught], result.diverged
    (['DivergenceWarning'], True)
    """


# appended, so that any filter the user sets for it comes first and wins
warnings.filterwarnings("always", category=DivergenceWarning, append=True)

METHODS = ("autograd", "analytic")


@dataclass(repr=False)
class TrainResult:
    """What a training run returns.

    Attributes
    ----------
    C, F : Tensor
        The trained factors (new leaf tensors; the caller's are untouched).
    losses : list of float
        ``losses[i]`` is the loss *before* update i, as the original notebook
        records it. A diverged run stops early, so it is shorter.
    final_loss : float
        The loss at the returned C and F (after the last update).
    diverged_at : int or None
        The 1-based iteration whose loss was not finite; training stopped
        there. None for a run that did not diverge.
    diverged : bool
        ``diverged_at is not None`` (a property).
    lr, n_iterations, method : the settings of the run.
    seconds : float
        Wall-clock time of the loop (not shown in the repr: it varies).

    Examples
    --------
    >>> from mfgd_helpers import example_problem, train
    >>> D, C, F = example_problem()
    >>> result = train(D, C, F, lr=0.01, n_iterations=100)
    >>> result
    TrainResult(method='autograd', lr=0.01, iterations=100/100, final_loss=0.02225)
    >>> result.diverged, result.D_hat.shape
    (False, torch.Size([3, 4]))
    """

    C: torch.Tensor
    F: torch.Tensor
    losses: list
    final_loss: float
    diverged_at: Optional[int]
    lr: float
    n_iterations: int
    method: str
    seconds: float = field(default=0.0, compare=False)

    @property
    def diverged(self) -> bool:
        """True when a loss became inf or NaN (then training stopped there)."""
        return self.diverged_at is not None

    @property
    def D_hat(self) -> torch.Tensor:
        """The reconstruction C @ F, without autograd history."""
        with torch.no_grad():
            return self.C @ self.F

    def __repr__(self) -> str:
        state = (f"diverged at iteration {self.diverged_at}" if self.diverged
                 else f"final_loss={self.final_loss:.4g}")
        return (f"TrainResult(method={self.method!r}, lr={self.lr:g}, "
                f"iterations={len(self.losses)}/{self.n_iterations}, {state})")


def print_progress(iteration: int, loss: float) -> None:
    """A ``train`` callback that prints progress in the original notebook's format.

    Examples
    --------
    >>> print_progress(1000, 0.02231)
    Iteration n. 1000 . Loss: 0.0223
    """
    print(f"Iteration n. {iteration} . Loss: {loss:.4f}")


def gradient_step(C: torch.Tensor, F: torch.Tensor, lr: float) -> None:
    """One manual gradient-descent update of C and F in place, then zero the gradients.

    This is the teaching step of the notebooks::

        with torch.no_grad():
            C -= lr * C.grad
            F -= lr * F.grad
        C.grad.zero_()
        F.grad.zero_()

    Parameters
    ----------
    C, F : leaf tensors with ``requires_grad=True``
        The factors, after ``loss.backward()`` has filled their ``.grad``.
    lr : float > 0
        The learning rate.

    Raises
    ------
    RuntimeError
        If ``loss.backward()`` has not filled ``C.grad`` and ``F.grad`` yet.
    ValueError
        If a gradient holds NaN or inf, or the step would overflow.

    Examples
    --------
    >>> import torch
    >>> C = torch.ones(1, 1, requires_grad=True)
    >>> F = torch.ones(1, 1, requires_grad=True)
    >>> ((C @ F) ** 2).sum().backward()
    >>> gradient_step(C, F, lr=0.1)
    >>> C, C.grad
    (tensor([[0.8000]], requires_grad=True), tensor([[0.]]))
    """
    lr = check_lr(lr)
    for name, t in (("C", C), ("F", F)):
        if not isinstance(t, torch.Tensor) or not t.requires_grad:
            raise TypeError(
                f"{name} must be a tensor with requires_grad=True; "
                f"create it with {name}.requires_grad_()."
            )
        if t.grad is None:
            raise RuntimeError(
                f"{name}.grad is None: compute the loss and call loss.backward() "
                "before gradient_step, so that the gradients exist."
            )
        if not torch.isfinite(t.grad).all():
            raise ValueError(
                f"{name}.grad contains NaN or inf: the loss it came from was not finite. "
                "Start again from finite C and F with a smaller lr (mf.suggest_lr "
                "gives a safe one)."
            )
    with torch.no_grad():
        size = (lr * (C.grad.abs().max() + F.grad.abs().max())
                + C.abs().max() + F.abs().max())
    check_no_overflow(size, f"the step with lr={lr:g}", C.dtype)
    _step(C, F, lr)


def _step(C, F, lr: float) -> None:
    """The update of ``gradient_step`` without its checks (``train`` checks once)."""
    with torch.no_grad():
        C -= lr * C.grad
        F -= lr * F.grad
    C.grad.zero_()
    F.grad.zero_()


def _caller_frame():
    """The first frame outside this package: the user's line (None if there is none)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
    return frame


def _warn_at_caller(message: str, category: type[Warning]) -> None:
    """Warn at the user's line, however many frames of this package lie in between.

    No once-per-location registry, so a re-run notebook cell warns again.
    """
    frame = _caller_frame()
    if frame is None:
        warnings.warn(message, category, stacklevel=2)
        return
    # (Not module_globals: under `python -c` its loader cannot give __main__'s source.)
    warnings.warn_explicit(message, category, frame.f_code.co_filename, frame.f_lineno,
                           module=frame.f_globals.get("__name__"))


def _diverged_warning(iteration: int, loss: float, lr: float) -> None:
    _warn_at_caller(
        f"Training diverged at iteration {iteration}: the loss became {loss} "
        f"with lr={lr:g}. Try lr={lr / 10:g} or smaller "
        "(mf.max_stable_lr(D, C, F) gives the bound, mf.suggest_lr a safe value).",
        DivergenceWarning)


def _check_working_memory(D, method: str, mask) -> None:
    """Refuse a target whose loop would not fit in memory (before it starts)."""
    # n × m matrices the loop holds besides D: the fast path's residual buffer;
    # the autograd path's C F, R, R², their gradients (and the masked R).
    copies = (1 if method == "analytic" else 5) + (mask is not None)
    n, m = D.shape
    fix = RATINGS_PATH if method == "analytic" else (
        f"use method='analytic' ({copies - 4} instead of {copies}), or {RATINGS_PATH}")
    check_memory(
        copies * D.numel() * D.element_size(),
        f"train(method={method!r}) on a {n} × {m} target holds about {copies} more "
        f"n × m {str(D.dtype).removeprefix('torch.')} matrices", fix)


def _loop_autograd(D, C, F, lr, n_iterations, mask, l2, record):
    """The teaching path, the original notebook's loop: forward, backward, manual step."""
    for i in range(n_iterations):
        loss = _objective(_residual(D, C, F, mask), C, F, l2)
        loss.backward()
        if not record(i, (loss.item(),)):
            return
        _step(C, F, lr)


BATCH = 128        # the most iterations whose losses the fast path computes in one call
BATCHED = 1 << 18  # residual entries kept for one batch, at most (1 MiB in float32)
MIN_BATCH = 8      # below this, one loss at a time


def _loop_analytic(D, C, F, lr, n_iterations, mask, l2, record):
    """The fast path: the teaching loop with the hand-derived gradients.

    It is the loop ::

        for i in range(n_iterations):
            R = _residual(D, C, F, mask)             # C F - D
            loss = _objective(R, C, F, l2)
            dC, dF = _gradients(R, C, F, l2)         # 2 R Fᵀ, 2 Cᵀ R (+ L2)
            C -= lr * dC
            F -= lr * dF

    tuned: the same three pieces write into buffers allocated once (the
    residual is one ``addmm`` into R, the update two BLAS calls made by
    ``_descent_step``), the loss is ``_loss_value`` (dot products, no temporary),
    and ``inference_mode`` skips the bookkeeping that ``no_grad`` still does
    for every operation (``record``, and so the callback, runs inside it).

    Without L2 the loss is only sum(R²). Then, unless the target is large,
    each of up to ``BATCH`` iterations (as many as ``BATCHED`` entries allow)
    writes its residual into its own slot of one buffer;
    the losses of the batch are then one call (``torch.linalg.vecdot``), read
    as floats at once. On a 3 × 4 target this makes the loop about 1.25 times
    faster: each tensor call costs about 1.5 µs whatever its size. After a
    batch with a non-finite loss, the steps up to that loss are made again
    from a copy of the batch's start, with the residuals the batch kept, so a
    diverged run stops in the same state as one loss at a time.

    C is trained as a working copy in column-major order (``C_work.t()`` is
    contiguous): the products that read and update it then run up to 1.5
    times faster (MKL, 1000 x 1000). The copies are written back into C and F
    at the end, also after a divergence.
    """
    C_work, F_work = C.t().contiguous().t(), F.contiguous()  # copies unless already so
    if mask is not None:
        mask = mask.to(D.dtype)  # 0.0 and 1.0: see _residual
    batch = 0 if l2 else min(BATCH, BATCHED // max(D.numel(), 1))
    try:
        with torch.inference_mode():
            step = _descent_step(C_work, F_work, lr, l2)
            if batch < MIN_BATCH:
                R = torch.empty(D.shape, dtype=D.dtype, device=D.device)  # contiguous
                flat = R.view(-1), C_work.t().view(-1), F_work.view(-1)   # for the loss
                for i in range(n_iterations):
                    _residual(D, C_work, F_work, mask, out=R)
                    if not record(i, (_loss_value(*flat, l2),)):
                        return
                    step(R)
                return
            slots = torch.empty((batch, *D.shape), dtype=D.dtype, device=D.device)
            rows, residuals = slots.view(batch, -1), slots.unbind()
            C_start, F_start = torch.empty_like(C_work), torch.empty_like(F_work)
            for first in range(0, n_iterations, batch):
                C_start.copy_(C_work)
                F_start.copy_(F_work)
                size = min(batch, n_iterations - first)
                for R in residuals[:size]:
                    _residual(D, C_work, F_work, mask, out=R)
                    step(R)
                losses = torch.linalg.vecdot(rows[:size], rows[:size]).tolist()
                kept = record(first, losses)
                if kept < size:  # a non-finite loss: back to the state that gave it,
                    C_work.copy_(C_start)    # with the steps of the residuals kept
                    F_work.copy_(F_start)
                    for R in residuals[:kept]:
                        step(R)
                    return
    finally:
        if C_work is not C:
            C.copy_(C_work)
        if F_work is not F:
            F.copy_(F_work)


def train(
    D: MatrixLike,
    C: MatrixLike,
    F: MatrixLike,
    *,
    lr: float,
    n_iterations: int,
    method: str = "autograd",
    mask: MaskLike | None = None,
    l2: float = 0.0,
    callback: Optional[Callable[[int, float], None]] = None,
    log_every: int = 1000,
    verbose: bool = False,
) -> TrainResult:
    """Fit D ≈ C @ F by gradient descent on the sum of squared differences.

    The caller's C and F are **not** modified: training runs on copies, and
    the result holds the trained factors.

    Parameters
    ----------
    D : (n, m) tensor or array
        The target. Must be finite where observed (hidden entries, with a
        mask, may hold anything, NaN included).
    C, F : (n, k) and (k, m) tensors or arrays
        The starting factors; converted to D's dtype. A ``.grad`` of None is
        fine (fresh tensors).
    lr : float > 0
        Learning rate.
    n_iterations : int >= 0
        Number of updates.
    method : {"autograd", "analytic"}
        "autograd" is the original notebook's loop (``loss.backward()`` and a
        manual step under ``torch.no_grad()``); "analytic" uses the
        hand-derived gradients without a graph, several times faster, with
        the same losses up to float rounding.
    mask : (n, m) bool tensor, optional
        True marks an observed entry; the loss only counts those.
    l2 : float >= 0
        L2 regularization: minimize loss + l2 (|C|² + |F|²). The recorded
        losses include the penalty.
    callback : callable(iteration, loss), optional
        Called at iteration 1 and every ``log_every`` iterations with the
        1-based iteration number and the loss before that update.
        ``mf.print_progress`` prints the original notebook's table. On the
        fast path it runs under ``torch.inference_mode()``.
    log_every : int >= 1
        How often ``callback`` is called.
    verbose : bool
        Shorthand for ``callback=print_progress``.

    Returns
    -------
    TrainResult

    Warns
    -----
    RuntimeWarning
        When the loss becomes inf or NaN: training stops there, ``diverged``
        is set, and the message names the iteration and a smaller lr.

    Examples
    --------
    >>> from mfgd_helpers import make_target, init_factors
    >>> D = make_target(3, 4, 2, seed=0)
    >>> C, F = init_factors(3, 4, 2, seed=1)
    >>> result = train(D, C, F, lr=0.05, n_iterations=2000, method="analytic")
    >>> result.final_loss < 1e-4, result.diverged, len(result.losses)
    (True, False, 2000)
    >>> C.grad is None   # the caller's factors are untouched
    True
    """
    check_choice(method, "method", METHODS,
                 "'autograd' is the teaching loop, 'analytic' the fast path.")
    if method == "autograd" and torch.is_inference_mode_enabled():
        raise RuntimeError(
            "method='autograd' needs autograd, which torch.inference_mode() turns "
            "off. Call train outside the inference_mode block, or use "
            "method='analytic'."
        )
    lr = check_lr(lr)
    n_iterations = check_dim(n_iterations, "n_iterations", minimum=0)
    log_every = check_dim(log_every, "log_every")
    l2 = check_scalar(l2, "l2", float, min_val=0,
                      fix="Pass l2=0 for no penalty or a small value such as l2=0.01.")
    verbose = check_bool(verbose, "verbose")
    callback = check_callable(callback, "callback", "f(iteration, loss)")
    D, mask = check_target(D, mask)
    D = D.detach()
    C, F = check_factors(D, C, F)
    _check_working_memory(D, method, mask)
    largest = torch.finfo(D.dtype).max
    if 2 * lr * (1 + l2) >= largest:
        raise ValueError(
            f"lr == {lr:g} with l2 == {l2:g} is too large for {D.dtype}: the step "
            f"2 lr (1 + l2) exceeds its largest value {largest:.2g}. Pass a small lr "
            "such as lr=0.01 (mf.suggest_lr gives a safe one)."
        )
    if verbose and callback is None:
        callback = print_progress

    C = C.detach().clone().requires_grad_(method == "autograd")
    F = F.detach().clone().requires_grad_(method == "autograd")
    losses: list[float] = []
    failed: list[int] = []

    def record(first: int, values) -> int:
        """Record the losses of iterations first, first + 1, ... (0-based).

        Returns how many were finite before the first that is not; training
        stops there, with a warning.
        """
        kept = len(values)
        if not all(map(math.isfinite, values)):
            kept = next(j for j, value in enumerate(values) if not math.isfinite(value))
            failed.append(first + kept + 1)
        losses.extend(values[:kept])
        if callback is not None:   # at iteration 1 and every log_every-th
            due = (-first - 1) % log_every   # the first j with first + j + 1 a multiple
            if first == 0 and kept and due:
                callback(1, values[0])
            for j in range(due, kept, log_every):
                callback(first + j + 1, values[j])
        if failed:
            _diverged_warning(first + kept + 1, values[kept], lr)
        return kept

    loop = _loop_autograd if method == "autograd" else _loop_analytic
    start = time.perf_counter()
    with one_thread_if_small(D.numel()):
        loop(D, C, F, lr, n_iterations, mask, l2, record)
    seconds = time.perf_counter() - start

    with torch.no_grad():
        if method == "analytic":  # as the fast path computes its losses, in one buffer
            R = _residual(D, C, F, mask, out=torch.empty(D.shape, dtype=D.dtype, device=D.device))
            final_loss = _loss_value(R.view(-1), C.reshape(-1), F.reshape(-1), l2)
        else:
            final_loss = _objective(_residual(D, C, F, mask), C, F, l2).item()
    if not failed and not math.isfinite(final_loss):  # the last update blew up
        failed.append(n_iterations + 1)
        _diverged_warning(n_iterations + 1, final_loss, lr)
    C, F = C.detach().requires_grad_(), F.detach().requires_grad_()
    return TrainResult(
        C=C, F=F, losses=losses, final_loss=final_loss,
        diverged_at=failed[0] if failed else None,
        lr=lr, n_iterations=n_iterations, method=method, seconds=seconds,
    )
