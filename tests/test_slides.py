"""The notebooks as slides: their slide metadata, and jupyterlab-rise in Chromium.

Every notebook's title and sections (``## ``) start a slide, code cells are
fragments, and exercises show only their prompt (scripts/execute_notebooks.py
writes this metadata). The browser test serves a copy of notebooks/ with
JupyterLab, opens ``/rise/<notebook>`` for each notebook and counts the
slides reveal.js made: at least one per section, plus the title.

    python -m pytest tests/test_slides.py
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
from servers import CHROMIUM, CHROMIUM_ARGS, NO_CHROMIUM, start_lab

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SCREENSHOTS = ROOT / "tests" / "screenshots"
SLIDES = "() => document.querySelectorAll('.reveal .slides > section').length"


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def headings(text: str) -> list:
    """The section headings (``## ``) of a markdown text, outside its code blocks."""
    found, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("## "):
            found.append(line)
    return found


def sections(book) -> int:
    return sum(len(headings("".join(c["source"]))) for c in book["cells"] if c["cell_type"] == "markdown")


def slide_types(book) -> list:
    return [c["metadata"].get("slideshow", {}).get("slide_type") for c in book["cells"]]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_section_is_a_slide(path):
    book = load(path)
    kinds = slide_types(book)
    assert None not in kinds, f"{path.name}: cells without slide metadata; run `make notebooks`"
    assert kinds[0] == "slide", f"{path.name}: the title starts the first slide"
    for index, cell in enumerate(book["cells"]):
        if cell["cell_type"] == "markdown":
            inside = headings("".join(cell["source"]))
            assert len(inside) <= 1 and (not inside or "".join(cell["source"]).startswith(inside[0])), \
                f"{path.name} cell {index}: a section starts its own cell, so that it starts a slide"
    assert kinds.count("slide") == sections(book) + 1, f"{path.name}: one slide per section"
    for cell, kind in zip(book["cells"], kinds):
        tags = set(cell["metadata"].get("tags", []))
        if tags & {"solution", "solution-text", "test"}:
            assert kind == "skip", f"{path.name}: the slides never show a solution or a test"
        elif cell["cell_type"] == "code":
            assert kind == "fragment", f"{path.name}: a code cell is revealed as a step"
    assert book["metadata"].get("rise", {}).get("scroll") is True


def test_the_rule_is_execute_notebooks_own():
    spec = importlib.util.spec_from_file_location("execute_notebooks",
                                                  ROOT / "scripts" / "execute_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    import nbformat

    heading, note = nbformat.v4.new_markdown_cell("## 2. A section"), nbformat.v4.new_markdown_cell("text")
    sub, code = nbformat.v4.new_markdown_cell("### 2.1 A subsection"), nbformat.v4.new_code_cell("x = 1")
    solution = nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx = 2\n### END SOLUTION")
    solution.metadata["tags"] = ["solution"]
    assert [module.slide_type(c) for c in (heading, note, sub, code, solution)] == \
        ["slide", "-", "subslide", "fragment", "skip"]
    assert module.slide_type(note, first=True) == "slide"


@pytest.mark.browser
def test_rise_shows_each_notebook_as_slides(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(NO_CHROMIUM)
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if importlib.util.find_spec("jupyterlab_rise") is None:
        pytest.skip("jupyterlab-rise is not installed (it is in the lab extras)")
    root = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", root)
    server = start_lab(root, tmp_path / "home", tmp_path / "lab.log")
    SCREENSHOTS.mkdir(exist_ok=True)
    counts = {}
    try:
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                for path in NOTEBOOKS:
                    page = browser.new_page(viewport={"width": 1280, "height": 800})
                    problems = []
                    page.on("pageerror", lambda err: problems.append(str(err)))
                    page.goto(f"{server.base}/rise/{path.name}?token={server.token}")
                    page.wait_for_function(f"() => ({SLIDES})() > 1", timeout=90_000)
                    counts[path.name] = page.evaluate(SLIDES)
                    if path is NOTEBOOKS[1]:
                        page.screenshot(path=str(SCREENSHOTS / "rise.png"))
                    assert not problems, f"{path.name}: {problems}"
                    page.close()
            finally:
                browser.close()
    finally:
        server.stop()
    for path in NOTEBOOKS:
        expected = sections(load(path)) + 1
        assert counts[path.name] >= expected, \
            f"{path.name}: {counts[path.name]} slides for {expected - 1} sections and the title"
