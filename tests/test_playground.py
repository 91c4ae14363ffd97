"""The playground without widgets: settings -> run -> view, and its figure."""

import io
import subprocess
import sys
import warnings
from dataclasses import replace

import numpy as np
import pytest
import torch

import mfgd_helpers as mf
from mfgd_helpers import play
from mfgd_helpers.play.view import _problem

DEFAULT = play.Settings()


def view_of(**changes):
    return play.run(replace(DEFAULT, **changes))


def pixels(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)))


# settings --------------------------------------------------------------------

def test_defaults_are_the_original_notebooks_run():
    s = DEFAULT
    assert (s.lr, s.k, s.n_iterations, s.target, s.n, s.m, s.rank, s.seed) == (
        0.001, 2, 10000, "original", 3, 4, 2, 0)


@pytest.mark.parametrize("changes, error, match", [
    ({"lr": 0.0}, ValueError, r"lr == 0.0, must be a number > 0"),
    ({"lr": float("nan")}, ValueError, r"lr == nan"),
    ({"lr": "fast"}, TypeError, r"lr == 'fast'"),
    ({"k": 0}, ValueError, r"k == 0, must be an integer >= 1"),
    ({"k": 4}, ValueError, r"k == 4, must be an integer >= 1 and <= 3\. More columns than "
                           r"min\(n, m\) == 3"),
    ({"k": 2.0}, TypeError, r"k == 2.0 \(float\)"),
    ({"n_iterations": 0}, ValueError, r"n_iterations == 0, must be an integer >= 1"),
    ({"target": "photo"}, ValueError, r"target == 'photo', must be one of \('original', "),
    ({"target": None}, TypeError, r"target == None \(NoneType\), must be one of"),
    ({"n": 5}, ValueError, r"n == 5, but the original D is 3x4 .* target='random'"),
    ({"rank": 3}, ValueError, r"rank == 3, but the original D"),
    ({"target": "random", "rank": 4}, ValueError,
     r"rank == 4, must be an integer >= 1 and <= 3\. An 3x4 matrix has at most rank"),
    ({"target": "random", "n": 0}, ValueError, r"n == 0, must be an integer >= 1"),
    ({"seed": -1}, ValueError, r"seed == -1, must be an integer >= 0"),
    ({"seed": True}, TypeError, r"seed == True \(bool\), must be an integer"),
    ({"seed": 1.5}, TypeError, r"seed == 1.5 \(float\)"),
    ({"seed": 2**64}, ValueError, r"seed == 18446744073709551616, must be"),
])
def test_bad_settings_are_refused_with_the_fix(changes, error, match):
    with pytest.raises(error, match=match):
        replace(DEFAULT, **changes)


def test_settings_are_normalized_and_frozen():
    s = play.Settings(lr=np.float32(0.5), k=np.int64(1), seed=torch.tensor(3),
                      n_iterations=np.int32(20))
    assert (s.lr, s.k, s.seed, s.n_iterations) == (0.5, 1, 3, 20)
    assert [type(v) for v in (s.lr, s.k, s.seed, s.n_iterations)] == [float, int, int, int]
    with pytest.raises(AttributeError):
        s.lr = 0.5


def test_settings_store_no_derived_fields():
    assert [f for f in play.Settings.__dataclass_fields__] == [
        "lr", "k", "n_iterations", "target", "n", "m", "rank", "seed"]
    assert list(play.View.__dataclass_fields__) == [
        "settings", "D", "result", "optimum", "suggested_lr"]


# the stable learning rate ----------------------------------------------------------

PROBLEMS = [("original", 3, 4, 2, k, seed) for k in (1, 2, 3) for seed in (0, 1)] + [
    ("random", n, m, rank, k, seed)
    for n, m, rank, k in [(1, 1, 1, 1), (2, 3, 1, 2), (6, 5, 3, 2), (10, 10, 3, 3),
                          (30, 30, 5, 5), (50, 4, 2, 4), (20, 20, 4, 20)]
    for seed in (0, 7)]


@pytest.mark.parametrize("problem", PROBLEMS)
def test_stable_lr_is_twice_the_suggestion_and_within_the_bound_at_the_start(problem):
    """2 suggest_lr = 2 / max(curvature, 4 σ₁) <= 2 / curvature = max_stable_lr."""
    p = _problem(*problem)
    target, n, m, rank, k, seed = problem
    view = play.run(play.Settings(target=target, n=n, m=m, rank=rank, k=k, seed=seed,
                                  n_iterations=1))
    assert view.suggested_lr == mf.suggest_lr(p.D, p.C, p.F)
    assert view.stable_lr == 2 * view.suggested_lr
    assert view.stable_lr <= mf.max_stable_lr(p.D, p.C, p.F) * (1 + 1e-12)
    # what the playground used to compute, min(max_stable_lr, 2 suggest_lr), is the same
    assert min(mf.max_stable_lr(p.D, p.C, p.F), 2 * view.suggested_lr) == pytest.approx(
        view.stable_lr, rel=1e-12)


