import re
import warnings

import pytest
import torch

import mfgd_helpers as mf
from mfgd_helpers.graph import GraphNode, graph_edges


def _problem():
    """D, C, F with the shapes of the notebooks' example problem."""
    torch.manual_seed(0)
    D = torch.rand(3, 4)
    C = torch.rand(3, 2, requires_grad=True)
    F = torch.rand(2, 4, requires_grad=True)
    return D, C, F


def test_describe_graph_of_the_loss():
    D, C, F = _problem()
    text = mf.describe_graph(torch.sum((D - C @ F) ** 2), {"C": C, "F": F})
    assert text == "\n".join([
        "SumBackward0",
        "└── PowBackward0",
        "    └── SubBackward0",
        "        └── MmBackward0",
        "            ├── AccumulateGrad (C (3, 2))",
        "            └── AccumulateGrad (F (2, 4))",
    ])


def test_describe_graph_of_the_masked_loss():
    D, C, F = _problem()
    mask = torch.rand(3, 4) > 0.5
    loss = torch.sum(torch.where(mask, D - C @ F, torch.zeros(())) ** 2)
    assert mf.describe_graph(loss, {"C": C, "F": F}) == "\n".join([
        "SumBackward0",
        "└── PowBackward0",
        "    └── WhereBackward0",
        "        └── SubBackward0",
        "            └── MmBackward0",
        "                ├── AccumulateGrad (C (3, 2))",
        "                └── AccumulateGrad (F (2, 4))",
    ])


def test_describe_graph_of_an_update_outside_no_grad():
    D, C, F = _problem()
    loss = torch.sum((D - (C - 0.1) @ (F - 0.1)) ** 2)
    assert mf.describe_graph(loss, {"C_original": C, "F_original": F}) == "\n".join([
        "SumBackward0",
        "└── PowBackward0",
        "    └── SubBackward0",
        "        └── MmBackward0",
        "            ├── SubBackward0",
        "            │   └── AccumulateGrad (C_original (3, 2))",
        "            └── SubBackward0",
        "                └── AccumulateGrad (F_original (2, 4))",
    ])


def test_no_memory_addresses_and_unnamed_leaves():
    C = torch.ones(2, 2, requires_grad=True)
    text = mf.describe_graph((C @ C).sum())
    assert not re.search(r"0x[0-9a-f]+", text)
    assert text.count("AccumulateGrad (leaf (2, 2))") == 2


def test_shared_subgraph_is_shown_once():
    C = torch.ones(2, 2, requires_grad=True)
    P = C @ C
    assert mf.describe_graph((P + P).sum(), {"C": C}) == "\n".join([
        "SumBackward0",
        "└── AddBackward0",
        "    ├── MmBackward0",
        "    │   ├── AccumulateGrad (C (2, 2))",
        "    │   └── AccumulateGrad (C (2, 2))",
        "    └── MmBackward0 (shown above)",
    ])


def test_node_is_shown_once_even_when_first_reached_deeper():
    C = torch.ones(2, 2, requires_grad=True)
    P = C @ C
    assert mf.describe_graph((P.exp() + P).sum(), {"C": C}) == "\n".join([
        "SumBackward0",
        "└── AddBackward0",
        "    ├── ExpBackward0",
        "    │   └── MmBackward0",
        "    │       ├── AccumulateGrad (C (2, 2))",
        "    │       └── AccumulateGrad (C (2, 2))",
        "    └── MmBackward0 (shown above)",
    ])


