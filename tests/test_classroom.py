"""The classroom load test's own logic (scripts/classroom/), without a hub.

`make classroom-check` runs the hub and the students; these check, in
milliseconds, what it computes and reports from their measurements: the
percentiles, the sizing figures, which cells of the pulled notebook run, and
that a failing cell is reported with the student's name and the cell.
"""

from __future__ import annotations

import doctest
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
CLASSROOM = ROOT / "scripts" / "classroom"
sys.path.insert(0, str(CLASSROOM))
import classroom_check  # noqa: E402
import load_report  # noqa: E402
import student_client as student  # noqa: E402
from load_report import ClassMeasures, StudentRecord, format_report, percentile, sizing  # noqa: E402

NOTEBOOK = ROOT / "notebooks" / "04_training_loop.ipynb"


@pytest.mark.parametrize("module", [load_report, student], ids=lambda m: m.__name__)
def test_the_docstring_examples_hold(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("q", [0, 5, 50, 90, 95, 100])
@pytest.mark.parametrize("n", [1, 2, 7, 10])
def test_percentile_is_numpys_linear_percentile(n, q):
    values = np.random.default_rng(n).exponential(20.0, size=n).tolist()
    assert percentile(values, q) == pytest.approx(np.percentile(values, q))


@pytest.mark.parametrize("values, q, message", [
    ([], 50, "values is empty"),
    ([1.0], -1, r"q == -1, must be between 0 and 100"),
    ([1.0], 101, r"q == 101, must be between 0 and 100"),
])
def test_percentile_refuses_bad_input(values, q, message):
    with pytest.raises(ValueError, match=message):
        percentile(values, q)


def record(name, run, cpu, rss, pss, failure=None):
    return StudentRecord(name, {"login": 0.3, "spawn": 10.0, "pull": 1.0, "kernel": 2.0, "run": run},
                         cpu, rss, pss, failure)


def test_sizing_uses_the_median_cpu_and_pss_and_the_largest_rss():
    records = [record("a", 30, 8.0, int(5e8), int(4e8)), record("b", 31, 10.0, int(7e8), int(3e8)),
               record("c", 32, 12.0, int(6e8), int(5e8))]
    s = sizing(records, solo_cpu_seconds=7.5, slowdown=3)
    assert s.cpu_seconds == 10.0 and s.per_student_pss == 4e8 and s.per_student_rss == 7e8
    assert s.students_per_core == pytest.approx(3 * 7.5 / 10.0)
    assert s.students_per_gb == pytest.approx(2.5)
    assert s.students_per_gb_rss == pytest.approx(1 / 0.7)


@pytest.mark.parametrize("kwargs, message", [
    ({"records": []}, "records is empty"),
    ({"slowdown": 0.5}, r"slowdown == 0.5, must be >= 1"),
])
def test_sizing_refuses_bad_input(kwargs, message):
    args = {"records": [record("a", 30, 8.0, 1, 1)], "solo_cpu_seconds": 7.0, **kwargs}
    with pytest.raises(ValueError, match=message):
        sizing(**args)


def measures(**changes):
    values = dict(notebook="04_training_loop.ipynb", cores=2, threads="1", hub_up=8.0,
                  spawn_all=30.0, solo_seconds=10.0, solo_cpu_seconds=7.0, server_peak_rss=int(1e8),
                  overhead_peak_rss=int(2e8), total_peak_rss=int(5e9), total_peak_pss=int(4e9),
                  machine_rise=int(4e9), wall=200.0)
    values.update(changes)
    return ClassMeasures(**values)


def test_the_report_gives_p50_p95_over_the_runs_that_passed_and_marks_the_failed_one():
    records = [record(f"student{i:02d}", 10.0 * i, 7.0, int(5e8), int(4e8)) for i in range(1, 11)]
    records[3] = record("student04", 999.0, 7.0, int(5e8), int(4e8), failure="student04: cell 9 failed")
    text = format_report(records, measures())
    runs = [r.seconds["run"] for r in records if r.failure is None]
    assert f"p50 {np.percentile(runs, 50):.1f} s, p95 {np.percentile(runs, 95):.1f} s" in text
    assert "9 of 10 runs finished without an error" in text
    assert [line.split()[-1] for line in text.splitlines()[2:12]].count("FAILED") == 1
    assert "student04" in next(line for line in text.splitlines() if line.endswith("FAILED"))


def test_the_report_leaves_out_the_sizing_without_a_run_alone():
    records = [record("student01", 20.0, 7.0, int(5e8), int(4e8))]
    assert "sizing" in format_report(records, measures())
    assert "sizing" not in format_report(records, measures(solo_seconds=None, solo_cpu_seconds=None))


def test_the_code_cells_of_notebook_04_are_all_its_code_cells_in_order():
    nb = json.loads(NOTEBOOK.read_text())
    cells = student.code_cells(nb)
    expected = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"]
    assert [i for i, _ in cells] == expected and len(cells) > 10
    assert cells[1][1] == "".join(nb["cells"][expected[1]]["source"])


class FakeStudent:
    """Answers run_cell from a list of results, as the kernel would."""

    name = "student07"

    def __init__(self, results):
        self.results, self.ran = results, []

    def run_cell(self, index, source, timeout):
        self.ran.append(index)
        return self.results[len(self.ran) - 1]


@pytest.mark.parametrize("failing, reason", [
    (student.CellResult(5, "lr = 0.001", "error", ["ValueError: lr == -1, must be > 0."]),
     "ValueError: lr == -1"),
    (student.CellResult(5, "lr = 0.001", "ok", ["stderr: UserWarning: slow"]), "stderr: UserWarning"),
    (student.CellResult(5, "lr = 0.001", "timeout", ["no execute_reply within 900 s"]),
     "no execute_reply"),
])
def test_a_failing_cell_names_the_student_and_the_cell_and_stops_the_run(failing, reason):
    ok = student.CellResult(2, "import torch", "ok")
    fake = FakeStudent([ok, failing, ok])
    cells = [(2, "import torch"), (5, "lr = 0.001"), (7, "print(lr)")]
    with pytest.raises(student.StudentError) as caught:
        classroom_check.run_cells(fake, cells, "mfgd/notebooks/04_training_loop.ipynb", 900)
    message = str(caught.value)
    assert message.startswith("student07: cell 6 of mfgd/notebooks/04_training_loop.ipynb "
                              "('lr = 0.001') failed")
    assert reason in message
    assert fake.ran == [2, 5]


@pytest.mark.parametrize("argv, message", [
    (["--students", "0"], "--students 0: must be at least 1"),
    (["--threads", "two"], "--threads 'two': must be a whole number >= 1"),
])
def test_bad_arguments_are_named(argv, message, capsys):
    with pytest.raises(SystemExit) as caught:
        classroom_check.parse_args(argv)
    assert caught.value.code == 2
    assert message in capsys.readouterr().err
