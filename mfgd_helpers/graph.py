"""The autograd graph: walk ``grad_fn`` down to the leaves, as text or as a picture.

matplotlib is imported inside ``plot_graph`` only.
"""

from __future__ import annotations

import textwrap

import torch

__all__ = ["describe_graph", "graph_edges", "plot_graph"]


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


_GRAD_FN_COLOR = "#dbe9f6"   # light blue: a backward function (a grad_fn)
_LEAF_COLOR = "#d9f0d3"      # light green: AccumulateGrad, adds into a leaf's .grad


def _graph_layout(nodes, edges):
    """Rows and columns for the graph: row = longest path from node 0.

    A node shared by several parents sits below all of them; within a row,
    nodes are ordered by the mean column of their parents (fewer crossings).
    """
    children = {i: [] for i in nodes}
    parents = {i: [] for i in nodes}
    for a, b in dict.fromkeys(edges):
        children[a].append(b)
        parents[b].append(a)
    indegree = {i: len(parents[i]) for i in nodes}
    order, ready = [], [i for i in nodes if indegree[i] == 0]
    while ready:
        node = ready.pop(0)
        order.append(node)
        for child in children[node]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    row = {i: 0 for i in nodes}
    for node in order:
        for child in children[node]:
            row[child] = max(row[child], row[node] + 1)
    rows: dict[int, list[int]] = {}
    for node in order:
        rows.setdefault(row[node], []).append(node)
    column: dict[int, float] = {}
    for r in sorted(rows):
        members = rows[r]
        if r > 0:
            members.sort(key=lambda i: (sum(column[p] for p in parents[i]) / len(parents[i]), i))
        for pos, node in enumerate(members):
            column[node] = pos - (len(members) - 1) / 2
    return row, column, rows


def plot_graph(tensor, params=None, ax=None):
    """Draw the autograd graph behind ``tensor`` as boxes and arrows.

    The picture of ``describe_graph``: node 0 at the top is
    ``tensor.grad_fn``; each arrow follows ``next_functions`` one step, in
    the order ``backward()`` visits the nodes; the green boxes at the bottom
    are the ``AccumulateGrad`` nodes that add into the leaves' ``.grad``.
    When a node feeds the same child twice (``C @ C``), the arrow says ×2.

    Parameters
    ----------
    tensor : torch.Tensor
        Usually the loss. A tensor without ``grad_fn`` (a leaf, or one that
        autograd does not track) gives a picture that says so.
    params : dict of str to Tensor, optional
        Names for the leaves, e.g. ``{"C": C, "F": F}``.
    ax : matplotlib Axes, optional
        Draw into these axes instead of a new figure sized to the graph.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    TypeError
        If ``tensor`` is not a tensor, ``params`` is not a dict of names to
        tensors, or ``ax`` is not a matplotlib Axes.

    Examples
    --------
    >>> import torch
    >>> D = torch.ones(3, 4)
    >>> C = torch.ones(3, 2, requires_grad=True)
    >>> F = torch.ones(2, 4, requires_grad=True)
    >>> fig = plot_graph(torch.sum((D - C @ F) ** 2), {"C": C, "F": F})
    >>> [t.get_text() for t in fig.axes[0].texts]
    ['SumBackward0', 'PowBackward0', 'SubBackward0', 'MmBackward0', 'AccumulateGrad\\nC (3, 2)', 'AccumulateGrad\\nF (2, 4)']
    >>> len(fig.axes[0].patches)  # one arrow per edge
    5
    """
    nodes, edges = graph_edges(tensor, params)  # checks tensor and params
    import matplotlib.pyplot as plt
    from matplotlib.axes import Axes
    from matplotlib.patches import FancyArrowPatch, Patch

    if ax is not None and not isinstance(ax, Axes):
        raise TypeError(
            f"ax must be a matplotlib Axes; got {type(ax).__name__}. "
            "Pass e.g. ax=plt.subplots()[1], or leave ax=None for a new figure."
        )
    labels = {i: name.replace(" (", "\n", 1)[:-1] if name.startswith("AccumulateGrad (")
              else name for i, name in nodes.items()}
    if nodes:
        row, column, rows = _graph_layout(nodes, edges)
        widest = max(len(members) for members in rows.values())
        longest = max(len(line) for text in labels.values() for line in text.split("\n"))
    else:
        widest, longest, rows = 1, 40, {0: []}
    col_inches = 0.075 * longest + 0.7  # 9 pt monospace box plus a gap
    if ax is None:
        fig, ax = plt.subplots(
            figsize=(max(6.0, col_inches * widest + 0.4), 0.85 * len(rows) + 1.2),
            layout="constrained")
        span = max(widest, (fig.get_figwidth() - 0.4) / col_inches)
    else:
        fig = ax.figure
        span = widest
    ax.set_axis_off()
    if not nodes:
        message = textwrap.fill(describe_graph(tensor, params), 48)
        ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes,
                bbox=dict(boxstyle="round,pad=0.5", fc="white", ec="0.6"))
        ax.set_title("No autograd graph to draw", fontsize="medium")
        return fig

    boxes = {}
    for i, text in labels.items():
        leaf = text.startswith("AccumulateGrad")
        boxes[i] = ax.text(
            column[i], -row[i], text, ha="center", va="center", fontsize=9,
            family="monospace", zorder=3,
            bbox=dict(boxstyle="round,pad=0.4", ec="0.3",
                      fc=_LEAF_COLOR if leaf else _GRAD_FN_COLOR))
    counts: dict[tuple[int, int], int] = {}
    for edge in edges:
        counts[edge] = counts.get(edge, 0) + 1
    for (a, b), count in counts.items():
        skips = row[b] - row[a] > 1  # bend around the rows in between
        arrow = FancyArrowPatch(
            (column[a], -row[a]), (column[b], -row[b]),
            patchA=boxes[a].get_bbox_patch(), patchB=boxes[b].get_bbox_patch(),
            arrowstyle="-|>", mutation_scale=12, color="0.25", lw=1.2,
            shrinkA=2, shrinkB=2, zorder=2,
            connectionstyle=f"arc3,rad={0.35 if skips else 0.0}")
        ax.add_patch(arrow)
        if count > 1:
            ax.text((column[a] + column[b]) / 2 + 0.05, -(row[a] + row[b]) / 2,
                    f"×{count}", ha="left", va="center", fontsize=9, zorder=4)
    ax.set_xlim(-span / 2, span / 2)
    ax.set_ylim(-(len(rows) - 1) - 0.5, 0.5)
    ax.legend(handles=[Patch(fc=_GRAD_FN_COLOR, ec="0.3", label="grad_fn node"),
                       Patch(fc=_LEAF_COLOR, ec="0.3", label="AccumulateGrad: adds into leaf.grad")],
              loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, fontsize="small",
              frameon=False)
    ax.set_title("backward() follows the arrows from grad_fn down to the leaves",
                 fontsize="medium")
    return fig
