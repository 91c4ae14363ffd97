"""The playground widget, driven from Python without a browser.

Setting ``controls[name].value`` runs the same observers as moving a slider
in the page, so these tests exercise the real wiring.
"""

import itertools
import re
import time
import warnings

import pytest

import mfgd_helpers as mf
from mfgd_helpers import widgets
from mfgd_helpers.playground_logic import VERDICTS
from mfgd_helpers.widgets import Playground

SLIDERS = ("lr", "k", "n_iterations", "n", "m", "rank", "seed")


@pytest.fixture(autouse=True)
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a leaked divergence warning fails the test
        yield


def without_times(text: str) -> str:
    return re.sub(r"\d+\.\d+ s", "T s", text)


@pytest.fixture
def app():
    return Playground(mf.PlaygroundSettings(n_iterations=200))


def test_controls_are_what_the_lesson_needs(app):
    c = app.controls
    assert type(c["lr"]).__name__ == "FloatLogSlider"
    assert (c["lr"].base, c["lr"].min, c["lr"].max) == (10, -5, 0)
    assert (c["n_iterations"].min, c["n_iterations"].max) == (10, 20000)
    assert (c["k"].min, c["k"].max) == (1, 3)
    assert all(c[name].continuous_update is False for name in SLIDERS)
    assert c["target"].value == "original"
    assert all(c[name].disabled for name in ("n", "m", "rank"))
    assert type(app.image).__name__ == "Image" and app.image.format == "png"
    assert app.image.value == app.figure.png(app.view)


def test_defaults_of_the_playground_function():
    box = mf.playground()
    assert type(box).__name__ == "VBox" and "mfgd-playground" in box._dom_classes
    app = Playground()
    assert app.settings() == mf.PlaygroundSettings()
    assert "STILL FALLING" in app.status.value and "0.001383" in app.status.value


@pytest.mark.parametrize("name, value", [
    ("lr", 0.01), ("k", 1), ("n_iterations", 500), ("target", "random"),
])
def test_each_control_changes_the_status(app, name, value):
    before = without_times(app.status.value)
    app.controls[name].value = value
    assert getattr(app.view.settings, name) == value
    assert without_times(app.status.value) != before


@pytest.mark.parametrize("name, value", [("n", 6), ("m", 7), ("rank", 1), ("seed", 5)])
def test_each_target_slider_changes_the_status(app, name, value):
    app.controls["target"].value = "random"
    before, picture = without_times(app.status.value), app.image.value
    app.controls[name].value = value
    assert getattr(app.view.settings, name) == value
    assert without_times(app.status.value) != before
    assert app.image.value != picture


def test_shape_changes_keep_k_and_rank_valid(app):
    c = app.controls
    c["target"].value = "random"
    c["n"].value, c["m"].value = 8, 9
    c["k"].value, c["rank"].value = 8, 8
    c["n"].value = 2
    assert c["k"].max == c["rank"].max == 2
    assert app.view.settings.k == 2 and app.view.settings.rank == 2
    c["target"].value = "original"
    assert (app.view.settings.n, app.view.settings.m, app.view.settings.rank) == (3, 4, 2)
    assert c["k"].max == 3 and c["n"].disabled


def test_one_update_per_change(app, monkeypatch):
    calls = []
    real = widgets.playground_view
    monkeypatch.setattr(widgets, "playground_view",
                        lambda s, progress=None: calls.append(s) or real(s, progress))
    app.controls["target"].value = "random"  # also moves n, m and rank
    app.controls["m"].value = 1                # also lowers k and rank
    assert len(calls) == 2


def test_stable_lr_is_shown_next_to_the_slider(app):
    assert "stable below <b>0.265</b>" in app.lr_info.value
    assert "suggested <b>0.133</b>" in app.lr_info.value
    assert "above the stable bound" not in app.lr_info.value
    app.controls["lr"].value = 0.5
    assert "above the stable bound" in app.lr_info.value


def test_suggested_lr_button(app):
    app.suggest.click()
    assert app.controls["lr"].value == pytest.approx(app.view.suggested_lr)
    assert app.view.settings.lr == pytest.approx(0.1326, abs=1e-4)


def test_divergence_says_where_and_why(app):
    app.controls["n_iterations"].value = 10000
    app.controls["lr"].value = 0.63
    status = app.status.value
    assert "DIVERGED</b> at iteration" in status
    assert "above" in app.lr_info.value
    assert "stable bound 0.2652" in status and "nan" not in status.lower()
    assert app.progress.bar_style == "danger"
    assert app.progress_text.value.startswith("stopped at iteration")
    app.controls["lr"].value = 0.1
    assert "DIVERGED" not in app.status.value and app.progress.bar_style == "success"


def test_long_runs_move_the_progress_bar(monkeypatch):
    monkeypatch.setattr(widgets, "PROGRESS_AFTER", 0.0)
    monkeypatch.setattr(widgets, "PROGRESS_EVERY", 0.0)
    app = Playground(mf.PlaygroundSettings(n_iterations=2000))
    seen = []
    app.progress.observe(lambda change: seen.append(change["new"]), names="value")
    app.controls["n_iterations"].value = 4000
    inside = [v for v in seen if 0 < v < 1]
    assert len(inside) >= 50 and inside == sorted(inside)
    assert seen[-1] == 1.0


