"""TEST STAND-IN for Google Colab's ``google.colab`` package. Not the real one.

It exists so that ``scripts/colab_env.sh`` can build a Colab-like virtual
environment in which the notebooks' first cell sees ``"google.colab" in
sys.modules``, as it does on Colab, where the kernel imports ``google.colab``
when it starts. Only that environment puts this folder on ``sys.path`` (a
``.pth`` file) and starts its kernel with ``colab_kernel_launcher`` (beside
the ``google`` folder), which imports this module first. The project's own
environment never sees it.

It provides only what the notebooks could touch; add to it when they need
more. ``google`` is a namespace package (no ``google/__init__.py``), so this
stand-in never hides other ``google.*`` distributions such as protobuf.
"""

STANDIN = True  # lets a check tell this stand-in from the real package

from . import output  # noqa: E402  (as on Colab: google.colab.output exists)

__all__ = ["STANDIN", "output"]
