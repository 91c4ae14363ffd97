"""The classroom load test's numbers: percentiles, per-student records, the report, sizing.

Pure functions of what scripts/classroom/classroom_check.py measured; no hub needed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

GB = 1e9  # bytes, decimal
MB = 1e6

PHASES = ("login", "spawn", "pull", "kernel", "run")


def percentile(values, q: float) -> float:
    """The q-th percentile of ``values``, interpolated linearly between order statistics.

    The same as ``numpy.percentile(values, q)`` (its default, "linear").

    Parameters
    ----------
    values : sequence of float
        At least one value.
    q : float
        Between 0 and 100.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``values`` is empty or ``q`` is outside [0, 100].

    Examples
    --------
    >>> percentile([3.0, 1.0, 2.0], 50)
    2.0
    >>> percentile([10, 20, 30, 40], 95)
    38.5
    """
    if not 0 <= q <= 100:
        raise ValueError(f"q == {q}, must be between 0 and 100.")
    ordered = sorted(values)
    if not ordered:
        raise ValueError("values is empty; a percentile needs at least one value.")
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class StudentRecord:
    """What one student's run measured; ``failure`` is None when every step passed."""

    name: str
    seconds: dict[str, float] = field(default_factory=dict)  # phase -> wall seconds
    run_cpu_seconds: float | None = None  # the kernel's CPU time over the notebook's run
    peak_rss: int = 0  # bytes: server + kernels, at the sample where their sum was highest
    peak_pss: int = 0  # bytes: the same for the proportional set size
    failure: str | None = None


@dataclass
class Sizing:
    """Students per core and per GB of memory, with the inputs they come from."""

    solo_cpu_seconds: float  # CPU time of the notebook's run by one student alone
    cpu_seconds: float  # CPU time of one run with every student at once (median)
    slowdown: float  # run time allowed, as a multiple of solo_seconds
    per_student_pss: float  # bytes (median of the per-student peaks)
    per_student_rss: float  # bytes (largest per-student peak)

    @property
    def students_per_core(self) -> float:
        """Students per core who may all run the notebook at the same moment, each run
        taking at most ``slowdown`` times as long as alone on an idle core (one thread):
        ``slowdown * solo_cpu_seconds / cpu_seconds``."""
        return self.slowdown * self.solo_cpu_seconds / self.cpu_seconds

    @property
    def students_per_gb(self) -> float:
        """Students per GB of memory, at their median peak PSS (shared pages split)."""
        return GB / self.per_student_pss

    @property
    def students_per_gb_rss(self) -> float:
        """Students per GB at the largest peak RSS (shared pages counted for each)."""
        return GB / self.per_student_rss


def sizing(records: list[StudentRecord], solo_cpu_seconds: float, slowdown: float = 2.0) -> Sizing:
    """Sizing figures from the students' records and the CPU time of the run alone.

    Examples
    --------
    >>> runs = [StudentRecord(f"s{i}", run_cpu_seconds=10.0 + i, peak_rss=int(0.6e9),
    ...                       peak_pss=int(0.4e9)) for i in range(3)]
    >>> s = sizing(runs, solo_cpu_seconds=11.0)
    >>> round(s.students_per_core, 2), round(s.students_per_gb, 2), round(s.students_per_gb_rss, 2)
    (2.0, 2.5, 1.67)
    """
    if not records:
        raise ValueError("records is empty; sizing needs at least one student's run.")
    if slowdown < 1:
        raise ValueError(f"slowdown == {slowdown}, must be >= 1 (a run is never faster than alone).")
    return Sizing(
        solo_cpu_seconds=solo_cpu_seconds,
        cpu_seconds=percentile([r.run_cpu_seconds for r in records], 50),
        slowdown=slowdown,
        per_student_pss=percentile([r.peak_pss for r in records], 50),
        per_student_rss=max(r.peak_rss for r in records),
    )


def _stats(values, unit: str = "s", scale: float = 1.0, digits: int = 1) -> str:
    v = [x / scale for x in values]
    return (f"p50 {percentile(v, 50):.{digits}f} {unit}, p95 {percentile(v, 95):.{digits}f} {unit}, "
            f"max {max(v):.{digits}f} {unit}")


@dataclass
class ClassMeasures:
    """What the load test measured for the class as a whole."""

    notebook: str
    cores: int
    threads: str  # OMP_NUM_THREADS of the kernels
    hub_up: float  # seconds from the start of the hub to its API answering through the proxy
    spawn_all: float  # seconds from the first server start request to the last server ready
    solo_seconds: float | None  # wall time of the notebook's run by one student alone
    solo_cpu_seconds: float | None  # CPU time of that run
    server_peak_rss: int  # bytes: the largest student's Jupyter server alone, no kernel
    overhead_peak_rss: int  # bytes: hub, proxy and idle culler
    total_peak_rss: int  # bytes: everything at once
    total_peak_pss: int
    machine_rise: int  # bytes: the machine's used memory, peak minus before the hub
    wall: float  # seconds, the whole load test


