"""The graded exercises: their cells, the student edition, and nbgrader's round trip.

The fast checks (every exercise has a solution and a locked test, student/
is not stale) run in `make test`. The round trip (marked ``grading``, run by
`make check-grading`) hands three fake submissions of the student edition to
nbgrader's own ``autograde`` and ``generate_feedback``:

* the solutions filled in get full marks (this one goes through nbgrader's
  exchange: release_assignment, fetch_assignment, submit, collect);
* one wrong answer loses exactly that exercise's points, and its feedback
  shows the test's message;
* the untouched student edition gets 0, with no crash and no hang.
"""

from __future__ import annotations

import getpass
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SERIES = sorted(NOTEBOOKS.glob("*.ipynb"))
HAS_NBGRADER = importlib.util.find_spec("nbgrader") is not None
needs_nbgrader = pytest.mark.skipif(not HAS_NBGRADER, reason="nbgrader is not installed (pip install -e '.[teach]')")


def _assignments():
    spec = importlib.util.spec_from_file_location("assignments", ROOT / "scripts" / "assignments.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def graded(book):
    """[(index, cell)] of the cells nbgrader knows (solution or test)."""
    return [(i, c) for i, c in enumerate(book["cells"]) if "nbgrader" in c.get("metadata", {})]


def exercises(book):
    """{grade_id of the solution: (solution cell, test cell)} of a teacher notebook."""
    cells = book["cells"]
    pairs = {}
    for i, cell in graded(book):
        meta = cell["metadata"]["nbgrader"]
        if meta.get("solution"):
            following = cells[i + 1] if i + 1 < len(cells) else {}
            pairs[meta["grade_id"]] = (cell, following)
    return pairs


# --- the teacher edition --------------------------------------------------------

@pytest.mark.parametrize("path", SERIES, ids=lambda p: p.name)
def test_every_exercise_is_a_solution_then_a_locked_test(path):
    book = load(path)
    for grade_id, (solution, test) in exercises(book).items():
        source = "".join(solution["source"])
        assert source.startswith("### BEGIN SOLUTION\n") and source.rstrip().endswith("### END SOLUTION"), \
            f"{path.name} {grade_id}: the whole solution cell is nbgrader's solution region"
        assert solution["metadata"].get("jupyter", {}).get("source_hidden"), \
            f"{path.name} {grade_id}: store the solution collapsed (tag it `solution`, run `make notebooks`)"
        meta = test.get("metadata", {}).get("nbgrader", {})
        assert meta.get("grade") and meta.get("locked") and meta.get("points", 0) > 0, \
            f"{path.name} {grade_id}: the next cell must be its locked, graded test"
        assert meta.get("grade_id") == f"{grade_id}-test"
        test_source = "".join(test["source"])
        assert test_source.startswith("answered("), \
            f"{path.name} {grade_id}: a test starts with answered(...), naming what the solution defines"
        assert "assert " in test_source and re.search(r'assert .*,\s*(\\\n\s*)?f?"', test_source), \
            f"{path.name} {grade_id}: every test asserts with a message a student can act on"
        outputs = "".join("".join(o.get("text", "")) for o in test.get("outputs", []))
        assert "correct" in outputs, f"{path.name} {grade_id}: the stored test output should say it passed"


def test_grade_ids_are_unique_across_the_series():
    ids = [c["metadata"]["nbgrader"]["grade_id"] for path in SERIES for _, c in graded(load(path))]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_the_exercises_are_graded():
    counts = {path.name: len(exercises(load(path))) for path in SERIES}
    assert sum(counts.values()) > 0, counts


# --- the student edition -------------------------------------------------------

@needs_nbgrader
def test_student_edition_is_fresh():
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "assignments.py"), "--check"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_student_edition_has_no_solutions():
    student = sorted((ROOT / "student").glob("*.ipynb"))
    assert [p.name for p in student] == [p.name for p in SERIES], "run `make assignments`"
    for path in student:
        book = load(path)
        for index, cell in enumerate(book["cells"]):
            source = "".join(cell["source"])
            where = f"student/{path.name} cell {index}"
            assert "BEGIN SOLUTION" not in source, where
            assert cell.get("outputs", []) == [], f"{where}: outputs must be cleared"
            assert "solution-text" not in cell.get("metadata", {}).get("tags", []), f"{where}: an explanation"
            if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
                assert "raise NotImplementedError(" in source, where


