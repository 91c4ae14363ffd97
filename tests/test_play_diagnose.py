"""diagnose's rules, one by one, from synthetic loss lists (nothing is trained)."""

import sys

import pytest

from mfgd_helpers import play
from mfgd_helpers.play.diagnose import (BOUNCE_SHARE, FALLING_RTOL, MIN_WINDOW, OPTIMUM_RTOL,
                                        RISE_RTOL, ROUNDING_RTOL, WINDOW_SHARE, _window)

MODULE = sys.modules["mfgd_helpers.play.diagnose"]  # play.diagnose is the function

SETTINGS = play.Settings(lr=0.05)
BOUNDS = dict(stable_lr=0.2, suggested_lr=0.1)


def verdict_of(losses, *, final_loss=None, diverged_at=None, optimum=0.0, D_norm2=1.0,
               settings=SETTINGS, **bounds):
    return play.diagnose(losses, final_loss=losses[-1] if final_loss is None else final_loss,
                         diverged_at=diverged_at, optimum=optimum, D_norm2=D_norm2,
                         settings=settings, **(bounds or BOUNDS))


def falling(n, start=1.0, rate=0.99):
    return [start * rate ** i for i in range(n)]


def zigzag(n, low=1.0, high=2.0):
    return [high if i % 2 else low for i in range(n)]


# each verdict ---------------------------------------------------------------------

def test_diverged_wins_over_everything():
    d = verdict_of(falling(5), final_loss=float("nan"), diverged_at=6)
    assert d.verdict == "diverged" and d.loss_text == "diverged"
    assert "iteration 6" in d.advice and "below the estimated bound 0.2" in d.advice


def test_diverged_above_the_bound_says_how_far_above():
    d = verdict_of([1.0, 5.0], final_loss=float("inf"), diverged_at=3,
                   settings=play.Settings(lr=0.5))
    assert "lr = 0.5 is 2.5x the stable bound 0.2" in d.advice
    assert "Move lr below 0.2; 0.1 is safe." in d.advice


def test_optimum_within_the_tolerance_and_not_beyond():
    optimum, D_norm2 = 0.5, 100.0
    tolerance = OPTIMUM_RTOL * optimum + ROUNDING_RTOL * D_norm2
    losses = falling(100, start=2.0)
    at = verdict_of(losses, final_loss=optimum + 0.99 * tolerance, optimum=optimum,
                    D_norm2=D_norm2)
    above = verdict_of(losses, final_loss=optimum + 1.01 * tolerance, optimum=optimum,
                       D_norm2=D_norm2)
    assert at.verdict == "optimum" and at.tolerance == tolerance
    assert at.loss_text == f"at the floor (gap below {tolerance:.2g}, float32 rounding)"
    assert at.advice.endswith("The floor is above 0 because k = 2 is below the true rank 2: "
                              "no 2-column C can reproduce D.")  # 0.5 > tolerance
    assert above.verdict != "optimum"


def test_optimum_of_zero_says_k_reaches_the_rank():
    d = verdict_of([1.0, 1e-12], final_loss=1e-12)
    assert d.verdict == "optimum"
    assert "The floor is about 0 because k = 2 >= the true rank 2." in d.advice


def test_optimum_above_the_bound_explains_the_bound_is_no_cliff():
    d = verdict_of([1.0, 1e-12], final_loss=1e-12, settings=play.Settings(lr=0.3))
    assert "although lr is above the estimated bound 0.2" in d.advice
    # a rule of thumb: no theorem promises convergence below the bound
    assert "rule of thumb, not a cliff" in d.advice and "guarantee" not in d.advice


def test_bouncing_needs_more_rises_than_the_share():
    # 50 losses: a window of 5 (the last 10 %), 4 steps; BOUNCE_SHARE of them is 1 step
    assert BOUNCE_SHARE * 4 == 1
    base = falling(45, start=10.0)
    one_rise = base + [5.0, 6.0, 4.0, 3.0, 2.0]
    two_rises = base + [5.0, 6.0, 4.0, 5.0, 2.0]
    assert verdict_of(one_rise).verdict == "falling"
    assert verdict_of(two_rises).verdict == "bouncing"


def test_rounding_ticks_on_a_flat_stretch_are_not_bouncing():
    # float32 sums of a flat loss go up and down by ~1e-7 relative: not a bounce
    base = falling(45, start=10.0)
    ticks = base + [1.0, 1.0 + 2e-7, 1.0, 1.0 + 3e-7, 1.0 - 1e-7]
    real = base + [1.0, 1.0 + 2 * RISE_RTOL, 1.0, 1.0 + 2 * RISE_RTOL, 1.0 - 1e-7]
    assert verdict_of(ticks).verdict == "stalled"
    assert verdict_of(real).verdict == "bouncing"


def test_bouncing_is_told_by_its_peak_and_the_way_down():
    d = verdict_of(zigzag(1000), settings=play.Settings(lr=0.4))
    assert d.verdict == "bouncing" and d.window == 100
    assert d.loss_text == "never settles (swings up to 2 in the last 100 iterations)"
    assert "lr = 0.4 is 2x the stable bound 0.2" in d.advice and "towards 0.1" in d.advice


