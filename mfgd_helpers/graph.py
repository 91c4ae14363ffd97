"""The autograd graph: walk ``grad_fn`` down to the leaves, as text or as a picture.

``graph_edges`` reads the graph once, as ``GraphNode`` values and (parent,
child) index pairs; ``describe_graph`` and ``plot_graph`` are built on it.
matplotlib is imported inside ``plot_graph`` only.
"""

from __future__ import annotations

import textwrap
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["describe_graph", "graph_edges", "plot_graph"]


@dataclass(frozen=True)
class GraphNode:
    """One node of the autograd graph behind a tensor.

    Attributes
    ----------
    index : int
        Position in the list ``graph_edges`` returns; 0 is ``tensor.grad_fn``.
    operation : str
        Class name of the backward function, e.g. ``"MmBackward0"``, or
        ``"AccumulateGrad"`` for a node that adds into a leaf's ``.grad``.
    leaf : str or None
        For an ``AccumulateGrad`` node, the leaf's name in ``params``, or
        ``"leaf"`` when it has none; None for every other node.
    shape : tuple of int or None
        Shape of the leaf tensor; None for a node that is not a leaf (and for
        a nested-tensor leaf, which has no single shape).

    Examples
    --------
    >>> node = GraphNode(index=4, operation="AccumulateGrad", leaf="C", shape=(3, 2))
    >>> node.is_leaf, node.label
    (True, 'AccumulateGrad (C (3, 2))')
    >>> print(node.box_text)
    AccumulateGrad
    C (3, 2)
    >>> GraphNode(index=0, operation="MmBackward0").label
    'MmBackward0'
    """

    index: int
    operation: str
    leaf: str | None = None
    shape: tuple[int, ...] | None = None

    @property
    def is_leaf(self) -> bool:
        """True for an ``AccumulateGrad`` node, which writes into a leaf's ``.grad``."""
        return self.leaf is not None

    def _leaf_text(self) -> str:
        return self.leaf if self.shape is None else f"{self.leaf} {self.shape}"

    @property
    def label(self) -> str:
        """One line, as ``describe_graph`` prints it: ``'AccumulateGrad (C (3, 2))'``."""
        return f"{self.operation} ({self._leaf_text()})" if self.is_leaf else self.operation

    @property
    def box_text(self) -> str:
        """Two lines for a leaf, as ``plot_graph`` draws it: ``'AccumulateGrad\\nC (3, 2)'``."""
        return f"{self.operation}\n{self._leaf_text()}" if self.is_leaf else self.operation


def _name_of(tensor, params, default):
    """The first name under which ``params`` holds this very tensor."""
    return next((name for name, value in (params or {}).items() if value is tensor), default)


def _graph_node(index, grad_fn, params) -> GraphNode:
    variable = getattr(grad_fn, "variable", None)  # set on AccumulateGrad only
    if variable is None:
        return GraphNode(index, type(grad_fn).__name__)
    shape = None if variable.is_nested else tuple(variable.shape)
    return GraphNode(index, type(grad_fn).__name__, _name_of(variable, params, "leaf"), shape)


def _check(tensor, params):
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(
            f"tensor must be a torch.Tensor; got {type(tensor).__name__}. "
            "Pass the result of an operation on tensors with requires_grad=True."
        )
    if params is None:
        return
    if not isinstance(params, dict):
        raise TypeError(
            f"params must be a dict of names to tensors; got {type(params).__name__}. "
            "Pass e.g. params={'C': C, 'F': F}."
        )
    for name, value in params.items():
        if not isinstance(name, str):
            raise TypeError(
                f"params keys must be str, the names to show; got a key of type "
                f"{type(name).__name__}. Pass e.g. params={{'C': C, 'F': F}}."
            )
        if not isinstance(value, torch.Tensor):
            raise TypeError(
                f"params[{name!r}] must be a torch.Tensor, the leaf itself; got "
                f"{type(value).__name__}. Pass e.g. params={{'C': C, 'F': F}}."
            )


def graph_edges(
    tensor: torch.Tensor, params: dict[str, torch.Tensor] | None = None
) -> tuple[list[GraphNode], list[tuple[int, int]]]:
    """The autograd graph behind ``tensor`` as (nodes, edges), for drawing.

    Walks ``next_functions`` breadth first from ``tensor.grad_fn``. Inputs
    that need no gradient (a ``None`` in ``next_functions``) have no node.

    Parameters
    ----------
    tensor : torch.Tensor
        Usually the loss.
    params : dict of str to Tensor, optional
        Names for the leaves, e.g. ``{"C": C, "F": F}``; other leaves are
        called ``"leaf"``.

    Returns
    -------
    nodes : list of GraphNode
        ``nodes[i].index == i``; node 0 is ``tensor.grad_fn``. Empty when
        ``tensor`` has no ``grad_fn``.
    edges : list of (int, int)
        (parent, child) index pairs, from the output towards the leaves, in
        ``next_functions`` order. A node that uses the same input twice
        (``C @ C``) gives the same pair twice.

    Raises
    ------
    TypeError
        If ``tensor`` is not a tensor or ``params`` is not a dict of names
        to tensors.

    Examples
    --------
    >>> import torch
    >>> C = torch.ones(2, 1, requires_grad=True)
    >>> nodes, edges = graph_edges((C * 2).sum(), {"C": C})
    >>> [node.label for node in nodes]
    ['SumBackward0', 'MulBackward0', 'AccumulateGrad (C (2, 1))']
    >>> nodes[2]
    GraphNode(index=2, operation='AccumulateGrad', leaf='C', shape=(2, 1))
    >>> edges
    [(0, 1), (1, 2)]
    """
    _check(tensor, params)
    if tensor.grad_fn is None:
        return [], []
    nodes = [_graph_node(0, tensor.grad_fn, params)]
    edges = []
    index = {tensor.grad_fn: 0}
    queue = deque([tensor.grad_fn])
    while queue:
        grad_fn = queue.popleft()
        for child, _ in grad_fn.next_functions:
            if child is None:
                continue
            if child not in index:
                index[child] = len(nodes)
                nodes.append(_graph_node(len(nodes), child, params))
                queue.append(child)
            edges.append((index[grad_fn], index[child]))
    return nodes, edges


