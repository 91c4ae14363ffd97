"""Autograd-graph inspection: walk ``grad_fn`` down to the leaves."""

from __future__ import annotations

import torch

__all__ = ["describe_graph", "graph_edges"]


def _leaf_label(node, params) -> str:
    variable = getattr(node, "variable", None)
    if variable is None:
        return ""
    for name, tensor in (params or {}).items():
        if tensor is variable:
            return f"{name} {tuple(variable.shape)}"
    return f"leaf {tuple(variable.shape)}"


def _node_name(node, params) -> str:
    label = _leaf_label(node, params)
    name = type(node).__name__
    return f"{name} ({label})" if label else name


def _check(tensor, params):
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(
            f"tensor must be a torch.Tensor; got {type(tensor).__name__}. "
            "Pass the result of an operation on tensors with requires_grad=True."
        )
    if params is not None and not (
        isinstance(params, dict)
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in params.items())
    ):
        raise TypeError(
            "params must be a dict of names to tensors, e.g. params={'C': C, 'F': F}."
        )


def graph_edges(tensor, params=None):
    """The autograd graph behind ``tensor`` as (nodes, edges), for drawing.

    ``nodes`` maps a node number to its label (class name, and for
    ``AccumulateGrad`` leaves the parameter name and shape); ``edges`` lists
    (parent, child) pairs from the output towards the leaves. Node 0 is
    ``tensor.grad_fn``.

    Examples
    --------
    >>> import torch
    >>> C = torch.ones(2, 1, requires_grad=True)
    >>> nodes, edges = graph_edges((C * 2).sum(), {"C": C})
    >>> nodes
    {0: 'SumBackward0', 1: 'MulBackward0', 2: 'AccumulateGrad (C (2, 1))'}
    >>> edges
    [(0, 1), (1, 2)]
    """
    _check(tensor, params)
    nodes, edges, index = {}, [], {}
    if tensor.grad_fn is None:
        return nodes, edges
    stack = [tensor.grad_fn]
    index[tensor.grad_fn] = 0
    nodes[0] = _node_name(tensor.grad_fn, params)
    while stack:
        node = stack.pop(0)
        for child, _ in node.next_functions:
            if child is None:
                continue
            if child not in index:
                index[child] = len(index)
                nodes[index[child]] = _node_name(child, params)
                stack.append(child)
            edges.append((index[node], index[child]))
    return nodes, edges


def describe_graph(tensor, params=None) -> str:
    """The autograd graph behind ``tensor`` as an indented tree of node names.

    Starts at ``tensor.grad_fn`` and follows ``next_functions`` down to the
    ``AccumulateGrad`` nodes, which write into the leaves' ``.grad``. Inputs
    that need no gradient (such as D) have no node and are not shown.
    ``params={"C": C, "F": F}`` names the leaves. The text holds no memory
    addresses, so it is the same on every run.

    Examples
    --------
    >>> import torch
    >>> D = torch.ones(3, 4)
    >>> C = torch.ones(3, 2, requires_grad=True)
    >>> F = torch.ones(2, 4, requires_grad=True)
    >>> loss = torch.sum((D - C @ F) ** 2)
    >>> print(describe_graph(loss, {"C": C, "F": F}))
    SumBackward0
    └── PowBackward0
        └── SubBackward0
            └── MmBackward0
                ├── AccumulateGrad (C (3, 2))
                └── AccumulateGrad (F (2, 4))
    >>> print(describe_graph(C, {"C": C}))
    C has no grad_fn: it is a leaf (requires_grad=True); backward() accumulates its gradient in C.grad
    """
    _check(tensor, params)
    if tensor.grad_fn is None:
        name = next((k for k, v in (params or {}).items() if v is tensor), "tensor")
        if tensor.requires_grad:
            return (f"{name} has no grad_fn: it is a leaf (requires_grad=True); "
                    f"backward() accumulates its gradient in {name}.grad")
        return f"{name} has no grad_fn: autograd does not track it (requires_grad=False)"
    lines = [_node_name(tensor.grad_fn, params)]
    seen = {tensor.grad_fn}

    def walk(node, prefix):
        children = [c for c, _ in node.next_functions if c is not None]
        for pos, child in enumerate(children):
            last = pos == len(children) - 1
            branch = "└── " if last else "├── "
            repeat = child in seen and type(child).__name__ != "AccumulateGrad"
            lines.append(prefix + branch + _node_name(child, params)
                         + (" (shown above)" if repeat else ""))
            if not repeat:
                seen.add(child)
                walk(child, prefix + ("    " if last else "│   "))

    walk(tensor.grad_fn, "")
    return "\n".join(lines)