def test_falling_needs_a_drop_of_more_than_the_threshold():
    flat_window = [1.0] * 10
    drop = FALLING_RTOL * 1.01
    just_falling = [2.0] * 90 + [1.0] * 9 + [1.0 - drop]
    not_quite = [2.0] * 90 + [1.0] * 9 + [1.0 - FALLING_RTOL * 0.99]
    assert verdict_of([2.0] * 90 + flat_window).verdict == "stalled"
    assert verdict_of(just_falling).verdict == "falling"
    assert verdict_of(not_quite).verdict == "stalled"


def test_falling_below_the_suggestion_says_raise_lr():
    slow = verdict_of(falling(1000), settings=play.Settings(lr=0.001))
    quick = verdict_of(falling(1000), settings=play.Settings(lr=0.15))
    assert slow.verdict == quick.verdict == "falling"
    assert "raise lr (stable below 0.2, 0.1 is safe)" in slow.advice
    assert "raise lr" not in quick.advice and "run more iterations" in quick.advice
    assert "lower over the last 100 iterations" in slow.advice
    assert slow.loss_text == f"{falling(1000)[-1]:.4g}"


def test_a_single_loss_is_falling_with_too_few_iterations_to_tell():
    d = verdict_of([3.0], final_loss=2.0)
    assert d.verdict == "falling" and d.window == 1
    assert d.advice.startswith("Too few iterations (1) to see a trend")


def test_stalled_names_the_gap():
    d = verdict_of([1.0] * 100, optimum=0.25)
    assert d.verdict == "stalled"
    assert d.advice.startswith("The loss has flattened 0.75 above the best possible")


@pytest.mark.parametrize("n, window", [(1, 1), (2, 2), (19, 2), (30, 3), (10000, 1000)])
def test_the_window_is_the_last_share_of_the_losses(n, window):
    assert len(_window(list(range(n)))) == window
    assert window == min(n, max(MIN_WINDOW, int(n * WINDOW_SHARE)))


def test_diagnose_is_pure():
    losses = falling(50)
    kept = list(losses)
    a, b = verdict_of(losses), verdict_of(losses)
    assert a == b and losses == kept


# the rules, as shown ----------------------------------------------------------------

def test_the_rules_are_in_the_order_diagnose_tries_them():
    assert play.VERDICTS == ("diverged", "optimum", "bouncing", "falling", "stalled")
    assert [verdict for verdict, _ in play.RULES] == list(play.VERDICTS)


def test_the_rules_table_shows_the_thresholds_used():
    table = play.rules_table()
    lines = table.splitlines()
    assert len(lines) == 1 + len(play.RULES)
    for (verdict, rule), line in zip(play.RULES, lines[1:]):
        assert line.split()[0] == verdict and line.endswith(rule)
    for value in (f"{OPTIMUM_RTOL:g} x floor", f"{ROUNDING_RTOL:g} x sum(D²)",
                  f"{WINDOW_SHARE:.0%}", f"{BOUNCE_SHARE:.0%}", f"{FALLING_RTOL:.1%}",
                  f"{RISE_RTOL:g} (relative)"):
        assert value in table


def test_the_module_docstring_names_every_rule_and_threshold():
    doc = MODULE.__doc__
    for name in play.VERDICTS + ("OPTIMUM_RTOL", "ROUNDING_RTOL", "WINDOW_SHARE",
                                 "MIN_WINDOW", "BOUNCE_SHARE", "RISE_RTOL", "FALLING_RTOL"):
        assert name in doc


# bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("changes, error, match", [
    ({"settings": "fast"}, TypeError, "settings must be a Settings; got str"),
    ({"losses": "abc"}, TypeError, r"losses == 'abc' \(str\), must be a sequence of numbers"),
    ({"optimum": -1.0}, ValueError, r"optimum == -1.0, must be a number >= 0"),
    ({"optimum": float("nan")}, ValueError, r"optimum == nan"),
    ({"D_norm2": float("inf")}, ValueError, r"D_norm2 == inf"),
    ({"stable_lr": 0.0}, ValueError, r"stable_lr == 0.0, must be a number > 0"),
    ({"suggested_lr": "x"}, TypeError, r"suggested_lr == 'x'"),
    ({"diverged_at": 0}, ValueError, r"diverged_at == 0, must be an integer >= 1"),
    ({"final_loss": float("inf")}, ValueError, r"final_loss == inf, .* has a finite loss"),
])
def test_bad_input_is_refused(changes, error, match):
    kwargs = dict(losses=[1.0, 0.5], final_loss=0.5, diverged_at=None, optimum=0.0,
                  D_norm2=1.0, settings=SETTINGS, **BOUNDS)
    kwargs.update(changes)
    losses = kwargs.pop("losses")
    with pytest.raises(error, match=match):
        play.diagnose(losses, **kwargs)
