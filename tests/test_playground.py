"""The playground's logic (settings -> view) and its figure, without widgets."""

import io
import warnings
from dataclasses import replace

import pytest
import torch

import mfgd_helpers as mf
from mfgd_helpers.playground_logic import PlaygroundFigure, _problem

DEFAULT = mf.PlaygroundSettings()


def view_of(**changes):
    return mf.playground_view(replace(DEFAULT, **changes))


def png_size(data: bytes):
    from PIL import Image

    return Image.open(io.BytesIO(data)).size


# settings --------------------------------------------------------------------

def test_defaults_are_the_original_notebooks_run():
    s = DEFAULT
    assert (s.lr, s.k, s.n_iterations, s.target, s.n, s.m, s.rank) == (
        0.001, 2, 10000, "original", 3, 4, 2)


@pytest.mark.parametrize("changes, error, match", [
    ({"lr": 0.0}, ValueError, r"lr == 0.0, must be a number > 0"),
    ({"lr": float("nan")}, ValueError, r"lr == nan"),
    ({"lr": "fast"}, TypeError, r"lr == 'fast'"),
    ({"k": 0}, ValueError, r"k == 0, must be an integer >= 1"),
    ({"k": 4}, ValueError, r"k == 4, must be between 1 and min\(n, m\) == 3"),
    ({"k": 2.0}, TypeError, r"k == 2.0 \(float\)"),
    ({"n_iterations": 0}, ValueError, r"n_iterations == 0, must be an integer >= 1"),
    ({"target": "photo"}, ValueError, r"target == 'photo', must be one of"),
    ({"n": 5}, ValueError, r"n == 5, but the original D is 3x4 .* target='random'"),
    ({"rank": 3}, ValueError, r"rank == 3, but the original D"),
    ({"target": "random", "rank": 4}, ValueError, r"rank == 4, must be between 1 and min"),
    ({"target": "random", "n": 0}, ValueError, r"n == 0, must be an integer >= 1"),
    ({"seed": -1}, ValueError, r"seed == -1, must be an integer >= 0"),
    ({"seed": True}, TypeError, r"seed == True \(bool\), must be an integer"),
    ({"seed": 1.5}, TypeError, r"seed == 1.5 \(float\)"),
])
def test_bad_settings_are_refused_with_the_fix(changes, error, match):
    with pytest.raises(error, match=match):
        replace(DEFAULT, **changes)


def test_settings_are_normalized_and_frozen():
    s = mf.PlaygroundSettings(lr=1, k=True + 1)
    assert isinstance(s.lr, float) and s.lr == 1.0
    with pytest.raises(AttributeError):
        s.lr = 0.5


# views -------------------------------------------------------------------------

def test_default_view_matches_the_original_notebook():
    view = mf.playground_view(DEFAULT)
    # the last loss the original loop printed, from the printed D, C and F
    assert view.result.losses[-1] == pytest.approx(0.0014, abs=1e-4)
    assert view.optimum == pytest.approx(mf.best_rank_k_loss(view.D, 2))
    D, C, F = mf.example_problem()
    assert torch.equal(view.D, D)
    assert view.stable_lr == pytest.approx(
        min(mf.max_stable_lr(D, C, F), 2 * mf.suggest_lr(D, C, F)))
    assert view.suggested_lr == pytest.approx(mf.suggest_lr(D, C, F))
    assert view.verdict == "falling"
    assert "raise lr" in view.advice and "0.1326 is safe" in view.advice


def test_view_equals_a_direct_call_to_train():
    view = view_of(lr=0.02, n_iterations=300, k=1)
    D, C, F = mf.example_problem()
    direct = mf.train(D, C[:, :1], F[:1], lr=0.02, n_iterations=300, method="analytic")
    assert view.result.losses == direct.losses
    assert view.final_loss == direct.final_loss


@pytest.mark.parametrize("lr, verdict", [
    (0.001, "falling"),   # the original lr: far below the bound, still falling
    (0.2, "optimum"),        # below the bound: reaches the floor
    (0.3, "bouncing"),    # just past the bound at the solution: zig-zag
    (0.6, "diverged"),       # far past it: inf within a few steps
])
def test_verdict_follows_the_learning_rate(lr, verdict):
    view = view_of(lr=lr)
    assert view.verdict == verdict
    assert view.diverged == (verdict == "diverged")


