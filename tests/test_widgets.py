"""The playground widget, driven from Python without a browser.

Setting ``controls[name].value`` runs the same observers as moving a slider
in the page, so these tests exercise the real wiring.
"""

import math
import random
import re
import time
import warnings

import pytest

import mfgd_helpers as mf
from mfgd_helpers import play
from mfgd_helpers.play import controls as ranges
from mfgd_helpers.play import widget
from mfgd_helpers.play.widget import Playground

SLIDERS = ("lr", "k", "n_iterations", "n", "m", "rank", "seed")


@pytest.fixture(autouse=True)
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a leaked divergence warning fails the test
        yield


def without_times(text: str) -> str:
    return re.sub(r"\d+\.\d+ s", "T s", text)


def shown(app) -> dict:
    """What the controls show."""
    return {name: control.value for name, control in app.controls.items()}


@pytest.fixture
def app():
    return Playground(play.Settings(n_iterations=200))


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
    hover = "tooltip" if c["lr"].has_trait("tooltip") else "description_tooltip"  # 8 or 7
    assert getattr(c["lr"], hover).startswith("Step size")


def test_the_css_classes_the_browser_tests_look_for(app):
    assert "mfgd-playground" in app.widget._dom_classes
    assert "mfgd-lr" in app.controls["lr"]._dom_classes
    assert "mfgd-lr-info" in app.lr_info._dom_classes
    assert "mfgd-status" in app.status._dom_classes
    assert "mfgd-plot" in app.image._dom_classes


def test_defaults_of_the_playground_function():
    app = mf.playground()
    assert isinstance(app, Playground)
    assert app.settings() == play.Settings() == app.view.settings
    assert "STILL FALLING" in app.status.value and "0.001383" in app.status.value
    assert repr(app) == ("Playground(lr 0.001, k 2, 10000 iterations; original D "
                         "(3x4, rank 2): falling)")


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
    assert app.notes == ()  # switching to the original D resets its shape silently


def test_one_update_per_change(app, monkeypatch):
    calls = []
    real = widget.run
    monkeypatch.setattr(widget, "run",
                        lambda s, progress=None: calls.append(s) or real(s, progress))
    app.controls["target"].value = "random"  # also moves n, m and rank
    app.controls["m"].value = 1                # also lowers k and rank
    app.controls["rank"].value = 3             # above its max: the slider keeps 1
    assert len(calls) == 2
    assert app.view.settings.rank == 1 and app.controls["rank"].value == 1


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
    monkeypatch.setattr(widget, "PROGRESS_AFTER", 0.0)
    monkeypatch.setattr(widget, "PROGRESS_EVERY", 0.0)
    app = Playground(play.Settings(n_iterations=2000))
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


def test_unexpected_errors_are_shown_and_raised_and_the_next_change_recovers(app, monkeypatch):
    real = widget.run

    def broken(settings, progress=None):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(widget, "run", broken)
    with pytest.raises(RuntimeError, match="out of memory"):
        app.controls["lr"].value = 0.01
    assert "RuntimeError: out of memory" in app.status.value
    assert "for lr 0.01, k 2" in app.status.value  # the settings that failed
    monkeypatch.setattr(widget, "run", real)
    app.controls["lr"].value = 0.02
    assert "Error" not in app.status.value and app.view.settings.lr == 0.02


# values the mode cannot use ------------------------------------------------------------

def test_rank_of_the_original_D_is_fixed_and_the_status_says_so(app):
    app.controls["rank"].value = 1
    assert app.controls["rank"].value == 2 and app.view.settings.rank == 2
    assert app.notes == ("rank is fixed at 2 for the original D; choose random D to "
                         "change it",)
    assert "Note: rank is fixed at 2 for the original D" in app.status.value
    app.controls["lr"].value = 0.01  # the next change clears the note
    assert app.notes == () and "Note:" not in app.status.value


def test_n_and_m_of_the_original_D_are_fixed_too(app):
    app.controls["n"].value = 7
    assert app.view.settings.n == 3 == app.controls["n"].value
    assert app.notes == ("n is fixed at 3 for the original D; choose random D to change it",)


