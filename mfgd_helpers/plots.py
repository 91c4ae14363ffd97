"""Plots: the loss curve, the matrices D, D_hat and their difference, the autograd graph.

matplotlib is imported inside the functions, so ``import mfgd_helpers`` stays
cheap. Every function returns a Figure; showing it is the caller's choice.
"""

from __future__ import annotations

import textwrap

import torch

from .validation import as_matrix

__all__ = ["plot_graph", "plot_loss", "plot_matrices"]

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _power_of_ten(value, _position=None) -> str:
    """Label a major tick of a log axis, 1e-4 -> '10⁻⁴'.

    Plain text with superscript characters looks like matplotlib's default
    label but needs no mathtext layout, which makes a loss plot about a
    fifth cheaper to draw.

    >>> _power_of_ten(1e-4), _power_of_ten(100.0), _power_of_ten(1.0)
    ('10⁻⁴', '10²', '10⁰')
    >>> _power_of_ten(float("inf")), _power_of_ten(0.0)   # beyond float range, or off the axis
    ('', '')
    """
    import math

    if not math.isfinite(value) or value <= 0:
        return ""
    exponent = math.log10(value)
    if abs(exponent - round(exponent)) > 1e-6:   # not a power of ten
        return f"{value:g}"
    return "10" + str(round(exponent)).translate(_SUPERSCRIPT)


def _losses_of(result):
    losses = getattr(result, "losses", result)
    try:
        return [float(v) for v in losses]
    except (TypeError, ValueError):
        raise TypeError(
            "result must be a TrainResult or a sequence of loss values; "
            f"got {type(result).__name__}."
        ) from None


def plot_loss(result, *, optimum=None, label=None, ax=None, title="Loss during training"):
    """Loss curve on a log scale, optionally with the best possible loss as a line.

    Parameters
    ----------
    result : TrainResult, a sequence of floats, or a dict {label: either}
        A dict draws several runs on one set of axes.
    optimum : float, optional
        ``best_rank_k_loss(D, k)``, drawn as a dashed line. An optimum of 0
        cannot appear on a log scale; the legend says so instead.
    label : str, optional
        Legend label for a single run.
    ax : matplotlib Axes, optional
        Draw into these axes instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_loss([1.0, 0.5, 0.25], optimum=0.1, label="demo")
    >>> fig.axes[0].get_yscale()
    'log'
    """
    import matplotlib.pyplot as plt

    runs = result if isinstance(result, dict) else {label: result}
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    else:
        fig = ax.figure
    for name, run in runs.items():
        losses = _losses_of(run)
        positive = [v if v > 0 else float("nan") for v in losses]
        ax.plot(range(1, len(losses) + 1), positive, label=name)
        if getattr(run, "diverged", False):
            ax.axvline(run.diverged_at, color="tab:red", ls=":",
                       label=f"diverged at iteration {run.diverged_at}")
    if optimum is not None:
        optimum = float(optimum)
        if optimum > 1e-12:
            ax.axhline(optimum, color="black", ls="--", lw=1,
                       label=f"best rank-k loss {optimum:.4g}")
        else:
            ax.plot([], [], color="black", ls="--", lw=1,
                    label="best rank-k loss = 0 (not on a log scale)")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(_power_of_ten)
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss (sum of squared differences)")
    if title:
        ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    if any(h.get_label() and not h.get_label().startswith("_")
           for h in ax.get_lines()):
        ax.legend(loc="upper right", fontsize="small")
    return fig


def plot_matrices(D, D_hat, *, annotate=None, shared_scale=True, fig=None,
                  titles=("D", "D_hat = C @ F", "D - D_hat")):
    """Heatmaps of D, D_hat and D - D_hat side by side.

    Parameters
    ----------
    D, D_hat : (n, m) tensors or arrays of the same shape
    annotate : bool, optional
        Write each value in its cell; by default only for matrices of at most
        64 entries.
    shared_scale : bool
        True (default): one diverging colour scale, centred on 0, for all
        three panels, so sizes compare directly (a small error looks pale).
        False: the difference gets its own symmetric scale.
    fig : matplotlib Figure, optional
        Draw into this (cleared) figure instead of a new one.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import torch
    >>> fig = plot_matrices(torch.eye(2), torch.eye(2) * 0.9)
    >>> [ax.get_title() for ax in fig.axes[:3]]
    ['D', 'D_hat = C @ F', 'D - D_hat']
    """
    import matplotlib.pyplot as plt

    D = as_matrix(D, "D").detach().float()
    D_hat = as_matrix(D_hat, "D_hat").detach().float()
    if D.shape != D_hat.shape:
        raise ValueError(
            f"D has shape {tuple(D.shape)} but D_hat has shape {tuple(D_hat.shape)}; "
            "pass the reconstruction C @ F of the same D."
        )
    diff = D - D_hat
    mats = [D, D_hat, diff]
    if annotate is None:
        annotate = D.numel() <= 64
    if fig is None:
        n, m = D.shape
        width = min(12.0, 3 * max(2.2, 0.55 * m + 1))
        height = min(5.0, max(2.2, 0.5 * n + 1.2))
        fig = plt.figure(figsize=(width, height), layout="constrained")
    else:
        fig.clear()
    axes = fig.subplots(1, 3)
    vmax = max(float(torch.max(torch.abs(t))) for t in mats) or 1.0
    dmax = float(torch.max(torch.abs(diff))) or 1.0
    images = []
    for i, (ax, mat, title) in enumerate(zip(axes, mats, titles)):
        lim = vmax if (shared_scale or i < 2) else dmax
        im = ax.imshow(mat.numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim,
                       interpolation="nearest", aspect="auto")
        images.append(im)
        ax.set_title(title)
        ax.set_xticks(range(mat.shape[1]))
        ax.set_yticks(range(mat.shape[0]))
        if mat.shape[1] > 12:
            ax.set_xticks([])
            ax.set_yticks([])
        if annotate:
            for (r, c), v in zip(
                ((r, c) for r in range(mat.shape[0]) for c in range(mat.shape[1])),
                mat.flatten().tolist(),
            ):
                # inside the axes: leaving the values out of the layout
                # passes makes the figure about a quarter cheaper to draw
                ax.text(c, r, f"{v:.2f}" if i < 2 else f"{v:+.3f}",
                        ha="center", va="center", fontsize=8, clip_on=True,
                        color="white" if abs(v) > 0.6 * lim else "black",
                        in_layout=False)
    if shared_scale:
        fig.colorbar(images[0], ax=list(axes), shrink=0.8)
    else:
        fig.colorbar(images[1], ax=list(axes[:2]), shrink=0.8)
        fig.colorbar(images[2], ax=axes[2], shrink=0.8)
    return fig


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
    from .graph import describe_graph, graph_edges

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
