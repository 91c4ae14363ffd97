"""TEST STAND-IN for ``google.colab.output``: no-ops with Colab's names."""

__all__ = ["enable_custom_widget_manager", "disable_custom_widget_manager"]


def enable_custom_widget_manager() -> None:
    """On Colab this lets third-party widgets render; here it does nothing."""


def disable_custom_widget_manager() -> None:
    """On Colab this switches back to the built-in widget manager; here it does nothing."""
