"""Target 9: minibatch SGD on ratings, at 100k, 1M and 10M ratings.

    python -m benchmarks.bench_ratings            # the three sizes (about a minute)
    python -m benchmarks.bench_ratings --quick    # one small size (a few seconds)

Each size runs in a fresh subprocess (``--child``), so that its peak memory
is its own: ``make_ratings`` (timed, peak reported), then the ratings are
kept without their generating model, the kernel's high-water mark (VmHWM)
is reset, and ``mf.ratings.fit_sgd`` trains k = 32 factors with batches of
1024 for a few epochs. Users and items grow with the ratings (10 ratings per
user, 100 per item on average, long-tailed), up to 1 million users × 100,000
items at 10 million ratings. Reported per size:

* seconds per epoch, and per rating (linear time means a constant per rating);
* the floor: one epoch of only the memory traffic of the same batches, in the
  same shuffled order (read the batch, gather the rows of P, Q and the biases,
  add rows back), with none of the arithmetic;
* peak memory from before the ratings were made to the end of training,
  against the bytes of the ratings plus those of the model.

The full run also takes apart one epoch at the middle size: batch sizes, the
order of the ratings (shuffled, sorted by user as stored, or by item), one
thread against two, and how the rows are added back. In the children,
allocations of 4 MiB or more are returned to the system when freed
(``MALLOC_MMAP_THRESHOLD_``), so that the resident set follows what is live;
a threshold below a batch's temporaries (128 KiB) made every step fault in
fresh pages and an epoch 1.7 times slower.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from mfgd_helpers import ratings as R
from mfgd_helpers.ratings.loss import _add_gradients

from .timing import print_rows, reset_peak, row, seconds, status_kib

ORDER = 9
ROOT = Path(__file__).resolve().parent.parent
K, BATCH, LR, L2 = 32, 1024, 0.005, 0.02
SIZES = [(10_000, 1_000, 100_000), (100_000, 10_000, 1_000_000), (1_000_000, 100_000, 10_000_000)]
SAME_TABLES = (1_000_000, 100_000, 1_000_000)  # the largest tables with a tenth of the ratings
QUICK_SIZES = [(2_000, 200, 20_000)]
GOAL_EPOCH_10M = 10.0  # seconds for one epoch at 10 million ratings
GOAL_MEMORY = 2.0      # peak memory in units of (ratings + parameters)
GOAL_LINEAR = 1.5      # time per rating at 10M over that at 1M ratings, same tables
NOTES = """\
**9.** One SGD step gathers the rows of the batch's users and items, computes
the predictions and gradient terms, and adds the terms back into those rows:
its cost is O(batch · k), whatever the number of users and items. The rows are
added back with a plain `index_add_`, the step's scale folded into the terms:
given `alpha`, torch 2.13's CPU `index_add_` takes a path about 5 times slower.
The loops run on one thread: with two on this 2-core machine under load an
epoch was 10 to 100 times slower (a parallel region waits for its slowest
thread); on the quiet machine two threads were 1.3 times slower with batches
of 1024 and 1.65 times faster with batches of 16,384.
The same training against Surprise's SVD and Spark's ALS is target 10
(`bench_peers.py`).
"""


# --- measurements inside a child process ---------------------------------------------





def _peak_kib(how: str) -> int:
    if how == "VmHWM":
        return status_kib("VmHWM")
    import resource  # ru_maxrss: KiB on Linux, bytes on macOS; never reset

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak


def _resident_kib(how: str) -> int:
    return status_kib("VmRSS") if how == "VmHWM" else _peak_kib(how)


def _batches(n: int, batch_size: int, order):
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size] if order is not None else slice(start, start + batch_size)


def floor_epoch(model, ratings, batch_size: int, order, *, rows: str = "index_add_") -> float:
    """Seconds of one epoch of only the memory traffic of the SGD steps.

    The same batches in the same order: read the batch's users and items,
    gather their rows of P, Q and the biases, and add rows (zeros, so the
    model is unchanged) back with ``rows``: "index_add_" (as fit_sgd does),
    "index_add_ with alpha" (the scale passed as alpha) or "scatter_add_".
    """
    P, Q, bu, bi = model.P, model.Q, model.user_bias, model.item_bias
    zeros = torch.zeros(batch_size, model.k, dtype=model.dtype)
    zeros_1d = torch.zeros(batch_size, dtype=model.dtype)
    start = time.perf_counter()
    with torch.no_grad():
        for rows_ in _batches(len(ratings), batch_size, order):
            users, items = ratings.users[rows_], ratings.items[rows_]
            ratings.values[rows_]
            b = len(users)
            P.index_select(0, users), Q.index_select(0, items)
            bu.index_select(0, users), bi.index_select(0, items)
            if rows == "scatter_add_":
                P.scatter_add_(0, users[:, None].expand(-1, model.k), zeros[:b])
                Q.scatter_add_(0, items[:, None].expand(-1, model.k), zeros[:b])
            elif rows == "index_add_ with alpha":
                P.index_add_(0, users, zeros[:b], alpha=-LR)
                Q.index_add_(0, items, zeros[:b], alpha=-LR)
            else:
                P.index_add_(0, users, zeros[:b])
                Q.index_add_(0, items, zeros[:b])
            bu.index_add_(0, users, zeros_1d[:b])
            bi.index_add_(0, items, zeros_1d[:b])
    return time.perf_counter() - start


def sgd_epoch(model, ratings, batch_size: int, order) -> float:
    """Seconds of one epoch of fit_sgd's steps, outside fit_sgd (to vary threads and order)."""
    params = (model.mean, *model._tensors())
    start = time.perf_counter()
    with torch.no_grad():
        for rows_ in _batches(len(ratings), batch_size, order):
            _add_gradients(params, ratings.users[rows_], ratings.items[rows_],
                           ratings.values[rows_], L2, -LR, params[1:])
    return time.perf_counter() - start


