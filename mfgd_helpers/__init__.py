"""mfgd_helpers: matrix factorization D ≈ C @ F by gradient descent with PyTorch.

The helper package of the mfgd notebook series. Importing it is cheap: it
imports torch, but not matplotlib or ipywidgets (those load when a plot or a
widget is made).

Its public names follow the series: the problem (``make_target``,
``init_factors``, ``example_problem``, ``load_sample_image``,
``random_mask``), the chain from loss to loop (``criterion``,
``analytic_gradients``, ``gradient_step``, ``train``), what the loop can
reach and how fast it may step (``best_rank_k_loss``, ``truncated_svd``,
``curvature``, ``max_stable_lr``, ``suggest_lr``), and pictures
(``describe_graph``, ``plot_graph``, ``plot_loss``, ``plot_matrices``,
``playground``). The playground's parts are in ``mfgd_helpers.play``.
"""

from .data import example_problem, init_factors, make_target
from .gradients import analytic_gradients
from .graph import describe_graph, plot_graph
from .images import load_sample_image, random_mask
from .loss import criterion
from .optimum import best_rank_k_loss, truncated_svd
from .play import playground
from .plots import plot_loss, plot_matrices
from .step_size import curvature, max_stable_lr, suggest_lr
from .training import DivergenceWarning, TrainResult, gradient_step, train

__all__ = [
    # the problem
    "make_target", "init_factors", "example_problem", "load_sample_image", "random_mask",
    # the chain: loss -> gradient -> step -> loop
    "criterion", "analytic_gradients", "gradient_step", "train", "TrainResult",
    "DivergenceWarning",
    # what the loop can reach, and how fast it may step
    "best_rank_k_loss", "truncated_svd", "curvature", "max_stable_lr", "suggest_lr",
    # seeing it
    "describe_graph", "plot_graph", "plot_loss", "plot_matrices", "playground",
]

__version__ = "0.2.0"
