"""Playground speed: what a slider change costs, and how often a long run reports.

    python benchmarks/bench_playground.py [--quick]

``run(quick)`` returns one dict per measurement with the keys "target",
"measured", "goal", "met" and "detail".

1. A slider change at the original size (3x4, k = 2, 10000 iterations): the
   widget's whole update (train, draw, encode the PNG, hand it to the Image
   widget), repeated over learning-rate positions of the slider; the median.
2. Drawing, interleaved view by view: the playground's reused figure with
   blitting (``play.Figure()``), the same figure redrawn in full
   (``play.Figure(blit=False)``), and new figures from ``mf.plot_loss`` and
   ``mf.plot_matrices``; two rows, blitting against the full redraw and the
   reused figure against new ones.
3. The largest setting (50x50, k = 50, 20000 iterations): the longest time
   the page goes without a sign of life (progress bar, status or picture).
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import time
import warnings
from dataclasses import replace

ORDER = 7
NOTES = """\
**7.** The playground's update runs in the kernel: `play.run` trains with the
fast path, `play.Figure` redraws one reused figure (with the same drawing
helpers as `mf.plot_loss` and `mf.plot_matrices`) and encodes it as a PNG
for an `ipywidgets.Image` (so the page holds one image that changes, with no
flicker, also in Voilà). What made the drawing cheap: drawing into one
figure with `set_data` instead of new figures (the third row); copying the
parts that do not change (axes, ticks, titles, legend, colour bar, D) from a
saved background and drawing only the curves and the values of D_hat and
D - D_hat (blitting; the second row measures it against a full redraw of the
same figure, and the first row's detail the whole update without it);
snapping the loss axis to whole decades so that its ticks rarely change;
tick labels as plain text instead of mathtext; no minor ticks on the log
axes; unhinted glyphs. Training runs on one torch thread: for matrices of at
most 50x50 more threads only wait for each other, and on a busy 2-core
machine they made the curvature estimate of a 50x50 problem 25 times slower
(9.6 s against 0.4 s). A run that takes more than a quarter of a second
moves the progress bar every 0.1 s (the fourth row).
"""
GOAL_MS = 150.0      # median time of one slider change at the original size
FEEDBACK_S = 1.0     # longest silence during a long run


def _load() -> str:
    try:
        return "load average %.2f" % os.getloadavg()[0]
    except OSError:  # not available on this platform
        return "load average unknown"


def _slider_changes(quick: bool) -> dict:
    from mfgd_helpers import play

    app = play.Playground(play.Settings())
    unblitted = play.Playground(play.Settings())
    unblitted.figure = play.Figure(blit=False)  # the same update, redrawn in full
    positions = [10 ** (x / 10) for x in range(-29, -9)]  # 0.00126 ... 0.1, slider steps
    changes = positions[:10] if quick else positions + positions[::-1][1:]
    total, train, full = [], [], []
    for lr in changes:  # interleaved: both see the same load
        app.controls["lr"].value = lr
        total.append(app.seconds * 1000)
        train.append(app.view.result.seconds * 1000)
        unblitted.controls["lr"].value = lr
        full.append(unblitted.seconds * 1000)
    median = statistics.median(total)
    p90 = sorted(total)[int(0.9 * (len(total) - 1))]
    return {
        "target": "playground: one slider change at 3x4, k=2, 10000 iterations",
        "measured": f"median {median:.0f} ms",
        "goal": f"<= {GOAL_MS:.0f} ms median (train + redraw)",
        "met": median <= GOAL_MS,
        "detail": (f"{len(total)} learning-rate changes; training median "
                   f"{statistics.median(train):.0f} ms, drawing and PNG "
                   f"{statistics.median(t - s for t, s in zip(total, train)):.0f} ms; "
                   f"p90 {p90:.0f} ms, max {max(total):.0f} ms; without blitting median "
                   f"{statistics.median(full):.0f} ms; {_load()}"),
    }


def _drawing(quick: bool) -> list[dict]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import mfgd_helpers as mf
    from mfgd_helpers import play

    base = play.Settings()
    views = [play.run(replace(base, lr=10 ** (x / 10)))
             for x in range(-29, -25 if quick else -19)]
    views += [play.run(replace(base, lr=1.0))]  # a diverged run: other axes
    blitted, full = play.Figure(), play.Figure(blit=False)
    for picture in (blitted, full):
        picture.png(views[-2])
    times = {"blit": [], "full": [], "new": []}

    def new_figures(view):
        figures = [mf.plot_loss(view.result, optimum=view.optimum),
                   mf.plot_matrices(view.D, view.result.D_hat)]
        for fig in figures:  # what the inline backend does for each shown figure
            fig.savefig(io.BytesIO(), format="png", bbox_inches="tight")
            plt.close(fig)

    cases = {"blit": blitted.png, "full": full.png, "new": new_figures}
    for round_ in range(1 if quick else 3):
        order = list(cases) if round_ % 2 == 0 else list(cases)[::-1]
        for view in views:
            for name in order:
                start = time.perf_counter()
                cases[name](view)
                times[name].append(time.perf_counter() - start)
    blit, redraw, new = (statistics.median(times[k]) * 1000 for k in ("blit", "full", "new"))
    shared = (f"median over {len(times['blit'])} frames ({len(views)} runs, one diverged), "
              f"interleaved; PNG via Agg; {_load()}")
    return [{
        "target": "playground: blitting vs a full redraw of the same reused figure",
        "measured": f"{blit:.0f} ms vs {redraw:.0f} ms ({redraw / blit:.1f}x)",
        "goal": "blitting faster (else drop it)",
        "met": blit < redraw,
        "detail": ("blit: static parts restored from a saved background, the curve and "
                   f"the values of D_hat and D - D_hat drawn again; full: canvas.draw(); "
                   f"{shared}"),
    }, {
        "target": "playground: redraw one reused figure instead of new figures",
        "measured": f"{blit:.0f} ms vs {new:.0f} ms ({new / blit:.1f}x)",
        "goal": "reused figure faster than new ones",
        "met": blit < new,
        "detail": (f"reused: set_data on the artists, with blitting; new: mf.plot_loss + "
                   f"mf.plot_matrices saved like the inline backend; {shared}"),
    }]


def _feedback(quick: bool) -> dict:
    from mfgd_helpers import play

    settings = play.Settings(target="random", n=50, m=50, rank=50, k=50, lr=1e-5,
                             n_iterations=10)
    app = play.Playground(settings)
    events = []

    def stamp(change):
        events.append(time.perf_counter())

    for shown in (app.progress, app.progress_text, app.status, app.image):
        shown.observe(stamp, names="value")
    start = time.perf_counter()
    app.controls["n_iterations"].value = 20000
    end = time.perf_counter()
    times = [start] + sorted(events) + [end]
    gaps = [b - a for a, b in zip(times, times[1:])]
    longest = max(gaps)
    return {
        "target": "playground: feedback during the largest run (50x50, k=50, 20000 iterations)",
        "measured": f"longest silence {longest * 1000:.0f} ms",
        "goal": f"<= {FEEDBACK_S * 1000:.0f} ms without feedback",
        "met": longest <= FEEDBACK_S,
        "detail": (f"update took {end - start:.2f} s (training "
                   f"{app.view.result.seconds:.2f} s) with {len(events)} updates of the "
                   f"progress bar, status or picture; first after "
                   f"{(min(events) - start) * 1000 if events else float('nan'):.0f} ms; "
                   f"{_load()}"),
    }


def run(quick: bool = False) -> list[dict]:
    """Measure the playground; one dict per measurement (see the module docstring)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning here would be a defect
        return [_slider_changes(quick), *_drawing(quick), _feedback(quick)]


def main(argv=None) -> int:
    quick = "--quick" in (sys.argv[1:] if argv is None else argv)
    rows = run(quick)
    for row in rows:
        mark = "met" if row["met"] else "NOT MET"
        print(f"{row['target']}\n  {row['measured']}  (goal {row['goal']}: {mark})\n"
              f"  {row['detail']}")
    return 0 if all(row["met"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