def child(n_users: int, n_items: int, n_ratings: int, epochs: int, explore: bool) -> dict:
    """One size, measured in this (fresh) process."""
    R.fit_sgd(R.make_ratings(50, 40, 500, seed=1), k=K, lr=LR, epochs=1)  # warm up torch
    gc.collect()
    how = "VmHWM" if reset_peak() else "ru_maxrss"
    before = _resident_kib(how)
    start = time.perf_counter()
    made = R.make_ratings(n_users, n_items, n_ratings, k=10, seed=0)
    make_seconds = time.perf_counter() - start
    make_peak = _peak_kib(how) - before
    ratings = R.Ratings(made.users, made.items, made.values, made.n_users, made.n_items)
    noise_floor = made.noise_floor
    del made  # and the generating model with it
    gc.collect()
    reset_peak()
    result = R.fit_sgd(ratings, k=K, lr=LR, l2=L2, epochs=epochs, batch_size=BATCH, seed=0)
    fit_peak = _peak_kib(how) - before
    model = result.model
    out = {
        "n_users": n_users, "n_items": n_items, "n_ratings": n_ratings, "how": how,
        "make_seconds": make_seconds, "make_peak_bytes": make_peak * 1024,
        "epoch_seconds": result.seconds / max(1, len(result.train_rmse)),
        "train_rmse": result.train_rmse, "diverged": result.diverged,
        "noise_floor": noise_floor,
        "ratings_bytes": ratings.nbytes, "model_bytes": model.nbytes,
        "fit_peak_bytes": fit_peak * 1024, "threads": 1,
    }
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    out["floor_seconds"] = min(floor_epoch(model, ratings, BATCH, torch.randperm(n_ratings, generator=g))
                               for _ in range(2))
    if explore:
        out["explore"] = explore_epoch(model, ratings, g)
    return out


def explore_epoch(model, ratings, g) -> dict:
    """Where the time of one epoch goes: batch size, order, threads, how rows are added."""
    n = len(ratings)
    found = {}
    shuffled = torch.randperm(n, generator=g)
    for batch_size in (256, 1024, 4096, 16384):
        found[f"batch {batch_size}, shuffled"] = sgd_epoch(model, ratings, batch_size, shuffled)
    found["batch 1024, stored order (sorted by user)"] = sgd_epoch(model, ratings, BATCH, None)
    by_item = torch.argsort(ratings.items, stable=True)
    found["batch 1024, sorted by item"] = sgd_epoch(model, ratings, BATCH, by_item)
    found["floor, batch 1024, stored order"] = floor_epoch(model, ratings, BATCH, None)
    for rows in ("index_add_ with alpha", "scatter_add_"):
        found[f"floor, batch 1024, rows added with {rows}"] = floor_epoch(
            model, ratings, BATCH, shuffled, rows=rows)
    found["batch 1024, shuffled copies of the ratings each epoch"] = _copies_epoch(
        model, ratings, shuffled)
    found["floor, batch 16384"] = floor_epoch(model, ratings, 16384, shuffled)
    default = os.cpu_count() or 1
    if default > 1:
        torch.set_num_threads(default)
        found[f"batch 1024, shuffled, {default} threads"] = sgd_epoch(model, ratings, BATCH, shuffled)
        found[f"batch 16384, shuffled, {default} threads"] = sgd_epoch(model, ratings, 16384, shuffled)
        torch.set_num_threads(1)
    return found


def _copies_epoch(model, ratings, order) -> float:
    """An epoch that first copies the ratings in shuffled order (+20 bytes per rating)."""
    start = time.perf_counter()
    shuffled = R.Ratings(ratings.users[order], ratings.items[order], ratings.values[order],
                         ratings.n_users, ratings.n_items)
    return time.perf_counter() - start + sgd_epoch(model, shuffled, BATCH, None)


# --- the benchmark ---------------------------------------------------------------------

