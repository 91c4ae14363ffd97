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
