"""Run every notebook as on Google Colab, in the venv made by scripts/colab_env.sh.

    bash scripts/colab_env.sh /tmp/mfgd-colab
    /tmp/mfgd-colab/bin/python scripts/run_notebooks_colab.py [NOTEBOOK ...]

Each notebook (all of notebooks/ by default) is read into memory and runs top
to bottom in a fresh "mfgd-colab" kernel of that venv, started in an empty
folder (Colab's /content has no repository either). Its first cell finds no
mfgd_helpers and pip-installs it with --no-deps from the wheel colab_env.sh
built (MFGD_INSTALL_SOURCE), exactly as on Colab it installs from GitHub.
Before each notebook the package is uninstalled again: every Colab notebook
starts in a new runtime. Nothing is written back into notebooks/.

A notebook passes when
  - the kernel has google.colab imported (the stand-in) and no mfgd_helpers
    before the first cell, and mfgd_helpers from the venv after it;
  - no cell raised, except cells tagged raises-exception (nbclient allows
    those; the tags come from the ``# raises-exception:`` comment lines as in
    execute_notebooks.py);
  - no cell wrote to stderr, the install cell included: pip --quiet prints
    nothing when all is well, and anything it does print is red text a
    learner on Colab would see;
  - the installed distributions after the last cell are those before the
    first plus mfgd-helpers alone, so --no-deps held and ipywidgets is still
    Colab's 7.7.1.
Exit status 1 when a notebook fails; the messages name the notebook, the cell
(its index in the notebook's list of cells) and the error.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from execute_notebooks import prepare  # same raises-exception tags as make notebooks

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(sys.prefix)
KERNEL = "mfgd-colab"
PACKAGE = "mfgd-helpers"
COLAB_IPYWIDGETS = "7.7.1"

# Runs in the kernel between the notebook's cells (not counted in its history).
PROBE = """\
def _mfgd_probe():
    import importlib.metadata, importlib.util, json, sys
    colab = sys.modules.get("google.colab")
    spec = importlib.util.find_spec("mfgd_helpers")
    print(json.dumps({
        "colab": getattr(colab, "STANDIN", False),
        "executable": sys.executable,
        "mfgd_helpers": spec and spec.origin,
        "dists": {d.metadata["Name"].lower().replace("_", "-"): d.version
                  for d in importlib.metadata.distributions()},
    }))
_mfgd_probe()
del _mfgd_probe
"""


class Failed(Exception):
    """A notebook failed a check; the message says where and why."""


def probe(client: NotebookClient) -> dict:
    """Run PROBE in the kernel; nbclient stores a cell at its index, so lend it one."""
    cell = nbformat.v4.new_code_cell(PROBE)
    client.nb.cells.append(cell)
    try:
        client.execute_cell(cell, len(client.nb.cells) - 1, store_history=False)
    finally:
        client.nb.cells.pop()
    text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    return json.loads(text)


def uninstall_package() -> None:
    """A new Colab runtime has no mfgd_helpers: remove the previous notebook's install."""
    subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", "-q", PACKAGE],
                   capture_output=True, check=False)


def error_of(cell) -> str:
    for out in cell.get("outputs", []):
        if out.output_type == "error":
            return f"{out.ename}: {out.evalue}"
    return "no error output"


