"""Target 5: the notebook suite, each notebook against an empty one, and nbval.

Each notebook in notebooks/ (found when the benchmark runs) is executed the
way ``scripts/execute_notebooks.py`` does it, in a fresh kernel of this
Python, without writing anything. Its time, kernel start and shutdown
included, is compared with the same for a notebook whose only cell is
``import torch``. Three rounds, alternating the order; medians. Then the
whole nbval run as ``make test`` runs it, ``python -m pytest -q -n 2
--dist loadfile notebooks/`` (one notebook per core), is timed once in a
subprocess. Quick mode skips this benchmark (kernels take seconds to start).
"""

from __future__ import annotations

import copy
import importlib.util
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from .timing import row, seconds

ORDER = 5
ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
RATIO_GOAL = 3.0
NBVAL_COMMAND = ["-q", "-n", "2", "--dist", "loadfile", "notebooks/"]  # as make test runs it
NBVAL_GOAL = 60.0
NOTES = """\
**5.** A notebook's time includes its kernel's start and shutdown, like the
empty notebook's, so the ratio is what a student waits for beyond starting
Python and torch. The detail column names each notebook's two slowest cells
(one is usually the imports): the place to look first when a notebook misses
the goal (a long run that could use `method="analytic"`, or a plot). nbval
re-executes every notebook in a kernel of its own, two notebooks at a time on
two cores (as `make test` runs it), so its time is roughly half the sum of the
notebooks' times. Wall times on a shared machine vary by 15–30 % from run to
run, hence three rounds and medians.
"""


def _executor():
    """scripts/execute_notebooks.py, loaded from its path (it is a script, not a package)."""
    path = ROOT / "scripts" / "execute_notebooks.py"
    spec = importlib.util.spec_from_file_location("execute_notebooks", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def empty_notebook():
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("import torch"))
    return nb


def time_notebook(nb, folder: Path, executor=None) -> float:
    """Seconds to run ``nb`` in a fresh kernel started in ``folder``; nothing is written."""
    return run_notebook(nb, folder, executor)[0]


def run_notebook(nb, folder: Path, executor=None):
    """(seconds, the executed copy of ``nb``): a fresh kernel, shut down at the end."""
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    executor = executor or _executor()
    nb = copy.deepcopy(nb)
    executor.prepare(nb)
    km = KernelManager(kernel_name="python3", kernel_spec_manager=executor.ThisPythonKernels())
    client = NotebookClient(nb, km=km, timeout=600, kernel_name="python3",
                            shutdown_kernel="immediate", record_timing=True,
                            resources={"metadata": {"path": str(folder)}})
    start = time.perf_counter()
    # cleanup_kc: shut the kernel down (a client given a manager leaves it running);
    # the kernel's own log lines (a warning about TCP) go nowhere
    client.execute(cleanup_kc=True, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start, nb


def slowest_cells(nb, count: int = 2) -> list:
    """[(index, seconds, first code line)] of the ``count`` code cells that took longest."""
    from datetime import datetime

    def when(stamp):
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))

    cells = []
    for index, cell in enumerate(nb.cells):
        stamps = cell.get("metadata", {}).get("execution", {})
        begin, end = stamps.get("iopub.execute_input"), stamps.get("shell.execute_reply")
        if cell.cell_type != "code" or not begin or not end:
            continue
        first = next((line.strip() for line in cell.source.splitlines()
                      if line.strip() and not line.lstrip().startswith("#")), "")
        cells.append((index, (when(end) - when(begin)).total_seconds(), first))
    return sorted(cells, key=lambda c: -c[1])[:count]


def time_nbval() -> tuple[float, int, str]:
    """(seconds, return code, pytest's summary line) of the nbval run of ``make test``."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "pytest", *NBVAL_COMMAND], cwd=ROOT,
                         capture_output=True, text=True, timeout=1800)
    elapsed = time.perf_counter() - start
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    summary = next((line.strip("= ") for line in reversed(lines)
                    if re.search(r"\b(passed|failed|error|no tests ran)\b", line)), "no summary")
    return elapsed, out.returncode, summary


def _slowest_text(cells) -> str:
    if not cells:
        return ""
    parts = [f"#{index} {seconds(took)} ({first if len(first) <= 50 else first[:47] + '...'})"
             for index, took, first in cells]
    return "; slowest cells: " + ", ".join(parts)


def run(quick: bool) -> list[dict]:
    if quick:
        return []
    import nbformat

    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    if not paths:
        return [row("5 · the notebooks", "none found in notebooks/", "every notebook ≤ 3×",
                    False, "nothing to time")]
    executor = _executor()
    notebooks = {p.name: nbformat.read(p, as_version=4) for p in paths}
    empty = empty_notebook()
    times = {name: [] for name in notebooks}
    empty_times, failures, slowest = [], {}, {}
    rounds = 3
    for r in range(rounds):
        order = list(notebooks) if r % 2 == 0 else list(notebooks)[::-1]
        empty_times.append(time_notebook(empty, NOTEBOOKS, executor))
        for name in order:
            if name in failures:
                continue
            try:
                seconds_taken, executed = run_notebook(notebooks[name], NOTEBOOKS, executor)
            except Exception as err:  # a failing notebook is a result, not a crash
                failures[name] = f"{type(err).__name__}: {str(err).strip().splitlines()[-1]}"
                continue
            times[name].append(seconds_taken)
            slowest[name] = slowest_cells(executed)
        empty_times.append(time_notebook(empty, NOTEBOOKS, executor))
    base = statistics.median(empty_times)
    rows = []
    for name in notebooks:
        if name in failures:
            rows.append(row(f"5 · {name} vs an empty notebook", "failed to run",
                            f"≤ {RATIO_GOAL:g}×", False, failures[name]))
            continue
        t = statistics.median(times[name])
        rows.append(row(
            f"5 · {name} vs an empty notebook",
            f"{t / base:.2f}× ({seconds(t)} vs {seconds(base)})",
            f"≤ {RATIO_GOAL:g}×", t / base <= RATIO_GOAL,
            f"kernel start to shutdown; median of {rounds} rounds, the empty notebook "
            f"(import torch) {2 * rounds} times" + _slowest_text(slowest.get(name))))
    elapsed, code, summary = time_nbval()
    rows.append(row(
        f"5 · the whole nbval run (pytest {' '.join(NBVAL_COMMAND)})",
        f"{seconds(elapsed)}, {summary}",
        f"< {NBVAL_GOAL:g} s, all passing", elapsed < NBVAL_GOAL and code == 0,
        f"{len(paths)} notebooks, one run, one notebook per core; exit code {code}"))
    return rows
