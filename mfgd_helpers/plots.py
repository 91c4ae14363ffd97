"""Plots: the loss curve, and the matrices D, D_hat and their difference.

``plot_loss`` and ``plot_matrices`` draw new figures. The playground
(``mfgd_helpers.play.Figure``) keeps one figure and updates it; both go
through the private helpers below, so the look is defined once: the log
scale with 10ⁿ tick labels, the dashed floor (the best possible loss), the
red divergence marker, one diverging colour scale centred on 0, and values
written in the cells of small matrices. Each helper creates an artist
(``_loss_line``, ``_floor_line``, ...) or updates one (``_set_losses``,
``_set_floor``, ...).

matplotlib is imported inside the functions, so ``import mfgd_helpers`` stays
cheap. Every public function returns a Figure; showing it is the caller's
choice.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Optional, Union

import torch

from .validation import MatrixLike, check_bool, check_instance, check_matrix, check_scalar

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .training import TrainResult

_Run = Union["TrainResult", Sequence[float]]  # one run: its result or its losses

__all__ = ["plot_loss", "plot_matrices"]

FLOOR_MIN = 1e-12      # a best possible loss at or below this gets no line, only a legend entry
FLOOR_STYLE = {"color": "black", "ls": "--", "lw": 1.2}
DIVERGED_STYLE = {"color": "tab:red", "ls": ":", "lw": 2}
COLOURMAP = "RdBu_r"   # diverging: negative blue, 0 white, positive red
MISSING_COLOUR = "#eeeeee"  # NaN entries (no reconstruction)
MAX_TICKS = 12         # rows (columns) up to which each one gets a tick
MAX_VALUES = 64        # entries up to which values are written in the cells by default
VALUE_EM = 3.7         # width of the widest value, "+0.000", in em
VALUE_PT = (6.0, 8.0)  # smallest and largest font size of the values
VALUE_FILL = 0.8       # the widest value fills at most this share of its cell
WHITE_ABOVE = 0.6      # a value above this share of the colour limit is written in white
MATRIX_TITLES = ("D", "D_hat = C @ F", "D - D_hat")

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
    if not math.isfinite(value) or value <= 0:
        return ""
    exponent = math.log10(value)
    if abs(exponent - round(exponent)) > 1e-6:   # not a power of ten
        return f"{value:g}"
    return "10" + str(round(exponent)).translate(_SUPERSCRIPT)


# input checks that validation.py has no preset for -----------------------------

def _check_axes(ax, name: str = "ax"):
    from matplotlib.axes import Axes

    return check_instance(ax, name, Axes, "a matplotlib Axes",
                          f"Pass e.g. {name}=plt.subplots()[1], or leave {name}=None for a "
                          "new figure.")


def _check_figure(fig, name: str = "fig"):
    from matplotlib.figure import FigureBase

    return check_instance(fig, name, FigureBase, "a matplotlib Figure",
                          f"Pass e.g. {name}=plt.figure(), or leave {name}=None for a new "
                          "figure.")


def _check_text(x, name: str, *, optional: bool = True):
    return check_instance(x, name, str, "a string", f"Pass e.g. {name}='my run'.",
                          optional=optional)


def _check_titles(titles) -> tuple:
    if isinstance(titles, str) or not isinstance(titles, Sequence):
        raise TypeError(f"titles == {titles!r:.60} ({type(titles).__name__}), must be three "
                        f"strings, e.g. titles={MATRIX_TITLES}.")
    if len(titles) != 3:
        raise ValueError(f"titles has {len(titles)} entries, must have 3 (for D, D_hat and "
                         f"D - D_hat), e.g. titles={MATRIX_TITLES}.")
    return tuple(_check_text(t, f"titles[{i}]", optional=False) for i, t in enumerate(titles))


def _losses_of(result) -> list:
    losses = getattr(result, "losses", result)
    try:
        if isinstance(losses, (str, bytes, Mapping)):
            raise TypeError
        return [float(v) for v in losses]
    except (TypeError, ValueError, RuntimeError):
        raise TypeError("result must be a TrainResult or a sequence of loss values; "
                        f"got {type(result).__name__}.") from None


# the loss: axes, curve, floor, divergence ------------------------------------

def _style_loss_axes(ax, *, ylabel: str = "loss") -> None:
    """Log loss axis with 10ⁿ labels, no minor ticks, a light grid."""
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(_power_of_ten)
    ax.minorticks_off()  # dozens of minor ticks per decade cost more than they say
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)


def _positive(losses: list) -> list:
    """The losses a log scale can show: 0 and below become NaN (a gap)."""
    return [v if v > 0 else float("nan") for v in losses]


def _loss_line(ax, losses: list, **kw):
    """A new loss curve, iteration 1 first."""
    (line,) = ax.plot(range(1, len(losses) + 1), _positive(losses), **kw)
    return line


def _set_losses(line, losses: list) -> None:
    line.set_data(range(1, len(losses) + 1), _positive(losses))


def _floor_label(optimum: float, k: Optional[int] = None) -> str:
    """>>> _floor_label(0.01), _floor_label(0.0, k=2)
    ('best rank-k loss 0.01', 'best rank-2 loss = 0 (not on a log scale)')
    """
    what = f"best rank-{k if k is not None else 'k'} loss"
    if optimum == 0:
        return f"{what} = 0 (not on a log scale)"
    if optimum <= FLOOR_MIN:
        return f"{what} {optimum:.2g} (below {_power_of_ten(FLOOR_MIN)}, not drawn)"
    return f"{what} {optimum:.4g}"


def _floor_line(ax, optimum: float, k: Optional[int] = None, **kw):
    """The best possible loss as a dashed line; at or below FLOOR_MIN, a legend entry only."""
    label = _floor_label(optimum, k)
    if optimum > FLOOR_MIN:
        return ax.axhline(optimum, label=label, **FLOOR_STYLE, **kw)
    (line,) = ax.plot([], [], label=label, **FLOOR_STYLE, **kw)
    return line


def _set_floor(line, optimum: float, k: Optional[int] = None) -> str:
    """Move a floor made by ``_floor_line(ax, 1.0)``; returns its new label."""
    drawn = optimum > FLOOR_MIN
    if drawn:
        line.set_ydata([optimum, optimum])
    line.set_visible(drawn)
    line.set_label(_floor_label(optimum, k))
    return line.get_label()


def _divergence_label(at: int) -> str:
    return f"diverged at iteration {at}"


def _divergence_line(ax, at: int, **kw):
    """A dotted red line at the iteration whose loss was not finite."""
    return ax.axvline(at, label=_divergence_label(at), **DIVERGED_STYLE, **kw)


def _set_divergence(line, at: Optional[int]) -> None:
    """Move a divergence line, or hide it (``at`` None: the run did not diverge)."""
    line.set_visible(at is not None)
    if at is not None:
        line.set_xdata([at, at])
        line.set_label(_divergence_label(at))


# the matrices: colour scale, ticks, values -----------------------------------------

def _colour_limit(*mats: torch.Tensor) -> float:
    """The largest |value| of the matrices (NaN ignored), 1 when all are 0."""
    finite = [float(torch.nan_to_num(m, nan=0.0).abs().max()) for m in mats]
    return max(finite, default=0.0) or 1.0


def _colourmap():
    import matplotlib

    return matplotlib.colormaps[COLOURMAP].with_extremes(bad=MISSING_COLOUR)


def _matrix_image(ax, mat: torch.Tensor, lim: float, **kw):
    """A heatmap of ``mat`` on the scale [-lim, lim], with ticks for its rows and columns."""
    image = ax.imshow(mat.numpy(), cmap=_colourmap(), vmin=-lim, vmax=lim,
                      interpolation="nearest", aspect="auto", **kw)
    _matrix_ticks(ax, *mat.shape)
    return image


def _set_matrix(image, mat: torch.Tensor) -> None:
    n, m = mat.shape
    image.set_data(mat.numpy())
    image.set_extent((-0.5, m - 0.5, n - 0.5, -0.5))


def _matrix_ticks(ax, n: int, m: int) -> None:
    ax.set_xlim(-0.5, m - 0.5)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_xticks(range(m) if m <= MAX_TICKS else [])
    ax.set_yticks(range(n) if n <= MAX_TICKS else [])
    ax.tick_params(labelsize=8, length=2)


def _value_size(n: int, m: int, panel_inches: float, *, force: bool = False):
    """Font size for the values of an n x m panel, or None for no values.

    Values are written when there are at most MAX_VALUES entries (or when
    ``force``) and the widest one fills at most VALUE_FILL of a cell at a
    font size of VALUE_PT[0] or more.

    >>> _value_size(3, 4, 2.4), _value_size(8, 8, 2.4), _value_size(9, 9, 9.0)
    (8.0, None, None)
    """
    cell_pt = 72 * panel_inches / m
    size = min(VALUE_PT[1], VALUE_FILL * cell_pt / VALUE_EM)
    if force:
        return max(size, VALUE_PT[0])
    return size if n * m <= MAX_VALUES and size >= VALUE_PT[0] else None


def _value_labels(ax, n: int, m: int, size: float, **kw) -> list:
    """One empty text per cell, row by row, to be filled by ``_set_values``."""
    # inside the axes and out of the layout: a quarter cheaper to draw
    return [ax.text(c, r, "", ha="center", va="center", fontsize=size, clip_on=True,
                    in_layout=False, **kw) for r in range(n) for c in range(m)]


def _set_values(texts: list, mat: torch.Tensor, lim: float, *, signed: bool) -> None:
    """Write ``mat``'s values (``+0.000`` when ``signed``, else ``0.00``; NaN: nothing)."""
    for text, v in zip(texts, mat.flatten().tolist()):
        if v != v:
            text.set_text("")
            continue
        text.set_text(f"{v:+.3f}" if signed else f"{v:.2f}")
        text.set_color("white" if abs(v) > WHITE_ABOVE * lim else "black")