def test_the_curvature_is_computed_once_per_problem(monkeypatch):
    from mfgd_helpers import step_size

    calls = []
    real = step_size.curvature
    monkeypatch.setattr(step_size, "curvature", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    _problem.cache_clear()
    try:
        view_of(n_iterations=10, seed=12)
        view_of(n_iterations=20, lr=0.01, seed=12)  # the same problem: cached
    finally:
        _problem.cache_clear()
    assert len(calls) == 1


# views -------------------------------------------------------------------------

def test_default_view_matches_the_original_notebook():
    view = play.run(DEFAULT)
    # the last loss the original loop printed, from the printed D, C and F
    assert view.result.losses[-1] == pytest.approx(0.0014, abs=1e-4)
    assert view.optimum == pytest.approx(mf.best_rank_k_loss(view.D, 2))
    D, C, F = mf.example_problem()
    assert torch.equal(view.D, D)
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
    (0.2, "optimum"),     # below the bound: reaches the floor
    (0.3, "bouncing"),    # just past the bound at the solution: zig-zag
    (0.6, "diverged"),    # far past it: inf within a few steps
])
def test_verdict_follows_the_learning_rate(lr, verdict):
    view = view_of(lr=lr)
    assert view.verdict == verdict
    assert view.diverged == (verdict == "diverged")


def test_a_plateau_is_still_falling_early_and_at_the_floor_later():
    plateau = dict(target="random", n=6, m=8, rank=3, k=2, lr=0.02)
    assert view_of(**plateau, n_iterations=300).verdict == "falling"
    assert view_of(**plateau, n_iterations=5000).verdict == "optimum"


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


def test_the_divergence_warning_is_filtered_by_category_not_by_message(monkeypatch):
    """A DivergenceWarning with any text is silenced; other warnings are not."""
    from mfgd_helpers.play import view as view_module

    def train(*args, **kwargs):
        warnings.warn("a message nobody matches on", mf.DivergenceWarning)
        warnings.warn("something else", UserWarning)
        return real(*args, **kwargs)

    real = view_module.train
    monkeypatch.setattr(view_module, "train", train)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        view_of(n_iterations=10)
    assert [w.category for w in caught] == [UserWarning]


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
    a = play.Settings(target="random", n=6, m=5, rank=3, k=2, seed=4, lr=0.01,
                      n_iterations=50)
    v1, v2 = play.run(a), play.run(a)
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
    play.run(replace(DEFAULT, n_iterations=1000),
             progress=lambda done, total: calls.append((done, total)))
    done = [d for d, _ in calls]
    assert {t for _, t in calls} == {1000}
    assert done == sorted(done) and done[0] == 1 and done[-1] == 1000
    assert 50 <= len(calls) <= 110


@pytest.mark.parametrize("args, error, match", [
    (("fast",), TypeError, "settings must be a Settings; got str"),
    ((DEFAULT, 3), TypeError, "progress == 3 is not callable"),
])
def test_run_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        play.run(*args)


def test_status_is_deterministic_without_timing():
    a, b = view_of(lr=0.05), view_of(lr=0.05)
    assert a.status(timing=False) == b.status(timing=False)
    assert " s · " in a.status() and " s · " not in a.status(timing=False)
    assert repr(a).startswith("View(lr 0.05, k 2, 10000 iterations; original D")


def test_one_thread_while_working_then_restored():
    seen = []
    before = torch.get_num_threads()
    play.run(replace(DEFAULT, n_iterations=200),
             progress=lambda done, total: seen.append(torch.get_num_threads()))
    assert set(seen) == {1}
    assert torch.get_num_threads() == before


def test_a_run_at_the_optimum_is_shown_as_a_bound_not_as_rounding_noise():
    view = view_of(lr=0.2)
    status = view.status(timing=False)
    tolerance = view.diagnosis.tolerance
    assert view.verdict == "optimum"
    assert f"at the floor (gap below {tolerance:.2g}, float32 rounding)" in status
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


# the figure ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def picture():
    return play.Figure()


def test_png_has_a_fixed_size_whatever_the_shape(picture):
    sizes = set()
    for settings in [DEFAULT, replace(DEFAULT, target="random", n=40, m=7, rank=3, k=3),
                     replace(DEFAULT, target="random", n=1, m=1, rank=1, k=1)]:
        data = picture.png(play.run(replace(settings, n_iterations=20)))
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        sizes.add(pixels(data).shape[:2])
    assert sizes == {picture.pixels[::-1]} == {(600, 960)}


