import re

import pytest
import torch

import mfgd_helpers as mf


def test_describe_graph_of_the_loss():
    D, C, F = mf.example_problem()
    text = mf.describe_graph(mf.criterion(D, C @ F), {"C": C, "F": F})
    assert text.splitlines() == [
        "SumBackward0",
        "└── PowBackward0",
        "    └── SubBackward0",
        "        └── MmBackward0",
        "            ├── AccumulateGrad (C (3, 2))",
        "            └── AccumulateGrad (F (2, 4))",
    ]


def test_no_memory_addresses_and_unnamed_leaves():
    C = torch.ones(2, 2, requires_grad=True)
    text = mf.describe_graph((C @ C).sum())
    assert not re.search(r"0x[0-9a-f]+", text)
    assert text.count("AccumulateGrad (leaf (2, 2))") == 2


def test_shared_subgraph_is_shown_once():
    C = torch.ones(2, 2, requires_grad=True)
    P = C @ C
    text = mf.describe_graph((P + P).sum(), {"C": C})
    assert text.count("MmBackward0") == 2 and "(shown above)" in text


def test_leaf_and_untracked_tensors():
    C = torch.ones(1, requires_grad=True)
    assert "it is a leaf" in mf.describe_graph(C, {"C": C})
    assert "does not track it" in mf.describe_graph(torch.ones(1))


def test_graph_edges_reach_both_leaves():
    D, C, F = mf.example_problem()
    nodes, edges = mf.graph_edges(mf.criterion(D, C @ F), {"C": C, "F": F})
    assert nodes[0] == "SumBackward0"
    assert sorted(v for v in nodes.values() if v.startswith("AccumulateGrad")) == [
        "AccumulateGrad (C (3, 2))", "AccumulateGrad (F (2, 4))"]
    assert len(edges) == len(nodes) - 1


@pytest.mark.parametrize("bad", [3.0, "loss"])
def test_bad_tensor(bad):
    with pytest.raises(TypeError, match="tensor must be a torch.Tensor"):
        mf.describe_graph(bad)


def test_bad_params():
    with pytest.raises(TypeError, match="params must be a dict"):
        mf.describe_graph(torch.ones(1, requires_grad=True) * 2, params=["C"])
