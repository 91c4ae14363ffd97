"""The playground's logic: from slider settings to what the playground shows.

``playground_view(PlaygroundSettings(...))`` trains and returns a
``PlaygroundView`` (the run, the best possible loss, the stable learning rate
and a status text); ``PlaygroundFigure`` turns a view into one PNG, redrawing
a single reused matplotlib figure. The sliders in ``mfgd_helpers.widgets``
only wire controls to these two, so everything the playground shows can be
computed and tested without a browser. matplotlib is imported on first use.
"""

from __future__ import annotations

import functools
import io
import math
import numbers
import warnings
from dataclasses import dataclass
from typing import Callable, Optional

import torch

from .data import example_problem, init_factors, make_target
from .optimum import best_rank_k_loss
from .step_size import max_stable_lr, suggest_lr
from .threads import one_thread_if_small
from .training import DivergenceWarning, TrainResult, train
from .validation import check_dim, check_lr, check_seed

__all__ = ["PlaygroundFigure", "PlaygroundSettings", "PlaygroundView", "playground_view"]

TARGETS = ("original", "random")
ORIGINAL_SHAPE = {"n": 3, "m": 4, "rank": 2}  # the original notebook's D: 3x4 of rank 2
VERDICTS = ("diverged", "optimum", "bouncing", "falling", "stalled")


@dataclass(frozen=True)
class PlaygroundSettings:
    """What the sliders say; checked on creation.

    Defaults are the original notebook's run: its printed 3x4 D of rank 2 and
    its starting C and F, k = 2, lr = 0.001 and 10000 iterations.

    Attributes
    ----------
    lr : float > 0
        Learning rate.
    k : int, 1 <= k <= min(n, m)
        Columns of C (rows of F).
    n_iterations : int >= 1
    target : {"original", "random"}
        "original": the original notebook's D, C and F (n, m and rank must be
        3, 4 and 2). "random": ``make_target(n, m, rank)`` drawn with ``seed``.
    n, m : int >= 1
        Shape of D.
    rank : int, 1 <= rank <= min(n, m)
        The true rank of D (``make_target``'s inner dimension).
    seed : int >= 0
        Draws the random D and the starting factors: C and F are the first k
        columns (rows) of one draw of size min(n, m), so changing k keeps the
        columns you had. With the original D, only the third column of C (and
        row of F) for k = 3 is drawn.

    Examples
    --------
    >>> PlaygroundSettings()
    PlaygroundSettings(lr=0.001, k=2, n_iterations=10000, target='original', n=3, m=4, rank=2, seed=0)
    >>> PlaygroundSettings(k=4)
    Traceback (most recent call last):
    ...
    ValueError: k == 4, must be between 1 and min(n, m) == 3: ...
    """

    lr: float = 0.001
    k: int = 2
    n_iterations: int = 10000
    target: str = "original"
    n: int = 3
    m: int = 4
    rank: int = 2
    seed: int = 0

    def __post_init__(self):
        if self.target not in TARGETS:
            raise ValueError(
                f"target == {self.target!r}, must be one of {TARGETS}: 'original' for "
                "the original notebook's D, 'random' for make_target(n, m, rank, seed)."
            )
        n, m = check_dim(self.n, "n"), check_dim(self.m, "m")
        rank = check_dim(self.rank, "rank")
        if self.target == "original":
            for name, value in ORIGINAL_SHAPE.items():
                if getattr(self, name) != value:
                    raise ValueError(
                        f"{name} == {getattr(self, name)}, but the original D is 3x4 of "
                        f"rank 2, so {name} must be {value}. Pass target='random' to "
                        "choose n, m and rank."
                    )
        if rank > min(n, m):
            raise ValueError(
                f"rank == {rank}, must be between 1 and min(n, m) == {min(n, m)}: an "
                f"{n}x{m} matrix has at most that rank. Lower rank or enlarge D."
            )
        k = check_dim(self.k, "k")
        if k > min(n, m):
            raise ValueError(
                f"k == {k}, must be between 1 and min(n, m) == {min(n, m)}: more "
                "columns than that cannot lower the loss further. Lower k or enlarge D."
            )
        lr = check_lr(self.lr)
        n_iterations = check_dim(self.n_iterations, "n_iterations")
        if isinstance(self.seed, bool) or not isinstance(self.seed, numbers.Integral):
            raise TypeError(f"seed == {self.seed!r} ({type(self.seed).__name__}), must be "
                            "an integer >= 0, e.g. seed=0.")
        if self.seed < 0:
            raise ValueError(f"seed == {self.seed}, must be an integer >= 0, e.g. seed=0.")
        for name, value in (("lr", lr), ("k", k), ("n_iterations", n_iterations),
                            ("n", n), ("m", m), ("rank", rank), ("seed", int(self.seed))):
            object.__setattr__(self, name, value)

    def describe(self) -> str:
        """The settings in a few words, e.g. for a plot title.

        Examples
        --------
        >>> PlaygroundSettings().describe()
        'lr 0.001, k 2, 10000 iterations; original D (3x4, rank 2)'
        """
        target = ("original D" if self.target == "original"
                  else f"random D (seed {self.seed})")
        return (f"lr {self.lr:.3g}, k {self.k}, {self.n_iterations} iterations; "
                f"{target} ({self.n}x{self.m}, rank {self.rank})")


