"""The Colab install cell that opens every notebook.

On Colab, where the kernel has imported ``google.colab`` before the first
cell, that cell pip-installs this package with ``--no-deps`` (keeping Colab's
own torch, matplotlib and ipywidgets); anywhere else it does nothing. These
tests run the cell's source here with ``google.colab`` absent and then faked.

The full Colab-like run (a venv with ipywidgets 7.7.1 and a stand-in
google.colab, every notebook executed) is not a pytest test: it builds its own
environment, so `make check-colab` runs scripts/colab_env.sh and
scripts/run_notebooks_colab.py directly.
"""

import contextlib
import importlib.util
import io
import json
import re
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def first_code_cell(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "".join(next(c for c in cells if c["cell_type"] == "code")["source"])


CELL = first_code_cell(NOTEBOOKS[0])


def test_every_notebook_starts_with_the_same_install_cell():
    assert len(NOTEBOOKS) > 1
    different = [p.name for p in NOTEBOOKS if first_code_cell(p) != CELL]
    assert not different, f"first code cell differs from {NOTEBOOKS[0].name}'s in {different}"


def test_the_cell_installs_on_colab_only_and_without_dependencies():
    assert 'if "google.colab" in sys.modules:' in CELL
    assert '"--no-deps"' in CELL and '"--quiet"' in CELL
    assert '"MFGD_INSTALL_SOURCE"' in CELL


def test_the_install_url_is_this_version():
    urls = re.findall(r'"(git\+https://github\.com/[^"@]+@([^"]+))"', CELL)
    assert len(urls) == 1, urls
    assert urls[0][1] == f"v{VERSION}", f"the cell installs {urls[0][0]}; pyproject says {VERSION}"


def run_cell() -> tuple[str, str]:
    """Execute the cell's source in a fresh namespace; return what it printed."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        exec(compile(CELL, "<first cell>", "exec"), {"__name__": "__main__"})
    return out.getvalue(), err.getvalue()


def test_outside_colab_the_cell_does_nothing(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)

    def no_subprocess(*args, **kwargs):
        raise AssertionError(f"the cell ran a subprocess outside Colab: {args}")

    monkeypatch.setattr(subprocess, "run", no_subprocess)
    assert run_cell() == ("", "")


@pytest.fixture
def on_colab(monkeypatch):
    """google.colab imported, mfgd_helpers not installed; records pip calls."""
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: (
        None if name == "mfgd_helpers" else find_spec(name, *a)))
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda args, **kw: calls.append((args, kw)))
    return calls


def test_on_colab_the_cell_pip_installs_the_source_without_dependencies(on_colab, monkeypatch):
    monkeypatch.setenv("MFGD_INSTALL_SOURCE", "/tmp/wheels/mfgd_helpers-0.2.0-py3-none-any.whl")
    assert run_cell() == ("", "")
    assert on_colab == [([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                          "/tmp/wheels/mfgd_helpers-0.2.0-py3-none-any.whl"], {"check": True})]


def test_on_colab_the_default_source_is_the_tagged_release(on_colab, monkeypatch):
    monkeypatch.delenv("MFGD_INSTALL_SOURCE", raising=False)
    run_cell()
    [(args, _)] = on_colab
    assert args[-1] == f"git+https://github.com/mfgd/mfgd@v{VERSION}"


def test_on_colab_with_the_package_installed_the_cell_does_nothing(on_colab, monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object())
    assert run_cell() == ("", "") and on_colab == []