def test_a_nan_learning_rate_keeps_the_last_one(app):
    app.controls["lr"].value = 0.01
    app.controls["lr"].value = float("nan")
    assert app.view.settings.lr == 0.01 == app.controls["lr"].value
    assert app.notes == ("lr = nan ignored (not a finite number); kept 0.01",)
    assert "Error" not in app.status.value


def test_a_target_the_buttons_allow_but_cannot_run_is_ignored(app):
    app.controls["target"].value = None  # ToggleButtons accept None
    assert app.view.settings.target == "original" == app.controls["target"].value
    assert app.notes == ("target = None ignored (not one of ('original', 'random')); "
                         "kept 'original'",)


def test_fit_clamps_and_keeps(app):
    values = dict(lr=0.0, k=9, n_iterations=5, target="random", n=60, m=4, rank=0, seed=-3)
    settings, notes = play.fit(values, play.Settings(lr=0.02))
    assert settings == play.Settings(lr=1e-5, k=4, n_iterations=10, target="random", n=50,
                                     m=4, rank=1, seed=0)
    assert notes == (
        "lr = 0 is outside [1e-05, 1] (the slider's range); used 1e-05",
        "n_iterations = 5 is outside [10, 20000]; used 10",
        "seed = -3 is outside [0, 99]; used 0",
        "n = 60 is outside [1, 50]; used 50",
        "rank = 0 is outside [1, 4] (at most min(n, m)); used 1",
        "k = 9 is outside [1, 4] (at most min(n, m)); used 4",
    )


def test_fit_leaves_usable_values_alone():
    values = dict(lr=0.3, k=2, n_iterations=100, target="random", n=5, m=6, rank=3, seed=7)
    assert play.fit(values) == (play.Settings(**values), ())


WALK_ITERATIONS = 400  # the walk's top of the iterations slider: keeps it quick
EXTREMES = {
    "lr": [1e-5, 1.0, 0.0, -1.0, 5.0, float("nan"), float("inf"), -float("inf"), 10 ** -2.5],
    "k": [1, 3, 50, 0, -4, 10**6],
    "n_iterations": [10, WALK_ITERATIONS, 0, 5, 10**6],
    "n": [1, 50, 0, 99],
    "m": [1, 50, 0, 99],
    "rank": [1, 50, 0, 99],
    "seed": [0, 99, -1, 500],
    "target": ["original", "random", None],
}


def test_a_random_walk_over_extreme_values_never_raises_nor_goes_stale():
    """Every control, to its ends and beyond, in both modes, in random order."""
    rng = random.Random(20240611)
    app = Playground(play.Settings(n_iterations=10))
    c = app.controls
    c["n_iterations"].max = WALK_ITERATIONS  # 20000 is timed in the next test
    seen_targets, seen_notes, runs = set(), 0, 0
    for step in range(300):
        name = rng.choice(sorted(EXTREMES))
        value = rng.choice(EXTREMES[name])
        before = app.view
        c[name].value = value  # may be clamped by the slider itself, or a no-op
        view = app.view
        runs += view is not before
        seen_targets.add(view.settings.target)
        seen_notes += bool(app.notes)
        where = f"step {step}: {name} = {value!r}"
        assert "Error" not in app.status.value, where
        assert shown(app) == {name: getattr(view.settings, name) for name in shown(app)}, where
        assert app.settings() == view.settings, where
        assert view.verdict in play.VERDICTS, where
        assert "nan" not in app.status.value.lower().replace("lr = nan", ""), where
        # the picture is of this view
        assert list(app.figure.curve.get_ydata()) == view.result.losses, where
        assert (app.figure.images[0].get_array() == view.D.numpy()).all(), where
        if step % 50 == 0:
            assert app.image.value == app.figure.png(view), where
        k_max = min(view.settings.n, view.settings.m)
        assert c["k"].max == c["rank"].max == k_max, where
        assert all(c[n].disabled == (view.settings.target == "original")
                   for n in ("n", "m", "rank")), where
        if value != value:
            assert not math.isnan(view.settings.lr)
    assert seen_targets == {"original", "random"}
    assert seen_notes > 20 and runs > 150


