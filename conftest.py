"""pytest set-up for the whole repository.

Notebooks under notebooks/ are always checked with strict nbval (every stored
output compared, except cells marked NBVAL_IGNORE_OUTPUT with a reason), using
tests/nbval_sanitize.cfg, in a kernel of the interpreter running pytest,
wherever pytest is started from.

nbval compares text, HTML and SVG but skips PNG images. Here every PNG a
checked cell draws is compared too, in the same run, against the stored one
with matplotlib's own image comparison (``compare_images``, as pytest-mpl
does): a figure whose RMS difference exceeds ``PNG_TOLERANCE`` (on the 0-255
scale) fails the cell, and the three images (stored, new, difference) are kept
under ``PNG_FAILURES``.

Tests marked ``environment`` build or need another environment (the Binder
image, a Colab-like kernel, a lowest-versions venv); `make test` leaves them
out, `.ci/run` runs them through their own make targets
(``pytest -m environment ...``).
"""

import base64
import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
PNG_TOLERANCE = 2.0
PNG_FAILURES = Path(tempfile.gettempdir()) / "mfgd-png-failures"


def pytest_configure(config):
    option = config.option
    if not getattr(option, "nbval_lax", False):
        option.nbval = True
    if not getattr(option, "nbval_kernel_name", None):
        option.nbval_current_env = True  # the kernel runs this interpreter
    if getattr(option, "nbval_sanitize_with", None) is None:
        option.nbval_sanitize_with = str(ROOT / "tests" / "nbval_sanitize.cfg")
    config.addinivalue_line(
        "markers", "environment: builds or needs another environment; "
        "not part of `make test` (run with -m environment)")
    _compare_png_outputs_too()


def pytest_collection_modifyitems(config, items):
    """Leave environment jobs out unless the marker expression asks for them."""
    if "environment" in (config.option.markexpr or ""):
        return
    kept = [item for item in items if item.get_closest_marker("environment") is None]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


def _pngs(outputs) -> list:
    return [out["data"]["image/png"] for out in outputs
            if "image/png" in out.get("data", {})]


def png_differences(new: list, stored: list, where: str) -> list:
    """What differs between two lists of base64 PNGs, as readable lines."""
    if len(new) != len(stored):
        return [f"the cell draws {len(new)} PNG image(s), {len(stored)} stored"]
    from matplotlib.testing.compare import compare_images
    from matplotlib.testing.exceptions import ImageComparisonFailure

    problems = []
    for index, (new_png, stored_png) in enumerate(zip(new, stored)):
        if new_png == stored_png:
            continue
        with tempfile.TemporaryDirectory() as folder:
            expected, actual = Path(folder, "stored.png"), Path(folder, "new.png")
            expected.write_bytes(base64.b64decode(stored_png))
            actual.write_bytes(base64.b64decode(new_png))
            try:
                failure = compare_images(str(expected), str(actual), PNG_TOLERANCE,
                                         in_decorator=True)
            except ImageComparisonFailure as err:  # different sizes
                failure = {"rms": float("inf"), "why": str(err).strip()}
            if failure is None:
                continue
            keep = PNG_FAILURES / f"{where}-image{index}"
            keep.mkdir(parents=True, exist_ok=True)
            for path in Path(folder).iterdir():
                os.replace(path, keep / path.name)
            problems.append(
                f"image {index} differs from the stored one: RMS {failure['rms']:.2f} > "
                f"{PNG_TOLERANCE} {failure.get('why', '')}(stored, new and difference in "
                f"{keep}); if the new figure is right, run `make notebooks`")
    return problems


def _compare_png_outputs_too() -> None:
    try:
        from nbval.plugin import IPyNbCell
    except ImportError:
        return
    if getattr(IPyNbCell.compare_outputs, "compares_png", False):
        return
    text_only = IPyNbCell.compare_outputs

    def compare_outputs(self, test, ref, skip_compare=None):
        same_text = text_only(self, test, ref, skip_compare)
        where = f"{Path(str(self.fspath)).stem}-cell{self.cell_num}"
        problems = png_differences(_pngs(test), _pngs(ref), where)
        self.comparison_traceback.extend(problems)
        return same_text and not problems

    compare_outputs.compares_png = True
    IPyNbCell.compare_outputs = compare_outputs
