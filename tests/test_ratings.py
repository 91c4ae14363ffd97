"""mfgd_helpers.ratings: factorization on observed ratings only.

References: autograd in float64 for the hand-written gradients, a plain
Python loop over ratings for the minibatch step, the full-batch loop for a
single batch of every rating, and the generating model for the noise floor.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import mfgd_helpers as mf
from mfgd_helpers import ratings as R
from mfgd_helpers.ratings import fit as fit_module


def keys(r):
    return (r.users * r.n_items + r.items).tolist()


@pytest.fixture(scope="module")
def small():
    """A long-tailed set of 1500 ratings and its three parts."""
    ratings = R.make_ratings(60, 40, 1500, k=2, seed=3)
    return (ratings, *R.split(ratings, seed=0))


@pytest.fixture(scope="module")
def dense():
    """A dense problem (75 % observed, uniform popularity): a model can get near its floor."""
    ratings = R.make_ratings(200, 100, 15000, k=3, popularity=0.0, seed=0)
    return R.split(ratings, seed=0)


def tiny(dtype=torch.float64, seed=1):
    return R.make_ratings(12, 9, 60, k=2, seed=seed, dtype=dtype)


# --- the generator ------------------------------------------------------------------

def test_make_ratings_shapes_dtypes_and_ranges():
    r = R.make_ratings(300, 120, 5000, k=4, seed=0)
    assert len(r) == len(r.users) == len(r.items) == 5000
    assert r.users.dtype == r.items.dtype == torch.int64 and r.values.dtype == torch.float32
    assert (r.n_users, r.n_items) == (300, 120)
    assert 0 <= int(r.users.min()) and int(r.users.max()) < 300
    assert 0 <= int(r.items.min()) and int(r.items.max()) < 120
    assert r.truth.k == 4 and r.truth.n_users == 300
    assert r.nbytes == 5000 * (8 + 8 + 4)
    assert R.make_ratings(30, 20, 100, seed=0, dtype=torch.float64).values.dtype == torch.float64


@pytest.mark.parametrize("n_users, n_items, n_ratings", [
    (300, 120, 5000),   # sparse: rounds of rejection
    (20, 10, 150),      # dense: exponential keys over all pairs
    (20, 10, 200),      # every pair
    (50, 3, 120),       # heavy users capped by the few items
])
def test_pairs_are_distinct_and_sorted(n_users, n_items, n_ratings):
    r = R.make_ratings(n_users, n_items, n_ratings, popularity=1.5, seed=2)
    k = keys(r)
    assert len(set(k)) == n_ratings
    assert k == sorted(k)


def test_make_ratings_is_reproducible_and_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    a = R.make_ratings(200, 100, 3000, seed=5)
    b = R.make_ratings(200, 100, 3000, seed=5)
    c = R.make_ratings(200, 100, 3000, seed=6)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a.users, b.users) and torch.equal(a.items, b.items)
    assert torch.equal(a.values, b.values)
    assert keys(a) != keys(c)


def test_popularity_gives_a_long_tail_and_zero_is_uniform():
    def top_share(index, size, fraction=0.1):
        counts = torch.bincount(index, minlength=size).sort(descending=True).values
        return counts[: int(size * fraction)].sum().item() / len(index)

    tail = R.make_ratings(5000, 2000, 100_000, seed=0)
    flat = R.make_ratings(5000, 2000, 100_000, popularity=0.0, seed=0)
    assert top_share(tail.items, 2000) > 0.45 > 0.15 > top_share(flat.items, 2000)
    assert top_share(tail.users, 5000) > 0.45 > 0.2 > top_share(flat.users, 5000)
    counts = torch.bincount(tail.items, minlength=2000).double()
    assert counts.median() < 0.6 * counts.mean()  # most items are below the average


def test_noise_floor_is_the_rmse_of_the_noise():
    r = R.make_ratings(400, 300, 20000, noise_std=0.3, seed=1, dtype=torch.float64)
    assert r.noise_floor == pytest.approx(0.3, rel=0.03)
    assert r.noise_floor == pytest.approx(R.rmse(r.truth, r), rel=1e-12)
    quiet = R.make_ratings(400, 300, 20000, noise_std=0.0, seed=1, dtype=torch.float64)
    assert quiet.noise_floor < 1e-12
    assert torch.allclose(R.predict(quiet.truth, quiet.users, quiet.items), quiet.values)
    assert quiet.truth.item_bias.std().item() == pytest.approx(0.5, rel=0.1)
    interaction = (quiet.truth.P[quiet.users] * quiet.truth.Q[quiet.items]).sum(1)
    assert interaction.std().item() == pytest.approx(0.5, rel=0.1)  # factor_std, whatever k
    assert R.Ratings([0], [0], [1.0]).noise_floor is None


def test_make_ratings_never_builds_users_by_items():
    r = R.make_ratings(10**6, 10**6, 1000, seed=0)  # 10^12 pairs: 8 TB if dense
    assert len(set(keys(r))) == 1000


# --- the split ----------------------------------------------------------------------

def test_split_partitions_the_ratings(small):
    ratings, train, validation, test = small
    parts = (train, validation, test)
    assert sum(len(p) for p in parts) == len(ratings)
    assert sorted(sum((keys(p) for p in parts), [])) == sorted(keys(ratings))
    assert len(train) >= 0.8 * len(ratings) and len(test) == pytest.approx(150, abs=15)
    for p in parts:
        assert keys(p) == sorted(keys(p))  # the original order is kept
        assert (p.n_users, p.n_items) == (60, 40) and p.truth is ratings.truth


def test_split_keeps_one_rating_of_every_user_with_two_in_train():
    ratings = R.make_ratings(3000, 50, 6000, seed=0)  # many users with one or two ratings
    train, validation, test = R.split(ratings, seed=1)
    count = torch.bincount(ratings.users, minlength=3000)
    in_train = torch.bincount(train.users, minlength=3000)
    assert not bool(((count >= 2) & (in_train == 0)).any())
    cold = (in_train == 0) & (count == 1)
    assert int(cold.sum()) > 0  # single-rating users may be cold in validation or test
    assert bool(cold[test.users].any() | cold[validation.users].any())


def test_split_is_reproducible(small):
    ratings = small[0]
    a, b = R.split(ratings, (0.5, 0.5), seed=4), R.split(ratings, (0.5, 0.5), seed=4)
    assert keys(a[0]) == keys(b[0]) and keys(a[0]) != keys(R.split(ratings, (0.5, 0.5), seed=5)[0])


# --- the model, predictions, loss and gradients -------------------------------------

def test_predict_is_the_formula_and_rmse_its_error():
    m = R.init_model(5, 4, 3, mean=3.0, seed=0, dtype=torch.float64)
    m.user_bias.normal_(generator=torch.Generator().manual_seed(1))
    m.item_bias.normal_(generator=torch.Generator().manual_seed(2))
    users, items = torch.tensor([0, 4, 4, 2]), torch.tensor([3, 0, 3, 1])
    expected = m.mean + m.user_bias[users] + m.item_bias[items] + (m.P[users] * m.Q[items]).sum(1)
    assert torch.allclose(R.predict(m, users, items), expected)
    assert R.predict(m, 4, 0).item() == pytest.approx(expected[1].item())
    values = torch.tensor([1.0, 2.0, 4.0, 5.0], dtype=torch.float64)
    r = R.Ratings(users, items, values, 5, 4)
    assert R.rmse(m, r) == pytest.approx(((expected - values) ** 2).mean().sqrt().item())


def test_gradients_match_autograd_in_float64():
    t = tiny()
    r = R.Ratings(t.users, t.items, t.values, 14, 10)  # user 12, 13 and item 9 unrated
    m = R.init_model(14, 10, 3, mean=3.5, seed=2, dtype=torch.float64)
    g = torch.Generator().manual_seed(3)
    m.user_bias.normal_(generator=g)
    m.item_bias.normal_(generator=g)
    tensors = [t.requires_grad_() for t in m._tensors()]
    R.objective(m, r, l2=0.3).backward()
    by_hand = R.gradients(m, r, l2=0.3)
    for t, h in zip(tensors, by_hand._tensors()):
        torch.testing.assert_close(h, t.grad, rtol=1e-12, atol=1e-12)
    unrated = torch.bincount(r.users, minlength=14) == 0
    assert bool(unrated.any()) and torch.count_nonzero(by_hand.P[unrated]) == 0


def test_gradients_are_computed_in_chunks(monkeypatch):
    r = tiny()
    m = R.init_model(12, 9, 2, mean=3.5, seed=2, dtype=torch.float64)
    whole = R.gradients(m, r, l2=0.1)
    monkeypatch.setattr(R.loss, "CHUNK", 7)
    pieces = R.gradients(m, r, l2=0.1)
    for a, b in zip(whole._tensors(), pieces._tensors()):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


# --- training -----------------------------------------------------------------------

def zero_unrated(model, r):
    model = model.clone()
    for index, size, ts in ((r.users, r.n_users, (model.user_bias, model.P)),
                            (r.items, r.n_items, (model.item_bias, model.Q))):
        for t in ts:
            t[torch.bincount(index, minlength=size) == 0] = 0
    return model


def test_one_full_batch_epoch_is_the_manual_step():
    r = tiny()
    start = zero_unrated(R.init_model(12, 9, 2, mean=r.values.mean().item(), seed=4,
                                      dtype=torch.float64), r)
    result = R.fit_gd(r, init=start, lr=0.01, l2=0.1, epochs=1)
    grad = R.gradients(start, r, l2=0.1)
    for theta, g, trained in zip(start._tensors(), grad._tensors(), result.model._tensors()):
        torch.testing.assert_close(trained, theta - 0.01 * g, rtol=1e-12, atol=1e-12)
    assert result.train_rmse == [pytest.approx(R.rmse(start, r), rel=1e-12)]


def test_minibatch_with_one_batch_of_everything_is_full_batch_descent():
    r = tiny()
    gd = R.fit_gd(r, k=2, lr=0.005, l2=0.05, epochs=5, seed=7)
    sgd = R.fit_sgd(r, k=2, lr=0.005, l2=0.05, epochs=5, seed=7, batch_size=len(r),
                    shuffle=False)
    assert sgd.train_rmse == pytest.approx(gd.train_rmse, rel=1e-12)
    for a, b in zip(gd.model._tensors(), sgd.model._tensors()):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_minibatch_of_one_is_the_per_rating_update():
    r, lr, l2 = tiny(), 0.02, 0.05
    start = zero_unrated(R.init_model(12, 9, 2, mean=3.5, seed=3, dtype=torch.float64), r)
    result = R.fit_sgd(r, init=start, lr=lr, l2=l2, epochs=2, batch_size=1, shuffle=False)
    bu, bi, P, Q = (t.clone() for t in start._tensors())
    for _ in range(2):
        for u, i, v in zip(r.users.tolist(), r.items.tolist(), r.values.tolist()):
            e = start.mean + bu[u] + bi[i] + P[u] @ Q[i] - v
            pu, qi = P[u].clone(), Q[i].clone()
            bu[u] -= lr * 2 * (e + l2 * bu[u])
            bi[i] -= lr * 2 * (e + l2 * bi[i])
            P[u] -= lr * 2 * (e * qi + l2 * pu)
            Q[i] -= lr * 2 * (e * pu + l2 * qi)
    for got, want in zip(result.model._tensors(), (bu, bi, P, Q)):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_a_batch_adds_the_terms_of_a_repeated_user():
    r = R.Ratings([0, 0], [0, 1], [5.0, 5.0], 1, 2)  # one user, twice in the batch
    start = R.Model(3.0, torch.zeros(1), torch.zeros(2), torch.zeros(1, 0), torch.zeros(2, 0))
    result = R.fit_sgd(r, init=start, lr=0.1, l2=0.0, epochs=1, batch_size=2, shuffle=False)
    # each rating's error is -2; each adds -lr * 2 * e = 0.4 to the user's bias
    assert result.model.user_bias.tolist() == pytest.approx([0.8])
    assert result.model.item_bias.tolist() == pytest.approx([0.4, 0.4])


def test_shuffling_is_seeded_and_the_inputs_are_untouched(small):
    _, train, _, _ = small
    before = [t.clone() for t in (train.users, train.items, train.values)]
    start = R.init_model(60, 40, 2, mean=3.5, seed=0)
    start_copy = start.clone()
    a = R.fit_sgd(train, init=start, lr=0.01, epochs=2, batch_size=64, seed=1)
    b = R.fit_sgd(train, init=start, lr=0.01, epochs=2, batch_size=64, seed=1)
    c = R.fit_sgd(train, init=start, lr=0.01, epochs=2, batch_size=64, seed=2)
    assert torch.equal(a.model.P, b.model.P) and not torch.equal(a.model.P, c.model.P)
    assert all(torch.equal(x, y) for x, y in zip(before, (train.users, train.items, train.values)))
    assert all(torch.equal(x, y) for x, y in zip(start._tensors(), start_copy._tensors()))


def test_training_gets_near_the_noise_floor_and_beats_the_baselines(dense):
    train, validation, test = dense
    mean_only = R.fit_sgd(train, k=0, lr=0.01, epochs=0).model
    biases = R.fit_sgd(train, k=0, lr=0.01, epochs=30, validation=validation, patience=3).model
    sgd = R.fit_sgd(train, k=3, lr=0.02, epochs=60, validation=validation, patience=3)
    gd = R.fit_gd(train, k=3, lr=0.003, epochs=400, validation=validation, patience=5)
    floor = test.noise_floor
    errors = [R.rmse(m, test) for m in (mean_only, biases, sgd.model, gd.model)]
    assert errors[0] > errors[1] + 0.1 > errors[2] + 0.2
    assert errors[2] < 1.1 * floor and errors[3] < 1.1 * floor, (errors, floor)
    assert torch.allclose(R.predict(mean_only, [0, 5], [3, 1]), torch.tensor(mean_only.mean))
    assert not sgd.diverged and not gd.diverged


def test_early_stopping_restores_the_best_epoch():
    ratings = R.make_ratings(100, 80, 2000, k=2, seed=1)
    train, validation = R.split(ratings, (0.8, 0.2), seed=0)
    settings = dict(k=10, lr=0.02, l2=0.0, epochs=60, validation=validation, patience=3)
    result = R.fit_sgd(train, **settings)
    history = result.validation_rmse
    assert 1 < result.best_epoch < len(history) == result.best_epoch + 3 < 60
    assert history[result.best_epoch - 1] == min(history)
    assert R.rmse(result.model, validation) == pytest.approx(min(history), rel=1e-6)
    last = R.fit_sgd(train, **settings, restore_best=False)
    assert R.rmse(last.model, validation) == pytest.approx(history[-1], rel=1e-6)
    assert len(result.train_rmse) == len(history)


def test_cold_start_users_and_items_get_the_biases_only():
    ratings = R.Ratings([0, 0, 1, 1, 2], [0, 1, 0, 2, 1], [4.0, 3.0, 5.0, 2.0, 4.0],
                        n_users=4, n_items=4)  # user 3 and item 3 have no rating
    model = R.fit_sgd(ratings, k=2, lr=0.05, epochs=20).model
    assert model.user_bias[3] == 0 and torch.count_nonzero(model.P[3]) == 0
    assert model.item_bias[3] == 0 and torch.count_nonzero(model.Q[3]) == 0
    new_user = R.predict(model, [3, 3], [0, 1])
    assert torch.allclose(new_user, model.mean + model.item_bias[[0, 1]])
    assert R.predict(model, 3, 3).item() == pytest.approx(model.mean)
    warm = R.fit_sgd(ratings, init=R.init_model(4, 4, 2, seed=0), lr=0.05, epochs=1).model
    assert torch.count_nonzero(warm.P[3]) == 0  # an init's unrated rows are zeroed too


def test_k_zero_is_the_biases_model(small):
    _, train, _, _ = small
    result = R.fit_sgd(train, k=0, lr=0.01, epochs=3)
    assert result.model.P.shape == (60, 0) and result.k == 0
    assert result.train_rmse[0] > result.train_rmse[-1]


def test_fit_restores_the_thread_count(small):
    threads = torch.get_num_threads()
    R.fit_sgd(small[1], k=2, lr=0.01, epochs=1)
    assert torch.get_num_threads() == threads


# --- divergence, callbacks, progress ------------------------------------------------

@pytest.mark.parametrize("fit, lr, fragment", [
    (R.fit_sgd, 2.0, "popular item"),
    (R.fit_gd, 0.5, "busiest one"),
])
def test_divergence_warns_once_and_stops(small, fit, lr, fragment):
    _, train, _, _ = small
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fit(train, k=2, lr=lr, epochs=50)
    assert [w.category for w in caught] == [mf.DivergenceWarning]
    message = str(caught[0].message)
    assert f"lr={lr:g}" in message and f"lr={lr / 10:g} or smaller" in message
    assert fragment in message and caught[0].filename == __file__
    assert result.diverged and len(result.train_rmse) == result.diverged_at - 1 < 49
    assert all(math.isfinite(x) for x in result.train_rmse)


def test_a_diverged_run_returns_its_best_finite_model(small):
    _, train, validation, _ = small
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        result = R.fit_sgd(train, k=2, lr=0.3, epochs=50, validation=validation)
    assert result.diverged and result.best_epoch is not None
    assert all(bool(torch.isfinite(t).all()) for t in result.model._tensors())


def test_callback_verbose_and_progress(small, capsys, monkeypatch):
    _, train, validation, _ = small
    seen = []
    R.fit_sgd(train, k=2, lr=0.01, epochs=3, validation=validation,
              callback=lambda *args: seen.append(args))
    assert [s[0] for s in seen] == [1, 2, 3] and all(len(s) == 3 for s in seen)
    R.fit_gd(train, k=2, lr=0.001, epochs=2, verbose=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("epoch 1: train RMSE ")
    monkeypatch.setattr(fit_module, "PROGRESS_AFTER", 0.0)
    monkeypatch.setattr(fit_module, "PROGRESS_EVERY", 0.0)
    R.fit_sgd(train, k=2, lr=0.01, epochs=1, verbose=True)
    out = capsys.readouterr().out
    assert f"\repoch 1:   0% of {len(train):,} ratings" in out
    assert out.endswith("\repoch 1: train RMSE " + out.rsplit("train RMSE ", 1)[1])


def test_fit_result_repr():
    result = R.fit_sgd(tiny(torch.float32), k=1, lr=0.01, epochs=2)
    assert repr(result).startswith("FitResult(method='sgd', k=1, lr=0.01, epochs=2/2, train_rmse=")
    assert repr(R.fit_gd(tiny(), k=1, lr=0.01, epochs=0)).endswith("no epoch run)")


# --- bad input: (call, exception, fragment that names the parameter) ----------------

R0 = tiny()
M0 = R.init_model(12, 9, 2, dtype=torch.float64)
V0 = R.Ratings(R0.users[:5], R0.items[:5], R0.values[:5], 12, 9)
BIG = R.Ratings([0, 20], [0, 1], torch.tensor([1.0, 2.0], dtype=torch.float64))  # 21 users


def bad(call, *args, **kwargs):
    return lambda: call(*args, **kwargs)


BAD = [
    # Ratings
    ("float users", bad(R.Ratings, [0.0, 1.0], [0, 1], [4, 5]), TypeError, "users has dtype torch.float32"),
    ("bool items", bad(R.Ratings, [0, 1], [True, False], [4, 5]), TypeError, "items has dtype torch.bool"),
    ("negative users", bad(R.Ratings, [0, -1], [0, 1], [4, 5]), ValueError, r"users contains 1 negative index, the first users\[1\] == -1"),
    ("items out of range", bad(R.Ratings, [0, 1], [0, 7], [4, 5], 2, 5), ValueError, "items contains 1 index >= n_items == 5"),
    ("NaN rating", bad(R.Ratings, [0, 1], [0, 1], [4, math.nan]), ValueError, r"values contains 1 NaN or inf, the first values\[1\] == nan"),
    ("inf rating", bad(R.Ratings, [0, 1], [0, 1], [math.inf, 5]), ValueError, "values contains 1 NaN or inf"),
    ("string ratings", bad(R.Ratings, [0, 1], [0, 1], ["4", "5"]), TypeError, "values"),
    ("bool ratings", bad(R.Ratings, [0, 1], [0, 1], [True, False]), TypeError, "values has dtype torch.bool"),
    ("half ratings", bad(R.Ratings, [0, 1], [0, 1], torch.ones(2, dtype=torch.float16)), TypeError, "values has dtype torch.float16"),
    ("no ratings", bad(R.Ratings, [], [], []), ValueError, "the ratings are empty"),
    ("lengths differ", bad(R.Ratings, [0, 1], [0, 1, 2], [4, 5]), ValueError, "users, items and values must have one entry per rating; got lengths 2, 3 and 2"),
    ("2-D users", bad(R.Ratings, [[0, 1]], [0, 1], [4, 5]), ValueError, "users must be 1-D"),
    ("None users", bad(R.Ratings, None, [0], [4]), TypeError, "users == None"),
    ("numpy float items", bad(R.Ratings, [0], np.array([0.5]), [4]), TypeError, "items has dtype torch.float64"),
    ("n_users 0", bad(R.Ratings, [0], [0], [4], 0), ValueError, "n_users == 0"),
    ("n_items 2.5", bad(R.Ratings, [0], [0], [4], 1, 2.5), TypeError, "n_items == 2.5"),
    ("truth not a Model", bad(R.Ratings, [0], [0], [4], 1, 1, "model"), TypeError, "truth == 'model'"),
    # make_ratings
    ("n_users 0", bad(R.make_ratings, 0, 5, 3), ValueError, "n_users == 0"),
    ("n_items string", bad(R.make_ratings, 5, "5", 3), TypeError, "n_items == '5'"),
    ("too many ratings", bad(R.make_ratings, 3, 4, 13), ValueError, "n_ratings == 13 exceeds n_users × n_items == 12"),
    ("k negative", bad(R.make_ratings, 5, 5, 3, -1), ValueError, "k == -1"),
    ("popularity negative", bad(R.make_ratings, 5, 5, 3, popularity=-1), ValueError, "popularity == -1.0"),
    ("popularity huge", bad(R.make_ratings, 5, 5, 3, popularity=9), ValueError, "popularity == 9.0, must be a number >= 0 and <= 4"),
    ("noise_std negative", bad(R.make_ratings, 5, 5, 3, noise_std=-0.1), ValueError, "noise_std == -0.1"),
    ("bias_std NaN", bad(R.make_ratings, 5, 5, 3, bias_std=math.nan), ValueError, "bias_std == nan"),
    ("seed negative", bad(R.make_ratings, 5, 5, 3, seed=-1), ValueError, "seed == -1"),
    ("integer dtype", bad(R.make_ratings, 5, 5, 3, dtype=torch.int64), TypeError, "dtype == torch.int64"),
    # split
    ("not ratings", bad(R.split, [1, 2, 3]), TypeError, "ratings == .* must be a Ratings"),
    ("fractions sum", bad(R.split, R0, (0.5, 0.6)), ValueError, r"fractions == \(0.5, 0.6\) must hold 2 or more numbers that sum to 1"),
    ("one fraction", bad(R.split, R0, (1.0,)), ValueError, "fractions == "),
    ("zero fraction", bad(R.split, R0, (0.9, 0.0, 0.1)), ValueError, r"fractions\[1\] == 0.0"),
    ("string fractions", bad(R.split, R0, "0.8"), TypeError, "fractions == '0.8'"),
    ("empty part", bad(R.split, R0, (0.98, 0.01, 0.01)), ValueError, r"fractions\[1\] == 0.01 leaves part 1 empty"),
    # the model, predict, rmse
    ("float users", bad(R.predict, M0, [0.5], [0]), TypeError, "users has dtype"),
    ("items out of range", bad(R.predict, M0, [0], [9]), ValueError, "items contains 1 index >= n_items == 9"),
    ("lengths differ", bad(R.predict, M0, [0, 1], [0]), ValueError, "users and items must have one entry per rating"),
    ("not a model", bad(R.predict, "model", [0], [0]), TypeError, "model == 'model'"),
    ("rmse of a list", bad(R.rmse, M0, [1, 2]), TypeError, "ratings == .* must be a Ratings"),
    ("ratings beyond the model", bad(R.rmse, M0, BIG), ValueError, "ratings has 21 users × 2 items but the model 12 × 9"),
    ("dtypes differ", bad(R.rmse, M0, tiny(torch.float32)), TypeError, "ratings has values of dtype torch.float32, the model torch.float64"),
    ("l2 negative", bad(R.gradients, M0, R0, l2=-1), ValueError, "l2 == -1.0"),
    ("init_model k", bad(R.init_model, 3, 3, -1), ValueError, "k == -1"),
    ("init_model std", bad(R.init_model, 3, 3, 1, std=-0.1), ValueError, "std == -0.1"),
    ("Model mixed dtypes", bad(R.Model, 0.0, torch.zeros(2), torch.zeros(3, dtype=torch.float64), torch.zeros(2, 1), torch.zeros(3, 1)), TypeError, "mix dtypes"),
    ("Model k differs", bad(R.Model, 0.0, torch.zeros(2), torch.zeros(3), torch.zeros(2, 1), torch.zeros(3, 2)), ValueError, "same number k of columns"),
    ("Model bias shape", bad(R.Model, 0.0, torch.zeros(3), torch.zeros(3), torch.zeros(2, 1), torch.zeros(3, 1)), ValueError, r"user_bias has shape \(3,\) and P \(2, 1\)"),
    # fit_sgd and fit_gd
    ("train not ratings", bad(R.fit_sgd, [1, 2], k=2, lr=0.01, epochs=1), TypeError, "train == "),
    ("k missing", bad(R.fit_sgd, R0, lr=0.01, epochs=1), TypeError, "k is missing"),
    ("k negative", bad(R.fit_sgd, R0, k=-1, lr=0.01, epochs=1), ValueError, "k == -1"),
    ("k float", bad(R.fit_sgd, R0, k=1.5, lr=0.01, epochs=1), TypeError, "k == 1.5"),
    ("lr zero", bad(R.fit_sgd, R0, k=2, lr=0, epochs=1), ValueError, "lr == 0.0, must be a number > 0"),
    ("lr NaN", bad(R.fit_sgd, R0, k=2, lr=math.nan, epochs=1), ValueError, "lr == nan"),
    ("lr string", bad(R.fit_sgd, R0, k=2, lr="0.1", epochs=1), TypeError, "lr == '0.1'"),
    ("l2 negative", bad(R.fit_sgd, R0, k=2, lr=0.01, epochs=1, l2=-0.1), ValueError, "l2 == -0.1"),
    ("batch_size zero", bad(R.fit_sgd, R0, k=2, lr=0.01, epochs=1, batch_size=0), ValueError, "batch_size == 0"),
    ("batch_size float", bad(R.fit_sgd, R0, k=2, lr=0.01, epochs=1, batch_size=2.5), TypeError, "batch_size == 2.5"),
    ("epochs negative", bad(R.fit_sgd, R0, k=2, lr=0.01, epochs=-1), ValueError, "epochs == -1"),
    ("epochs float", bad(R.fit_sgd, R0, k=2, lr=0.01, epochs=1.5), TypeError, "epochs == 1.5"),
    ("patience zero", bad(R.fit_sgd, R0, k=2, lr=0.01, epochs=1, validation=V0, patience=0), ValueError, "patience == 0"),
    ("patience alone", bad(R.fit_sgd, R0, k=2, lr=0.01, epochs=1, patience=3), ValueError, "patience == 3 needs a validation set"),
    ("validation a list", bad(R.fit_sgd, R0, k=2, lr=0.01, epochs=1, validation=[1]), TypeError, "validation == "),
    ("validation too big", bad(R.fit_sgd, R0, k=2, lr=0.01, epochs=1, validation=BIG), ValueError, "validation has 21 users"),
    ("init shape", bad(R.fit_sgd, R0, lr=0.01, epochs=1, init=R.init_model(3, 9, 2, dtype=torch.float64)), ValueError, "init has 3 users × 9 items, train 12 × 9"),
    ("init k", bad(R.fit_sgd, R0, k=3, lr=0.01, epochs=1, init=M0), ValueError, "k == 3 but init has k == 2"),
    ("init dtype", bad(R.fit_sgd, R0, lr=0.01, epochs=1, init=R.init_model(12, 9, 2)), TypeError, "init has dtype torch.float32"),
    ("init not a model", bad(R.fit_sgd, R0, lr=0.01, epochs=1, init="m"), TypeError, "init == 'm'"),
    ("init_std negative", bad(R.fit_sgd, R0, k=2, lr=0.01, epochs=1, init_std=-1), ValueError, "init_std == -1.0"),
    ("shuffle 1", bad(R.fit_sgd, R0, k=2, lr=0.01, epochs=1, shuffle=1), TypeError, "shuffle == 1"),
    ("verbose string", bad(R.fit_sgd, R0, k=2, lr=0.01, epochs=1, verbose="yes"), TypeError, "verbose == 'yes'"),
    ("callback 3", bad(R.fit_sgd, R0, k=2, lr=0.01, epochs=1, callback=3), TypeError, "callback == 3 is not callable"),
    ("seed negative", bad(R.fit_sgd, R0, k=2, lr=0.01, epochs=1, seed=-1), ValueError, "seed == -1"),
    ("gd lr zero", bad(R.fit_gd, R0, k=2, lr=0.0, epochs=1), ValueError, "lr == 0.0"),
    ("gd epochs", bad(R.fit_gd, R0, k=2, lr=0.01, epochs=-2), ValueError, "epochs == -2"),
    ("gd train", bad(R.fit_gd, None, k=2, lr=0.01, epochs=1), TypeError, "train == None"),
    ("gd k missing", bad(R.fit_gd, R0, lr=0.01, epochs=1), TypeError, "k is missing"),
]


@pytest.mark.parametrize("label, call, error, fragment", BAD, ids=[f"{i}-{b[0]}" for i, b in enumerate(BAD)])
def test_bad_input_is_a_clear_error(label, call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()


def test_accepted_kinds_of_input():
    r = R.Ratings(np.array([0, 1], dtype=np.int32), torch.tensor([1, 0], dtype=torch.uint8),
                  np.array([4, 5]))
    assert r.users.dtype == r.items.dtype == torch.int64 and r.values.dtype == torch.float32
    assert (r.n_users, r.n_items) == (2, 2)
    assert R.make_ratings(np.int64(20), 10, torch.tensor(50), seed=np.int64(1)).n_users == 20
    assert R.fit_sgd(r, k=np.int64(1), lr=np.float32(0.01), epochs=torch.tensor(1)).k == 1
