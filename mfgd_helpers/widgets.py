"""The live playground: sliders wired to ``playground_view`` and ``PlaygroundFigure``.

Everything shown is computed by the plain functions in ``playground_logic.py``;
this module only builds the controls, reacts to them and shows the result.
ipywidgets is imported when a playground is made, not with the package.
"""

from __future__ import annotations

import html
import time
from dataclasses import replace

from .playground_logic import PlaygroundFigure, PlaygroundSettings, playground_view

__all__ = ["Playground", "playground"]

LR_RANGE = (1e-5, 1.0)        # the learning-rate slider, log scale
ITERATIONS_RANGE = (10, 20000)
SIZE_MAX = 50                 # largest n and m
SEED_MAX = 99
PROGRESS_AFTER = 0.25         # seconds before a run starts to report progress
PROGRESS_EVERY = 0.1          # seconds between progress-bar updates

_COLOURS = {"diverged": "#fde2e2", "optimum": "#e2f5e2"}  # others: amber
_LABELS = {"optimum": "at the optimum",
           "bouncing": "bouncing", "falling": "still falling",
           "stalled": "stalled"}


def _check_in_range(settings: PlaygroundSettings) -> None:
    """The sliders cannot show values outside their ranges: refuse them."""
    lo, hi = LR_RANGE
    if not lo <= settings.lr <= hi:
        raise ValueError(f"lr == {settings.lr:g} is outside the slider's range "
                         f"[{lo:g}, {hi:g}]; pass a learning rate inside it.")
    lo, hi = ITERATIONS_RANGE
    if not lo <= settings.n_iterations <= hi:
        raise ValueError(f"n_iterations == {settings.n_iterations} is outside the "
                         f"slider's range [{lo}, {hi}]; pass a value inside it.")
    for name in ("n", "m"):
        if getattr(settings, name) > SIZE_MAX:
            raise ValueError(f"{name} == {getattr(settings, name)}, the slider goes up "
                             f"to {SIZE_MAX}; pass {name} <= {SIZE_MAX}.")
    if settings.seed > SEED_MAX:
        raise ValueError(f"seed == {settings.seed}, the slider goes up to {SEED_MAX}; "
                         f"pass seed <= {SEED_MAX}.")


