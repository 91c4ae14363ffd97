"""Re-execute notebooks in a fresh kernel and store their outputs.

    python scripts/execute_notebooks.py notebooks/*.ipynb

Each notebook runs top to bottom in a fresh kernel of this Python (the one
running the script, so the pinned environment) started in the notebook's
folder. Its outputs are written back with normalized metadata only
when every cell succeeded and no output is on stderr; otherwise the file on
disk is left untouched and the command exits 1 naming the notebook and the
cell, once, by its index. A file that is not a valid notebook is named and
skipped, and the others still run. The new notebook is written to a temporary
file outside notebooks/ that then replaces it at once, so a notebook is never
half-written and a killed run leaves no file behind in notebooks/.

Consecutive stream outputs are merged, so re-running on unchanged code writes
byte-identical notebooks (apart from cells that show timings, which nbval
ignores).

A cell that raises on purpose starts with a comment line
``# raises-exception: <why>``; it gets the ``raises-exception`` tag, which
both nbclient and nbval honour. Prefer ``try``/``except`` that prints the
message, which keeps the stored output short.

The cells of an exercise's solution, tagged ``solution`` (code) or
``solution-text`` (its explanation), are stored collapsed
(``jupyter.source_hidden``), so that a student opens them on purpose.

Every cell gets its slide type (``slide_type``): the notebooks are also
slides, shown by jupyterlab-rise at ``/rise/<notebook>``.

Widget views are replaced by a one-line hint (their model ids change every
run and a saved view without its kernel shows "model not found").
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import ipykernel.kernelspec
import nbformat
import psutil
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_HINT = "Run this cell in Jupyter to show the interactive widget."
HIDDEN_TAGS = {"solution", "solution-text"}  # cells shown collapsed (scripts/assignments.py)
RISE = {"scroll": True}  # a slide taller than the screen scrolls
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
        if HIDDEN_TAGS.intersection(tags):  # an exercise's solution: collapsed, opened on purpose
            cell.metadata["jupyter"] = {"source_hidden": True}
        cell.metadata["slideshow"] = {"slide_type": slide_type(cell, first=cell is nb.cells[0])}
    nb.metadata["rise"] = dict(RISE)


def slide_type(cell, first: bool = False) -> str:
    """The cell's part in the slides (jupyterlab-rise reads ``slideshow.slide_type``).

    The title and every section (``## ``) start a slide, a subsection
    (``### ``) a subslide; each code cell is a fragment, revealed with its
    output on the next key press; exercises show their prompt, never the
    solution or the test.
    """
    tags = set(cell.metadata.get("tags", []))
    text = cell.source.lstrip()
    if tags & (HIDDEN_TAGS | {"test"}):
        return "skip"
    if cell.cell_type == "markdown":
        if first or text.startswith("## "):
            return "slide"
        return "subslide" if text.startswith("### ") else "-"
    return "fragment"


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


def merge_streams(outputs: list) -> list:
    """One output per run of stdout (or stderr) text, however the kernel chunked it."""
    merged = []
    for out in outputs:
        previous = merged[-1] if merged else None
        if (out.output_type == "stream" and previous is not None
                and previous.output_type == "stream" and previous.name == out.name):
            previous.text += out.text
        else:
            merged.append(out)
    return merged


def finish(nb) -> None:
    """Normalize after running: stream chunks, widget views, metadata."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.outputs = merge_streams(cell.get("outputs", []))
        for out in cell.outputs:
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


class NotebookFailed(Exception):
    """A notebook that could not be run or stored; the message says why."""


def read(path: Path):
    try:
        return nbformat.read(path, as_version=4)
    except (OSError, ValueError, nbformat.ValidationError) as exc:  # NotJSONError is a ValueError
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise NotebookFailed(f"{path}: not a valid notebook ({reason}); fix or restore it "
                             f"(git checkout -- {path})") from None


def write_atomically(nb, path: Path) -> None:
    """Write to a temporary file outside path's folder, then replace path at once."""
    fd, tmp = tempfile.mkstemp(prefix="mfgd-", suffix=".ipynb.partial")
    _RUNNING["tmp"] = tmp
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            nbformat.write(nb, handle)
        try:
            os.replace(tmp, path)
        except OSError:  # another file system: copy beside it, then replace
            beside = path.with_name(f".{path.name}.partial")
            shutil.copyfile(tmp, beside)
            os.replace(beside, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def execute(path: Path, timeout: int) -> float:
    """Run one notebook and store it; return seconds. Raises NotebookFailed."""
    nb = read(path)
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
        failing = next((i for i, c in enumerate(nb.cells)
                        if c.cell_type == "code"
                        and any(o.output_type == "error" for o in c.get("outputs", []))),
                       "?")
        lines = [line for line in str(exc).strip().splitlines() if line.strip()]
        raise NotebookFailed(f"{path}: cell {failing} failed, the notebook was left unchanged: "
                             + (lines[-1] if lines else "no message")) from None
    finally:
        _shutdown(km)
    seconds = time.perf_counter() - start
    problems = check_outputs(nb, path)
    if problems:
        raise NotebookFailed("\n".join(problems) + f"\n{path} was left unchanged.")
    finish(nb)
    nbformat.validate(nb)
    write_atomically(nb, path)
    return seconds


_RUNNING = {}  # what a kill must clean up: "tmp", a half-written file


def _exit_on_sigterm(signum, frame):
    """Stop the kernels and drop a half-written file, then exit at once.

    nbclient's event loop would swallow an exception raised here, and nothing
    in notebooks/ needs undoing: a notebook is only ever replaced whole.
    """
    for child in psutil.Process().children(recursive=True):  # the kernel, even one starting
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    tmp = _RUNNING.get("tmp")
    if tmp and os.path.exists(tmp):
        os.unlink(tmp)
    os._exit(128 + signum)


def execute_interruptibly(path: Path, timeout: int) -> float:
    """``execute`` in a worker thread, so that this (main) thread keeps running
    Python code and a SIGTERM handler runs at once instead of waiting for the
    kernel's reply."""
    outcome = {}

    def work():
        try:
            outcome["seconds"] = execute(path, timeout)
        except BaseException as exc:  # re-raised below, in the main thread
            outcome["error"] = exc

    worker = threading.Thread(target=work, name=f"execute {path.name}", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.2)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["seconds"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    failed = []
    for path in args.notebooks:
        if not path.exists():
            failed.append(f"{path}: no such notebook")
            continue
        try:
            seconds = execute_interruptibly(path, args.timeout)
        except NotebookFailed as exc:
            failed.append(str(exc))
            continue
        print(f"ok {path} ({seconds:.1f} s)")
    if failed:
        print("FAILED " + "\nFAILED ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
