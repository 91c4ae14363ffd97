"""The live playground: ipywidgets controls wired to ``run`` and ``Figure``.

Everything shown is computed by the plain functions of this package; this
module only builds the controls, reacts to them and shows the result.
ipywidgets is imported when a playground is made, not with the package. It
works with ipywidgets 7 (Colab) and 8.
"""

from __future__ import annotations

import html
import time
from dataclasses import fields, replace
from typing import Any, Optional

from .controls import ITERATIONS_RANGE, SEED_RANGE, SIZE_RANGE, check_in_range, fit
from .figure import Figure
from .settings import Settings
from .view import View, run

__all__ = ["Playground", "playground"]

PROGRESS_AFTER = 0.25         # seconds before a run starts to report progress
PROGRESS_EVERY = 0.1          # seconds between progress-bar updates

_COLOURS = {"diverged": "#fde2e2", "optimum": "#e2f5e2"}  # others: amber
_ERROR_COLOUR = "#fde2e2"
_LABELS = {"optimum": "at the optimum", "bouncing": "bouncing",
           "falling": "still falling", "stalled": "stalled"}
_FIELDS = tuple(f.name for f in fields(Settings))


def _tooltip(widget, text: str) -> None:
    """Hover text: ``tooltip`` in ipywidgets 8, ``description_tooltip`` in 7."""
    name = "tooltip" if widget.has_trait("tooltip") else "description_tooltip"
    if widget.has_trait(name):
        setattr(widget, name, text)


def _box(colour: str, body: str) -> str:
    return (f'<div style="background:{colour};padding:4px 8px;border-radius:4px;'
            f'line-height:1.35;font-size:13px">{body}</div>')