class Playground:
    """The playground's controls, status line, progress bar and picture.

    ``Playground(settings).widget`` is the ipywidgets box to display;
    ``mf.playground()`` returns just that. Every slider updates on release,
    and each change retrains (``playground_view``) and redraws one reused
    figure (``PlaygroundFigure``) into an ``ipywidgets.Image``, so the page
    neither flickers nor jumps. Kept as an object so that code (and tests)
    can reach the controls: ``controls[name].value = ...`` acts like moving
    the slider.

    Parameters
    ----------
    settings : PlaygroundSettings, optional
        Where the controls start; the original notebook's run by default.
    width, height, dpi : float
        Size of the picture, passed to ``PlaygroundFigure``.

    Attributes
    ----------
    controls : dict of name -> widget
        "lr", "k", "n_iterations", "target", "n", "m", "rank", "seed".
    view : PlaygroundView
        What is shown now.
    seconds : float
        Time of the last update: training, drawing and encoding.
    status, lr_info, progress, progress_text, image, suggest : widgets
    widget : ipywidgets.VBox

    Examples
    --------
    >>> app = Playground(PlaygroundSettings(n_iterations=2000))
    >>> app.view.verdict, "STILL FALLING" in app.status.value
    ('falling', True)
    >>> app.controls["lr"].value = 0.2          # as if the slider moved
    >>> app.view.settings.lr, app.view.verdict, "AT THE OPTIMUM" in app.status.value
    (0.2, 'optimum', True)
    """

    def __init__(self, settings: PlaygroundSettings | None = None, *,
                 width: float = 10.0, height: float = 6.25, dpi: float = 96):
        import ipywidgets as w

        if settings is None:
            settings = PlaygroundSettings()
        if not isinstance(settings, PlaygroundSettings):
            raise TypeError(
                f"settings must be a PlaygroundSettings or None; got "
                f"{type(settings).__name__}. Build one with mf.PlaygroundSettings(...)."
            )
        _check_in_range(settings)
        self.figure = PlaygroundFigure(width=width, height=height, dpi=dpi)
        s = settings
        kmax = min(s.n, s.m)
        style = {"description_width": "120px"}
        wide = w.Layout(width="384px")

        def slider(kind, description, tooltip, **kw):
            return kind(description=description, tooltip=tooltip,
                        continuous_update=False, style=style, layout=wide, **kw)

        self.controls = {
            "lr": slider(w.FloatLogSlider, "learning rate",
                         "Step size of gradient descent (log scale)", value=s.lr,
                         base=10, min=-5, max=0, step=0.1, readout_format=".3g"),
            "k": slider(w.IntSlider, "k (columns of C)",
                        "Inner dimension of C @ F", value=s.k, min=1, max=kmax),
            "n_iterations": slider(w.IntSlider, "iterations", "Gradient steps",
                                   value=s.n_iterations, min=ITERATIONS_RANGE[0],
                                   max=ITERATIONS_RANGE[1], step=10),
            "target": w.ToggleButtons(
                options=[("original D", "original"), ("random D", "random")],
                value=s.target, description="target D", style={
                    "description_width": "62px", "button_width": "140px"},
                tooltips=["The 3x4 D, C and F printed in the original notebook",
                          "make_target(n, m, rank) drawn with the seed"]),
            "n": slider(w.IntSlider, "n (rows of D)", "Rows of D", value=s.n, min=1,
                        max=SIZE_MAX),
            "m": slider(w.IntSlider, "m (columns of D)", "Columns of D", value=s.m,
                        min=1, max=SIZE_MAX),
            "rank": slider(w.IntSlider, "true rank of D",
                           "Inner dimension used to build D", value=s.rank, min=1,
                           max=kmax),
            "seed": slider(w.IntSlider, "seed",
                           "Draws the random D and the starting C and F",
                           value=s.seed, min=0, max=SEED_MAX),
        }
        self.controls["lr"].add_class("mfgd-lr")
        self.lr_info = w.HTML(layout=w.Layout(margin="0 0 0 6px", width="250px",
                                              overflow="hidden"))
        self.lr_info.add_class("mfgd-lr-info")
        self.suggest = w.Button(description="use suggested lr",
                                tooltip="Set the learning rate to mf.suggest_lr",
                                layout=w.Layout(width="132px", margin="0 0 4px 4px"))
        self.progress = w.FloatProgress(value=0.0, min=0.0, max=1.0,
                                        layout=w.Layout(width="384px"))
        self.progress_text = w.HTML()
        self.status = w.HTML(layout=w.Layout(height="6em", overflow="auto",
                                             width="100%", max_width="960px"))
        self.status.add_class("mfgd-status")
        self.image = w.Image(format="png", layout=w.Layout(
            width="100%", max_width=f"{self.figure.pixels[0]}px", height="auto"))
        self.image.add_class("mfgd-plot")

        c = self.controls
        # fixed widths: nothing the controls show can push the layout around
        training = w.VBox([c["lr"], w.HBox([self.suggest, self.lr_info]), c["k"],
                           c["n_iterations"]],
                          layout=w.Layout(width="392px", margin="0 16px 0 0"))
        target = w.VBox([c["target"], c["n"], c["m"], c["rank"], c["seed"]],
                        layout=w.Layout(width="384px"))
        self.widget = w.VBox([
            w.HBox([training, target], layout=w.Layout(flex_flow="row wrap")),
            w.HBox([self.progress, self.progress_text]),
            self.status,
            self.image,
        ])
        self.widget.add_class("mfgd-playground")

        self._holding = False
        self._next_progress = 0.0
        self.view = None
        self.seconds = 0.0
        self._sync_target_controls()
        for name, control in self.controls.items():
            control.observe(self._on_change, names="value")
        self.suggest.on_click(self._on_suggest)
        self.update()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    # reading the controls ------------------------------------------------

    def settings(self) -> PlaygroundSettings:
        """The settings the controls show now."""
        values = {name: control.value for name, control in self.controls.items()}
        return PlaygroundSettings(**values)

    def _sync_target_controls(self) -> None:
        """Keep n, m, rank and k consistent with the target and with each other."""
        c = self.controls
        original = c["target"].value == "original"
        if original:
            c["n"].value, c["m"].value, c["rank"].max = 3, 4, 3
            c["rank"].value = 2
        for name in ("n", "m", "rank"):
            c[name].disabled = original
        kmax = min(c["n"].value, c["m"].value)
        for name in ("k", "rank"):
            c[name].max = kmax  # ipywidgets lowers a value above the new max

    # reacting -----------------------------------------------------------------

    def _on_change(self, change) -> None:
        if self._holding:
            return
        if change["owner"] in (self.controls["target"], self.controls["n"],
                               self.controls["m"]):
            self._holding = True  # one update for the whole adjustment
            try:
                self._sync_target_controls()
            finally:
                self._holding = False
        self.update()

    def _on_suggest(self, _button) -> None:
        if self.view is not None:
            self.controls["lr"].value = self.view.suggested_lr

    def _on_progress(self, done: int, total: int) -> None:
        # quick runs leave the bar alone (no flicker); longer ones show it move
        now = time.perf_counter()
        if now < self._next_progress or done >= total:
            return
        self._next_progress = now + PROGRESS_EVERY
        self.progress.bar_style = "info"
        self.progress.value = done / total
        self.progress_text.value = f"training: iteration {done} of {total}"

    def update(self) -> None:
        """Retrain for the current controls and redraw; errors go to the status line."""
        start = time.perf_counter()
        self._next_progress = start + PROGRESS_AFTER
        try:
            view = playground_view(self.settings(), progress=self._on_progress)
            picture = self.figure.png(view)
        except Exception as err:  # shown, not lost in a log nobody reads
            self.progress.bar_style = "danger"
            self.status.value = self._box(
                "#fde2e2", f"<b>Error</b>: {html.escape(type(err).__name__)}: "
                f"{html.escape(str(err))}")
            raise
        self.view = view
        self.image.value = picture
        self.seconds = time.perf_counter() - start
        self.progress.bar_style = "danger" if view.diverged else "success"
        self._show(view)

    # showing --------------------------------------------------------------------

    @staticmethod
    def _box(colour: str, body: str) -> str:
        return (f'<div style="background:{colour};padding:4px 8px;border-radius:4px;'
                f'line-height:1.35;font-size:13px">{body}</div>')

    def _show(self, view) -> None:
        verdict = view.verdict
        facts = html.escape(view.status())
        if verdict == "diverged":  # the facts start with DIVERGED already
            facts = f"<b>{facts[:8]}</b>{facts[8:]}"
        else:
            facts = f"<b>{_LABELS[verdict].upper()}</b> · {facts}"
        self.status.value = self._box(_COLOURS.get(verdict, "#fff3d6"),
                                      f"{facts}<br>{html.escape(view.advice)}")
        # above the bound the same words turn red: a colour, not a longer line
        above = view.settings.lr > view.stable_lr
        bound = (f'<span style="color:#c62828" title="lr is above the stable bound">'
                 f"⚠ stable below <b>{view.stable_lr:.3g}</b></span>" if above
                 else f"stable below <b>{view.stable_lr:.3g}</b>")
        self.lr_info.value = (f'<span style="font-size:12px;white-space:nowrap">{bound}'
                              f" · suggested <b>{view.suggested_lr:.3g}</b></span>")
        n = view.settings.n_iterations
        done = view.result.diverged_at or n
        self.progress.value = done / n if view.diverged else 1.0
        self.progress_text.value = (
            f"stopped at iteration {done} of {n}" if view.diverged
            else f"{n} iterations in {view.result.seconds:.2f} s, "
                 f"shown in {self.seconds:.2f} s")