def run(path: Path, wheel: Path, timeout: int, keep: Path | None) -> tuple[float, float, int]:
    """Execute one notebook; return (seconds, install seconds, code cells). Raises Failed."""
    nb = nbformat.read(path, as_version=4)
    prepare(nb)
    code = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    if not code or "google.colab" not in nb.cells[code[0]].source:
        raise Failed(f"cell {code[0] if code else '?'}: the first code cell is not the "
                     "Colab install cell")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["MFGD_INSTALL_SOURCE"] = str(wheel)
    uninstall_package()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mfgd-colab-content-") as content:
        client = NotebookClient(nb, kernel_name=KERNEL, timeout=timeout,
                                resources={"metadata": {"path": content}})
        with client.setup_kernel(env=env):
            before = probe(client)
            if not before["colab"]:
                raise Failed("google.colab (the stand-in) is not imported in the kernel")
            if before["mfgd_helpers"]:
                raise Failed(f"mfgd_helpers importable before the first cell: "
                             f"{before['mfgd_helpers']}")
            if Path(before["executable"]).parent != VENV / "bin":
                raise Failed(f"the kernel runs {before['executable']}, not this venv")
            for index in code:
                cell = nb.cells[index]
                cell_start = time.perf_counter()
                try:
                    client.execute_cell(cell, index)
                except CellExecutionError:
                    raise Failed(f"cell {index} raised {error_of(cell)}") from None
                except (CellTimeoutError, DeadKernelError) as exc:
                    raise Failed(f"cell {index}: {type(exc).__name__}: {exc}") from None
                if index == code[0]:
                    install = time.perf_counter() - cell_start
                    origin = probe(client)["mfgd_helpers"]
                    if not origin or not Path(origin).is_relative_to(VENV):
                        raise Failed(f"cell {index}: mfgd_helpers not installed into the "
                                     f"venv (found: {origin})")
            after = probe(client)
    seconds = time.perf_counter() - start
    if keep:
        nbformat.write(nb, keep / path.name)
    for index in code:
        for out in nb.cells[index].get("outputs", []):
            if out.output_type == "stream" and out.name == "stderr":
                lines = out.text.strip().splitlines() or [""]
                raise Failed(f"cell {index} wrote to stderr: {lines[-1]}")
    added = {name: v for name, v in after["dists"].items() if before["dists"].get(name) != v}
    removed = sorted(set(before["dists"]) - set(after["dists"]))
    if list(added) != [PACKAGE] or removed:
        raise Failed(f"the install changed more than {PACKAGE}: added or changed {added}, "
                     f"removed {removed}")
    if after["dists"].get("ipywidgets") != COLAB_IPYWIDGETS:
        raise Failed(f"ipywidgets is {after['dists'].get('ipywidgets')}, not Colab's "
                     f"{COLAB_IPYWIDGETS}")
    return seconds, install, len(code)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        default=sorted((ROOT / "notebooks").glob("*.ipynb")))
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="write the executed copies into DIR (not notebooks/)")
    args = parser.parse_args(argv)
    if not (VENV / ".mfgd-colab-env").exists():
        parser.error(f"run this with the python of a venv made by scripts/colab_env.sh, "
                     f"not {sys.executable}")
    wheels = sorted((VENV / "mfgd-wheel").glob("mfgd_helpers-*.whl"))
    if len(wheels) != 1:
        parser.error(f"expected one wheel in {VENV / 'mfgd-wheel'}, found {len(wheels)}; "
                     "run scripts/colab_env.sh again")
    if args.keep:
        if args.keep.resolve() == (ROOT / "notebooks").resolve():
            parser.error("--keep must not be notebooks/: the executed copies stay apart")
        args.keep.mkdir(parents=True, exist_ok=True)
    print(f"Colab-like run: kernel {KERNEL} of {VENV}, installing {wheels[0].name}")
    failures = []
    for path in args.notebooks:
        try:
            seconds, install, cells = run(path, wheels[0], args.timeout, args.keep)
        except Failed as exc:
            failures.append(f"{path.name}: {exc}")
            print(f"FAIL  {path.name:34} {exc}", flush=True)
            continue
        print(f"ok    {path.name:34} {cells:3d} code cells  {seconds:6.1f} s "
              f"(install cell {install:.1f} s)", flush=True)
    uninstall_package()
    if failures:
        print(f"\n{len(failures)} of {len(args.notebooks)} notebooks failed under the "
              "Colab-like environment:", file=sys.stderr)
        print("\n".join(failures), file=sys.stderr)
        return 1
    print(f"all {len(args.notebooks)} notebooks ran as on Colab")
    return 0


if __name__ == "__main__":
    sys.exit(main())