# --- nbgrader's round trip -----------------------------------------------------

WRONG = {  # grade_id: (the teacher's line, a wrong line): the submission that gets one wrong
    "01-exercise-1": ("D1 = mf.make_target(5, 6, 1, seed=0)", "D1 = mf.make_target(5, 6, 2, seed=0)"),
}


def _fill(folder: Path, wrong: str | None = None) -> None:
    """Fill the released notebooks in ``folder`` with the teacher's solutions (one made wrong)."""
    for path in sorted(folder.glob("*.ipynb")):
        book = load(path)
        teacher = exercises(load(NOTEBOOKS / path.name))
        for cell in book["cells"]:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("solution") and meta["grade_id"] in teacher:
                source = "".join(teacher[meta["grade_id"]][0]["source"])
                if meta["grade_id"] == wrong:
                    right, bad = WRONG[wrong]
                    assert right in source, f"{wrong}: WRONG no longer matches its solution"
                    source = source.replace(right, bad)
                cell["source"] = source
        path.write_text(json.dumps(book, indent=1), encoding="utf-8")


@pytest.mark.grading
@needs_nbgrader
def test_nbgrader_autogrades_three_submissions(tmp_path):
    from nbgrader.api import Gradebook

    assignments = _assignments()
    course = tmp_path / "course"
    course.mkdir()
    release = assignments.make_course(course)
    wrong = next(iter(WRONG))

    # one student through the exchange, as on a shared server: release, fetch, submit, collect
    exchange, home = tmp_path / "exchange", tmp_path / "home"
    exchange.mkdir(mode=0o777)
    exchange.chmod(0o777)
    home.mkdir()
    where = [f"--Exchange.root={exchange}", "--course=mfgd"]
    assignments.nbgrader(course, "release_assignment", "mfgd", *where)
    assignments.nbgrader(home, "fetch_assignment", "mfgd", *where)
    _fill(home / "mfgd")
    assignments.nbgrader(home, "submit", "mfgd", *where)
    assignments.nbgrader(course, "collect", "mfgd", *where)
    complete = getpass.getuser()
    assert sorted(p.name for p in (course / "submitted" / complete / "mfgd").glob("*.ipynb")) == \
        sorted(p.name for p in SERIES)

    # two more, handed in as files
    shutil.copytree(release, course / "submitted" / "one-wrong" / "mfgd")
    _fill(course / "submitted" / "one-wrong" / "mfgd", wrong=wrong)
    shutil.copytree(release, course / "submitted" / "untouched" / "mfgd")

    assignments.nbgrader(course, "autograde", "mfgd", "--create", timeout=1500)
    assignments.nbgrader(course, "generate_feedback", "mfgd", timeout=600)

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        total = gb.find_assignment("mfgd").max_score
        scores = {s: gb.find_submission("mfgd", s).score for s in (complete, "one-wrong", "untouched")}
        notebook = wrong.split("-")[0]
        name = next(p.stem for p in SERIES if p.name.startswith(notebook))
        lost = gb.find_grade(f"{wrong}-test", name, "mfgd", "one-wrong")
        points = lost.max_score
        assert lost.score == 0
    assert total > 0
    assert scores == {complete: total, "one-wrong": total - points, "untouched": 0}, scores

    feedback = (course / "feedback" / "one-wrong" / "mfgd" / f"{name}.html").read_text(encoding="utf-8")
    assert "did you pass k = 1 to make_target?" in feedback
