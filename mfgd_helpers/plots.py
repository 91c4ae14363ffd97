"""Plots: the loss curve, and the matrices D, D_hat and their difference.

matplotlib is imported inside the functions, so ``import mfgd_helpers`` stays
cheap. Every function returns a Figure; showing it is the caller's choice.
"""

from __future__ import annotations

import torch

from .validation import check_matrix

__all__ = ["plot_loss", "plot_matrices"]

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

    D = check_matrix(D, "D").detach().float()
    D_hat = check_matrix(D_hat, "D_hat").detach().float()
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