def _branches(children, prefix):
    """Stack entries (child, prefix, is last) for ``children``, first child on top."""
    return [(child, prefix, pos == len(children) - 1)
            for pos, child in enumerate(children)][::-1]


def describe_graph(tensor: torch.Tensor, params: dict[str, torch.Tensor] | None = None) -> str:
    """The autograd graph behind ``tensor`` as an indented tree of node names.

    Starts at ``tensor.grad_fn`` and follows ``next_functions`` down to the
    ``AccumulateGrad`` nodes, which write into the leaves' ``.grad``. Inputs
    that need no gradient (such as D) have no node and are not shown. A node
    reached a second time is marked "(shown above)" instead of repeating its
    subtree; a leaf is listed every time it is used. The text holds no memory
    addresses, so it is the same on every run.

    Parameters
    ----------
    tensor : torch.Tensor
        Usually the loss. For a tensor without ``grad_fn`` the text says why
        there is no graph.
    params : dict of str to Tensor, optional
        Names for the leaves, e.g. ``{"C": C, "F": F}``; other leaves are
        called ``"leaf"``.

    Returns
    -------
    str
        One line per node, or one sentence when there is no graph.

    Raises
    ------
    TypeError
        If ``tensor`` is not a tensor or ``params`` is not a dict of names
        to tensors.

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
    nodes, edges = graph_edges(tensor, params)  # checks tensor and params
    if not nodes:
        name = _name_of(tensor, params, "tensor")
        if tensor.requires_grad:
            return (f"{name} has no grad_fn: it is a leaf (requires_grad=True); "
                    f"backward() accumulates its gradient in {name}.grad")
        return f"{name} has no grad_fn: autograd does not track it (requires_grad=False)"
    children = [[] for _ in nodes]
    for parent, child in edges:
        children[parent].append(child)
    lines, seen = [nodes[0].label], {0}
    stack = _branches(children[0], "")
    while stack:
        i, prefix, last = stack.pop()
        repeat = i in seen and not nodes[i].is_leaf
        lines.append(prefix + ("└── " if last else "├── ") + nodes[i].label
                     + (" (shown above)" if repeat else ""))
        if not repeat:
            seen.add(i)
            stack += _branches(children[i], prefix + ("    " if last else "│   "))
    return "\n".join(lines)


_GRAD_FN_COLOR = "#dbe9f6"   # light blue: a backward function (a grad_fn)
_LEAF_COLOR = "#d9f0d3"      # light green: AccumulateGrad, adds into a leaf's .grad


def _graph_layout(nodes, edges):
    """Rows and columns for the graph: row = longest path from node 0.

    A node shared by several parents sits below all of them; within a row,
    nodes are ordered by the mean column of their parents (fewer crossings).
    """
    indices = [node.index for node in nodes]
    children = {i: [] for i in indices}
    parents = {i: [] for i in indices}
    for a, b in dict.fromkeys(edges):
        children[a].append(b)
        parents[b].append(a)
    indegree = {i: len(parents[i]) for i in indices}
    order, ready = [], deque(i for i in indices if indegree[i] == 0)
    while ready:
        node = ready.popleft()
        order.append(node)
        for child in children[node]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    row = {i: 0 for i in indices}
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


def plot_graph(
    tensor: torch.Tensor, params: dict[str, torch.Tensor] | None = None, ax: Axes | None = None
) -> Figure:
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
    from matplotlib.patches import FancyArrowPatch, Patch

    from .plots import _check_axes

    _check_axes(ax)
    if nodes:
        row, column, rows = _graph_layout(nodes, edges)
        widest = max(len(members) for members in rows.values())
        longest = max(len(line) for node in nodes for line in node.box_text.split("\n"))
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
    for node in nodes:
        i = node.index
        boxes[i] = ax.text(
            column[i], -row[i], node.box_text, ha="center", va="center", fontsize=9,
            family="monospace", zorder=3,
            bbox=dict(boxstyle="round,pad=0.4", ec="0.3",
                      fc=_LEAF_COLOR if node.is_leaf else _GRAD_FN_COLOR))
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
