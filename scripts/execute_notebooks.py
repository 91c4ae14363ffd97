"""Re-execute notebooks in a fresh kernel and store their outputs.

    python scripts/execute_notebooks.py notebooks/*.ipynb

Each notebook runs top to bottom in a fresh kernel of this Python (the one
running the script, so the pinned environment) started in the notebook's
folder. Its outputs are written back with normalized metadata only
when every cell succeeded and no output is on stderr; otherwise the file on
disk is left untouched and the command exits 1 naming the notebook and the
cell. The write goes to a temporary file that replaces the notebook at once,
so a notebook is never half-written.

A cell that raises on purpose starts with a comment line
``# raises-exception: <why>``; it gets the ``raises-exception`` tag, which
both nbclient and nbval honour. Prefer ``try``/``except`` that prints the
message, which keeps the stored output short.

Widget views are replaced by a one-line hint (their model ids change every
run and a saved view without its kernel shows "model not found").
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import ipykernel.kernelspec
import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_HINT = "Run this cell in Jupyter to show the interactive widget."
RAISES = "# raises-exception:"  # a comment line that starts a deliberate-error cell
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def _marked(cell, prefix: str) -> bool:
    return any(line.strip().startswith(prefix) for line in cell.source.splitlines())


def prepare(nb) -> None:
    """Normalize before running: ids, tags matching the nbval markers."""
    for cell in nb.cells:
        tags = [t for t in cell.metadata.get("tags", []) if t != "raises-exception"]
        if cell.cell_type == "code" and _marked(cell, RAISES):
            tags.append("raises-exception")
        if tags:
            cell.metadata["tags"] = tags
        else:
            cell.metadata.pop("tags", None)
        for key in ("execution", "collapsed", "scrolled", "jupyter"):
            cell.metadata.pop(key, None)


def check_outputs(nb, path: Path) -> list[str]:
    """Problems that must not be stored: stderr, unexpected errors."""
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        allowed_error = "raises-exception" in cell.metadata.get("tags", [])
        for out in cell.get("outputs", []):
            if out.output_type == "stream" and out.name == "stderr":
                text = out.text.strip().splitlines()
                problems.append(f"{path}: cell {index} wrote to stderr: "
                                f"{text[-1] if text else ''}")
            if out.output_type == "error" and not allowed_error:
                problems.append(f"{path}: cell {index} raised {out.ename}: {out.evalue}")
    return problems


def finish(nb) -> None:
    """Normalize after running: widget views, metadata."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            data = out.get("data")
            if data and WIDGET_MIME in data:
                out["data"] = {"text/plain": WIDGET_HINT}
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}


class ThisPythonKernels(KernelSpecManager):
    """Resolve "python3" to this interpreter, whatever kernelspecs are installed."""

    def get_kernel_spec(self, kernel_name):
        if kernel_name == "python3":
            return self.kernel_spec_class(resource_dir=ipykernel.kernelspec.RESOURCES,
                                          **ipykernel.kernelspec.get_kernel_dict())
        return super().get_kernel_spec(kernel_name)


def _shutdown(km: KernelManager) -> None:
    """Stop the kernel: nbclient leaves a kernel manager it was given running."""
    if km.has_kernel:
        km.shutdown_kernel(now=True)


def execute(path: Path, timeout: int) -> float:
    """Run one notebook and store it; return seconds. Raises SystemExit on failure."""
    nb = nbformat.read(path, as_version=4)
    prepare(nb)
    km = KernelManager(kernel_name="python3", kernel_spec_manager=ThisPythonKernels())
    client = NotebookClient(
        nb, km=km, timeout=timeout, kernel_name="python3",
        resources={"metadata": {"path": str(path.parent.resolve())}},
        record_timing=False,
    )
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as exc:
        _shutdown(km)
        failing = next((i for i, c in enumerate(nb.cells)
                        if c.cell_type == "code"
                        and any(o.output_type == "error" for o in c.get("outputs", []))),
                       "?")
        first = str(exc).strip().splitlines()
        raise SystemExit(f"{path}: cell {failing} failed; the notebook was left unchanged.\n"
                         + "\n".join(first[-6:]))
    seconds = time.perf_counter() - start
    _shutdown(km)
    problems = check_outputs(nb, path)
    if problems:
        raise SystemExit("\n".join(problems) + f"\n{path} was left unchanged.")
    finish(nb)
    nbformat.validate(nb)
    fd, tmp = tempfile.mkstemp(suffix=".ipynb", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            nbformat.write(nb, handle)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args(argv)
    failed = []
    for path in args.notebooks:
        if not path.exists():
            failed.append(f"{path}: no such notebook")
            continue
        try:
            seconds = execute(path, args.timeout)
        except SystemExit as exc:
            failed.append(str(exc))
            print(f"FAILED {path}", file=sys.stderr)
            continue
        print(f"ok {path} ({seconds:.1f} s)")
    if failed:
        print("\n\n".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
