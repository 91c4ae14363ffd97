"""Reading a finished run: a verdict, and advice on what to try next.

``diagnose`` is a pure function of the run's numbers: its losses, where it
diverged, the best possible loss (the floor), the learning-rate bounds and
the settings. The verdict is the first of these rules that holds:

========  ===============================================================
verdict   rule
========  ===============================================================
diverged  a loss became inf or NaN, and training stopped there
optimum   final loss - floor <= OPTIMUM_RTOL x floor + ROUNDING_RTOL x sum(D²)
bouncing  in the window (the last WINDOW_SHARE of the losses, at least
          MIN_WINDOW), more than BOUNCE_SHARE of the steps raise the loss
          by more than RISE_RTOL (relative): float32 rounding on a flat
          stretch raises it by less
falling   the window's last loss is more than FALLING_RTOL (relative) below
          its first, or the run has fewer than MIN_WINDOW losses
stalled   none of the above: flat, above the floor
========  ===============================================================

``RULES`` holds the same rules with the thresholds filled in, and
``rules_table()`` prints them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from ..validation import check_dim, check_lr, check_scalar
from .settings import Settings

__all__ = ["Diagnosis", "RULES", "VERDICTS", "diagnose", "rules_table"]

OPTIMUM_RTOL = 1e-3    # share of the floor that counts as reaching it
ROUNDING_RTOL = 1e-9   # float32 rounding of a loss, relative to sum(D²)
WINDOW_SHARE = 0.1     # the window: this share of the losses, at the end
MIN_WINDOW = 2         # ... and at least this many
BOUNCE_SHARE = 0.25    # more rising steps than this share of the window: bouncing
RISE_RTOL = 1e-5       # a step raises the loss when by more than this (relative)
FALLING_RTOL = 1e-3    # a window that fell by more than this (relative): falling

RULES = (
    ("diverged", "a loss became inf or NaN, and training stopped there"),
    ("optimum", f"final loss - floor <= {OPTIMUM_RTOL:g} x floor + {ROUNDING_RTOL:g} x "
                "sum(D²) (float32 rounding)"),
    ("bouncing", f"in the last {WINDOW_SHARE:.0%} of the losses (at least {MIN_WINDOW}), "
                 f"more than {BOUNCE_SHARE:.0%} of the steps raise the loss by more than "
                 f"{RISE_RTOL:g} (relative)"),
    ("falling", f"over those losses the loss fell by more than {FALLING_RTOL:.1%}, or "
                f"the run has fewer than {MIN_WINDOW} losses"),
    ("stalled", "none of the above: the loss is flat, above the floor"),
)
VERDICTS = tuple(verdict for verdict, _ in RULES)


def rules_table() -> str:
    """The rules of ``diagnose``, in the order they are tried, as plain text.

    Examples
    --------
    >>> print(rules_table())
    verdict   when (the first rule that holds)
    diverged  a loss became inf or NaN, and training stopped there
    optimum   final loss - floor <= 0.001 x floor + 1e-09 x sum(D²) (float32 rounding)
    bouncing  in the last 10% of the losses (at least 2), more than 25% of the steps raise the loss by more than 1e-05 (relative)
    falling   over those losses the loss fell by more than 0.1%, or the run has fewer than 2 losses
    stalled   none of the above: the loss is flat, above the floor
    """
    rows = [("verdict", "when (the first rule that holds)"), *RULES]
    return "\n".join(f"{verdict:9} {rule}" for verdict, rule in rows)


@dataclass(frozen=True)
class Diagnosis:
    """What ``diagnose`` says about a run.

    Attributes
    ----------
    verdict : {"diverged", "optimum", "bouncing", "falling", "stalled"}
    advice : str
        Why the run ended as it did, and what to try next.
    loss_text : str
        The final loss in words that any CPU reproduces: a run at the floor
        is given as the bound "gap below tolerance" (its last digits are
        rounding noise), a bouncing run by the highest loss of the window
        (where it stops is chaotic).
    tolerance : float
        How close to the floor counts as reaching it.
    window : int
        How many of the last losses the rules look at.

    Examples
    --------
    >>> d = diagnose([2.0, 1.0], final_loss=0.9, diverged_at=None, optimum=0.0,
    ...              D_norm2=1.0, stable_lr=0.2, suggested_lr=0.1, settings=Settings())
    >>> d.verdict, d.loss_text, d.window
    ('falling', '0.9', 2)
    """

    verdict: str
    advice: str
    loss_text: str
    tolerance: float
    window: int


def _fmt(x: float) -> str:
    return "0" if x == 0 else f"{x:.4g}"


def _window(losses: Sequence[float]) -> list:
    return list(losses[-max(MIN_WINDOW, int(len(losses) * WINDOW_SHARE)):])


def _verdict(losses, final_loss, diverged_at, optimum, tolerance) -> str:
    """RULES, in order."""
    if diverged_at is not None:
        return "diverged"
    if final_loss - optimum <= tolerance:
        return "optimum"
    window = _window(losses)
    if len(window) < MIN_WINDOW:
        return "falling"
    rises = sum(b > a * (1 + RISE_RTOL) for a, b in zip(window, window[1:]))
    if rises > BOUNCE_SHARE * (len(window) - 1):
        return "bouncing"
    if window[-1] < (1 - FALLING_RTOL) * window[0]:
        return "falling"
    return "stalled"


def _loss_text(verdict, losses, final_loss, tolerance) -> str:
    if verdict == "diverged":
        return "diverged"
    if verdict == "optimum":
        return f"at the floor (gap below {tolerance:.2g}, float32 rounding)"
    if verdict == "bouncing":
        window = _window(losses)
        return (f"never settles (swings up to {max(window):.2g} "
                f"in the last {len(window)} iterations)")
    return _fmt(final_loss)


def _advice(verdict, losses, final_loss, diverged_at, optimum, tolerance,
            stable_lr, suggested_lr, s: Settings) -> str:
    bound, safe = _fmt(stable_lr), _fmt(suggested_lr)
    ratio = s.lr / stable_lr
    if verdict == "diverged":
        if ratio > 1:
            return (f"The loss blew up to inf at iteration {diverged_at}: lr = {s.lr:.3g} "
                    f"is {ratio:.2g}x the stable bound {bound}, so each step overshoots "
                    f"the minimum by more than the last. Move lr below {bound}; {safe} "
                    "is safe.")
        return (f"The loss blew up at iteration {diverged_at} although lr = {s.lr:.3g} "
                f"is below the estimated bound {bound}: the factors grew and the loss "
                f"got steeper than estimated. Lower lr, e.g. to {_fmt(s.lr / 4)}.")
    if verdict == "optimum":
        if optimum > tolerance:
            floor = (f"The floor is above 0 because k = {s.k} is below the true rank "
                     f"{s.rank}: no {s.k}-column C can reproduce D.")
        else:
            floor = f"The floor is about 0 because k = {s.k} >= the true rank {s.rank}."
        above = (f" although lr is above the estimated bound {bound}: the bound is a "
                 "rule of thumb, not a cliff, and this run found flatter ground, where "
                 "larger steps settle; a little more and it may bounce or diverge"
                 if ratio > 1 else "")
        return f"Reached the best possible loss{above}. {floor}"
    if verdict == "bouncing":
        return (f"The loss bounces instead of settling: lr = {s.lr:.3g} is {ratio:.2g}x "
                f"the stable bound {bound}, so steps overshoot the valley back and "
                f"forth. Lower lr towards {safe}.")
    if verdict == "falling":
        window = _window(losses)
        hint = (f"raise lr (stable below {bound}, {safe} is safe) or run more iterations"
                if s.lr < suggested_lr else "run more iterations")
        if len(window) < MIN_WINDOW:
            return (f"Too few iterations ({len(window)}) to see a trend, and not at the "
                    f"optimum yet: {hint}.")
        drop = 100 * (1 - window[-1] / window[0])
        return (f"Still falling ({drop:.2g}% lower over the last {len(window)} "
                f"iterations) but not at the optimum yet: {hint}.")
    return (f"The loss has flattened {final_loss - optimum:.2g} above the best possible: "
            "the run crawls near a saddle point or along a flat valley. Try more "
            "iterations, a larger lr or another seed.")


def diagnose(losses: Sequence[float], *, final_loss: float, diverged_at: Optional[int],
             optimum: float, D_norm2: float, stable_lr: float, suggested_lr: float,
             settings: Settings) -> Diagnosis:
    """The verdict on a finished run (see ``RULES``), and advice.

    Pure: the same numbers always give the same diagnosis, and nothing is
    trained or drawn.

    Parameters
    ----------
    losses : sequence of float
        The finite losses of the run, one per iteration (``TrainResult.losses``).
    final_loss : float
        The loss after the last update (inf or NaN for a diverged run).
    diverged_at : int or None
        The iteration whose loss was not finite; None if there was none.
    optimum : float >= 0
        The floor: ``best_rank_k_loss(D, k)``.
    D_norm2 : float >= 0
        ``sum(D**2)``: float32 rounds a loss by about ``ROUNDING_RTOL`` times it.
    stable_lr, suggested_lr : float > 0
        The estimated largest stable learning rate, and a safe one.
    settings : Settings
        The run's settings (its lr, k and true rank are named in the advice).

    Returns
    -------
    Diagnosis

    Examples
    --------
    >>> run = dict(optimum=0.0, D_norm2=1.0, stable_lr=0.2, suggested_lr=0.1,
    ...            settings=Settings(lr=0.05))
    >>> diagnose([4.0, 2.0, 1.0], final_loss=0.5, diverged_at=None, **run).verdict
    'falling'
    >>> diagnose([4.0, 3.0] * 15, final_loss=4.0, diverged_at=None, **run).verdict  # window 3
    'bouncing'
    >>> d = diagnose([4.0, 1e-3], final_loss=1e-10, diverged_at=None, **run)
    >>> d.verdict, d.loss_text
    ('optimum', 'at the floor (gap below 1e-09, float32 rounding)')
    >>> diagnose([4.0, 40.0], final_loss=float("inf"), diverged_at=3, **run).advice
    'The loss blew up at iteration 3 although lr = 0.05 is below the estimated bound 0.2: ...'
    """
    if not isinstance(settings, Settings):
        raise TypeError(f"settings must be a Settings; got {type(settings).__name__}. "
                        "Build one with play.Settings(lr=0.01, k=2, ...).")
    try:
        losses = list(map(float, losses))
    except (TypeError, ValueError):
        raise TypeError(f"losses == {losses!r:.60} ({type(losses).__name__}), must be a "
                        "sequence of numbers, e.g. TrainResult.losses.") from None
    if diverged_at is not None:
        diverged_at = check_dim(diverged_at, "diverged_at")
    else:
        final_loss = check_scalar(final_loss, "final_loss", float, min_val=0,
                                  fix="A run that did not diverge has a finite loss.")
    optimum = check_scalar(optimum, "optimum", float, min_val=0)
    D_norm2 = check_scalar(D_norm2, "D_norm2", float, min_val=0)
    stable_lr = check_lr(stable_lr, "stable_lr")
    suggested_lr = check_lr(suggested_lr, "suggested_lr")
    tolerance = OPTIMUM_RTOL * optimum + ROUNDING_RTOL * D_norm2
    verdict = _verdict(losses, final_loss, diverged_at, optimum, tolerance)
    return Diagnosis(
        verdict=verdict,
        advice=_advice(verdict, losses, final_loss, diverged_at, optimum, tolerance,
                       stable_lr, suggested_lr, settings),
        loss_text=_loss_text(verdict, losses, final_loss, tolerance),
        tolerance=tolerance,
        window=len(_window(losses)),
    )
