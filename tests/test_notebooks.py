"""The stored notebooks: complete, freshly executed, clean, navigable.

nbval (run by `make test` over notebooks/) checks that the stored outputs are
what the code produces today; this file checks what nbval does not.
"""

import json
import re
import tomllib
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SERIES = [
    "00_start_here.ipynb",
    "01_generating_D.ipynb",
    "02_autograd_and_grad_fn.ipynb",
    "03_one_step_under_no_grad.ipynb",
    "04_training_loop.ipynb",
    "05_playground.ipynb",
    "06_missing_entries.ipynb",
    "07_overfitting_and_l2.ipynb",
    "08_early_stopping_and_als.ipynb",
    "09_step_sizes.ipynb",
    "10_optimizers.ipynb",
    "11_recommender.ipynb",
]
LINK = re.compile(r"\]\(([^)\s]+)\)|href=\"([^\"]+)\"")
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
COLAB = re.compile(r"^/github/mfgd/mfgd/blob/([^/]+)/(.+)$")


def load(name):
    return json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))


def source(cell):
    return "".join(cell["source"])


def test_the_series_is_complete():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == SERIES


@pytest.fixture(params=SERIES)
def nb(request):
    path = NOTEBOOKS / request.param
    if not path.exists():
        pytest.fail(f"{request.param} is missing")
    return request.param, load(request.param)


def test_executed_in_one_fresh_run(nb):
    name, book = nb
    counts = [c.get("execution_count") for c in book["cells"] if c["cell_type"] == "code"]
    assert counts == list(range(1, len(counts) + 1)), f"{name}: run `make notebooks`"
    assert book["metadata"]["kernelspec"]["name"] == "python3"


def test_outputs_are_clean(nb):
    name, book = nb
    for index, cell in enumerate(book["cells"]):
        if cell["cell_type"] != "code":
            continue
        deliberate = "raises-exception" in cell.get("metadata", {}).get("tags", [])
        for out in cell.get("outputs", []):
            where = f"{name} cell {index}"
            assert not (out["output_type"] == "stream" and out["name"] == "stderr"), f"{where}: stderr"
            assert out["output_type"] != "error" or deliberate, f"{where}: unexpected error"
            text = json.dumps(out.get("data", out.get("text", "")))
            assert not re.search(r"0x[0-9a-f]{6,}", text), f"{where}: memory address"
            for bad in ("Error displaying widget", "model not found", "Warning:",
                        "application/vnd.jupyter.widget-view+json"):
                assert bad not in text, f"{where}: {bad}"


def test_ignored_cells_say_why(nb):
    name, book = nb
    for index, cell in enumerate(book["cells"]):
        lines = source(cell).splitlines()
        for i, line in enumerate(lines):
            if line.strip() == "# NBVAL_IGNORE_OUTPUT":
                assert i + 1 < len(lines) and lines[i + 1].startswith("# reason: "), (
                    f"{name} cell {index}: NBVAL_IGNORE_OUTPUT needs a '# reason: ...' line after it")


# the reading time, and (00 has no exercises) the time with the exercises
TIMES = re.compile(r"about (?P<read>\d+) min to read and run(, about (?P<exercises>\d+) min with the exercises)?")


def test_teaching_structure(nb):
    name, book = nb
    cells = book["cells"]
    first = source(cells[0])
    number = name[:2]
    assert first.startswith(f"# {number} · "), f"{name}: title '# {number} · …'"
    text = "\n".join(source(c) for c in cells if c["cell_type"] == "markdown")
    assert "You will" in text, f"{name}: objectives"
    times = TIMES.search(first)
    assert times, f"{name}: cell 0 gives two times, '(about N min to read and run, about M min with the exercises)'"
    if number != "00":
        assert times["exercises"], f"{name}: the time with the exercises"
        assert int(times["read"]) < int(times["exercises"]), f"{name}: the exercises take time too"
    if number != "00":
        assert "## Summary" in text and "## Exercises" in text, f"{name}: summary and exercises"
        graded = [c for c in cells if c.get("metadata", {}).get("nbgrader", {}).get("solution")]
        assert graded, f"{name}: exercises with graded solution cells (tests/test_grading.py)"
        assert "<details><summary>Solution" not in text, \
            f"{name}: a solution in markdown; make it a solution cell and a test (tests/test_grading.py)"
    assert "(00_start_here.ipynb)" in first or number == "00", f"{name}: index link at the top"
    assert "(00_start_here.ipynb)" in source(cells[-1]) or number == "00", f"{name}: index link at the bottom"


