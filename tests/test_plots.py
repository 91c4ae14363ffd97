import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import mfgd_helpers as mf  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_plot_loss_with_optimum_line():
    D, C, F = mf.example_problem()
    result = mf.train(D, C, F, lr=0.05, n_iterations=100, method="analytic")
    fig = mf.plot_loss(result, optimum=0.01, label="lr 0.05")
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["lr 0.05", "best rank-k loss 0.01"]
    assert len(ax.get_lines()[0].get_xdata()) == 100


def test_plot_loss_zero_optimum_is_explained_not_drawn():
    fig = mf.plot_loss([1.0, 0.1], optimum=0.0)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "best rank-k loss = 0 (not on a log scale)" in labels


def test_plot_loss_marks_divergence():
    D, C, F = mf.example_problem()
    with pytest.warns(RuntimeWarning):
        result = mf.train(D, C, F, lr=10.0, n_iterations=100, method="analytic")
    fig = mf.plot_loss({"too large": result})
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert f"diverged at iteration {result.diverged_at}" in labels


def test_plot_loss_bad_input():
    with pytest.raises(TypeError, match="result must be a TrainResult or a sequence"):
        mf.plot_loss(3)


def test_plot_matrices_panels_and_annotations():
    D = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    fig = mf.plot_matrices(D, D * 0.5)
    axes = fig.axes[:3]
    assert [ax.get_title() for ax in axes] == ["D", "D_hat = C @ F", "D - D_hat"]
    assert [t.get_text() for t in axes[2].texts] == ["+0.500", "+0.000", "+0.000", "+0.500"]
    limits = {ax.images[0].get_clim() for ax in axes}
    assert limits == {(-1.0, 1.0)}  # one shared scale


def test_plot_matrices_own_scale_and_no_annotation_for_large():
    D = mf.make_target(20, 20, 2, seed=0)
    fig = mf.plot_matrices(D, D + 0.01, shared_scale=False)
    assert fig.axes[2].images[0].get_clim() == pytest.approx((-0.01, 0.01), rel=1e-3)
    assert not fig.axes[0].texts


def test_plot_matrices_shape_mismatch():
    with pytest.raises(ValueError, match=r"D has shape \(2, 2\) but D_hat has shape \(2, 3\)"):
        mf.plot_matrices(torch.ones(2, 2), torch.ones(2, 3))


@pytest.mark.filterwarnings("ignore:overflow encountered in power:RuntimeWarning")  # matplotlib's
def test_a_loss_near_the_float64_limit_still_draws():
    # a float64 run that blew up to 2.9e293 puts a tick beyond the float range
    fig = mf.plot_loss([1.0, 1e150, 2.9e293])
    fig.canvas.draw()
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert "10¹⁵⁰" in labels or any(label.startswith("10") for label in labels)


# bad input -------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, match", [
    ({"ax": 3}, TypeError, r"ax == 3 \(int\), must be a matplotlib Axes"),
    ({"ax": "left"}, TypeError, r"ax == 'left' \(str\), must be a matplotlib Axes"),
    ({"optimum": float("nan")}, ValueError, r"optimum == nan, must be a finite number >= 0"),
    ({"optimum": float("inf")}, ValueError, r"optimum == inf, must be a finite number"),
    ({"optimum": -0.1}, ValueError, r"optimum == -0.1, must be a number >= 0"),
    ({"optimum": "0.1"}, TypeError, r"optimum == '0.1' \(str\)"),
    ({"optimum": True}, TypeError, r"optimum == True \(bool\)"),
    ({"label": 3}, TypeError, r"label == 3 \(int\), must be a string or None"),
    ({"title": ["a"]}, TypeError, r"title == \['a'\] \(list\), must be a string or None"),
])
def test_plot_loss_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        mf.plot_loss([1.0, 0.5], **kwargs)


@pytest.mark.parametrize("result", [3, "1.0, 0.5", {"run": "x"}, [[1.0, 2.0], [3.0]]])
def test_plot_loss_refuses_what_holds_no_losses(result):
    with pytest.raises(TypeError, match="result must be a TrainResult or a sequence"):
        mf.plot_loss(result)


def test_plot_loss_takes_tensors_arrays_and_numpy_optimum():
    import numpy as np

    fig = mf.plot_loss(torch.tensor([1.0, 0.5]), optimum=np.float64(0.25))
    ax = fig.axes[0]
    assert list(ax.get_lines()[0].get_ydata()) == [1.0, 0.5]
    assert ax.get_lines()[1].get_ydata()[0] == 0.25
    assert len(mf.plot_loss(np.array([1.0, 0.1])).axes[0].get_lines()[0].get_xdata()) == 2