# the public plots ------------------------------------------------------------------

def plot_loss(result: Union[_Run, Mapping[str, _Run]], *, optimum: Optional[float] = None,
              label: Optional[str] = None, ax: Optional["Axes"] = None,
              title: Optional[str] = "Loss during training") -> "Figure":
    """Loss curve on a log scale, optionally with the best possible loss as a line.

    Parameters
    ----------
    result : TrainResult, a sequence of floats, or a dict {label: either}
        A dict draws several runs on one set of axes. A run that diverged
        gets a dotted red line at the iteration where it stopped.
    optimum : float >= 0, optional
        ``best_rank_k_loss(D, k)``, drawn as a dashed line. An optimum of 0
        cannot appear on a log scale; the legend says so instead.
    label : str, optional
        Legend label for a single run.
    ax : matplotlib Axes, optional
        Draw into these axes instead of a new figure.
    title : str or None
        Title of the axes; None or "" for none.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    TypeError
        If ``result`` holds no loss values, or ``ax``, ``label`` or ``title``
        are of the wrong kind.
    ValueError
        If ``optimum`` is negative, NaN or infinite.

    Examples
    --------
    >>> fig = plot_loss([1.0, 0.5, 0.25], optimum=0.1, label="demo")
    >>> ax = fig.axes[0]
    >>> ax.get_yscale(), [t.get_text() for t in ax.get_legend().get_texts()]
    ('log', ['demo', 'best rank-k loss 0.1'])
    >>> plot_loss([1.0, 0.5], optimum=float("nan"))
    Traceback (most recent call last):
    ...
    ValueError: optimum == nan, must be a finite number >= 0. Pass best_rank_k_loss(D, k), ...
    """
    import matplotlib.pyplot as plt

    runs = dict(result) if isinstance(result, Mapping) else {_check_text(label, "label"): result}
    runs = {name: (run, _losses_of(run)) for name, run in runs.items()}
    if optimum is not None:
        optimum = check_scalar(optimum, "optimum", float, min_val=0,
                               fix="Pass best_rank_k_loss(D, k), or None for no line.")
    _check_text(title, "title")
    if _check_axes(ax) is None:
        fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    else:
        fig = ax.figure
    _style_loss_axes(ax, ylabel="loss (sum of squared differences)")
    ax.set_xlabel("iteration")
    for name, (run, losses) in runs.items():
        _loss_line(ax, losses, label=name)
        at = getattr(run, "diverged_at", None)
        if at is not None:
            _divergence_line(ax, at)
    if optimum is not None:
        _floor_line(ax, optimum)
    if title:
        ax.set_title(title)
    if any(h.get_label() and not h.get_label().startswith("_") for h in ax.get_lines()):
        ax.legend(loc="upper right", fontsize="small")
    return fig