def playground(settings: PlaygroundSettings | None = None, **overrides):
    """The live playground as one widget: sliders, status line and plots.

    Parameters
    ----------
    settings : PlaygroundSettings, optional
        Where the sliders start; the original notebook's run by default.
    **overrides
        Fields of ``PlaygroundSettings`` to change, e.g. ``lr=0.05``.

    Returns
    -------
    ipywidgets.VBox
        Display it (last line of a cell, or ``display(...)``); it can also be
        placed inside other widgets. ``mfgd_helpers.widgets.Playground`` gives
        access to the controls from code.

    Examples
    --------
    >>> box = playground(lr=0.05, n_iterations=500)
    >>> type(box).__name__
    'VBox'
    >>> playground(lr=5.0)
    Traceback (most recent call last):
    ...
    ValueError: lr == 5 is outside the slider's range [1e-05, 1]; ...
    """
    if settings is None:
        settings = PlaygroundSettings()
    if not isinstance(settings, PlaygroundSettings):
        raise TypeError(
            f"settings must be a PlaygroundSettings or None; got {type(settings).__name__}."
            " Build one with mf.PlaygroundSettings(...), or pass fields as keywords."
        )
    try:
        settings = replace(settings, **overrides)
    except TypeError:
        unknown = sorted(set(overrides) - set(PlaygroundSettings.__dataclass_fields__))
        raise TypeError(
            f"unknown setting(s) {unknown}; the settings are "
            f"{list(PlaygroundSettings.__dataclass_fields__)}."
        ) from None
    return Playground(settings).widget
