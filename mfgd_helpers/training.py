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

from .threads import one_thread_if_small
from .validation import (
    as_matrix,
    check_dim,
    check_factors,
    check_lr,
    check_n_iterations,
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
    diverged : bool
        True when a loss became inf or NaN; training stopped there.
    diverged_at : int or None
        The 1-based iteration whose loss was not finite.
    lr, n_iterations, method : the settings of the run.
    seconds : float
        Wall-clock time of the loop (not shown in the repr: it varies).
    """

    C: torch.Tensor
    F: torch.Tensor
    losses: list
    final_loss: float
    diverged: bool
    diverged_at: Optional[int]
    lr: float
    n_iterations: int
    method: str
    seconds: float = field(default=0.0, compare=False)

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

    Raises
    ------
    RuntimeError
        If ``loss.backward()`` has not filled ``C.grad`` and ``F.grad`` yet.

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
    with torch.no_grad():
        C -= lr * C.grad
        F -= lr * F.grad
    C.grad.zero_()
    F.grad.zero_()


def _sse(D, D_hat, mask):
    if mask is None:
        return torch.sum((D - D_hat) ** 2)
    return torch.sum(((D - D_hat) * mask) ** 2)


def _objective(D, C, F, mask, l2):
    """The loss that training minimizes: squared error plus the L2 penalty."""
    loss = _sse(D, torch.mm(C, F), mask)
    if l2:
        loss = loss + l2 * (torch.sum(C ** 2) + torch.sum(F ** 2))
    return loss


def _caller_stacklevel() -> int:
    """The stacklevel of the first frame outside this package: the user's line."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level


def _diverged_warning(iteration: int, loss: float, lr: float) -> None:
    warnings.warn(
        f"Training diverged at iteration {iteration}: the loss became {loss} "
        f"with lr={lr:g}. Try lr={lr / 10:g} or smaller "
        "(mf.max_stable_lr(D, C, F) gives the bound, mf.suggest_lr a safe value).",
        DivergenceWarning,
        stacklevel=_caller_stacklevel(),
    )


def _loop_autograd(D, C, F, lr, n_iterations, mask, l2, on_loss):
    """The original notebook's loop: forward, backward, manual step."""
    for i in range(n_iterations):
        loss = _objective(D, C, F, mask, l2)
        loss.backward()
        if on_loss(i, loss.item()):
            return
        gradient_step(C, F, lr)


def _loop_analytic(D, C, F, lr, n_iterations, mask, l2, on_loss):
    """The fast path: hand-derived gradients, in-place updates, no graph.

    Per iteration five tensor operations, all into buffers allocated once:
    R = C F - D (one ``addmm``); loss = <R, R>; gF = Cᵀ R; C -= 2 lr R Fᵀ
    (one ``addmm_``, with the old F); F -= 2 lr gF (with the old C, hence the
    buffer). With the L2 penalty l2 (|C|² + |F|²) the factors also shrink by
    (1 - 2 lr l2) each step.

    ``inference_mode`` skips the bookkeeping that ``no_grad`` still does for
    every operation (``on_loss``, and so the callback, runs inside it).

    The loss is summed in pieces of 65536 entries, each a float32 dot
    product, the total in double: one dot product over millions of entries
    loses digits (1e-5 relative at 2000 x 2000), the pieces stay near 1e-7
    like ``torch.sum``. C and F are trained as working copies in
    the memory layout that is fastest here, written back into C and F at the
    end (also after a divergence).
    """
    # C is trained in column-major order (C_work.t() is contiguous): the products
    # that read and update it then run up to 1.5 times faster (MKL, 1000 x 1000).
    C_work, F_work = C.t().contiguous().t(), F.contiguous()  # copies unless already so
    R = torch.empty(D.shape, dtype=D.dtype, device=D.device)  # contiguous, whatever D is
    gF = torch.empty(F.shape, dtype=F.dtype, device=F.device)
    r = R.view(-1)
    pieces = r.split(1 << 16) if r.numel() > 1 << 16 else None  # None: one dot product
    c, f = C_work.t().view(-1).split(1 << 16), F_work.view(-1).split(1 << 16)
    Ct, Ft = C_work.t(), F_work.t()
    step = -2.0 * lr
    shrink = 1.0 - 2.0 * lr * l2

    def sum_of_squares(pieces) -> float:
        total = 0.0
        for piece in pieces:
            total += piece.dot(piece).item()
        return total

    try:
        with torch.inference_mode():
            for i in range(n_iterations):
                torch.addmm(D, C_work, F_work, beta=-1, out=R)
                if mask is not None:
                    R.mul_(mask)
                loss = r.dot(r).item() if pieces is None else sum_of_squares(pieces)
                if l2:
                    loss += l2 * (sum_of_squares(c) + sum_of_squares(f))
                if on_loss(i, loss):
                    return
                torch.mm(Ct, R, out=gF)
                C_work.addmm_(R, Ft, beta=shrink, alpha=step)
                if l2:
                    F_work.mul_(shrink)
                F_work.add_(gF, alpha=step)
    finally:
        if C_work is not C:
            C.copy_(C_work)
        if F_work is not F:
            F.copy_(F_work)


def train(
    D,
    C,
    F,
    *,
    lr: float,
    n_iterations: int,
    method: str = "autograd",
    mask=None,
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
    if method not in METHODS:
        raise ValueError(
            f"method == {method!r}, must be one of {METHODS}: 'autograd' for the "
            "teaching loop, 'analytic' for the fast path."
        )
    if method == "autograd" and torch.is_inference_mode_enabled():
        raise RuntimeError(
            "method='autograd' needs autograd, which torch.inference_mode() turns "
            "off. Call train outside the inference_mode block, or use "
            "method='analytic'."
        )
    lr = check_lr(lr)
    n_iterations = check_n_iterations(n_iterations)
    log_every = check_dim(log_every, "log_every")
    D, mask = check_target(D, mask)
    D = D.detach()
    C = as_matrix(C, "C", dtype=D.dtype)
    F = as_matrix(F, "F", dtype=D.dtype)
    check_factors(D, C, F)
    if isinstance(l2, bool) or not isinstance(l2, (int, float)) or not math.isfinite(l2) or l2 < 0:
        raise ValueError(
            f"l2 == {l2!r}, must be a finite number >= 0. Pass l2=0 for no "
            "regularization or a small value such as l2=0.01."
        )
    l2 = float(l2)
    if verbose and callback is None:
        callback = print_progress
    if callback is not None and not callable(callback):
        raise TypeError(
            f"callback == {callback!r} is not callable; pass a function "
            "f(iteration, loss) such as mf.print_progress."
        )

    C = C.detach().clone().requires_grad_(method == "autograd")
    F = F.detach().clone().requires_grad_(method == "autograd")
    losses: list[float] = []
    record = losses.append
    failed: list[int] = []

    def on_loss(i: int, value: float) -> bool:
        """Record the loss; return True to stop (non-finite loss)."""
        if not math.isfinite(value):
            failed.append(i + 1)
            _diverged_warning(i + 1, value, lr)
            return True
        record(value)
        if callback is not None and (i == 0 or (i + 1) % log_every == 0):
            callback(i + 1, value)
        return False

    loop = _loop_autograd if method == "autograd" else _loop_analytic
    start = time.perf_counter()
    with one_thread_if_small(D.numel()):
        loop(D, C, F, lr, n_iterations, mask, l2, on_loss)
    seconds = time.perf_counter() - start

    with torch.no_grad():
        final_loss = _objective(D, C, F, mask, l2).item()
    if not failed and not math.isfinite(final_loss):  # the last update blew up
        failed.append(n_iterations + 1)
        _diverged_warning(n_iterations + 1, final_loss, lr)
    C, F = C.detach().requires_grad_(), F.detach().requires_grad_()
    return TrainResult(
        C=C, F=F, losses=losses, final_loss=final_loss,
        diverged=bool(failed), diverged_at=failed[0] if failed else None,
        lr=lr, n_iterations=n_iterations, method=method, seconds=seconds,
    )