def test_quick_runs_leave_the_progress_bar_alone(app):
    seen = []
    app.progress.observe(lambda change: seen.append(change["new"]), names="value")
    app.controls["lr"].value = 0.01   # 200 iterations: far below PROGRESS_AFTER
    assert seen == []  # stays full: no flicker from 1 to 0 and back


def test_errors_are_shown_and_raised(app, monkeypatch):
    def broken(settings, progress=None):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(widgets, "playground_view", broken)
    with pytest.raises(RuntimeError, match="out of memory"):
        app.controls["lr"].value = 0.01
    assert "RuntimeError: out of memory" in app.status.value


EXTREMES = {
    "lr": (1e-5, 1.0),
    "n_iterations": (10, 20000),
    "n": (1, widgets.SIZE_MAX),
    "m": (1, widgets.SIZE_MAX),
    "seed": (0, widgets.SEED_MAX),
}


SHAPES = list(itertools.product(EXTREMES["n"], EXTREMES["m"]))
INNER = [(True, True), (False, False), (True, False), (False, True)]  # (low k, low rank)
# every shape meets every (k, rank) pair, and each of them meets both lr extremes
CORNERS = [(EXTREMES["lr"][(i + j) % 2], n, m, low_k, low_rank)
           for i, (n, m) in enumerate(SHAPES) for j, (low_k, low_rank) in enumerate(INNER)]


@pytest.fixture(scope="module")
def shared():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return Playground(mf.PlaygroundSettings(n_iterations=10))


@pytest.mark.parametrize("lr, n, m, low_k, low_rank", CORNERS)
def test_slider_extremes_never_raise(shared, lr, n, m, low_k, low_rank):
    c = shared.controls
    c["target"].value = "random"
    c["lr"].value = lr
    c["n"].value, c["m"].value = n, m
    c["rank"].value = 1 if low_rank else c["rank"].max
    c["k"].value = 1 if low_k else c["k"].max
    c["seed"].value = EXTREMES["seed"][low_k]
    view = shared.view
    assert view.settings == shared.settings()
    assert (view.settings.n, view.settings.m, view.settings.lr) == (n, m, lr)
    assert view.settings.k == (1 if low_k else min(n, m))
    assert view.verdict in VERDICTS
    assert "Error" not in shared.status.value and "nan" not in shared.status.value.lower()
    assert shared.image.value[:4] == b"\x89PNG"


@pytest.mark.parametrize("target", ["original", "random"])
def test_every_slider_to_each_end_in_turn(target):
    app = Playground(mf.PlaygroundSettings(n_iterations=10))
    c = app.controls
    c["target"].value = target
    for name in ("n_iterations", "lr", "k", "seed", "n", "m", "rank"):
        if c[name].disabled:
            continue
        for end in ("min", "max"):
            value = getattr(c[name], end)
            if name == "lr":
                value = 10.0 ** value
            if name == "n_iterations":
                value = 10 if end == "min" else 2000  # the top end is timed below
            c[name].value = value
            assert "Error" not in app.status.value
    assert app.view.settings == app.settings()


def test_largest_setting_finishes_and_reports_time():
    app = Playground(mf.PlaygroundSettings(target="random", n=50, m=50, rank=50, k=50,
                                           lr=1e-5, n_iterations=10))
    start = time.perf_counter()
    app.controls["n_iterations"].value = 20000
    took = time.perf_counter() - start
    assert app.view.result.n_iterations == 20000 and not app.view.diverged
    assert took == pytest.approx(app.seconds, rel=0.2)
    assert "20000 iterations in" in app.progress_text.value


@pytest.mark.parametrize("kwargs, error, match", [
    ({"lr": 5.0}, ValueError, r"lr == 5 is outside the slider's range \[1e-05, 1\]"),
    ({"n_iterations": 5}, ValueError, r"n_iterations == 5 is outside the slider's range"),
    ({"target": "random", "n": 60}, ValueError, r"n == 60, the slider goes up to 50"),
    ({"seed": 500}, ValueError, r"seed == 500, the slider goes up to 99"),
    ({"speed": 3}, TypeError, r"unknown setting\(s\) \['speed'\]"),
    ({"k": 9}, ValueError, r"k == 9, must be between 1 and min\(n, m\) == 3"),
])
def test_playground_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        mf.playground(**kwargs)


def test_playground_settings_argument():
    with pytest.raises(TypeError, match="settings must be a PlaygroundSettings or None"):
        mf.playground({"lr": 0.1})
    with pytest.raises(TypeError, match="settings must be a PlaygroundSettings or None"):
        Playground("fast")
    box = mf.playground(mf.PlaygroundSettings(lr=0.05), n_iterations=100)
    assert type(box).__name__ == "VBox"


def test_the_controller_displays_as_its_widget(app):
    bundle = app._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == app.widget.model_id
