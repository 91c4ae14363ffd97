"""What the graded test cells of the notebooks' exercises use.

Each exercise is a prompt, a solution cell and a locked test cell (nbgrader's
format). In the student edition the solution cell raises until it is
written; its test cell then starts with ``answered("name", ...)``, which
says which names the solution should define, instead of a ``NameError``
from the first assert.

Examples
--------
>>> x = 1
>>> answered("x")
>>> answered("x", "not_defined_anywhere")
Traceback (most recent call last):
...
AssertionError: write the solution cell above first (it should define not_defined_anywhere), then run this test again
"""

from __future__ import annotations

import sys

__all__ = ["answered"]


def answered(*names: str) -> None:
    """Fail with a clear message unless the caller's namespace defines every name.

    Parameters
    ----------
    *names : str
        The variables (or functions) the exercise's solution defines.

    Raises
    ------
    AssertionError
        Naming the missing ones; nbgrader shows it as the test's feedback.
    TypeError
        If a name is not a string.
    """
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"answered() takes the names as strings, like answered('D1'); got {name!r}")
    namespace = sys._getframe(1).f_globals
    missing = [name for name in names if name not in namespace]
    if missing:
        raise AssertionError(f"write the solution cell above first (it should define {', '.join(missing)}), "
                             "then run this test again")
