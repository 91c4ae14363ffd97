import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.patches import FancyArrowPatch  # noqa: E402

import mfgd_helpers as mf  # noqa: E402
from mfgd_helpers.graph import graph_edges  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _boxes(ax):
    """Node boxes by label, with their (x, y) centre."""
    return {t.get_text(): t.get_position() for t in ax.texts if t.get_bbox_patch() is not None}


def _arrows(ax):
    return [p for p in ax.patches if isinstance(p, FancyArrowPatch)]


def _loss():
    """The notebooks' loss sum((D - C @ F) ** 2) and its named leaves."""
    torch.manual_seed(0)
    D = torch.rand(3, 4)
    C = torch.rand(3, 2, requires_grad=True)
    F = torch.rand(2, 4, requires_grad=True)
    return torch.sum((D - C @ F) ** 2), {"C": C, "F": F}


def test_loss_graph_boxes_match_graph_edges():
    loss, params = _loss()
    fig = mf.plot_graph(loss, params)
    ax = fig.axes[0]
    nodes, edges = graph_edges(loss, params)
    boxes = _boxes(ax)
    assert [t.get_text() for t in ax.texts] == [node.box_text for node in nodes]
    assert list(boxes) == [
        "SumBackward0", "PowBackward0", "SubBackward0", "MmBackward0",
        "AccumulateGrad\nC (3, 2)", "AccumulateGrad\nF (2, 4)"]
    assert len(_arrows(ax)) == len(edges) == 5
    # the output's grad_fn on top, each step one row down, the leaves at the bottom
    ys = [boxes[name][1] for name in ("SumBackward0", "PowBackward0", "SubBackward0", "MmBackward0")]
    assert ys == sorted(ys, reverse=True) and len(set(ys)) == 4
    leaf_c, leaf_f = boxes["AccumulateGrad\nC (3, 2)"], boxes["AccumulateGrad\nF (2, 4)"]
    assert leaf_c[1] == leaf_f[1] < ys[-1]
    assert leaf_c[0] != leaf_f[0]  # side by side, not on top of each other


def test_arrows_point_from_parent_to_child():
    loss, params = _loss()
    nodes, edges = graph_edges(loss, params)
    fig = mf.plot_graph(loss, params)
    fig.canvas.draw()
    ax = fig.axes[0]
    boxes = _boxes(ax)
    index = {node.box_text: node.index for node in nodes}

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
        drawn.add((index[parent], index[child]))
    assert drawn == set(edges) == {(0, 1), (1, 2), (2, 3), (3, 4), (3, 5)}


def test_leaves_are_coloured_apart_from_grad_fn_nodes():
    loss, params = _loss()
    nodes, _ = graph_edges(loss, params)
    texts = mf.plot_graph(loss, params).axes[0].texts
    colours = [to_hex(t.get_bbox_patch().get_facecolor()) for t in texts]
    assert colours == ["#dbe9f6" if not node.is_leaf else "#d9f0d3" for node in nodes]


def test_repeated_edge_is_one_arrow_marked_twice():
    A = torch.ones(2, 2, requires_grad=True)
    fig = mf.plot_graph((A @ A).sum(), {"A": A})
    ax = fig.axes[0]
    assert len(_arrows(ax)) == 2  # Sum -> Mm, Mm -> AccumulateGrad (used twice)
    assert [t.get_text() for t in ax.texts] == [
        "SumBackward0", "MmBackward0", "AccumulateGrad\nA (2, 2)", "×2"]


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


def test_deep_chain_draws_one_row_per_node():
    x = torch.ones(1, requires_grad=True)
    y = x
    for _ in range(60):
        y = y * 1.0
    ax = mf.plot_graph(y, {"x": x}).axes[0]
    ys = [t.get_position()[1] for t in ax.texts]
    assert ys == [-i for i in range(61)] and len(_arrows(ax)) == 60


@pytest.mark.parametrize("bad, got", [(3.0, "float"), ("loss", "str"), ([[1.0]], "list")])
def test_bad_tensor(bad, got):
    with pytest.raises(TypeError, match=rf"tensor must be a torch\.Tensor; got {got}\."):
        mf.plot_graph(bad)


@pytest.mark.parametrize("params, message", [
    ([torch.ones(1)], r"params must be a dict of names to tensors; got list\."),
    ({0: torch.ones(1)}, r"params keys must be str, the names to show; got a key of type int\."),
    ({"C": "C"}, r"params\['C'\] must be a torch\.Tensor, the leaf itself; got str\."),
])
def test_bad_params(params, message):
    C = torch.ones(1, requires_grad=True)
    with pytest.raises(TypeError, match=message):
        mf.plot_graph(C * 2, params=params)


@pytest.mark.parametrize("bad, got", [("figure", "Figure"), ("axes array", "ndarray"),
                                      ("string", "str")])
def test_bad_ax(bad, got):
    fig, axes = plt.subplots(1, 2)
    ax = {"figure": fig, "axes array": axes, "string": "left"}[bad]
    C = torch.ones(1, requires_grad=True)
    with pytest.raises(TypeError, match=rf"ax == .* \({got}\), must be a matplotlib Axes or None\. Pass e\.g\."):
        mf.plot_graph(C * 2, ax=ax)