class Playground:
    """The playground's controls, status line, progress bar and picture.

    ``mf.playground()`` returns one; it displays as its widget
    (``.widget``, an ipywidgets VBox, which can also be placed inside other
    widgets). Every slider updates on release, and each change retrains
    (``run``) and redraws one reused figure (``Figure``) into an
    ``ipywidgets.Image``, so the page neither flickers nor jumps. Code (and
    tests) can reach the controls: ``controls[name].value = ...`` acts like
    moving the slider. A value the current mode cannot use is fitted (see
    ``controls.fit``), the control moved to it, and the status line says so.

    Parameters
    ----------
    settings : Settings, optional
        Where the controls start; the original notebook's run by default.
    width, height, dpi : float
        Size of the picture, passed to ``Figure``.

    Attributes
    ----------
    controls : dict of name -> widget
        "lr", "k", "n_iterations", "target", "n", "m", "rank", "seed".
    view : View
        What is shown now.
    notes : tuple of str
        What the last update changed to make the controls' values usable.
    seconds : float
        Time of the last update: training, drawing and encoding.
    status, lr_info, progress, progress_text, image, suggest : widgets
    widget : ipywidgets.VBox

    Examples
    --------
    >>> app = Playground(Settings(n_iterations=2000))
    >>> app.view.verdict, "STILL FALLING" in app.status.value
    ('falling', True)
    >>> app.controls["lr"].value = 0.2          # as if the slider moved
    >>> app.view.settings.lr, app.view.verdict, "AT THE OPTIMUM" in app.status.value
    (0.2, 'optimum', True)
    >>> app.controls["rank"].value = 1          # fixed for the original D
    >>> app.controls["rank"].value, app.notes
    (2, ('rank is fixed at 2 for the original D; choose random D to change it',))
    """

    def __init__(self, settings: Optional[Settings] = None, *,
                 width: float = 10.0, height: float = 6.25, dpi: float = 96):
        import ipywidgets as w

        if settings is None:
            settings = Settings()
        if not isinstance(settings, Settings):
            raise TypeError(f"settings must be a Settings or None; got "
                            f"{type(settings).__name__}. Build one with play.Settings(...).")
        s = check_in_range(settings)
        self.figure = Figure(width=width, height=height, dpi=dpi)
        style = {"description_width": "120px"}
        wide = w.Layout(width="384px")

        def slider(kind, description, tooltip, **kw):
            control = kind(description=description, continuous_update=False,
                           style=style, layout=wide, **kw)
            _tooltip(control, tooltip)
            return control

        kmax = min(s.n, s.m)
        self.controls = {
            "lr": slider(w.FloatLogSlider, "learning rate",
                         "Step size of gradient descent (log scale)", value=s.lr,
                         base=10, min=-5, max=0, step=0.1, readout_format=".3g"),
            "k": slider(w.IntSlider, "k (columns of C)", "Inner dimension of C @ F",
                        value=s.k, min=1, max=kmax),
            "n_iterations": slider(w.IntSlider, "iterations", "Gradient steps",
                                   value=s.n_iterations, min=ITERATIONS_RANGE[0],
                                   max=ITERATIONS_RANGE[1], step=10),
            "target": w.ToggleButtons(
                options=[("original D", "original"), ("random D", "random")],
                value=s.target, description="target D", style={
                    "description_width": "62px", "button_width": "140px"},
                tooltips=["The 3x4 D, C and F printed in the original notebook",
                          "make_target(n, m, rank) drawn with the seed"]),
            "n": slider(w.IntSlider, "n (rows of D)", "Rows of D", value=s.n,
                        min=SIZE_RANGE[0], max=SIZE_RANGE[1]),
            "m": slider(w.IntSlider, "m (columns of D)", "Columns of D", value=s.m,
                        min=SIZE_RANGE[0], max=SIZE_RANGE[1]),
            "rank": slider(w.IntSlider, "true rank of D", "Inner dimension used to build D",
                           value=s.rank, min=1, max=kmax),
            "seed": slider(w.IntSlider, "seed", "Draws the random D and the starting C and F",
                           value=s.seed, min=SEED_RANGE[0], max=SEED_RANGE[1]),
        }
        self.controls["lr"].add_class("mfgd-lr")
        self.lr_info = w.HTML(layout=w.Layout(margin="0 0 0 6px", width="250px",
                                              overflow="hidden"))
        self.lr_info.add_class("mfgd-lr-info")
        self.suggest = w.Button(description="use suggested lr",
                                layout=w.Layout(width="132px", margin="0 0 4px 4px"))
        _tooltip(self.suggest, "Set the learning rate to mf.suggest_lr")
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
        self.view: Optional[View] = None
        self.notes: tuple = ()
        self.seconds = 0.0
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        self.suggest.on_click(self._on_suggest)
        self.update()

    # showing the object itself ---------------------------------------------------

    def _ipython_display_(self) -> None:
        """Display as the widget, with ipywidgets 7 and 8 alike."""
        from IPython.display import display

        display(self.widget)

    def _repr_mimebundle_(self, **kwargs):
        show = getattr(self.widget, "_repr_mimebundle_", None)  # ipywidgets 8 only
        return show(**kwargs) if show is not None else None

    def __repr__(self) -> str:
        shown = (f"{self.view.settings.describe()}: {self.view.verdict}"
                 if self.view is not None else "not drawn yet")
        return f"Playground({shown})"

    # reading and setting the controls ---------------------------------------------

    def settings(self) -> Settings:
        """The settings the controls show now."""
        return Settings(**{name: self.controls[name].value for name in _FIELDS})

    def _show_settings(self, s: Settings) -> None:
        """Move the controls to ``s`` (without triggering updates)."""
        c = self.controls
        held, self._holding = self._holding, True
        try:
            original = s.target == "original"
            c["target"].value = s.target
            for name in ("n", "m", "rank"):
                c[name].disabled = original
            kmax = min(s.n, s.m)
            for name in ("k", "rank"):
                if c[name].max < kmax:
                    c[name].max = kmax
            for name in _FIELDS:
                if name != "target" and c[name].value != getattr(s, name):
                    c[name].value = getattr(s, name)
            for name in ("k", "rank"):
                c[name].max = kmax  # after the values: a lower max would move them
        finally:
            self._holding = held

    # reacting -----------------------------------------------------------------

    def _on_change(self, change) -> None:
        if not self._holding:
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
        """Fit the controls' values, move the controls there, retrain and redraw.

        An unexpected error is shown in the status line and raised.
        """
        start = time.perf_counter()
        self._next_progress = start + PROGRESS_AFTER
        values = {name: self.controls[name].value for name in _FIELDS}
        settings, notes = fit(values, self.view.settings if self.view is not None else None)
        self._show_settings(settings)
        try:
            view = run(settings, progress=self._on_progress)
            picture = self.figure.png(view)
        except Exception as err:  # shown, not lost in a log nobody reads
            self.progress.bar_style = "danger"
            self.status.value = _box(
                _ERROR_COLOUR, f"<b>Error</b> for {html.escape(settings.describe())}: "
                f"{html.escape(type(err).__name__)}: {html.escape(str(err))}")
            raise
        self.view, self.notes = view, notes
        self.image.value = picture
        self.seconds = time.perf_counter() - start
        self.progress.bar_style = "danger" if view.diverged else "success"
        self._show(view, notes)

    # showing --------------------------------------------------------------------

    def _show(self, view: View, notes: tuple) -> None:
        verdict = view.verdict
        facts = html.escape(view.status())
        if verdict == "diverged":  # the facts start with DIVERGED already
            facts = f"<b>{facts[:8]}</b>{facts[8:]}"
        else:
            facts = f"<b>{_LABELS[verdict].upper()}</b> · {facts}"
        noted = "".join(f"<br><i>Note: {html.escape(note)}.</i>" for note in notes)
        self.status.value = _box(_COLOURS.get(verdict, "#fff3d6"),
                                 f"{facts}<br>{html.escape(view.advice)}{noted}")
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


def playground(settings: Optional[Settings] = None, **overrides: Any) -> Playground:
    """The live playground: sliders, status line and plots.

    Parameters
    ----------
    settings : Settings, optional
        Where the sliders start; the original notebook's run by default.
    **overrides
        Fields of ``Settings`` to change, e.g. ``lr=0.05``.

    Returns
    -------
    Playground
        Display it (last line of a cell, or ``display(...)``), with
        ipywidgets 7 or 8. Its ``.widget`` can be placed inside other
        widgets; its ``.controls`` can be set from code.

    Examples
    --------
    >>> app = playground(lr=0.05, n_iterations=500)
    >>> type(app.widget).__name__, app.view.settings.lr
    ('VBox', 0.05)
    >>> playground(lr=5.0)
    Traceback (most recent call last):
    ...
    ValueError: lr == 5.0, must be a number >= 1e-05 and <= 1.0. The slider's range; ...
    """
    if settings is None:
        settings = Settings()
    if not isinstance(settings, Settings):
        raise TypeError(
            f"settings must be a Settings or None; got {type(settings).__name__}. Build "
            "one with play.Settings(...), or pass fields as keywords."
        )
    unknown = sorted(set(overrides) - set(_FIELDS))
    if unknown:
        raise TypeError(f"unknown setting(s) {unknown}; the settings are {list(_FIELDS)}.")
    return Playground(replace(settings, **overrides))