@dataclass(frozen=True)
class _Problem:
    D: torch.Tensor
    C: torch.Tensor
    F: torch.Tensor
    optimum: float
    stable_lr: float
    suggested_lr: float


@functools.lru_cache(maxsize=32)
def _problem(target: str, n: int, m: int, rank: int, k: int, seed: int) -> _Problem:
    """D, the starting factors and the lr bounds; cached, as only lr and the
    number of iterations change on most slider moves."""
    if target == "original":
        D, C, F = example_problem()
        C, F = C.detach(), F.detach()
        if k > 2:
            C3, F3 = init_factors(n, m, k - 2, seed=seed)
            C, F = torch.cat([C, C3.detach()], 1), torch.cat([F, F3.detach()], 0)
        C, F = C[:, :k], F[:k]
    else:
        g = check_seed(seed)
        D = make_target(n, m, rank, seed=g)
        C, F = init_factors(n, m, min(n, m), seed=g)
        C, F = C.detach()[:, :k], F.detach()[:k]
    C, F = C.contiguous(), F.contiguous()
    suggested = suggest_lr(D, C, F)
    # 2 / the larger curvature of the start and of a balanced solution (the
    # place where suggest_lr takes half of it), so never above max_stable_lr
    stable = min(max_stable_lr(D, C, F), 2.0 * suggested)
    return _Problem(D, C, F, best_rank_k_loss(D, k), stable, suggested)


def _fmt(x: float) -> str:
    return "0" if x == 0 else f"{x:.4g}"