def test_largest_setting_finishes_and_reports_time():
    app = Playground(play.Settings(target="random", n=50, m=50, rank=50, k=50, lr=1e-5,
                                   n_iterations=10))
    start = time.perf_counter()
    app.controls["n_iterations"].value = 20000
    took = time.perf_counter() - start
    assert app.view.result.n_iterations == 20000 and not app.view.diverged
    assert took == pytest.approx(app.seconds, rel=0.2)
    assert "20000 iterations in" in app.progress_text.value


# settings passed in by code ---------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, match", [
    ({"lr": 5.0}, ValueError, r"lr == 5.0, must be a number >= 1e-05 and <= 1.0. "
                              r"The slider's range"),
    ({"n_iterations": 5}, ValueError, r"n_iterations == 5, must be an integer >= 10"),
    ({"target": "random", "n": 60}, ValueError, r"n == 60, must be an integer >= 1 and <= 50"),
    ({"seed": 500}, ValueError, r"seed == 500, must be an integer >= 0 and <= 99"),
    ({"speed": 3}, TypeError, r"unknown setting\(s\) \['speed'\]"),
    ({"k": 9}, ValueError, r"k == 9, must be an integer >= 1 and <= 3"),
    ({"seed": 1.5}, TypeError, r"seed == 1.5 \(float\)"),
])
def test_playground_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        mf.playground(**kwargs)


def test_playground_settings_argument():
    with pytest.raises(TypeError, match="settings must be a Settings or None"):
        mf.playground({"lr": 0.1})
    with pytest.raises(TypeError, match="settings must be a Settings or None"):
        Playground("fast")
    app = mf.playground(play.Settings(lr=0.05), n_iterations=100)
    assert app.view.settings == play.Settings(lr=0.05, n_iterations=100)


def test_the_slider_ranges_are_the_ones_fit_uses(app):
    c = app.controls
    assert (10 ** c["lr"].min, 10 ** c["lr"].max) == ranges.LR_RANGE
    assert (c["n_iterations"].min, c["n_iterations"].max) == ranges.ITERATIONS_RANGE
    assert (c["n"].min, c["n"].max) == (c["m"].min, c["m"].max) == ranges.SIZE_RANGE
    assert (c["seed"].min, c["seed"].max) == ranges.SEED_RANGE


# display ---------------------------------------------------------------------------

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


@pytest.fixture
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    made = not InteractiveShell.initialized()
    instance = InteractiveShell.instance()
    try:
        yield instance
    finally:
        if made:
            InteractiveShell.clear_instance()


def test_display_shows_the_widget(app, shell):
    from IPython.display import display
    from IPython.utils.capture import capture_output

    with capture_output() as captured:
        display(app)
    [output] = captured.outputs
    assert output.data[WIDGET_MIME]["model_id"] == app.widget.model_id


def test_the_last_line_of_a_cell_shows_the_widget(shell):
    from IPython.utils.capture import capture_output

    with capture_output() as captured:
        shell.run_cell("import mfgd_helpers as mf\nmf.playground(n_iterations=10)",
                       store_history=False)
    [output] = captured.outputs
    assert WIDGET_MIME in output.data


def test_ipython_display_does_not_need_repr_mimebundle(app, shell, monkeypatch):
    """ipywidgets 7 widgets have no _repr_mimebundle_; _ipython_display_ is enough."""
    from IPython.display import display
    from IPython.utils.capture import capture_output

    shown_widgets = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown_widgets.append(obj))
    app._ipython_display_()
    assert shown_widgets == [app.widget]
    monkeypatch.undo()
    monkeypatch.delattr(type(app), "_repr_mimebundle_")
    with capture_output() as captured:
        display(app)
    assert WIDGET_MIME in captured.outputs[0].data