def format_report(records: list[StudentRecord], m: ClassMeasures) -> str:
    """The load test's report: one line per student, then the summary and the sizing.

    Examples
    --------
    >>> r = [StudentRecord("student01", {"login": 0.5, "spawn": 9.0, "pull": 0.4, "kernel": 3.0,
    ...                                  "run": 40.0}, 19.5, int(0.7e9), int(0.45e9))]
    >>> m = ClassMeasures("04.ipynb", cores=2, threads="1", hub_up=8.0, spawn_all=9.0,
    ...                   solo_seconds=20.0, solo_cpu_seconds=19.0, server_peak_rss=int(1e8),
    ...                   overhead_peak_rss=int(0.2e9),
    ...                   total_peak_rss=int(0.9e9), total_peak_pss=int(0.6e9),
    ...                   machine_rise=int(0.7e9), wall=80.0)
    >>> text = format_report(r, m)
    >>> print(text.splitlines()[2])
    student01       0.5     9.0     0.4      3.0     40.0     19.5       700       450  ok
    >>> print(text.splitlines()[-2])
    sizing: students per core, all running the notebook at once, each run at most 2x as long as alone = 2 x 19.0 s / 19.5 s (CPU per run) = 1.9
    """
    header = (f"{'student':12} {'login':>6} {'spawn':>7} {'pull':>7} {'kernel':>8} {'run':>8} "
              f"{'run CPU':>8} {'peak RSS':>9} {'peak PSS':>9}")
    lines = [header, f"{'':12} {'s':>6} {'s':>7} {'s':>7} {'s':>8} {'s':>8} {'s':>8} "
                     f"{'MB':>9} {'MB':>9}"]
    for r in records:
        cells = [f"{r.seconds[p]:>{w}.1f}" if p in r.seconds else f"{'-':>{w}}"
                 for p, w in zip(PHASES, (6, 7, 7, 8, 8))]
        cpu = f"{r.run_cpu_seconds:8.1f}" if r.run_cpu_seconds is not None else f"{'-':>8}"
        lines.append(f"{r.name:12} {' '.join(cells)} {cpu} {r.peak_rss / MB:9.0f} "
                     f"{r.peak_pss / MB:9.0f}  {'ok' if r.failure is None else 'FAILED'}")
    ok = [r for r in records if r.failure is None and "run" in r.seconds]
    runs = [r.seconds["run"] for r in ok]
    lines += ["",
              f"{len(records)} students, {m.notebook}, {m.cores} cores, kernels with "
              f"OMP_NUM_THREADS={m.threads}; {len(ok)} of {len(records)} runs finished without an error",
              f"hub up in {m.hub_up:.1f} s; every server ready {m.spawn_all:.1f} s after the "
              "first start request"]
    if ok:
        lines.append(f"notebook run, all students at once: {_stats(runs)}")
        if m.solo_seconds is not None:
            lines.append(f"notebook run, one student alone:    {m.solo_seconds:.1f} s, "
                         f"{m.solo_cpu_seconds:.1f} s CPU (at once / alone at p50: "
                         f"{percentile(runs, 50) / m.solo_seconds:.1f}x)")
        lines.append(f"kernel CPU per run, all at once:    {_stats([r.run_cpu_seconds for r in ok])}")
        lines.append("peak memory per student (server + kernel), "
                     f"RSS: {_stats([r.peak_rss for r in ok], 'MB', MB, 0)}")
        lines.append("                                           "
                     f"PSS: {_stats([r.peak_pss for r in ok], 'MB', MB, 0)}")
        lines.append(f"  of which the Jupyter server alone (no kernel): at most {m.server_peak_rss / MB:.0f} MB RSS")
    lines += [f"hub + proxy + idle culler, peak RSS: {m.overhead_peak_rss / MB:.0f} MB",
              f"everything, peak: RSS {m.total_peak_rss / GB:.2f} GB, PSS {m.total_peak_pss / GB:.2f} GB; "
              f"the machine's used memory rose by {m.machine_rise / GB:.2f} GB (a shared machine "
              "counts other work too)",
              f"load test wall time: {m.wall:.0f} s"]
    if ok and m.solo_cpu_seconds is not None:
        s = sizing(ok, m.solo_cpu_seconds)
        lines += ["",
                  f"sizing: students per core, all running the notebook at once, each run at most "
                  f"{s.slowdown:.0f}x as long as alone = {s.slowdown:.0f} x {s.solo_cpu_seconds:.1f} s / "
                  f"{s.cpu_seconds:.1f} s (CPU per run) = {s.students_per_core:.1f}",
                  f"        students per GB of memory, one notebook open each: "
                  f"{s.students_per_gb:.1f} at the median peak PSS ({s.per_student_pss / MB:.0f} MB), "
                  f"{s.students_per_gb_rss:.1f} at the largest peak RSS ({s.per_student_rss / MB:.0f} MB)"]
    return "\n".join(lines)
