"""Matrix factorization on observed ratings only, as recommenders do it, room by room.

The dense series fits D ≈ C F on every entry (or on a mask as large as D).
Here the data are (user, item, rating) triples and nothing is ever
n_users × n_items: memory and time grow with the number of ratings.

===========  =================================================================
module       what it holds
===========  =================================================================
data.py      ``Ratings`` (the triples, checked), ``make_ratings`` (a known
             biased low-rank model plus noise, long-tailed, distinct pairs)
             and ``split`` (train / validation / test, user by user)
model.py     ``Model`` (global mean, user and item biases, factors P and Q),
             ``init_model`` and ``predict``; cold start is explained there
loss.py      ``objective`` (the training loss J), ``gradients`` (by hand)
             and ``rmse``
fit.py       ``fit_gd`` (full-batch gradient descent), ``fit_sgd`` (minibatch
             SGD with sparse row updates), ``FitResult``, ``print_epoch``
checks.py    the input checks for index and rating vectors
===========  =================================================================

The two baselines are fits with ``k=0``: ``epochs=0`` gives the global
mean, training gives the biases.

Examples
--------
>>> from mfgd_helpers import ratings as R
>>> train, validation, test = R.split(R.make_ratings(500, 300, 30000, k=4, seed=0))
>>> mean_only = R.fit_sgd(train, k=0, lr=0.01, epochs=0).model
>>> biases = R.fit_sgd(train, k=0, lr=0.01, epochs=10).model
>>> full = R.fit_sgd(train, k=4, lr=0.02, epochs=40, l2=0.05, validation=validation,
...                  patience=3).model
>>> [round(R.rmse(m, test), 2) for m in (mean_only, biases, full)], round(test.noise_floor, 2)
([1.0, 0.71, 0.56], 0.5)
"""

from .data import Ratings, make_ratings, split
from .fit import FitResult, fit_gd, fit_sgd, print_epoch
from .loss import gradients, objective, rmse
from .model import Model, init_model, predict

__all__ = ["FitResult", "Model", "Ratings", "fit_gd", "fit_sgd", "gradients", "init_model",
           "make_ratings", "objective", "predict", "print_epoch", "rmse", "split"]
