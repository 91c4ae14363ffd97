"""The stored figures are compared too (conftest.py): a changed figure fails."""

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from conftest import PNG_FAILURES, PNG_TOLERANCE, png_differences  # noqa: E402


def png(values, size=(4, 3)) -> str:
    fig, ax = plt.subplots(figsize=size, dpi=72)
    ax.plot(values)
    ax.set_yscale("log")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def test_the_same_figure_passes():
    assert png_differences([png([1, 0.1, 0.01])], [png([1, 0.1, 0.01])], "same") == []


def test_a_changed_curve_fails_and_keeps_the_images():
    problems = png_differences([png([1, 0.1, 0.001])], [png([1, 0.1, 0.01])], "changed")
    assert len(problems) == 1 and "image 0 differs" in problems[0]
    rms = float(problems[0].split("RMS ")[1].split()[0])
    assert rms > PNG_TOLERANCE
    kept = PNG_FAILURES / "changed-image0"
    assert {p.name for p in kept.iterdir()} >= {"stored.png", "new.png"}


def test_another_size_fails_with_a_reason():
    problems = png_differences([png([1, 2], size=(4, 3))], [png([1, 2], size=(5, 3))], "size")
    assert len(problems) == 1 and "RMS inf" in problems[0]


def test_a_missing_or_extra_figure_fails():
    assert png_differences([], [png([1, 2])], "missing") == [
        "the cell draws 0 PNG image(s), 1 stored"]


def test_nbval_runs_the_png_comparison():
    from nbval.plugin import IPyNbCell

    assert getattr(IPyNbCell.compare_outputs, "compares_png", False)