def plot_matrices(D: MatrixLike, D_hat: MatrixLike, *, annotate: Optional[bool] = None,
                  shared_scale: bool = True, fig: Optional["Figure"] = None,
                  titles: Sequence[str] = MATRIX_TITLES) -> "Figure":
    """Heatmaps of D, D_hat and D - D_hat side by side.

    Parameters
    ----------
    D, D_hat : (n, m) tensors or arrays of the same shape
    annotate : bool, optional
        Write each value in its cell; by default only for matrices of at most
        64 entries whose values fit their cells.
    shared_scale : bool
        True (default): one diverging colour scale, centred on 0, for all
        three panels, so sizes compare directly (a small error looks pale).
        False: the difference gets its own symmetric scale.
    fig : matplotlib Figure, optional
        Draw into this (cleared) figure instead of a new one.
    titles : three strings
        The panels' titles.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    TypeError
        If ``D`` or ``D_hat`` is not a matrix, or ``annotate``,
        ``shared_scale``, ``fig`` or ``titles`` are of the wrong kind.
    ValueError
        If the shapes differ, a matrix holds NaN or inf, or ``titles`` does
        not have three entries.

    Examples
    --------
    >>> import torch
    >>> fig = plot_matrices(torch.eye(2), torch.eye(2) * 0.9)
    >>> [ax.get_title() for ax in fig.axes[:3]]
    ['D', 'D_hat = C @ F', 'D - D_hat']
    >>> [t.get_text() for t in fig.axes[2].texts]
    ['+0.100', '+0.000', '+0.000', '+0.100']
    >>> plot_matrices(torch.eye(2), torch.eye(2), titles=("D", "D_hat"))
    Traceback (most recent call last):
    ...
    ValueError: titles has 2 entries, must have 3 (for D, D_hat and D - D_hat), ...
    """
    import matplotlib.pyplot as plt

    D = check_matrix(D, "D").detach().float()
    D_hat = check_matrix(D_hat, "D_hat").detach().float()
    if D.shape != D_hat.shape:
        raise ValueError(
            f"D has shape {tuple(D.shape)} but D_hat has shape {tuple(D_hat.shape)}; "
            "pass the reconstruction C @ F of the same D."
        )
    if annotate is not None:
        annotate = check_bool(annotate, "annotate")
    shared_scale = check_bool(shared_scale, "shared_scale")
    titles = _check_titles(titles)
    n, m = D.shape
    if _check_figure(fig) is None:
        width = min(12.0, 3 * max(2.2, 0.55 * m + 1))
        height = min(5.0, max(2.2, 0.5 * n + 1.2))
        fig = plt.figure(figsize=(width, height), layout="constrained")
    else:
        fig.clear()
    mats = [D, D_hat, D - D_hat]
    axes = fig.subplots(1, 3)
    shared = _colour_limit(*mats)
    size = None if annotate is False else _value_size(
        n, m, 0.28 * fig.get_figwidth(), force=bool(annotate))
    images = []
    for i, (ax, mat, title) in enumerate(zip(axes, mats, titles)):
        lim = shared if (shared_scale or i < 2) else _colour_limit(mat)
        images.append(_matrix_image(ax, mat, lim))
        ax.set_title(title)
        if size is not None:
            _set_values(_value_labels(ax, n, m, size), mat, lim, signed=i == 2)
    if shared_scale:
        fig.colorbar(images[0], ax=list(axes), shrink=0.8)
    else:
        fig.colorbar(images[1], ax=list(axes[:2]), shrink=0.8)
        fig.colorbar(images[2], ax=axes[2], shrink=0.8)
    return fig