def test_divergence_is_reported_not_warned():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning would fail the test
        view = view_of(lr=1.0)
    assert view.diverged and view.result.diverged_at == 5
    status = view.status(timing=False)
    assert status.startswith("DIVERGED at iteration 5 of 10000")
    assert "nan" not in status.lower()
    assert "iteration 5" in view.advice and "stable bound 0.2652" in view.advice
    assert view.gap != view.gap  # NaN: no gap to speak of


def test_k_below_the_true_rank_stops_at_a_positive_floor():
    view = view_of(lr=0.1, k=1)
    assert view.optimum == pytest.approx(mf.best_rank_k_loss(view.D, 1))
    assert view.optimum > 1e-3
    assert view.verdict == "optimum"
    assert view.final_loss >= view.optimum - 1e-6
    assert "k = 1 is below the true rank 2" in view.advice


def test_k_three_keeps_the_original_columns():
    problem = _problem("original", 3, 4, 2, 3, 0)
    D, C, F = mf.example_problem()
    assert torch.equal(problem.C[:, :2], C.detach()) and torch.equal(problem.F[:2], F.detach())
    other = _problem("original", 3, 4, 2, 3, 1)
    assert not torch.equal(problem.C[:, 2], other.C[:, 2])  # the seed draws column 3


def test_random_target_is_reproducible_and_nested_in_k():
    a = mf.PlaygroundSettings(target="random", n=6, m=5, rank=3, k=2, seed=4,
                              lr=0.01, n_iterations=50)
    v1, v2 = mf.playground_view(a), mf.playground_view(a)
    assert v1.result.losses == v2.result.losses
    assert torch.linalg.matrix_rank(v1.D).item() == 3
    p2, p4 = _problem("random", 6, 5, 3, 2, 4), _problem("random", 6, 5, 3, 4, 4)
    assert torch.equal(p2.D, p4.D) and torch.equal(p2.C, p4.C[:, :2])
    assert not torch.equal(p2.D, _problem("random", 6, 5, 3, 2, 5).D)


def test_views_do_not_share_the_cached_target():
    view = view_of(n_iterations=10)
    view.D.zero_()
    assert view_of(n_iterations=10).D.abs().sum() > 0


def test_progress_is_reported_up_to_the_total():
    calls = []
    mf.playground_view(replace(DEFAULT, n_iterations=1000),
                       progress=lambda done, total: calls.append((done, total)))
    done = [d for d, _ in calls]
    assert {t for _, t in calls} == {1000}
    assert done == sorted(done) and done[0] == 1 and done[-1] == 1000
    assert 50 <= len(calls) <= 110


@pytest.mark.parametrize("args, error, match", [
    (("fast",), TypeError, "settings must be a PlaygroundSettings"),
    ((DEFAULT, 3), TypeError, "progress == 3 is not callable"),
])
def test_playground_view_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        mf.playground_view(*args)


def test_status_is_deterministic_without_timing():
    a, b = view_of(lr=0.05), view_of(lr=0.05)
    assert a.status(timing=False) == b.status(timing=False)
    assert " s · " in a.status() and " s · " not in a.status(timing=False)
    assert "PlaygroundView(lr 0.05, k 2" in repr(a)


# the figure ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def picture():
    return PlaygroundFigure()


def test_png_has_a_fixed_size_whatever_the_shape(picture):
    sizes = set()
    for settings in [DEFAULT, replace(DEFAULT, target="random", n=40, m=7, rank=3, k=3),
                     replace(DEFAULT, target="random", n=1, m=1, rank=1, k=1)]:
        data = picture.png(mf.playground_view(replace(settings, n_iterations=20)))
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        sizes.add(png_size(data))
    assert sizes == {picture.pixels} == {(960, 600)}


def test_redraw_reuses_the_artists(picture):
    picture.png(view_of(n_iterations=50))
    curve, images, axes = picture.curve, list(picture.images), list(picture.figure.axes)
    first = picture.png(view_of(lr=0.01, n_iterations=50))
    second = picture.png(view_of(lr=0.1, n_iterations=50))
    assert picture.curve is curve and picture.images == images
    assert picture.figure.axes == axes
    assert first != second
    assert list(picture.curve.get_ydata()) == view_of(lr=0.1, n_iterations=50).result.losses


