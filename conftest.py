"""pytest set-up for the whole repository.

Notebooks under notebooks/ are always checked with strict nbval (every stored
output compared, except cells marked NBVAL_IGNORE_OUTPUT with a reason), using
tests/nbval_sanitize.cfg, in a kernel of the interpreter running pytest,
wherever pytest is started from.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent


def pytest_configure(config):
    option = config.option
    if not getattr(option, "nbval_lax", False):
        option.nbval = True
    if not getattr(option, "nbval_kernel_name", None):
        option.nbval_current_env = True  # the kernel runs this interpreter
    if getattr(option, "nbval_sanitize_with", None) is None:
        option.nbval_sanitize_with = str(ROOT / "tests" / "nbval_sanitize.cfg")
