"""Target 6: ``import mfgd_helpers`` against ``import torch``, in fresh processes.

Each measurement is a new Python process that times its own import with
``time.perf_counter`` (interpreter start-up excluded; the total wall time of
each process, start-up included, goes into the detail). The two kinds of
process alternate, and the medians are compared. The package process also
reports whether matplotlib or ipywidgets got imported (they must not be:
they load when a plot or a widget is made).

Quick mode starts one process that imports torch and then the package, and
reports what the package adds on top of torch.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time

from .timing import row, seconds

ORDER = 6
HEAVY = ("matplotlib", "ipywidgets", "IPython")
CHILD = """\
import sys, time, json
t0 = time.perf_counter()
import {first}
t1 = time.perf_counter()
{second}
t2 = time.perf_counter()
print(json.dumps({{"first": t1 - t0, "second": t2 - t1,
                  "heavy": [m for m in {heavy!r} if m in sys.modules]}}))
"""
NOTES = """\
**6.** The package imports torch and its own small modules; matplotlib and
ipywidgets are imported inside the functions that draw, so the import costs
what torch costs.
"""


def time_import(first: str, second: str | None = None) -> dict:
    """Import ``first`` (then ``second``) in a fresh interpreter; seconds of each."""
    code = CHILD.format(first=first, second=f"import {second}" if second else "pass",
                        heavy=HEAVY)
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tempfile.gettempdir(), timeout=300)
    wall = time.perf_counter() - start
    if out.returncode != 0:
        raise RuntimeError(f"importing {first} failed:\n{out.stderr}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["wall"] = wall
    return result


def run(quick: bool) -> list[dict]:
    if quick:
        t = time_import("torch", "mfgd_helpers")
        ratio = (t["first"] + t["second"]) / t["first"]
        return [row(
            "6 · import mfgd_helpers vs import torch (one process, quick mode)",
            f"{ratio:.3f}× (the package adds {seconds(t['second'])} to "
            f"torch's {seconds(t['first'])})",
            "≤ 1.15×", ratio <= 1.15,
            f"also imported: {', '.join(t['heavy']) or 'none of ' + ', '.join(HEAVY)}")]

    rounds = 7
    time_import("torch")  # warm the file cache and the bytecode caches
    time_import("mfgd_helpers")
    samples = {"torch": [], "mfgd_helpers": []}
    heavy = set()
    for r in range(rounds):
        order = ["torch", "mfgd_helpers"] if r % 2 == 0 else ["mfgd_helpers", "torch"]
        for name in order:
            t = time_import(name)
            samples[name].append(t)
            heavy.update(t["heavy"])
    torch_t = statistics.median(s["first"] for s in samples["torch"])
    mf_t = statistics.median(s["first"] for s in samples["mfgd_helpers"])
    torch_wall = statistics.median(s["wall"] for s in samples["torch"])
    mf_wall = statistics.median(s["wall"] for s in samples["mfgd_helpers"])
    ratio = mf_t / torch_t
    return [row(
        "6 · import mfgd_helpers vs import torch (fresh processes)",
        f"{ratio:.3f}× ({seconds(mf_t)} vs {seconds(torch_t)})",
        "≤ 1.15×", ratio <= 1.15,
        f"median of {rounds} alternating processes each; whole process "
        f"{seconds(mf_wall)} vs {seconds(torch_wall)} ({mf_wall / torch_wall:.3f}×); "
        f"also imported: {', '.join(sorted(heavy)) or 'none of ' + ', '.join(HEAVY)}")]
