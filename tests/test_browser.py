"""The playground in a real browser: JupyterLab and Voilà, driven by Chromium.

Playwright drives Debian's Chromium (/usr/bin/chromium); without it these
tests are skipped. Each server runs on 127.0.0.1 at a free port, on a
temporary copy of notebooks/05_playground.ipynb, with its settings,
workspaces and runtime files in a temporary folder, and is stopped at the
end. Screenshots go to tests/screenshots/ (not committed).

    python -m pytest -m browser tests/test_browser.py
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import pytest
from servers import (BIN, CHROMIUM, CHROMIUM_ARGS, NO_CHROMIUM, Server, free_port,
                     isolated_env, start_lab)

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "05_playground.ipynb"
SCREENSHOTS = ROOT / "tests" / "screenshots"
TIMEOUT_MS = 60_000
PLOT_READY = ("() => { const img = document.querySelector('.mfgd-plot');"
              " return img !== null && img.complete && img.naturalWidth > 0; }")
STATUS = ".mfgd-status"
# collapsed cells (the exercises' solutions) show a placeholder instead of their prompt
ALL_CELLS_RAN = ("() => { const prompts = [...document.querySelectorAll("
                 "'.jp-CodeCell:not(:has(.jp-InputPlaceholder)) .jp-InputPrompt')].map(p => p.textContent.trim());"
                 " return prompts.length > 0 && prompts.every(p => /^\\[\\d+\\]:$/.test(p)); }")
BROKEN = ("Error displaying widget", "model not found", "Traceback")

if not CHROMIUM.exists():
    pytest.skip(NO_CHROMIUM, allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="playwright is not installed: pip install playwright")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("playground")
    (folder / "notebooks").mkdir()
    shutil.copy(NOTEBOOK, folder / "notebooks" / NOTEBOOK.name)
    SCREENSHOTS.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                              args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    problems = []
    page.on("pageerror", lambda err: problems.append(str(err)))
    page.problems = problems
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="module")
def lab(workdir):
    server = start_lab(workdir / "notebooks", workdir / "lab-home", workdir / "lab.log",
                       first_url=f"lab/tree/{NOTEBOOK.name}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def voila(workdir):
    """The playground as `make voila` serves it (scripts/voila_server_config.py)."""
    home = workdir / "voila-home"
    port, token = free_port(), secrets.token_hex(16)
    server = Server(
        [str(BIN / "jupyter"), "server", f"--config={ROOT / 'scripts' / 'voila_server_config.py'}",
         f"--port={port}", f"--ServerApp.root_dir={workdir / 'notebooks'}",
         f"--IdentityProvider.token={token}", "--ServerApp.allow_root=True"],
        isolated_env(home), workdir / "voila.log",
        f"http://127.0.0.1:{port}/voila/render/{NOTEBOOK.name}?token={token}")
    try:
        server.wait_until_up(f"http://127.0.0.1:{port}/api/status?token={token}")
        yield server
    finally:
        server.stop()


def status_text(page) -> str:
    return page.text_content(STATUS)


def wait_for_status_change(page, old: str, must_contain: str = "") -> str:
    page.wait_for_function(
        "([sel, old, part]) => { const el = document.querySelector(sel);"
        " return el && el.textContent !== old && el.textContent.includes(part); }",
        arg=[STATUS, old, must_contain])
    return status_text(page)


def plot_src(page) -> str:
    return page.get_attribute(".mfgd-plot", "src")


def assert_widgets_render(page) -> None:
    body = page.inner_text("body")
    for bad in BROKEN:
        assert bad not in body, f"the page shows {bad!r}"
    assert page.locator(".mfgd-playground").count() == 1
    assert page.locator(".mfgd-lr .noUi-handle").count() == 1
    assert not page.problems, page.problems


def press_on_lr_slider(page, key: str) -> None:
    handle = page.locator(".mfgd-lr .noUi-handle")
    handle.focus()
    page.keyboard.press(key)


def test_jupyterlab_runs_the_playground(lab, page):
    page.goto(lab.url)
    # the kernel is ready when the status bar says so
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.locator("li[data-command='runmenu:run-all']").click()
    page.wait_for_function(PLOT_READY)
    page.wait_for_selector(f"{STATUS} >> text=final loss")
    page.wait_for_function(ALL_CELLS_RAN)
    assert_widgets_render(page)
    assert page.locator("[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
    box = page.locator(".mfgd-playground")
    box.scroll_into_view_if_needed()
    before_status, before_src = status_text(page), plot_src(page)
    before_box = box.bounding_box()
    assert "STILL FALLING" in before_status and "0.001383" in before_status
    page.screenshot(path=str(SCREENSHOTS / "lab_start.png"))

    press_on_lr_slider(page, "ArrowRight")  # one step: lr 0.001 -> 0.00126
    after = wait_for_status_change(page, before_status, "final loss")
    assert "0.001383" not in after
    page.wait_for_function("old => document.querySelector('.mfgd-plot').src !== old",
                           arg=before_src)
    assert page.inner_text(".mfgd-lr .widget-readout") == "0.00126"
    # focusing the slider selects its cell, and JupyterLab may scroll to it;
    # from here on, a redraw must not move or resize anything
    after_box = box.bounding_box()
    assert abs(after_box["height"] - before_box["height"]) < 1, "the playground resized"
    page.screenshot(path=str(SCREENSHOTS / "lab_after_arrow.png"))

    press_on_lr_slider(page, "End")  # the top of the slider: lr 1, far past the bound
    diverged = wait_for_status_change(page, after, "DIVERGED")
    assert "DIVERGED at iteration 5" in diverged and "nan" not in diverged.lower()
    assert "⚠ stable below 0.265" in page.inner_text(".mfgd-lr-info")
    assert page.inner_text(".mfgd-lr .widget-readout") == "1.00"
    diverged_box = box.bounding_box()
    assert diverged_box == pytest.approx(after_box, abs=1), "the page jumped"
    assert_widgets_render(page)
    page.screenshot(path=str(SCREENSHOTS / "lab_diverged.png"))


def test_voila_shows_the_app_without_code(voila, page):
    page.goto(voila.url)
    page.wait_for_function(PLOT_READY)
    page.wait_for_selector(f"{STATUS} >> text=final loss")
    assert_widgets_render(page)
    body = page.inner_text("body")
    assert "import mfgd_helpers as mf" not in body, "code is on screen"
    assert page.locator(".jp-InputArea-editor:visible, .cm-editor:visible").count() == 0
    before, src = status_text(page), plot_src(page)
    page.locator(".mfgd-playground").scroll_into_view_if_needed()
    press_on_lr_slider(page, "PageUp")  # five steps: lr 0.001 -> 0.00316
    after = wait_for_status_change(page, before, "final loss")
    assert "0.001383" not in after
    page.wait_for_function("old => document.querySelector('.mfgd-plot').src !== old", arg=src)
    assert page.inner_text(".mfgd-lr .widget-readout") == "0.00316"
    page.screenshot(path=str(SCREENSHOTS / "voila.png"))
