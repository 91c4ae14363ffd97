"""make notebooks (scripts/execute_notebooks.py): safe to kill, quiet in git."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "execute_notebooks.py"
sys.path.insert(0, str(SCRIPT.parent))
import execute_notebooks  # noqa: E402


def notebook(folder: Path, name: str, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    path = folder / name
    nbformat.write(nb, path)
    return path


def run(*paths, **kwargs):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, paths)],
                          capture_output=True, text=True, timeout=120, **kwargs)


def test_a_broken_file_is_named_and_the_others_still_run(tmp_path):
    broken = tmp_path / "a_broken.ipynb"
    broken.write_text('{"cells": [')  # truncated JSON
    good = notebook(tmp_path, "b_good.ipynb", "print(6 * 7)")
    result = run(broken, good)
    assert result.returncode == 1
    assert f"FAILED {broken}: not a valid notebook" in result.stderr
    assert "Traceback" not in result.stderr
    assert f"ok {good}" in result.stdout
    assert nbformat.read(good, as_version=4).cells[0].outputs[0].text == "42\n"
    assert broken.read_text() == '{"cells": ['


def test_a_failing_cell_is_reported_once_with_its_index(tmp_path):
    path = notebook(tmp_path, "fails.ipynb", "x = 1", "1 / 0")
    before = path.read_bytes()
    result = run(path)
    assert result.returncode == 1
    assert result.stderr.count("cell 1 failed") == 1, result.stderr
    assert "ZeroDivisionError" in result.stderr
    assert path.read_bytes() == before


def test_killed_while_running_it_leaves_nothing_behind(tmp_path):
    path = notebook(tmp_path, "slow.ipynb", "import time; time.sleep(60)")
    before = path.read_bytes()
    proc = subprocess.Popen([sys.executable, str(SCRIPT), str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(4)  # the kernel is up and sleeping
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    assert proc.returncode != 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slow.ipynb"]
    assert path.read_bytes() == before


def test_the_new_notebook_replaces_the_old_at_once(tmp_path, monkeypatch):
    path = notebook(tmp_path, "n.ipynb", "1")
    nb = nbformat.read(path, as_version=4)
    calls = []
    real_replace = execute_notebooks.os.replace
    monkeypatch.setattr(execute_notebooks.os, "replace",
                        lambda src, dst: calls.append((src, dst)) or real_replace(src, dst))
    execute_notebooks.write_atomically(nb, path)
    ((src, dst),) = calls
    assert Path(dst) == path and Path(src).parent != tmp_path  # written outside the folder
    assert not Path(src).exists()


def test_rerunning_gives_the_same_bytes(tmp_path):
    path = notebook(tmp_path, "chunks.ipynb",
                    "import sys, time\nfor i in range(5):\n    print(i, flush=True)\n"
                    "    time.sleep(0.05)\nprint('end')")
    assert run(path).returncode == 0
    first = path.read_bytes()
    assert run(path).returncode == 0
    assert path.read_bytes() == first
    outputs = json.loads(first)["cells"][0]["outputs"]
    assert len(outputs) == 1 and "".join(outputs[0]["text"]) == "0\n1\n2\n3\n4\nend\n"


@pytest.mark.parametrize("outputs, merged", [
    ([("stdout", "a"), ("stdout", "b")], [("stdout", "ab")]),
    ([("stdout", "a"), ("stderr", "b"), ("stdout", "c")],
     [("stdout", "a"), ("stderr", "b"), ("stdout", "c")]),
    ([], []),
])
def test_merge_streams(outputs, merged):
    outs = [nbformat.v4.new_output("stream", name=name, text=text) for name, text in outputs]
    result = execute_notebooks.merge_streams(outs)
    assert [(o.name, o.text) for o in result] == merged
