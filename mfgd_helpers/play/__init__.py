"""The playground, room by room.

=============  ===============================================================
module         what it holds
=============  ===============================================================
settings.py    ``Settings``: what the sliders say, checked on creation
view.py        ``run(settings)``: train, and return a ``View`` of the run
diagnose.py    ``diagnose``: a verdict and advice from a run's numbers;
               ``RULES`` and ``rules_table()`` say how
figure.py      ``Figure``: the picture, one reused matplotlib figure
controls.py    the sliders' ranges, and ``fit``: any values -> runnable settings
widget.py      ``Playground`` and ``playground()``: the ipywidgets app
=============  ===============================================================

Only widget.py needs ipywidgets and only figure.py matplotlib; both are
imported when used, not with the package.

Examples
--------
>>> from mfgd_helpers import play
>>> view = play.run(play.Settings(lr=0.2, n_iterations=2000))
>>> view.verdict, round(view.stable_lr, 3)
('optimum', 0.265)
"""

from .controls import fit
from .diagnose import RULES, VERDICTS, Diagnosis, diagnose, rules_table
from .figure import Figure
from .settings import Settings
from .view import View, run
from .widget import Playground, playground

__all__ = ["Diagnosis", "Figure", "Playground", "RULES", "Settings", "VERDICTS", "View",
           "diagnose", "fit", "playground", "rules_table", "run"]