def test_deep_chain_does_not_recurse():
    x = torch.ones(1, requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0
    lines = mf.describe_graph(y, {"x": x}).splitlines()
    assert len(lines) == 5001
    assert lines[0] == "MulBackward0"
    assert lines[1] == "└── MulBackward0"
    assert lines[-2] == "    " * 4998 + "└── MulBackward0"
    assert lines[-1] == "    " * 4999 + "└── AccumulateGrad (x (1,))"
    nodes, edges = graph_edges(y, {"x": x})
    assert len(nodes) == 5001 and edges == [(i, i + 1) for i in range(5000)]


def test_leaf_and_untracked_tensors():
    C = torch.ones(1, requires_grad=True)
    assert mf.describe_graph(C, {"C": C}) == (
        "C has no grad_fn: it is a leaf (requires_grad=True); "
        "backward() accumulates its gradient in C.grad")
    assert mf.describe_graph(torch.tensor(3.0)) == (
        "tensor has no grad_fn: autograd does not track it (requires_grad=False)")
    assert graph_edges(torch.tensor(3.0)) == ([], [])
    assert graph_edges(C) == ([], [])


def test_graph_edges_nodes_of_the_loss():
    D, C, F = _problem()
    nodes, edges = graph_edges(torch.sum((D - C @ F) ** 2), {"C": C, "F": F})
    assert nodes == [
        GraphNode(0, "SumBackward0"),
        GraphNode(1, "PowBackward0"),
        GraphNode(2, "SubBackward0"),
        GraphNode(3, "MmBackward0"),
        GraphNode(4, "AccumulateGrad", leaf="C", shape=(3, 2)),
        GraphNode(5, "AccumulateGrad", leaf="F", shape=(2, 4)),
    ]
    assert edges == [(0, 1), (1, 2), (2, 3), (3, 4), (3, 5)]
    assert [node.index for node in nodes] == list(range(6))
    assert [node.is_leaf for node in nodes] == [False] * 4 + [True] * 2


def test_input_without_grad_has_no_node():
    D, C, F = _problem()
    sub = (D - C @ F).grad_fn
    assert sub.next_functions[0][0] is None  # D needs no gradient
    nodes, edges = graph_edges(D - C @ F, {"C": C, "F": F})
    assert [node.operation for node in nodes] == [
        "SubBackward0", "MmBackward0", "AccumulateGrad", "AccumulateGrad"]
    assert edges == [(0, 1), (1, 2), (1, 3)]


def test_unnamed_leaf():
    C = torch.ones(2, 3, requires_grad=True)
    F = torch.ones(3, 1, requires_grad=True)
    nodes, _ = graph_edges((C @ F).sum(), {"C": C})
    assert nodes[-2:] == [GraphNode(2, "AccumulateGrad", "C", (2, 3)),
                          GraphNode(3, "AccumulateGrad", "leaf", (3, 1))]
    assert [node.label for node in nodes[-2:]] == [
        "AccumulateGrad (C (2, 3))", "AccumulateGrad (leaf (3, 1))"]


def test_same_leaf_used_twice_is_one_node_with_two_edges():
    C = torch.ones(2, 2, requires_grad=True)
    nodes, edges = graph_edges((C @ C).sum(), {"C": C})
    assert nodes == [GraphNode(0, "SumBackward0"), GraphNode(1, "MmBackward0"),
                     GraphNode(2, "AccumulateGrad", "C", (2, 2))]
    assert edges == [(0, 1), (1, 2), (1, 2)]


def test_shared_node_is_one_node():
    C = torch.ones(2, 2, requires_grad=True)
    P = C @ C
    nodes, edges = graph_edges((P + P.exp()).sum(), {"C": C})
    assert [node.operation for node in nodes] == [
        "SumBackward0", "AddBackward0", "MmBackward0", "ExpBackward0", "AccumulateGrad"]
    assert edges == [(0, 1), (1, 2), (1, 3), (2, 4), (2, 4), (3, 2)]  # Mm under Add and Exp


def test_first_name_wins_for_a_tensor_under_two_names():
    C = torch.ones(2, requires_grad=True)
    nodes, _ = graph_edges((C * 2).sum(), {"C": C, "also_C": C})
    assert nodes[-1].leaf == "C"


def test_0d_sparse_and_complex_leaves():
    s = torch.tensor(2.0, requires_grad=True)
    assert graph_edges(s * s)[0][-1] == GraphNode(1, "AccumulateGrad", "leaf", ())
    assert mf.describe_graph(s * s, {"s": s}).splitlines()[-1] == "└── AccumulateGrad (s ())"
    S = torch.eye(3).to_sparse().requires_grad_()
    nodes, _ = graph_edges(torch.sparse.sum(S * 2), {"S": S})
    assert nodes[-1] == GraphNode(3, "AccumulateGrad", "S", (3, 3))
    Z = torch.ones(2, dtype=torch.complex64, requires_grad=True)
    assert mf.describe_graph((Z * Z).abs().sum(), {"Z": Z}).splitlines() == [
        "SumBackward0",
        "└── AbsBackward0",
        "    └── MulBackward0",
        "        ├── AccumulateGrad (Z (2,))",
        "        └── AccumulateGrad (Z (2,))",
    ]


def test_nested_tensor_leaf_has_no_shape():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nested tensors are a prototype feature
        nt = torch.nested.nested_tensor([torch.ones(2), torch.ones(3)], requires_grad=True)
    nodes, edges = graph_edges(nt * 2, {"nt": nt})
    assert nodes == [GraphNode(0, "MulBackward0"), GraphNode(1, "AccumulateGrad", "nt", None)]
    assert mf.describe_graph(nt * 2, {"nt": nt}).splitlines()[-1] == "└── AccumulateGrad (nt)"


def test_node_texts():
    leaf = GraphNode(4, "AccumulateGrad", leaf="C", shape=(3, 2))
    assert leaf.is_leaf
    assert leaf.label == "AccumulateGrad (C (3, 2))"
    assert leaf.box_text == "AccumulateGrad\nC (3, 2)"
    inner = GraphNode(0, "MmBackward0")
    assert not inner.is_leaf and inner.leaf is None and inner.shape is None
    assert inner.label == inner.box_text == "MmBackward0"
    assert GraphNode(1, "AccumulateGrad", leaf="leaf").label == "AccumulateGrad (leaf)"
    with pytest.raises(AttributeError):
        leaf.leaf = "F"  # frozen


def test_graph_node_is_not_exported():
    assert "GraphNode" not in mf.__all__ and not hasattr(mf, "GraphNode")


@pytest.mark.parametrize("function", [mf.describe_graph, graph_edges])
@pytest.mark.parametrize("bad, got", [(3.0, "float"), ("loss", "str"), ([[1.0]], "list")])
def test_bad_tensor(function, bad, got):
    with pytest.raises(TypeError, match=rf"tensor must be a torch\.Tensor; got {got}\."):
        function(bad)


@pytest.mark.parametrize("function", [mf.describe_graph, graph_edges])
@pytest.mark.parametrize("params, message", [
    (["C"], r"params must be a dict of names to tensors; got list\."),
    ((("C", None),), r"params must be a dict of names to tensors; got tuple\."),
    ({1: None}, r"params keys must be str, the names to show; got a key of type int\."),
    ({"C": 1.0}, r"params\['C'\] must be a torch\.Tensor, the leaf itself; got float\."),
    ({"C": [[1.0]]}, r"params\['C'\] must be a torch\.Tensor, the leaf itself; got list\."),
])
def test_bad_params(function, params, message):
    C = torch.ones(1, requires_grad=True)
    with pytest.raises(TypeError, match=message + r" Pass e\.g\. params=\{'C': C, 'F': F\}"):
        function(C * 2, params=params)
