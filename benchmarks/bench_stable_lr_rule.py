"""Evidence for the playground's stable learning rate: random problems below it.

    nice -n 19 python benchmarks/bench_stable_lr_rule.py [--quick] [--problems N] [--iterations N]

No theorem says that gradient descent converges below ``view.stable_lr``
(2 / the larger of the curvature at the start and 4 σ₁(D)): the loss is
quartic and its curvature changes along the path. This benchmark measures how
well the rule holds. It draws random problems the way the playground's
controls allow them (target "random"; n and m uniform in ``SIZE_RANGE``, the
true rank and k uniform from 1 to min(n, m), the seed uniform in
``SEED_RANGE``: ``play.Settings`` then fixes D and the starting C and F),
trains each with ``play.run`` at 0.5 and 0.95 times its ``stable_lr``, and
counts the verdicts of ``play.diagnose``. The goal is no "diverged" verdict
and "bouncing" in fewer than ``BOUNCE_GOAL`` of the runs (a rule of thumb, not
a theorem: at 0.95 times the bound a run may zig-zag for a while before it
settles); "falling" (not at the floor yet) is allowed, as a run of a fixed
length may need more iterations.

A run on a plateau, where the loss changes by less than float32 resolves,
can look like bouncing: rounding makes more than a quarter of its steps tick
up. So every "bouncing" run is trained again in float64 from the same start
and diagnosed again; only a run that still bounces there counts as a bounce,
the others are reported as float32 rounding.

``run(quick)`` returns one dict per rate with the keys "target", "measured",
"goal", "met" and "detail"; the command line prints them.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import warnings
from collections import Counter
from dataclasses import replace

import torch

from mfgd_helpers import DivergenceWarning, play, train
from mfgd_helpers.play.controls import SEED_RANGE, SIZE_RANGE
from mfgd_helpers.play.view import _problem

ORDER = 8
FACTORS = (0.5, 0.95)   # multiples of view.stable_lr that are run
PROBLEMS = 6000         # the full run: about 2.5 minutes of CPU time
QUICK_PROBLEMS = 30
ITERATIONS = 1000       # per run (the playground's default is 10000)
QUICK_ITERATIONS = 200
FAILURES = ("diverged", "bouncing")
BOUNCE_GOAL = 0.001     # the share of runs that may bounce (in float64 too)
NOTES = """\
**8.** The playground's stable learning rate is a rule of thumb, not a
theorem: random problems drawn over the controls' ranges, trained at 0.5 and
0.95 times it, counted by verdict. A "bouncing" verdict that float64 does not
reproduce is float32 rounding on a plateau, reported apart. No divergence and
almost no bounce is the evidence that the rule holds where the playground can
go.
"""


def draw_settings(count: int, seed: int = 0) -> list:
    """``count`` random problems as ``play.Settings`` (lr still the default).

    Examples
    --------
    >>> s = draw_settings(3)
    >>> [x.target for x in s], all(1 <= x.k <= min(x.n, x.m) for x in s)
    (['random', 'random', 'random'], True)
    """
    rng = random.Random(seed)
    drawn = []
    for _ in range(count):
        n, m = rng.randint(*SIZE_RANGE), rng.randint(*SIZE_RANGE)
        drawn.append(play.Settings(
            target="random", n=n, m=m, rank=rng.randint(1, min(n, m)),
            k=rng.randint(1, min(n, m)), seed=rng.randint(*SEED_RANGE)))
    return drawn


def _bounces_in_float64(view) -> bool:
    """Does the run still bounce when trained in float64 from the same start?"""
    s = view.settings
    start = _problem(s.target, s.n, s.m, s.rank, s.k, s.seed)  # the playground's D, C, F
    D, C, F = (x.double() for x in (start.D, start.C, start.F))
    result = train(D, C, F, lr=s.lr, n_iterations=s.n_iterations, method="analytic")
    again = play.diagnose(result.losses, final_loss=result.final_loss,
                          diverged_at=result.diverged_at, optimum=view.optimum,
                          D_norm2=float(torch.sum(D ** 2)), stable_lr=view.stable_lr,
                          suggested_lr=view.suggested_lr, settings=s)
    return again.verdict == "bouncing"


def count_verdicts(settings: list, iterations: int) -> tuple:
    """({factor: Counter of verdicts}, {factor: [settings of the real failures]}).

    A "bouncing" run that does not bounce in float64 is counted as "rounding".
    """
    counts = {f: Counter() for f in FACTORS}
    failed = {f: [] for f in FACTORS}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DivergenceWarning)  # divergence is counted instead
        for s in settings:
            stable = play.run(replace(s, n_iterations=1)).stable_lr  # the bound the slider shows
            for f in FACTORS:
                view = play.run(replace(s, lr=f * stable, n_iterations=iterations))
                verdict = view.verdict
                if verdict == "bouncing" and not _bounces_in_float64(view):
                    verdict = "rounding"
                counts[f][verdict] += 1
                if verdict in FAILURES:
                    failed[f].append(view.settings)
    return counts, failed


def run(quick: bool = False, problems: int | None = None,
        iterations: int | None = None, seed: int = 0) -> list[dict]:
    """Count the verdicts at 0.5x and 0.95x the stable lr; one dict per factor."""
    problems = problems or (QUICK_PROBLEMS if quick else PROBLEMS)
    iterations = iterations or (QUICK_ITERATIONS if quick else ITERATIONS)
    start = time.perf_counter()
    counts, failed = count_verdicts(draw_settings(problems, seed), iterations)
    elapsed = time.perf_counter() - start
    rows = []
    for f in FACTORS:
        c = counts[f]
        others = ", ".join(f"{v} {c[v]}" for v in play.VERDICTS if v not in FAILURES)
        where = "; ".join(x.describe() for x in failed[f][:3])
        rows.append({
            "target": f"stable-lr rule: {problems} random problems at {f}x stable_lr, "
                      f"{iterations} iterations",
            "measured": f"{c['diverged']} diverged, {c['bouncing']} bouncing of {problems} runs",
            "goal": f"0 diverged, bouncing (in float64 too) in < {BOUNCE_GOAL:.1%} of the runs",
            "met": c["diverged"] == 0 and c["bouncing"] < BOUNCE_GOAL * problems,
            "detail": f"other verdicts: {others}, and {c['rounding']} 'bouncing' in float32 "
                      f"only (rounding on a plateau; no bounce in float64)"
                      f"{'; failures: ' + where if where else ''}; {elapsed:.0f} s for "
                      f"both rates (draw seed {seed})",
        })
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 problems, 200 iterations")
    parser.add_argument("--problems", type=int, help=f"default {PROBLEMS}")
    parser.add_argument("--iterations", type=int, help=f"default {ITERATIONS}")
    parser.add_argument("--seed", type=int, default=0, help="seed of the draw (default 0)")
    args = parser.parse_args(argv)
    rows = run(args.quick, args.problems, args.iterations, args.seed)
    for row in rows:
        mark = "met" if row["met"] else "NOT MET"
        print(f"{row['target']}\n  {row['measured']}  (goal {row['goal']}: {mark})\n"
              f"  {row['detail']}")
    return 0 if all(row["met"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