def test_redraw_reuses_the_artists(picture):
    picture.png(view_of(n_iterations=50))
    curve, images, axes = picture.curve, list(picture.images), list(picture.figure.axes)
    first = picture.png(view_of(lr=0.01, n_iterations=50))
    second = picture.png(view_of(lr=0.1, n_iterations=50))
    assert picture.curve is curve and picture.images == images
    assert picture.figure.axes == axes
    assert first != second
    assert list(picture.curve.get_ydata()) == view_of(lr=0.1, n_iterations=50).result.losses


@pytest.mark.parametrize("before", [
    dict(lr=0.3, n_iterations=50),                       # same D, other curve
    dict(lr=1.0),                                        # diverged: other axes
    dict(target="random", n=5, m=4, rank=2, k=2, n_iterations=30),  # other D
])
def test_a_blitted_frame_equals_a_full_redraw(before):
    """The saved background plus the redrawn parts give the full picture."""
    blitted, full = play.Figure(), play.Figure(blit=False)
    blitted.png(view_of(**before))
    view = view_of(lr=0.05, n_iterations=80)
    a, b = pixels(blitted.png(view)), pixels(full.png(view))
    assert a.shape == b.shape
    assert (a != b).any(axis=-1).mean() < 1e-3  # at most a few anti-aliased pixels


def test_a_new_D_on_the_same_colour_scale_redraws_the_background():
    """D is in the saved background: another D of the same shape and scale must show."""
    view = view_of(n_iterations=20)
    flipped = replace(view, D=view.D.flip(0))  # same shape, same largest |value|
    picture = play.Figure()
    picture.png(view)
    shown = pixels(picture.png(flipped))
    assert (shown != pixels(play.Figure(blit=False).png(flipped))).any(axis=-1).mean() < 1e-3
    assert (shown != pixels(play.Figure(blit=False).png(view))).any(axis=-1).mean() > 1e-3


def test_the_figure_draws_with_the_helpers_of_plots(picture):
    """The same look as plot_loss and plot_matrices: one definition of each."""
    from mfgd_helpers import plots

    picture.draw(view_of(n_iterations=50))
    ax = picture.loss_ax
    assert ax.get_yscale() == "log"
    assert ax.yaxis.get_major_formatter().func is plots._power_of_ten
    assert picture.floor.get_linestyle() == "--" and picture.floor.get_color() == "black"
    assert picture.stop.get_color() == plots.DIVERGED_STYLE["color"]
    assert picture.images[0].get_cmap().name.startswith(plots.COLOURMAP)
    low, high = picture.images[0].get_clim()
    assert low == -high  # centred on 0


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
    assert picture.labels[2][0].get_text().startswith(("+", "-"))  # the difference: signed
    picture.draw(play.run(play.Settings(target="random", n=20, m=20, rank=2,
                                        n_iterations=10)))
    assert picture.labels == []


def test_zero_optimum_is_explained_in_the_legend(picture):
    picture.draw(play.run(play.Settings(target="random", n=2, m=2, rank=1, k=2,
                                        n_iterations=10)))
    labels = [t.get_text() for t in picture.loss_ax.get_legend().get_texts()]
    assert labels[1] == "best rank-2 loss = 0 (not on a log scale)"
    assert not picture.floor.get_visible()


@pytest.mark.parametrize("kwargs, error, match", [
    ({"width": 0}, ValueError, r"width == 0.0, must be a number > 0 and <= 1000"),
    ({"dpi": 5000}, ValueError, r"dpi == 5000.0, must be"),
    ({"dpi": "high"}, TypeError, r"dpi == 'high' \(str\)"),
    ({"blit": 1}, TypeError, r"blit == 1 \(int\), must be True or False"),
])
def test_figure_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        play.Figure(**kwargs)


def test_draw_needs_a_view(picture):
    with pytest.raises(TypeError, match="view must be a View; got Settings"):
        picture.draw(DEFAULT)


def test_import_leaves_matplotlib_and_ipywidgets_alone():
    code = ("import sys, mfgd_helpers.play;"
            "print([m for m in ('matplotlib', 'ipywidgets', 'IPython') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr


def test_the_package_exports_the_function_and_the_room():
    assert mf.playground is play.playground
    assert "playground" in mf.__all__
    for gone in ("PlaygroundFigure", "PlaygroundSettings", "PlaygroundView", "playground_view"):
        assert not hasattr(mf, gone)
