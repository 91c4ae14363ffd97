"""The playground's picture: one reused figure, drawn with the helpers of ``plots.py``."""

from __future__ import annotations

import io
import math
from typing import Optional

import torch

from .. import plots
from ..validation import check_bool, check_scalar
from .view import View

__all__ = ["Figure"]

_RC = {"text.hinting": "none"}  # unhinted glyphs: indistinguishable here, faster


def _iteration_axis(ax, log: bool) -> None:
    """Log iterations for a full run (fast and slow runs both show their shape),
    whole iterations one by one for the few of a diverged run."""
    from matplotlib.ticker import MaxNLocator

    scale = "log" if log else "linear"
    if ax.get_xscale() == scale:
        return
    ax.set_xscale(scale)
    ax.minorticks_off()
    ax.set_xlabel(f"iteration{' (log scale)' if log else ''}", labelpad=1)
    if log:
        ax.xaxis.set_major_formatter(plots._power_of_ten)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _decades(values: list) -> tuple:
    """Whole decades around ``values`` with some room: the axis stays put for most changes."""
    bottom = math.floor(math.log10(min(values)) - 0.25)
    top = max(math.ceil(math.log10(max(values)) + 0.25), bottom + 1)
    return 10.0 ** bottom, 10.0 ** top


class Figure:
    """One reused matplotlib figure: the loss curve over D, D_hat and D - D_hat.

    ``png(view)`` updates the existing artists (no new axes) and renders with
    Agg; the figure is not registered with pyplot and never changes size.
    The artists come from the same helpers as ``plot_loss`` and
    ``plot_matrices``, so both look alike. The loss axis snaps to whole
    decades so that it rarely changes.

    With ``blit=True`` (the default) what does not change between slider
    moves (axes, ticks, titles, legend, colour bar, D) is drawn once and
    restored from a saved copy; only the curves and the values of D_hat and
    D - D_hat are drawn again, which makes a frame several times cheaper
    (``benchmarks/bench_playground.py`` measures both).

    Parameters
    ----------
    width, height : float in (0, 1000]
        Size in inches.
    dpi : float in (0, 1000]
        Pixels per inch of the PNG.
    blit : bool
        Redraw only what changes (True) or everything (False).

    Examples
    --------
    >>> from mfgd_helpers.play import Settings, run
    >>> picture = Figure()
    >>> data = picture.png(run(Settings(n_iterations=100)))
    >>> data[:4] == b"\\x89PNG", picture.pixels
    (True, (960, 600))
    """

    def __init__(self, *, width: float = 10.0, height: float = 6.25, dpi: float = 96,
                 blit: bool = True):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure as MplFigure

        size = {name: check_scalar(value, name, float, min_val=0, max_val=1000,
                                   include_boundaries="right", fix=f"Pass e.g. {name}={default}.")
                for name, value, default in (("width", width, 10), ("height", height, 6.25),
                                             ("dpi", dpi, 96))}
        self.blit = check_bool(blit, "blit")
        animated = self.blit
        self.figure = MplFigure(figsize=(size["width"], size["height"]), dpi=size["dpi"])
        self.canvas = FigureCanvasAgg(self.figure)
        fig = self.figure
        ax = self.loss_ax = fig.add_axes((0.075, 0.575, 0.9, 0.35))
        plots._style_loss_axes(ax, ylabel="loss")
        _iteration_axis(ax, log=True)
        self.curve = plots._loss_line(ax, [1.0], color="tab:blue", lw=1.6, animated=animated)
        self.floor = plots._floor_line(ax, 1.0, animated=animated)
        self.stop = plots._divergence_line(ax, 1, visible=False, animated=animated)
        self.stop_text = ax.text(0.98, 0.15, "", transform=ax.transAxes, ha="right",
                                 va="bottom", color=plots.DIVERGED_STYLE["color"],
                                 fontsize=13, fontweight="bold", visible=False,
                                 animated=animated,
                                 bbox={"facecolor": "white", "edgecolor": "none"})
        for spine in ax.spines.values():
            spine.set_animated(animated)  # drawn over the curve, as in a full draw
        self.panels, self.images, self.notes = [], [], []
        for i, title in enumerate(plots.MATRIX_TITLES):
            pax = fig.add_axes((0.05 + 0.29 * i, 0.05, 0.24, 0.38))
            changing = animated and i > 0  # D is part of the static background
            self.images.append(plots._matrix_image(pax, torch.zeros(1, 1), 1.0,
                                                   animated=changing))
            pax.set_title(title)
            self.notes.append(pax.text(0.5, 0.5, "no reconstruction:\nthe run diverged",
                                       transform=pax.transAxes, ha="center", va="center",
                                       fontsize=12, color=plots.DIVERGED_STYLE["color"],
                                       visible=False, animated=changing))
            for spine in pax.spines.values():
                spine.set_animated(changing)  # drawn over the image, as in a full draw
            self.panels.append(pax)
        self.panels[2].title.set_animated(animated)  # it shows the largest error
        cax = fig.add_axes((0.9, 0.05, 0.012, 0.38))
        self.colorbar = fig.colorbar(self.images[0], cax=cax)
        self.labels: list = []  # per panel, one text per cell; [] for large matrices
        self._reshape(1, 1)  # as the placeholder images are
        self._background = None
        self._background_key = None

    @property
    def pixels(self) -> tuple:
        """(width, height) of the PNG in pixels."""
        return tuple(self.canvas.get_width_height())

    def _reshape(self, n: int, m: int) -> None:
        """New matrix shape: new limits, ticks and value labels."""
        for panel in self.labels:
            for text in panel:
                text.remove()
        panel_inches = self.panels[0].get_position().width * self.figure.get_figwidth()
        size = plots._value_size(n, m, panel_inches)
        self.labels = [] if size is None else [
            plots._value_labels(pax, n, m, size, animated=self.blit and i > 0)
            for i, pax in enumerate(self.panels)]
        for pax in self.panels:
            plots._matrix_ticks(pax, n, m)

    def _draw_loss(self, view: View) -> None:
        s, r = view.settings, view.result
        ax = self.loss_ax
        plots._set_losses(self.curve, r.losses)
        floor_label = plots._set_floor(self.floor, view.optimum, s.k)
        plots._set_divergence(self.stop, r.diverged_at)
        positive = [v for v in r.losses if v > 0]
        floor = [view.optimum] if self.floor.get_visible() else []
        ax.set_ylim(*_decades(positive + floor or [1e-3, 1.0]))
        if view.diverged:
            end = max(r.diverged_at + 1, 10)
            _iteration_axis(ax, log=False)
            ax.set_xlim(0.5, end + 0.5)
            reason = (f"\nlr {s.lr:.3g} > stable bound {view.stable_lr:.3g}"
                      if s.lr > view.stable_lr else "")
            self.stop_text.set_text(f"{plots._divergence_label(r.diverged_at)}{reason}")
            title = f"Loss, first {end} iterations"
        else:
            _iteration_axis(ax, log=True)
            ax.set_xlim(1, max(s.n_iterations, 2) * 1.1)
            title = "Loss (log scale)"
        self.stop_text.set_visible(view.diverged)
        target = "original D" if s.target == "original" else f"random D, seed {s.seed}"
        ax.set_title(f"{title} · {target} ({s.n}x{s.m}, rank {s.rank})", fontsize=10,
                     loc="left")
        # above the axes, where it never hides the curve
        legend = ax.get_legend()
        if legend is None or legend.get_texts()[1].get_text() != floor_label:
            ax.legend([self.curve, self.floor], ["loss", floor_label], loc="lower right",
                      bbox_to_anchor=(1.0, 1.0), ncols=2, fontsize=9, frameon=False,
                      borderaxespad=0.1)

    def _draw_matrices(self, view: View) -> None:
        D = view.D.float()
        n, m = D.shape
        if self.images[0].get_array().shape != (n, m):
            self._reshape(n, m)
        lim = plots._colour_limit(D)  # one scale, set by D: it stays put while D does
        if view.diverged:
            blank = torch.full((n, m), float("nan"))
            mats = [D, blank, blank]
            self.panels[2].set_title(plots.MATRIX_TITLES[2])
        else:
            D_hat = view.result.D_hat.float()
            mats = [D, D_hat, D - D_hat]
            largest = float(mats[2].abs().max())
            self.panels[2].set_title(f"{plots.MATRIX_TITLES[2]} (largest {largest:.1e})")
        for i, (image, mat) in enumerate(zip(self.images, mats)):
            plots._set_matrix(image, mat)
            image.set_clim(-lim, lim)
            self.notes[i].set_visible(view.diverged and i > 0)
            if self.labels:
                plots._set_values(self.labels[i], mat, lim, signed=i == 2)

    def draw(self, view: View) -> None:
        """Update every artist for ``view`` (no rendering yet)."""
        if not isinstance(view, View):
            raise TypeError(f"view must be a View; got {type(view).__name__}. "
                            "Make one with play.run(settings).")
        self._draw_loss(view)
        self._draw_matrices(view)

    def _changing(self):
        """The artists drawn on every frame when blitting, in drawing order."""
        yield from (self.curve, self.floor, self.stop, self.stop_text)
        yield from self.loss_ax.spines.values()
        for i in (1, 2):
            yield self.images[i]
            yield from self.panels[i].spines.values()
            if self.labels:
                yield from self.labels[i]
            yield self.notes[i]
        yield self.panels[2].title

    def _static_key(self) -> tuple:
        """What the saved background shows; a new key means drawing it again."""
        ax = self.loss_ax
        return (self.images[0].get_array().tobytes(), self.images[0].get_array().shape,
                self.images[0].get_clim(), ax.get_xscale(), ax.get_xlim(), ax.get_ylim(),
                ax.get_title(loc="left"), ax.get_legend().get_texts()[1].get_text())

    def render(self) -> None:
        """Render the current state into the canvas."""
        import matplotlib

        with matplotlib.rc_context(_RC):
            if not self.blit:
                self.canvas.draw()
                return
            key = self._static_key()
            if key != self._background_key:
                self.canvas.draw()  # everything that is not animated
                self._background = self.canvas.copy_from_bbox(self.figure.bbox)
                self._background_key = key
            else:
                self.canvas.restore_region(self._background)
            for artist in self._changing():
                self.figure.draw_artist(artist)

    def png(self, view: Optional[View] = None) -> bytes:
        """Draw ``view`` (if given), render, and return the picture as PNG bytes."""
        from PIL import Image

        if view is not None:
            self.draw(view)
        self.render()
        width, height = self.pixels
        picture = Image.frombuffer("RGBA", (width, height), self.canvas.buffer_rgba(),
                                   "raw", "RGBA", 0, 1).convert("RGB")
        buffer = io.BytesIO()
        picture.save(buffer, format="png", compress_level=1)
        return buffer.getvalue()