def test_blitted_frame_equals_a_full_redraw():
    """The saved background plus the redrawn parts give the full picture."""
    import numpy as np

    fast, full = PlaygroundFigure(), PlaygroundFigure()
    fast.png(view_of(lr=0.3, n_iterations=50))
    view = view_of(lr=0.05, n_iterations=80)
    a = np.asarray(__import__("PIL.Image").Image.open(io.BytesIO(fast.png(view))))
    b = np.asarray(__import__("PIL.Image").Image.open(io.BytesIO(full.png(view))))
    assert a.shape == b.shape
    assert (a != b).any(axis=-1).mean() < 1e-3  # at most a few anti-aliased pixels


def test_diverged_view_shows_why_not_nan(picture):
    view = view_of(lr=1.0)
    picture.draw(view)
    assert picture.stop.get_visible() and picture.stop_text.get_visible()
    assert "diverged at iteration 5" in picture.stop_text.get_text()
    assert "stable bound" in picture.stop_text.get_text()
    assert all(note.get_visible() for note in picture.notes[1:])
    assert picture.loss_ax.get_xlim()[1] < 20  # zoomed on the few iterations it ran
    picture.draw(view_of(lr=0.1, n_iterations=50))
    assert not picture.stop.get_visible() and not any(n.get_visible() for n in picture.notes)
    assert picture.loss_ax.get_xscale() == "log"


def test_values_are_written_only_on_small_matrices(picture):
    picture.draw(view_of(n_iterations=10))
    assert len(picture.labels) == 3 and len(picture.labels[0]) == 12
    assert picture.labels[0][0].get_text() == "0.05"  # D[0, 0] == 0.0456
    picture.draw(mf.playground_view(mf.PlaygroundSettings(
        target="random", n=20, m=20, rank=2, n_iterations=10)))
    assert picture.labels == []


def test_zero_optimum_is_explained_in_the_legend(picture):
    picture.draw(mf.playground_view(mf.PlaygroundSettings(
        target="random", n=2, m=2, rank=1, k=2, n_iterations=10)))
    labels = [t.get_text() for t in picture.loss_ax.get_legend().get_texts()]
    assert labels[1] == "best possible with k = 2: 0 (off the log scale)"
    assert not picture.floor.get_visible()


@pytest.mark.parametrize("kwargs, match", [
    ({"width": 0}, "width == 0, must be a number in"),
    ({"dpi": "high"}, "dpi == 'high'"),
])
def test_figure_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PlaygroundFigure(**kwargs)


def test_draw_needs_a_view(picture):
    with pytest.raises(TypeError, match="view must be a PlaygroundView"):
        picture.draw(DEFAULT)


def test_import_leaves_matplotlib_alone():
    import subprocess
    import sys

    code = ("import sys, mfgd_helpers.playground_logic, mfgd_helpers.widgets;"
            "print([m for m in ('matplotlib', 'ipywidgets') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr


def test_one_thread_while_working_then_restored():
    seen = []
    before = torch.get_num_threads()
    mf.playground_view(replace(DEFAULT, n_iterations=200),
                       progress=lambda done, total: seen.append(torch.get_num_threads()))
    assert set(seen) == {1}
    assert torch.get_num_threads() == before


def test_a_run_at_the_optimum_is_shown_as_a_bound_not_as_rounding_noise():
    view = view_of(lr=0.2)
    status = view.status(timing=False)
    assert view.verdict == "optimum"
    assert f"at the floor (gap below {view.tolerance:.2g}, float32 rounding)" in status
    # the final loss's own digits (7.47x e-10 in float32) are not printed
    assert f"{view.final_loss:.4g}" not in status and " gap " not in status.replace("gap below", "")


def test_a_bouncing_run_is_shown_by_its_peak_not_by_where_it_stopped():
    view = view_of(lr=10 ** -0.4)
    window = view.result.losses[-1000:]
    assert view.verdict == "bouncing"
    assert view.final_loss_text == (
        f"never settles (swings up to {max(window):.2g} in the last 1000 iterations)")
    assert f"{view.final_loss:.4g}" not in view.status(timing=False)


def test_a_falling_run_shows_its_loss_and_gap():
    view = view_of()
    assert view.final_loss_text == f"{view.final_loss:.4g}"
    assert f"gap {view.gap:.2g}" in view.status(timing=False)
