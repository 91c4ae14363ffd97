"""What every benchmark shares: timing side by side, thread settings, rows, the machine.

Ratios are what the benchmarks report, never absolute targets: two ways of
doing the same work run in the same process, interleaved (A B C, then
C B A, ...), and a ratio is the median over rounds of the two runs' ratio
in that round, so that both sides see the same load, the same CPU frequency
and the same caches.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import torch

DEFAULT_THREADS = torch.get_num_threads()  # read before any benchmark changes it
ROW_KEYS = ("target", "measured", "goal", "met", "detail")


def row(target: str, measured: str, goal: str, met: bool, detail: str = "") -> dict:
    """One line of the results table, with the keys every benchmark returns."""
    return {"target": target, "measured": measured, "goal": goal, "met": bool(met),
            "detail": detail}


def print_rows(rows: list[dict]) -> int:
    """Print rows as a benchmark run on its own does; 0 if every goal is met, else 1."""
    for r in rows:
        mark = "met" if r["met"] else "NOT MET"
        print(f"{r['target']}\n  {r['measured']}  (goal {r['goal']}: {mark})\n  {r['detail']}")
    return 0 if all(r["met"] for r in rows) else 1


def thread_settings() -> list[tuple[str, int]]:
    """(label, threads) pairs to time: one thread, and the default when it differs."""
    settings = [("1 thread", 1)]
    if DEFAULT_THREADS != 1:
        settings.append((f"{DEFAULT_THREADS} threads, default", DEFAULT_THREADS))
    return settings


@contextlib.contextmanager
def num_threads(n: int):
    """Run the block with ``torch.set_num_threads(n)``, then restore the old value."""
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


@dataclass
class Samples:
    """Wall-clock and process CPU seconds of repeated runs of one case."""

    wall: list = field(default_factory=list)
    cpu: list = field(default_factory=list)
    result: object = None  # what the last run returned

    @property
    def median(self) -> float:
        return statistics.median(self.wall)


def side_by_side(cases: dict[str, Callable[[], object]], repeats: int,
                 warmup: bool = True) -> dict[str, Samples]:
    """Time each zero-argument callable ``repeats`` times, interleaved.

    Round r runs the cases in order when r is even and in reverse order when
    r is odd, so that neither side always goes first. ``warmup`` runs each
    case once, untimed, before the first round (first calls pay for lazy
    initialisation in torch and MKL).
    """
    if warmup:
        for run in cases.values():
            run()
    samples = {name: Samples() for name in cases}
    names = list(cases)
    for r in range(repeats):
        for name in (names if r % 2 == 0 else names[::-1]):
            wall, cpu = time.perf_counter(), time.process_time()
            result = cases[name]()
            samples[name].cpu.append(time.process_time() - cpu)
            samples[name].wall.append(time.perf_counter() - wall)
            samples[name].result = result
    return samples


def paired_ratio(numerator: Samples, denominator: Samples, cpu: bool = False) -> float:
    """Median over rounds of numerator / denominator, each pair timed in the same round.

    Steadier than a ratio of medians when the load drifts during the run: the
    two runs of a pair follow each other and see the same conditions.
    """
    a, b = (numerator.cpu, denominator.cpu) if cpu else (numerator.wall, denominator.wall)
    return statistics.median(x / y for x, y in zip(a, b))


def seconds(value: float) -> str:
    """A duration with a unit that keeps 3 significant digits: 12.3 µs, 4.56 ms, 7.89 s."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), or what platform knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, or "n/a" where the OS has none."""
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except (AttributeError, OSError):
        return "n/a"


def machine() -> dict[str, str]:
    """What the numbers were measured on, for the results file."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    blas = "MKL" if torch.backends.mkl.is_available() else "not MKL"
    return {
        "CPU": cpu_model(),
        "cores": f"{os.cpu_count()} logical, {usable} usable by this process",
        "torch": (f"{torch.__version__} ({blas}), {DEFAULT_THREADS} threads by default, "
                  f"{torch.get_num_interop_threads()} inter-op"),
        "Python": f"{platform.python_version()} ({platform.python_implementation()})",
        "OS": platform.platform(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "interpreter": sys.executable,
    }


# --- memory of this process (Linux), for the peak-memory rows -------------------

def status_kib(field: str):
    """A field of /proc/self/status in KiB ("VmRSS", "VmHWM"), or None where unreadable."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak() -> bool:
    """Reset this process's high-water mark VmHWM to its current resident set (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
    except OSError:
        return False
    return status_kib("VmHWM") is not None