def run_child(n_users, n_items, n_ratings, epochs: int, explore: bool = False) -> dict:
    big = str(4 << 20)  # above a batch's temporaries: a lower threshold costs page faults per step
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_=big, MALLOC_TRIM_THRESHOLD_=big)
    args = [sys.executable, "-m", "benchmarks.bench_ratings", "--child", str(n_users),
            str(n_items), str(n_ratings), str(epochs)] + (["--explore"] if explore else [])
    out = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"child for {n_ratings} ratings failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _load() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except (AttributeError, OSError):
        return "n/a"


def _count(n: int) -> str:
    if n >= 10**6:
        return f"{n / 1e6:g}M"
    return f"{n / 1e3:g}k" if n >= 10**3 else str(n)


def run(quick: bool) -> list[dict]:
    sizes = QUICK_SIZES if quick else SIZES
    epochs = 1 if quick else 2
    rows, per_rating = [], []
    load_before = _load()
    for index, (n_users, n_items, n_ratings) in enumerate(sizes):
        middle = not quick and index == 1
        m = run_child(n_users, n_items, n_ratings, epochs, explore=middle)
        where = (f"{_count(n_ratings)} ratings, {_count(n_users)} users × {_count(n_items)} items, "
                 f"k={K}, batch {BATCH}")
        per_rating.append(m["epoch_seconds"] / n_ratings)
        is_10m = n_ratings == 10_000_000
        rows.append(row(
            f"9 · one epoch of fit_sgd ({where})",
            f"{seconds(m['epoch_seconds'])} per epoch ({m['epoch_seconds'] / n_ratings * 1e9:.0f} ns "
            f"per rating; floor {seconds(m['floor_seconds'])})",
            f"≤ {GOAL_EPOCH_10M:g} s" if is_10m else "reported",
            m["epoch_seconds"] <= GOAL_EPOCH_10M if is_10m else True,
            f"floor: the same batches' reads, gathers and row additions alone; one thread; "
            f"train RMSE per epoch {', '.join(f'{x:.4f}' for x in m['train_rmse'])} "
            f"(noise floor {m['noise_floor']:.4f}); load average before the run {load_before}"))
        budget = m["ratings_bytes"] + m["model_bytes"]
        big = n_ratings >= 10**6  # below, torch's own allocations outweigh the data
        times = m["fit_peak_bytes"] / budget
        rows.append(row(
            f"9 · peak memory of make_ratings + fit_sgd ({_count(n_ratings)} ratings)",
            f"{times:.2f}× (ratings + parameters) ({m['fit_peak_bytes'] / 2**20:.0f} MiB; ratings "
            f"{m['ratings_bytes'] / 2**20:.0f} MiB, parameters {m['model_bytes'] / 2**20:.0f} MiB)",
            f"≤ {GOAL_MEMORY:g}×" if big else "reported", times <= GOAL_MEMORY or not big,
            f"{m['how']} in a fresh subprocess, from before the ratings were made to the end of "
            f"training; make_ratings took {seconds(m['make_seconds'])} with a peak of "
            f"{m['make_peak_bytes'] / 2**20:.0f} MiB"))
        if middle:
            found = m["explore"]
            detail = "; ".join(f"{name}: {seconds(t)}" for name, t in found.items())
            rows.append(row(
                f"9 · where one epoch's time goes ({_count(n_ratings)} ratings)",
                f"shuffled {seconds(found['batch 1024, shuffled'])}, stored order "
                f"{seconds(found['batch 1024, stored order (sorted by user)'])}, floor "
                f"{seconds(m['floor_seconds'])}", "reported", True, detail))
    if not quick:
        same = run_child(*SAME_TABLES, epochs)
        ratio = per_rating[-1] / (same["epoch_seconds"] / SAME_TABLES[2])
        spread = max(per_rating) / min(per_rating)
        rows.append(row(
            f"9 · time linear in the number of ratings ({_count(SAME_TABLES[0])} users × "
            f"{_count(SAME_TABLES[1])} items)",
            f"{ratio:.2f}× the time per rating at {_count(SIZES[-1][2])} ratings as at "
            f"{_count(SAME_TABLES[2])}",
            f"≤ {GOAL_LINEAR:g}×", ratio <= GOAL_LINEAR,
            f"{same['epoch_seconds'] / SAME_TABLES[2] * 1e9:.0f} and {per_rating[-1] * 1e9:.0f} "
            f"ns per rating; with the tables growing along (10 ratings per user), from "
            + ", ".join(f"{t * 1e9:.0f}" for t in per_rating)
            + f" ns per rating at {', '.join(_count(s[2]) for s in sizes)} ratings "
            f"({spread:.2f}×): the gathered rows fall out of the caches as the tables grow"))
    rows[-1]["detail"] += f"; load average after the run {_load()}"
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one small size")
    parser.add_argument("--child", nargs=4, type=int, metavar=("USERS", "ITEMS", "RATINGS", "EPOCHS"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--explore", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child, explore=args.explore)))
        return 0
    return print_rows(run(args.quick))


if __name__ == "__main__":
    sys.exit(main())
