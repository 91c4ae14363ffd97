"""From settings to what the playground shows: ``run(settings)`` returns a ``View``."""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from typing import Callable, Optional

import torch

from ..data import example_problem, init_factors, make_target
from ..optimum import best_rank_k_loss
from ..step_size import suggest_lr
from ..threads import one_thread_if_small
from ..training import DivergenceWarning, TrainResult, train
from ..validation import check_callable, check_seed
from .diagnose import Diagnosis, _fmt, diagnose
from .settings import Settings

__all__ = ["View", "run"]


@dataclass(frozen=True)
class _Problem:
    D: torch.Tensor
    C: torch.Tensor
    F: torch.Tensor
    optimum: float
    suggested_lr: float


@functools.lru_cache(maxsize=32)
def _problem(target: str, n: int, m: int, rank: int, k: int, seed: int) -> _Problem:
    """D, the starting factors, the floor and suggest_lr; cached, as only lr and the
    number of iterations change on most slider moves."""
    if target == "original":
        D, C, F = example_problem()
        C, F = C.detach(), F.detach()
        if k > 2:
            C3, F3 = init_factors(n, m, k - 2, seed=seed)
            C, F = torch.cat([C, C3.detach()], 1), torch.cat([F, F3.detach()], 0)
        C, F = C[:, :k], F[:k]
    else:
        g = check_seed(seed)
        D = make_target(n, m, rank, seed=g)
        C, F = init_factors(n, m, min(n, m), seed=g)
        C, F = C.detach()[:, :k], F.detach()[:k]
    C, F = C.contiguous(), F.contiguous()
    # suggest_lr computes the curvature once; the stable bound is twice its answer
    return _Problem(D, C, F, best_rank_k_loss(D, k), suggest_lr(D, C, F))


@dataclass(frozen=True, repr=False)
class View:
    """Everything the playground shows for one setting of the sliders.

    Attributes
    ----------
    settings : Settings
    D : Tensor (n, m)
        The target (a copy: changing it changes nothing else).
    result : TrainResult
        The run (``method="analytic"``), from the starting factors of the
        settings.
    optimum : float
        ``best_rank_k_loss(D, k)``: the floor no rank-k factorization can beat.
    suggested_lr : float
        ``suggest_lr(D, C, F)`` at the start: 1 / the larger curvature of the
        loss at the start (``curvature``) and at a balanced solution (4 σ₁).

    Examples
    --------
    >>> view = run(Settings(lr=0.2, n_iterations=2000))
    >>> view.verdict, view.diverged
    ('optimum', False)
    >>> print(view.status(timing=False))
    final loss at the floor (gap below 2.8e-09, float32 rounding) · best possible 7.47e-10 · 2000 iterations · no divergence
    """

    settings: Settings
    D: torch.Tensor
    result: TrainResult
    optimum: float
    suggested_lr: float

    @property
    def stable_lr(self) -> float:
        """Estimated largest stable learning rate, ``2 * suggested_lr``.

        It is 2 / the larger of the curvature at the start and at a balanced
        solution, so never above ``max_stable_lr`` (2 / the curvature at the
        start). A rule of thumb, not a theorem: runs a little above it may
        converge, and at 0.5 and 0.95 times it none of 12000 runs on random
        problems over the playground's range diverged
        (``benchmarks/bench_stable_lr_rule.py``).
        """
        return 2.0 * self.suggested_lr

    @property
    def diverged(self) -> bool:
        return self.result.diverged

    @property
    def final_loss(self) -> float:
        return self.result.final_loss

    @property
    def gap(self) -> float:
        """final loss - best possible loss (NaN when the run diverged)."""
        return float("nan") if self.diverged else self.final_loss - self.optimum

    @functools.cached_property
    def diagnosis(self) -> Diagnosis:
        """``diagnose`` of this run: verdict, advice, the final loss in words."""
        r = self.result
        return diagnose(r.losses, final_loss=r.final_loss, diverged_at=r.diverged_at,
                        optimum=self.optimum, D_norm2=float(torch.sum(self.D.double() ** 2)),
                        stable_lr=self.stable_lr, suggested_lr=self.suggested_lr,
                        settings=self.settings)

    @property
    def verdict(self) -> str:
        """One of "diverged", "optimum", "bouncing", "falling", "stalled" (see RULES)."""
        return self.diagnosis.verdict

    @property
    def advice(self) -> str:
        """Why the run ended as it did, and what to try next."""
        return self.diagnosis.advice

    @property
    def final_loss_text(self) -> str:
        """The final loss in words that any CPU reproduces (``Diagnosis.loss_text``)."""
        return self.diagnosis.loss_text

    def status(self, *, timing: bool = True) -> str:
        """One line of facts: final loss, best possible, gap, time, divergence."""
        s, r, d = self.settings, self.result, self.diagnosis
        time_text = f" in {r.seconds:.2f} s" if timing else ""
        if self.diverged:
            last = _fmt(r.losses[-1]) if r.losses else "none"
            return (f"DIVERGED at iteration {r.diverged_at} of {s.n_iterations}"
                    f"{time_text} · last finite loss {last} · "
                    f"best possible {_fmt(self.optimum)}")
        gap = f" · gap {self.gap:.2g}" if d.verdict in ("falling", "stalled") else ""
        return (f"final loss {d.loss_text} · best possible {_fmt(self.optimum)}"
                f"{gap} · {s.n_iterations} iterations{time_text} · no divergence")

    def __repr__(self) -> str:
        return (f"View({self.settings.describe()}: {self.verdict}, "
                f"final_loss={_fmt(self.final_loss)}, optimum={_fmt(self.optimum)}, "
                f"stable_lr={_fmt(self.stable_lr)})")


def run(settings: Settings,
        progress: Optional[Callable[[int, int], None]] = None) -> View:
    """Train for the given settings and return what the playground shows.

    The run uses ``train(..., method="analytic")``; a diverging run does not
    warn here (``DivergenceWarning`` is ignored, by category), it is reported
    by ``view.diverged``, ``view.status()`` and ``view.advice``.

    Parameters
    ----------
    settings : Settings
    progress : callable(done, total), optional
        Called about 100 times during training and once at the end with
        ``done == total``, to drive a progress bar.

    Returns
    -------
    View

    Examples
    --------
    >>> view = run(Settings())   # the original notebook's run
    >>> round(view.result.losses[-1], 4), view.verdict
    (0.0014, 'falling')
    >>> round(view.stable_lr, 3), round(view.suggested_lr, 3)
    (0.265, 0.133)
    >>> run(Settings(lr=1.0)).result.diverged_at
    5
    """
    if not isinstance(settings, Settings):
        raise TypeError(f"settings must be a Settings; got {type(settings).__name__}. "
                        "Build one with play.Settings(lr=0.01, k=2, ...).")
    check_callable(progress, "progress", "f(done, total)")
    s = settings
    total = s.n_iterations
    callback = None
    if progress is not None:
        def callback(iteration, loss):
            progress(iteration, total)
    with one_thread_if_small(s.n * s.m), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DivergenceWarning)
        problem = _problem(s.target, s.n, s.m, s.rank, s.k, s.seed)
        result = train(problem.D, problem.C, problem.F, lr=s.lr, n_iterations=total,
                       method="analytic", callback=callback,
                       log_every=max(1, total // 100))
        if progress is not None:
            progress(total, total)
    return View(settings=s, D=problem.D.clone(), result=result,
                optimum=problem.optimum, suggested_lr=problem.suggested_lr)
