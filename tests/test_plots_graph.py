import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import FancyArrowPatch  # noqa: E402

import mfgd_helpers as mf  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _boxes(ax):
    """Node boxes by label, with their (x, y) centre."""
    return {t.get_text(): t.get_position() for t in ax.texts if t.get_bbox_patch() is not None}


def _arrows(ax):
    return [p for p in ax.patches if isinstance(p, FancyArrowPatch)]


def test_loss_graph_boxes_match_graph_edges():
    D, C, F = mf.example_problem()
    loss = mf.criterion(D, C @ F)
    fig = mf.plot_graph(loss, {"C": C, "F": F})
    ax = fig.axes[0]
    nodes, edges = mf.graph_edges(loss, {"C": C, "F": F})
    boxes = _boxes(ax)
    assert sorted(boxes) == sorted(
        name.replace(" (", "\n", 1)[:-1] if name.startswith("AccumulateGrad") else name
        for name in nodes.values())
    assert len(_arrows(ax)) == len(edges) == 5
    # the output's grad_fn on top, each step one row down, the leaves at the bottom
    ys = [boxes[name][1] for name in ("SumBackward0", "PowBackward0", "SubBackward0", "MmBackward0")]
    assert ys == sorted(ys, reverse=True) and len(set(ys)) == 4
    leaf_c, leaf_f = boxes["AccumulateGrad\nC (3, 2)"], boxes["AccumulateGrad\nF (2, 4)"]
    assert leaf_c[1] == leaf_f[1] < ys[-1]
    assert leaf_c[0] != leaf_f[0]  # side by side, not on top of each other


def test_arrows_point_from_parent_to_child():
    D, C, F = mf.example_problem()
    loss = mf.criterion(D, C @ F)
    fig = mf.plot_graph(loss, {"C": C, "F": F})
    fig.canvas.draw()
    ax = fig.axes[0]
    boxes = _boxes(ax)

    def nearest(point):
        return min(boxes, key=lambda name: (boxes[name][0] - point[0]) ** 2
                   + (boxes[name][1] - point[1]) ** 2)

    drawn = set()
    for arrow in _arrows(ax):
        path = arrow.get_path()
        points = [v for v, code in zip(path.vertices, path.codes) if code != path.CLOSEPOLY]
        start, tip = points[0], min(points, key=lambda v: v[1])
        parent, child = nearest(start), nearest(tip)
        # clipped at the box edges: starts below the parent's centre, stops above the child's
        assert boxes[child][1] < tip[1] < start[1] < boxes[parent][1]
        drawn.add((parent.split("\n")[-1], child.split("\n")[-1]))
    assert drawn == {("SumBackward0", "PowBackward0"), ("PowBackward0", "SubBackward0"),
                     ("SubBackward0", "MmBackward0"), ("MmBackward0", "C (3, 2)"),
                     ("MmBackward0", "F (2, 4)")}


def test_leaves_are_coloured_apart_from_grad_fn_nodes():
    D, C, F = mf.example_problem()
    fig = mf.plot_graph(mf.criterion(D, C @ F), {"C": C, "F": F})
    colours = {t.get_text(): t.get_bbox_patch().get_facecolor() for t in fig.axes[0].texts
               if t.get_bbox_patch() is not None}
    leaf = {c for name, c in colours.items() if name.startswith("AccumulateGrad")}
    inner = {c for name, c in colours.items() if not name.startswith("AccumulateGrad")}
    assert len(leaf) == 1 and len(inner) == 1 and leaf != inner


def test_repeated_edge_is_one_arrow_marked_twice():
    A = torch.ones(2, 2, requires_grad=True)
    fig = mf.plot_graph((A @ A).sum(), {"A": A})
    ax = fig.axes[0]
    assert len(_arrows(ax)) == 2  # Sum -> Mm, Mm -> AccumulateGrad (used twice)
    assert "×2" in [t.get_text() for t in ax.texts]


def test_shared_node_sits_below_all_its_parents():
    A = torch.ones(2, 2, requires_grad=True)
    P = A @ A
    out = (P + P.exp()).sum()  # MmBackward0 is reached directly and through ExpBackward0
    boxes = _boxes(mf.plot_graph(out, {"A": A}).axes[0])
    assert boxes["MmBackward0"][1] < boxes["ExpBackward0"][1] < boxes["AddBackward0"][1]


def test_draws_into_given_axes():
    fig, (left, right) = plt.subplots(1, 2)
    C = torch.ones(2, 1, requires_grad=True)
    returned = mf.plot_graph((C * 2).sum(), {"C": C}, ax=right)
    assert returned is fig
    assert not left.texts and len(_boxes(right)) == 3


def test_tensor_without_graph_says_why():
    C = torch.ones(2, 2, requires_grad=True)
    fig = mf.plot_graph(C, {"C": C})
    text = " ".join(t.get_text() for t in fig.axes[0].texts).replace("\n", " ")
    assert "C has no grad_fn: it is a leaf" in text
    assert not _arrows(fig.axes[0])


def test_no_memory_addresses_in_labels():
    C = torch.ones(2, 2, requires_grad=True)
    fig = mf.plot_graph((C @ C).sum())
    assert all("0x" not in t.get_text() for t in fig.axes[0].texts)
    assert "AccumulateGrad\nleaf (2, 2)" in _boxes(fig.axes[0])


@pytest.mark.parametrize("bad", [3.0, "loss", [[1.0]]])
def test_bad_tensor(bad):
    with pytest.raises(TypeError, match="tensor must be a torch.Tensor"):
        mf.plot_graph(bad)


def test_bad_params():
    C = torch.ones(1, requires_grad=True)
    with pytest.raises(TypeError, match="params must be a dict"):
        mf.plot_graph(C * 2, params=[C])


def test_bad_ax():
    C = torch.ones(1, requires_grad=True)
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes; got Figure"):
        mf.plot_graph(C * 2, ax=plt.figure())