def test_plot_loss_tiny_optimum_is_named_not_called_zero():
    fig = mf.plot_loss([1.0, 0.1], optimum=1e-14)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[-1] == "best rank-k loss 1e-14 (below 10⁻¹², not drawn)"
    assert fig.axes[0].get_ylim()[0] > 1e-13  # the axis is not stretched down to it


def test_plot_loss_into_given_axes():
    fig, ax = plt.subplots()
    assert mf.plot_loss([1.0, 0.5], ax=ax, title=None) is fig
    assert ax.get_title() == "" and ax.get_yscale() == "log"


@pytest.mark.parametrize("kwargs, error, match", [
    ({"fig": 3}, TypeError, r"fig == 3 \(int\), must be a matplotlib Figure"),
    ({"annotate": 1}, TypeError, r"annotate == 1 \(int\), must be True or False"),
    ({"shared_scale": "yes"}, TypeError, r"shared_scale == 'yes' \(str\), must be True or False"),
    ({"titles": ("D", "D_hat")}, ValueError, r"titles has 2 entries, must have 3"),
    ({"titles": ("a", "b", "c", "d")}, ValueError, r"titles has 4 entries, must have 3"),
    ({"titles": "abc"}, TypeError, r"titles == 'abc' \(str\), must be three strings"),
    ({"titles": ("a", 2, "c")}, TypeError, r"titles\[1\] == 2 \(int\), must be a string"),
])
def test_plot_matrices_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        mf.plot_matrices(torch.eye(2), torch.eye(2), **kwargs)


def test_plot_matrices_numpy_bools_and_a_given_figure():
    import numpy as np

    fig = plt.figure()
    out = mf.plot_matrices(torch.eye(2), torch.eye(2), annotate=np.bool_(False),
                           shared_scale=np.bool_(True), fig=fig, titles=["a", "b", "c"])
    assert out is fig
    assert [ax.get_title() for ax in fig.axes[:3]] == ["a", "b", "c"]
    assert not any(ax.texts for ax in fig.axes)


def test_plot_matrices_annotate_true_writes_even_large_matrices():
    D = mf.make_target(9, 9, 2, seed=0)
    fig = mf.plot_matrices(D, D, annotate=True)
    assert len(fig.axes[0].texts) == 81


# one look, defined once -------------------------------------------------------------

def test_the_loss_and_the_playground_share_the_look():
    from mfgd_helpers import play, plots

    D, C, F = mf.example_problem()
    with pytest.warns(mf.DivergenceWarning):
        result = mf.train(D, C, F, lr=10.0, n_iterations=100, method="analytic")
    ax = mf.plot_loss(result, optimum=0.01).axes[0]
    picture = play.Figure()
    picture.draw(play.run(play.Settings(lr=1.0)))
    for line_a, line_b in [(ax.get_lines()[1], picture.stop), (ax.get_lines()[2], picture.floor)]:
        assert (line_a.get_color(), line_a.get_linestyle(), line_a.get_linewidth()) == (
            line_b.get_color(), line_b.get_linestyle(), line_b.get_linewidth())
    for axes in (ax, picture.loss_ax):
        assert axes.get_yscale() == "log"
        assert axes.yaxis.get_major_formatter().func is plots._power_of_ten
        assert len(axes.yaxis.get_minor_locator().tick_values(1e-3, 1e3)) == 0  # no minor ticks


def test_the_matrices_and_the_playground_share_the_look():
    from mfgd_helpers import play

    view = play.run(play.Settings(n_iterations=100))
    fig = mf.plot_matrices(view.D, view.result.D_hat)
    picture = play.Figure()
    picture.draw(view)
    for i in range(3):
        one_off, reused = fig.axes[i], picture.panels[i]
        assert one_off.images[0].get_cmap()(float("nan")) == reused.images[0].get_cmap()(
            float("nan"))
        assert [t.get_text() for t in one_off.texts] == [t.get_text() for t in
                                                         picture.labels[i]]
        assert [t.get_color() for t in one_off.texts] == [t.get_color() for t in
                                                          picture.labels[i]]
    assert fig.axes[0].images[0].get_clim() == picture.images[0].get_clim()  # set by D here


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # matplotlib's margins
def test_a_float64_run_that_blew_up_to_1e294_draws_with_its_marker():
    D, C, F = (t.double() for t in mf.example_problem())
    with pytest.warns(mf.DivergenceWarning):
        result = mf.train(D, C, F, lr=2.0, n_iterations=100, method="analytic")
    assert result.losses[-1] > 1e290
    fig = mf.plot_loss(result, optimum=mf.best_rank_k_loss(D, 2))
    fig.canvas.draw()
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert f"diverged at iteration {result.diverged_at}" in labels
