"""What the playground's controls can hold, and how their values become ``Settings``.

The sliders clamp most values themselves, but code can still set a control
to a value the current mode cannot use: NaN for the learning rate, a rank
for the original D (whose rank is fixed), a k above min(n, m). ``fit`` turns
any values into settings that can run, and says in a note what it changed;
the widget then moves the controls to those settings, so that what they show
is always what ran.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Optional

from ..validation import check_choice, check_scalar
from .settings import ORIGINAL_SHAPE, TARGETS, Settings

__all__ = ["ITERATIONS_RANGE", "LR_RANGE", "SEED_RANGE", "SIZE_RANGE", "check_in_range", "fit"]

LR_RANGE = (1e-5, 1.0)        # the learning-rate slider, log scale
ITERATIONS_RANGE = (10, 20000)
SIZE_RANGE = (1, 50)          # n and m
SEED_RANGE = (0, 99)


def check_in_range(settings: Settings) -> Settings:
    """Refuse settings the sliders cannot show (for settings passed in by code).

    Examples
    --------
    >>> check_in_range(Settings(lr=5.0))
    Traceback (most recent call last):
    ...
    ValueError: lr == 5.0, must be a number >= 1e-05 and <= 1.0. The slider's range; ...
    """
    fix = "The slider's range; pass a value inside it."
    check_scalar(settings.lr, "lr", float, min_val=LR_RANGE[0], max_val=LR_RANGE[1], fix=fix)
    check_scalar(settings.n_iterations, "n_iterations", int, min_val=ITERATIONS_RANGE[0],
                 max_val=ITERATIONS_RANGE[1], fix=fix)
    for name in ("n", "m"):
        check_scalar(getattr(settings, name), name, int, min_val=SIZE_RANGE[0],
                     max_val=SIZE_RANGE[1], fix=fix)
    check_scalar(settings.seed, "seed", int, min_val=SEED_RANGE[0], max_val=SEED_RANGE[1],
                 fix=fix)
    return settings


def _fixed_note(names: list) -> str:
    values = " and ".join(str(ORIGINAL_SHAPE[name]) for name in names)
    verb, pronoun = ("is", "it") if len(names) == 1 else ("are", "them")
    return (f"{' and '.join(names)} {verb} fixed at {values} for the original D; "
            f"choose random D to change {pronoun}")


def fit(values: Mapping, previous: Optional[Settings] = None) -> tuple:
    """The settings to run for what the controls hold, and a note per value changed.

    A value of the wrong kind or NaN keeps the previous setting; a number out
    of range is clamped; n, m and rank of the original D stay 3, 4 and 2
    (with a note only when they were moved while the original D was shown:
    switching to it resets them silently); k and rank are clamped to
    min(n, m).

    Parameters
    ----------
    values : mapping of name -> value
        What the controls hold: "lr", "k", "n_iterations", "target", "n",
        "m", "rank" and "seed".
    previous : Settings, optional
        What ran last; its values replace unusable ones. Default ``Settings()``.

    Returns
    -------
    (Settings, tuple of str)

    Examples
    --------
    >>> values = dict(lr=float("nan"), k=2, n_iterations=10000, target="original",
    ...               n=3, m=4, rank=1, seed=0)
    >>> settings, notes = fit(values)
    >>> settings == Settings()
    True
    >>> for note in notes:
    ...     print(note)
    lr = nan ignored (not a finite number); kept 0.001
    rank is fixed at 2 for the original D; choose random D to change it
    """
    p = Settings() if previous is None else previous
    notes = []

    def usable(name, check, wanted):
        try:
            return check(values[name])
        except (TypeError, ValueError):
            notes.append(f"{name} = {values[name]!r} ignored (not {wanted}); "
                         f"kept {getattr(p, name)!r}")
            return getattr(p, name)

    def whole(name):
        return usable(name, lambda x: check_scalar(x, name, int), "a whole number")

    def clamp(name, value, low, high, why=""):
        fitted = min(max(value, low), high)
        if fitted != value:
            notes.append(f"{name} = {value:g} is outside [{low:g}, {high:g}]{why}; "
                         f"used {fitted:g}")
        return fitted

    target = usable("target", lambda x: check_choice(x, "target", TARGETS),
                    f"one of {TARGETS}")
    lr = usable("lr", lambda x: check_scalar(x, "lr", float), "a finite number")
    lr = clamp("lr", lr, *LR_RANGE, " (the slider's range)")
    n_iterations = clamp("n_iterations", whole("n_iterations"), *ITERATIONS_RANGE)
    seed = clamp("seed", whole("seed"), *SEED_RANGE)
    if target == "original":
        moved = [name for name in ORIGINAL_SHAPE if values[name] != ORIGINAL_SHAPE[name]]
        if moved and p.target == "original":
            notes.append(_fixed_note(moved))
        n, m, rank = (ORIGINAL_SHAPE[name] for name in ("n", "m", "rank"))
    else:
        n, m = clamp("n", whole("n"), *SIZE_RANGE), clamp("m", whole("m"), *SIZE_RANGE)
        rank = clamp("rank", whole("rank"), 1, min(n, m), " (at most min(n, m))")
    k = clamp("k", whole("k"), 1, min(n, m), " (at most min(n, m))")
    settings = Settings(lr=lr, k=k, n_iterations=n_iterations, target=target, n=n, m=m,
                        rank=rank, seed=seed)
    return settings, tuple(notes)