@dataclass(frozen=True, repr=False)
class PlaygroundView:
    """Everything the playground shows for one setting of the sliders.

    Attributes
    ----------
    settings : PlaygroundSettings
    D : Tensor (n, m)
        The target.
    result : TrainResult
        The run (``method="analytic"``), from the starting factors of the
        settings.
    optimum : float
        ``best_rank_k_loss(D, k)``: the floor no rank-k factorization can beat.
    stable_lr : float
        Estimated largest stable learning rate: 2 / the larger curvature of
        the loss at the start (``max_stable_lr``) and at a balanced solution.
        Above it, convergence is no longer guaranteed.
    suggested_lr : float
        ``suggest_lr``: half of ``stable_lr``, a safe choice.

    Examples
    --------
    >>> view = playground_view(PlaygroundSettings(lr=0.2, n_iterations=2000))
    >>> view.verdict, view.diverged
    ('optimum', False)
    >>> print(view.status(timing=False))
    final loss at the floor (gap below 2.8e-09, float32 rounding) · best possible 7.47e-10 · 2000 iterations · no divergence
    """

    settings: PlaygroundSettings
    D: torch.Tensor
    result: TrainResult
    optimum: float
    stable_lr: float
    suggested_lr: float

    @property
    def diverged(self) -> bool:
        return self.result.diverged

    @property
    def final_loss(self) -> float:
        return self.result.final_loss

    @property
    def gap(self) -> float:
        """final loss - best possible loss (NaN when the run diverged)."""
        return float("nan") if self.diverged else self.final_loss - self.optimum

    @property
    def tolerance(self) -> float:
        """How close to the optimum counts as reached (float32 rounding allowed)."""
        return 1e-3 * self.optimum + 1e-9 * float(torch.sum(self.D.double() ** 2))

    def _window(self) -> list:
        losses = self.result.losses
        return losses[-max(2, len(losses) // 10):]

    @property
    def verdict(self) -> str:
        """One of "diverged", "optimum", "bouncing", "falling", "stalled"."""
        if self.diverged:
            return "diverged"
        if self.gap <= self.tolerance:
            return "optimum"
        window = self._window()
        if len(window) < 2:
            return "falling"
        rises = sum(b > a for a, b in zip(window, window[1:]))
        if rises > 0.25 * (len(window) - 1):
            return "bouncing"
        if window[-1] < (1 - 1e-3) * window[0]:
            return "falling"
        return "stalled"

    @property
    def final_loss_text(self) -> str:
        """The final loss in words that any CPU reproduces.

        A run at the optimum ends within float32 rounding of it, so its last
        digits are rounding noise: it is shown as the bound ``gap below
        tolerance``. A bouncing run never settles, and where it stops is
        chaotic: it is shown by the highest loss of its last iterations.
        """
        if self.diverged:
            return "diverged"
        verdict = self.verdict
        if verdict == "optimum":
            return f"at the floor (gap below {self.tolerance:.2g}, float32 rounding)"
        if verdict == "bouncing":
            window = self._window()
            return (f"never settles (swings up to {max(window):.2g} "
                    f"in the last {len(window)} iterations)")
        return _fmt(self.final_loss)

    def status(self, *, timing: bool = True) -> str:
        """One line of facts: final loss, best possible, gap, time, divergence."""
        s, r = self.settings, self.result
        time_text = f" in {r.seconds:.2f} s" if timing else ""
        if self.diverged:
            last = _fmt(r.losses[-1]) if r.losses else "none"
            return (f"DIVERGED at iteration {r.diverged_at} of {s.n_iterations}"
                    f"{time_text} · last finite loss {last} · "
                    f"best possible {_fmt(self.optimum)}")
        gap = f" · gap {self.gap:.2g}" if self.verdict in ("falling", "stalled") else ""
        return (f"final loss {self.final_loss_text} · best possible {_fmt(self.optimum)}"
                f"{gap} · {s.n_iterations} iterations{time_text} · no divergence")

    @property
    def advice(self) -> str:
        """Why the run ended as it did, and what to try next."""
        s, r = self.settings, self.result
        bound, safe = _fmt(self.stable_lr), _fmt(self.suggested_lr)
        ratio = s.lr / self.stable_lr
        verdict = self.verdict
        if verdict == "diverged":
            if ratio > 1:
                return (f"The loss blew up to inf at iteration {r.diverged_at}: lr = "
                        f"{s.lr:.3g} is {ratio:.2g}x the stable bound {bound}, so each "
                        "step overshoots the minimum by more than the last. Move lr "
                        f"below {bound}; {safe} is safe.")
            return (f"The loss blew up at iteration {r.diverged_at} although lr = "
                    f"{s.lr:.3g} is below the estimated bound {bound}: the factors grew "
                    "and the loss got steeper than estimated. Lower lr, e.g. to "
                    f"{_fmt(s.lr / 4)}.")
        if verdict == "optimum":
            if self.optimum > self.tolerance:
                floor = (f"The floor is above 0 because k = {s.k} is below the true "
                         f"rank {s.rank}: no {s.k}-column C can reproduce D.")
            else:
                floor = f"The floor is about 0 because k = {s.k} >= the true rank {s.rank}."
            above = (f" although lr is above the estimated bound {bound}: the bound is "
                     "a guarantee, not a cliff, and this run found flatter ground; a "
                     "little more and it will bounce"
                     if ratio > 1 else "")
            return f"Reached the best possible loss{above}. {floor}"
        if verdict == "bouncing":
            return (f"The loss bounces instead of settling: lr = {s.lr:.3g} is "
                    f"{ratio:.2g}x the stable bound {bound}, so steps overshoot the "
                    f"valley back and forth. Lower lr towards {safe}.")
        window = self._window()
        if verdict == "falling":
            drop = 100 * (1 - window[-1] / window[0])
            hint = (f"raise lr (stable below {bound}, {safe} is safe) or run more iterations"
                    if s.lr < self.suggested_lr else "run more iterations")
            return (f"Still falling ({drop:.2g}% lower over the last {len(window)} "
                    f"iterations) but not at the optimum yet: {hint}.")
        return (f"The loss has flattened {self.gap:.2g} above the best possible: the run "
                "crawls near a saddle point or along a flat valley. Try more iterations, "
                "a larger lr or another seed.")

    def __repr__(self) -> str:
        return (f"PlaygroundView({self.settings.describe()}: {self.verdict}, "
                f"final_loss={_fmt(self.final_loss)}, optimum={_fmt(self.optimum)}, "
                f"stable_lr={_fmt(self.stable_lr)})")


def playground_view(settings: PlaygroundSettings,
                    progress: Optional[Callable[[int, int], None]] = None) -> PlaygroundView:
    """Train for the given settings and return what the playground shows.

    The run uses ``train(..., method="analytic")``; a diverging run does not
    warn here, it is reported by ``view.diverged``, ``view.status()`` and
    ``view.advice``.

    Parameters
    ----------
    settings : PlaygroundSettings
    progress : callable(done, total), optional
        Called about 100 times during training and once at the end with
        ``done == total``, to drive a progress bar.

    Returns
    -------
    PlaygroundView

    Examples
    --------
    >>> view = playground_view(PlaygroundSettings())   # the original notebook's run
    >>> round(view.result.losses[-1], 4), view.verdict
    (0.0014, 'falling')
    >>> round(view.stable_lr, 3), round(view.suggested_lr, 3)
    (0.265, 0.133)
    >>> playground_view(PlaygroundSettings(lr=1.0)).result.diverged_at
    5
    """
    if not isinstance(settings, PlaygroundSettings):
        raise TypeError(
            f"settings must be a PlaygroundSettings; got {type(settings).__name__}. "
            "Build one with mf.PlaygroundSettings(lr=0.01, k=2, ...)."
        )
    if progress is not None and not callable(progress):
        raise TypeError(f"progress == {progress!r} is not callable; pass f(done, total).")
    s = settings
    total = s.n_iterations
    callback = None
    if progress is not None:
        def callback(iteration, loss):
            progress(iteration, total)
    with one_thread_if_small(s.n * s.m), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DivergenceWarning)
        problem = _problem(s.target, s.n, s.m, s.rank, s.k, s.seed)
        result = train(problem.D, problem.C, problem.F, lr=s.lr, n_iterations=total,
                       method="analytic", callback=callback,
                       log_every=max(1, total // 100))
        if progress is not None:
            progress(total, total)
    return PlaygroundView(settings=s, D=problem.D.clone(), result=result,
                          optimum=problem.optimum, stable_lr=problem.stable_lr,
                          suggested_lr=problem.suggested_lr)


class PlaygroundFigure:
    """One reused matplotlib figure: the loss curve over D, D_hat and D - D_hat.

    ``png(view)`` updates the existing artists (``set_data``, no new axes)
    and renders with Agg. What does not change between slider moves (axes,
    ticks, titles, legend, colour bar, D) is drawn once and restored from a
    saved copy ("blitting"); only the curves and the values of D_hat and
    D - D_hat are drawn again. The loss axis snaps to whole decades so that
    it rarely changes. The picture never changes size, and the figure is not
    registered with pyplot.

    Parameters
    ----------
    width, height : float
        Size in inches.
    dpi : float
        Pixels per inch of the PNG.

    Examples
    --------
    >>> picture = PlaygroundFigure()
    >>> data = picture.png(playground_view(PlaygroundSettings(n_iterations=100)))
    >>> data[:4] == b"\\x89PNG", picture.pixels
    (True, (960, 600))
    """

    TITLES = ("D", "D_hat = C @ F", "D - D_hat")

    def __init__(self, *, width: float = 10.0, height: float = 6.25, dpi: float = 96):
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        for name, value in (("width", width), ("height", height), ("dpi", dpi)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                    or not 0 < value <= 1000:
                raise ValueError(f"{name} == {value!r}, must be a number in (0, 1000], "
                                 f"e.g. {name}=10.")
        self.figure = Figure(figsize=(width, height), dpi=dpi)
        self.canvas = FigureCanvasAgg(self.figure)
        fig = self.figure
        ax = fig.add_axes((0.075, 0.575, 0.9, 0.35))
        self.loss_ax = ax
        (self.curve,) = ax.plot([1], [1], color="tab:blue", lw=1.6, animated=True)
        self.floor = ax.axhline(1, color="black", ls="--", lw=1.2, animated=True)
        self.stop = ax.axvline(1, color="tab:red", ls=":", lw=2, visible=False,
                               animated=True)
        self.stop_text = ax.text(0.98, 0.15, "", transform=ax.transAxes, ha="right",
                                 va="bottom", color="tab:red", fontsize=13,
                                 fontweight="bold", visible=False, animated=True,
                                 bbox={"facecolor": "white", "edgecolor": "none"})
        for spine in ax.spines.values():
            spine.set_animated(True)  # drawn over the curve, as in a full draw
        ax.set_xscale("log")  # fast and slow runs both show their shape
        ax.set_yscale("log")
        ax.minorticks_off()  # dozens of minor ticks per decade cost more than they say
        ax.set_xlabel("iteration (log scale)", labelpad=1)
        ax.set_ylabel("loss")
        ax.grid(True, alpha=0.3)
        cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="#eeeeee")
        self.images, self.panels, self.notes = [], [], []
        for i, title in enumerate(self.TITLES):
            pax = fig.add_axes((0.05 + 0.29 * i, 0.05, 0.24, 0.38))
            image = pax.imshow([[0.0]], cmap=cmap, vmin=-1, vmax=1, animated=i > 0,
                               interpolation="nearest", aspect="auto")
            pax.set_title(title)
            note = pax.text(0.5, 0.5, "no reconstruction:\nthe run diverged",
                            transform=pax.transAxes, ha="center", va="center",
                            fontsize=12, color="tab:red", visible=False, animated=True)
            for spine in pax.spines.values():
                spine.set_animated(i > 0)  # drawn over the image, as in a full draw
            self.panels.append(pax)
            self.images.append(image)
            self.notes.append(note)
        self.panels[2].title.set_animated(True)  # it shows the largest error
        cax = fig.add_axes((0.9, 0.05, 0.012, 0.38))
        self.colorbar = fig.colorbar(self.images[0], cax=cax)
        self.labels: list = []
        self._shape = None
        self._D = None  # D as last drawn: the D panel is static while D is
        self._D_version = 0
        self._background = None
        self._background_key = None
        self._rc = {"text.hinting": "none"}

    @property
    def pixels(self) -> tuple:
        """(width, height) of the PNG in pixels."""
        return tuple(self.canvas.get_width_height())

    def _reshape(self, n: int, m: int) -> None:
        """New matrix shape: new limits, ticks and value labels."""
        for panel in self.labels:
            for text in panel:
                text.remove()
        self.labels = []
        annotate = n <= 8 and m <= 6  # beyond that the numbers would overlap
        for i, pax in enumerate(self.panels):
            pax.set_xlim(-0.5, m - 0.5)
            pax.set_ylim(n - 0.5, -0.5)
            pax.set_xticks(range(m) if m <= 12 else [])
            pax.set_yticks(range(n) if n <= 12 else [])
            pax.tick_params(labelsize=8, length=2)
            if annotate:
                size = 9 if m <= 4 else 7.5
                self.labels.append([pax.text(c, r, "", ha="center", va="center",
                                             fontsize=size, animated=i > 0)
                                    for r in range(n) for c in range(m)])
        self._shape = (n, m)

    def _xscale(self, scale: str) -> None:
        ax = self.loss_ax
        if ax.get_xscale() != scale:
            ax.set_xscale(scale)
            ax.minorticks_off()
            ax.set_xlabel(f"iteration{' (log scale)' if scale == 'log' else ''}",
                          labelpad=1)
            if scale == "linear":
                from matplotlib.ticker import MaxNLocator
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))

    def draw(self, view: PlaygroundView) -> None:
        """Update every artist for ``view`` (no rendering yet)."""
        if not isinstance(view, PlaygroundView):
            raise TypeError(f"view must be a PlaygroundView; got {type(view).__name__}. "
                            "Make one with mf.playground_view(settings).")
        s, r = view.settings, view.result
        # the loss curve, its floor and the point of divergence
        losses = [v if v > 0 else float("nan") for v in r.losses]
        self.curve.set_data(range(1, len(losses) + 1), losses)
        positive = [v for v in losses if v == v]
        floor_visible = view.optimum > 1e-30
        lo = min(positive + ([view.optimum] if floor_visible else []), default=1e-3)
        hi = max(positive, default=1.0)
        # whole decades with some room: the axis stays put for most changes
        bottom = math.floor(math.log10(lo) - 0.25)
        top = max(math.ceil(math.log10(hi) + 0.25), bottom + 1)
        self.loss_ax.set_ylim(10.0 ** bottom, 10.0 ** top)
        self.floor.set_ydata([view.optimum if floor_visible else lo / 3] * 2)
        self.floor.set_visible(floor_visible)
        floor_label = (f"best possible with k = {s.k}: {_fmt(view.optimum)}" if floor_visible
                       else f"best possible with k = {s.k}: 0 (off the log scale)")
        if view.diverged:
            end = max(r.diverged_at + 1, 10)
            self._xscale("linear")  # a few iterations: count them one by one
            self.loss_ax.set_xlim(0.5, end + 0.5)
            self.stop.set_xdata([r.diverged_at] * 2)
            reason = (f"\nlr {s.lr:.3g} > stable bound {view.stable_lr:.3g}"
                      if s.lr > view.stable_lr else "")
            self.stop_text.set_text(f"diverged at iteration {r.diverged_at}{reason}")
            title = f"Loss, first {end} iterations"
        else:
            self._xscale("log")
            self.loss_ax.set_xlim(1, max(s.n_iterations, 2) * 1.1)
            title = "Loss (log scale)"
        self.stop.set_visible(view.diverged)
        self.stop_text.set_visible(view.diverged)
        target = "original D" if s.target == "original" else f"random D, seed {s.seed}"
        self.loss_ax.set_title(f"{title} · {target} ({s.n}x{s.m}, rank {s.rank})",
                               fontsize=10, loc="left")
        # above the axes, where it never hides the curve
        # (the learning rate is on its slider: the legend stays in the background)
        legend = self.loss_ax.get_legend()
        if legend is None or legend.get_texts()[1].get_text() != floor_label:
            self.loss_ax.legend([self.curve, self.floor], ["loss", floor_label],
                                loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=2,
                                fontsize=9, frameon=False, borderaxespad=0.1)
        # the matrices, on one colour scale centred on 0 and set by D
        D = view.D.float()
        n, m = D.shape
        if self._shape != (n, m):
            self._reshape(n, m)
        vmax = float(D.abs().max()) or 1.0
        new_D = self._D is None or not torch.equal(D, self._D)
        if new_D:
            for image in self.images:
                image.set_clim(-vmax, vmax)
            self._D = D.clone()
            self._D_version += 1
        if view.diverged:
            blank = torch.full((n, m), float("nan"))
            mats = [D, blank, blank]
            self.panels[2].set_title(self.TITLES[2])
        else:
            D_hat = r.D_hat.float()
            mats = [D, D_hat, D - D_hat]
            largest = float(mats[2].abs().max())
            self.panels[2].set_title(f"{self.TITLES[2]} (largest {largest:.1e})")
        for i, (image, mat) in enumerate(zip(self.images, mats)):
            if i == 0 and not new_D:
                continue
            image.set_data(mat.numpy())
            image.set_extent((-0.5, m - 0.5, n - 0.5, -0.5))
            self.notes[i].set_visible(view.diverged and i > 0)
            if self.labels:
                for text, v in zip(self.labels[i], mat.flatten().tolist()):
                    if v != v:
                        text.set_text("")
                        continue
                    text.set_text(f"{v:.2f}" if i < 2 else f"{v:+.3f}")
                    text.set_color("white" if abs(v) > 0.6 * vmax else "black")

    def _dynamic(self):
        """The artists redrawn on every frame, in drawing order."""
        ax = self.loss_ax
        yield from (self.curve, self.floor, self.stop, self.stop_text)
        yield from ax.spines.values()
        for i, pax in enumerate(self.panels):
            if i == 0:
                continue  # D is part of the static background
            yield self.images[i]
            yield from pax.spines.values()
            if self.labels:
                yield from self.labels[i]
            yield self.notes[i]
        yield self.panels[2].title

    def render(self) -> None:
        """Render the current state into the canvas (the static part from its copy)."""
        import matplotlib

        # unhinted glyphs: indistinguishable here and faster to render
        ax = self.loss_ax
        key = (self._shape, self._D_version, ax.get_xscale(), ax.get_xlim(), ax.get_ylim(),
               ax.get_title(loc="left"), ax.get_legend().get_texts()[1].get_text())
        with matplotlib.rc_context(self._rc):
            if key != self._background_key:
                self.canvas.draw()  # everything that is not animated
                self._background = self.canvas.copy_from_bbox(self.figure.bbox)
                self._background_key = key
            else:
                self.canvas.restore_region(self._background)
            for artist in self._dynamic():
                self.figure.draw_artist(artist)

    def png(self, view: Optional[PlaygroundView] = None) -> bytes:
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