def test_neighbour_links():
    for i, name in enumerate(SERIES[1:], start=1):
        first = source(load(name)["cells"][0])
        assert f"({SERIES[i - 1]})" in first, f"{name}: previous link"
        if i + 1 < len(SERIES):
            assert f"({SERIES[i + 1]})" in first, f"{name}: next link"


def _links(text):
    for match in LINK.finditer(text):
        yield match.group(1) or match.group(2)


def _check(link, base: Path, where: str):
    url = urlparse(link)
    if url.scheme in ("http", "https"):
        if url.netloc == "mybinder.org":
            target = unquote(url.query).split("urlpath=")[-1]
            path = re.sub(r"^(lab/tree|voila/render|tree|notebooks)/", "", target)
            assert (ROOT / path).exists(), f"{where}: Binder link to missing {path}"
        elif url.netloc == "colab.research.google.com":
            match = COLAB.match(url.path)
            assert match, f"{where}: Colab link {link} is not /github/mfgd/mfgd/blob/<tag>/<path>"
            tag, path = match.groups()
            # the first cell installs the package at v<version>; the notebook must be that one
            assert tag == f"v{VERSION}", f"{where}: Colab link to {tag}, the package is v{VERSION}"
            assert (ROOT / unquote(path)).exists(), f"{where}: Colab link to missing {path}"
        return
    if url.scheme or link.startswith("#"):
        return
    assert (base / unquote(url.path)).exists(), f"{where}: broken link {link}"


def test_links_in_readme_point_to_files():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = list(_links(readme))
    assert any("mybinder.org" in link for link in links)
    assert any("colab.research.google.com" in link for link in links)
    for link in links:
        _check(link, ROOT, "README.md")


@pytest.mark.parametrize("name", SERIES)
def test_links_in_notebooks_point_to_files(name):
    if not (NOTEBOOKS / name).exists():
        pytest.fail(f"{name} is missing")
    for cell in load(name)["cells"]:
        if cell["cell_type"] == "markdown":
            for link in _links(source(cell)):
                _check(link, NOTEBOOKS, name)


def _table_times(text):
    """{notebook number: the time column} of a markdown table whose rows start '| NN |'."""
    rows = re.findall(r"^\| (\d\d) \|.*\| ([^|]*min[^|]*) \|$", text, flags=re.M)
    return {number: time.strip() for number, time in rows}


def _stated_times():
    stated = {}
    for name in SERIES:
        times = TIMES.search(source(load(name)["cells"][0]))
        assert times, f"{name}: no time estimate in cell 0"
        stated[name[:2]] = times
    return stated


def _prose(where):
    """The text of README.md, or of a notebook's markdown cells."""
    path = ROOT / where
    if path.suffix == ".ipynb":
        return "\n".join(source(c) for c in load(path.name)["cells"] if c["cell_type"] == "markdown")
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("where", ["README.md", "notebooks/00_start_here.ipynb"])
def test_tables_of_the_series_give_each_notebooks_own_times(where):
    text = _prose(where)
    table = _table_times(text)
    for number, times in _stated_times().items():
        if number == "00" and number not in table:
            continue  # 00's own table need not list 00
        expected = f"{times['read']} min" if not times["exercises"] else (
            f"{times['read']} min / {times['exercises']} min")
        assert table.get(number) == expected, (
            f"{where}: the row of notebook {number} says {table.get(number)!r}; "
            f"its cell 0 says {expected!r} (reading / with the exercises)")


TOTAL = re.compile(r"In all, about (\d+) h(?: (\d+) min)? to read and run the series\s+and about (\d+) h"
                   r"(?: (\d+) min)? with\s+every\s+exercise")


@pytest.mark.parametrize("where", ["README.md", "notebooks/00_start_here.ipynb"])
def test_the_total_time_of_the_series_is_the_sum_of_its_rows(where):
    text = _prose(where)
    total = TOTAL.search(text)
    assert total, f"{where}: no sentence 'In all, about N h M min to read and run the series and about ...'"
    stated = [60 * int(total[1]) + int(total[2] or 0), 60 * int(total[3]) + int(total[4] or 0)]
    times = _stated_times().values()
    summed = [sum(int(t["read"]) for t in times),
              sum(int(t["exercises"] or t["read"]) for t in times)]
    for kind, says, is_ in zip(("to read and run", "with the exercises"), stated, summed):
        assert abs(says - is_) <= 15, f"{where}: the total {kind} says {says} min; the rows add up to {is_} min"
