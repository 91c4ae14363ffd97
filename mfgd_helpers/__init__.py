"""mfgd_helpers: matrix factorization D ≈ C @ F by gradient descent with PyTorch.

The helper package of the mfgd notebook series. Importing it is cheap: it
imports torch, but not matplotlib or ipywidgets (those load when a plot or a
widget is made).
"""

from .data import example_problem, init_factors, make_target
from .gradients import analytic_gradients
from .graph import describe_graph, graph_edges, plot_graph
from .images import load_sample_image, random_mask
from .loss import criterion
from .optimum import best_rank_k_loss, truncated_svd
from .playground_logic import PlaygroundFigure, PlaygroundSettings, PlaygroundView, playground_view
from .plots import plot_loss, plot_matrices
from .step_size import curvature, max_stable_lr, suggest_lr
from .training import DivergenceWarning, TrainResult, gradient_step, print_progress, train
from .widgets import playground

__all__ = [
    "DivergenceWarning",
    "PlaygroundFigure",
    "PlaygroundSettings",
    "PlaygroundView",
    "TrainResult",
    "analytic_gradients",
    "best_rank_k_loss",
    "criterion",
    "curvature",
    "describe_graph",
    "example_problem",
    "gradient_step",
    "graph_edges",
    "init_factors",
    "load_sample_image",
    "make_target",
    "max_stable_lr",
    "playground",
    "playground_view",
    "plot_graph",
    "plot_loss",
    "plot_matrices",
    "print_progress",
    "random_mask",
    "suggest_lr",
    "train",
    "truncated_svd",
]

__version__ = "0.2.0"
