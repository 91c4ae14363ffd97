"""Target 10: the ratings path against its peers, Surprise's SVD and Spark MLlib's ALS.

    python -m benchmarks.bench_peers            # 1 million ratings (about three minutes)
    python -m benchmarks.bench_peers --quick    # 20,000 ratings; Spark skipped

The same ratings for everyone: ``make_ratings`` of 1 million ratings
(100,000 users × 10,000 items, true rank 10, long-tailed) split 80 / 10 / 10
by ``split``. Every model trains on the first part and is scored on the last
by ``mf.ratings.rmse`` (a peer's factors are copied into a ``Model``, so the
same code computes every RMSE); the middle part chose the settings (NOTES).

* **Surprise's SVD** (scikit-surprise): per-rating SGD in Cython, one thread,
  against ``fit_sgd`` with the same k, spread of the initial factors,
  penalty, epochs and step per rating (NOTES: the factor 2). The two
  trainings alternate in one process (ours, Surprise, then Surprise, ours,
  ...), and the ratio is the median over rounds of each round's ratio. Timed
  in the same rounds: the floor of our epoch (only the reads, gathers and row
  additions of the same batches, ``bench_ratings.floor_epoch``) and
  Surprise's walk over its ratings alone (its Python generator
  ``Trainset.all_ratings``, which its Cython loop iterates).
* **Spark MLlib's ALS** in local mode on both cores (``local[2]``), in a
  fresh subprocess: the seconds to start the JVM, to read the ratings and to
  fit them, and the RMSE on the same test ratings.

The peers are optional: ``pip install -e ".[peers]"`` adds them (Spark needs
a Java runtime 17 or newer as well, e.g. Debian's
``openjdk-17-jre-headless``). A row whose peer is missing is measured as
"skipped", with the reason in its detail, and counts as met.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from mfgd_helpers import ratings as R

from .bench_ratings import floor_epoch
from .timing import load_average, num_threads, paired_ratio, print_rows, row, seconds, side_by_side

ORDER = 10
ROOT = Path(__file__).resolve().parent.parent
SIZE = (100_000, 10_000, 1_000_000)  # users, items, ratings
QUICK_SIZE = (2_000, 200, 20_000)
K, EPOCHS, INIT_STD = 32, 20, 0.1  # Surprise's n_factors (ours), n_epochs and init_std_dev
SURPRISE_LR, REG = 0.03, 0.05      # Surprise's lr_all and reg_all, chosen on validation
LR = SURPRISE_LR / 2               # the same step per rating in fit_sgd's units
BATCH = 1024
ROUNDS, QUICK_ROUNDS = 5, 1
ALS_ITERATIONS = 10                # Spark's default maxIter
ALS_REG = REG                      # the same per-rating penalty (Spark scales it like fit_sgd)
GOAL_RMSE = 1.01                   # our held-out RMSE over Surprise's
GOAL_SPEED = 1.0                   # Surprise's time per epoch over ours; aim 2
PEERS_EXTRA = 'pip install -e ".[peers]"'
NOTES = """\
**10.** *The same settings.* Surprise's SVD updates, for each rating in
turn, `b_u += lr_all (err - reg_all b_u)`, `p_u += lr_all (err q_i - reg_all
p_u)` and the same for the item, with `err = r - r̂`. `fit_sgd` sums the
gradient of `(r̂ - r)² + l2 (b_u² + ...)` over a batch and steps `-lr` times
it: per rating `b_u -= 2 lr (e + l2 b_u)`. So `lr = lr_all / 2` and `l2 =
reg_all` give the same step per rating, and with `batch_size=1` the two
algorithms are the same (tests/test_benchmarks.py checks it against a Python
copy of Surprise's loop, and that copy against Surprise where it is
installed). A batch sums its ratings' steps, so the step per rating stays
`lr` whatever the batch size; what changes is that a popular item rated c
times in a batch takes c steps at once (the busiest item here has 2.2 % of
the ratings: about 23 in a batch of 1024, `lr · c` ≈ 0.35; batches of 16,384
diverged at `lr = 0.01`). Both draw the initial factors from N(0, 0.1²) and
start the biases at 0; Surprise computes in float64 and visits the ratings
user by user, `fit_sgd` in float32 and in a new random order each epoch.
Surprise's defaults (`lr_all = 0.005`, `reg_all = 0.02`, 20 epochs) are far
from converged on these ratings (validation RMSE 0.755; 40 epochs give
0.740, as does `lr_all = 0.01` for 20). Over twelve settings at 20 epochs,
`lr_all` 0.005 to 0.05 and `reg_all` 0.02 to 0.1, Surprise's validation RMSE
was lowest at `lr_all` 0.03 and 0.04 with `reg_all = 0.05` (0.7194 and
0.7193), so both run with `lr_all = 0.03` (`lr = 0.015`) and `reg_all = l2 =
0.05`. At the six settings tried with both, `fit_sgd`'s validation RMSE was
0.04 to 0.75 % lower; with seeds 1 and 2 instead of 0 the test RMSEs were
0.7197 and 0.7198 for `fit_sgd`, 0.7220 and 0.7231 for Surprise.

*Where our epoch goes.* A step gathers its ratings' rows of P, Q and the
biases, and adds their updates back with `index_add_`; for rows of 32 floats
torch's CPU `index_add_` runs `scatter_add_`, element by element (about 50
µs for 1024 rows, against about 10 µs to gather them). In a profile of one
epoch the row additions took about 30 % of the time and the gathers (the
batch's own reads included) about a third. The floor (the same batches' reads, gathers and row
additions with none of the arithmetic) was 0.65 to 0.87 of the whole epoch
in the runs at load averages from 1.5 to 4, and about as long as Surprise's
whole epoch: with torch's operations the floor of this loop is no faster
than Surprise, so no arrangement of the same steps can be twice as fast. Tried, not
kept: preallocated buffers for every temporary (`out=`), 0.97 to 1.03 times
the time; batches of 4096, 0.96 to 1.05 times the time of 1024 (the calls'
overhead is not the cost, the elements are); each batch sorted by user
before its row additions, which made them 1.5 times slower; the biases as
two more columns of P and Q (two gathers and two row additions fewer per
step), 1.04 to 1.33 times slower, the masked columns costing more than the
calls saved. Two threads help only with large batches on an idle machine
(target 9's notes), and these batches cannot be large (above). Surprise's
epoch, on the other side, is about half its Python generator (the walk in
the detail) and half its arithmetic, in C.

*Spark.* ALS alternates between solving a k × k least-squares system for
every user and for every item, on two cores. It has no biases, so it trains
on the ratings minus the training mean (without that its test RMSE was
0.91), and a user or item it never saw is predicted by that mean. Its
`regParam` multiplies each user's and item's penalty by its number of
ratings (ALS-WR), which is `fit_sgd`'s per-rating penalty: the same 0.05 is
the matched setting, and on the validation ratings it was within 0.1 % of
the best of 0.03, 0.05, 0.1 and 0.2 (0.7847, 0.7693, 0.7688, 0.8053). The
JVM found no native BLAS here (no libblas.so.3) and used its Java one.
"""


def skipped(target: str, goal: str, reason: str) -> dict:
    """A row for what cannot be measured here (an optional peer is missing): met, with why.

    ``measured`` is the word "skipped" and ``detail`` starts with "skipped: "
    followed by the reason and the fix, so that a reader of the table sees
    what to install and tests can tell a skipped row from a measured one.
    """
    return row(target, "skipped", goal, True, f"skipped: {reason}")


def missing(module: str) -> str | None:
    """Why the optional peer ``module`` cannot run here, or None when it can."""
    names = {"surprise": "scikit-surprise", "pyspark": "pyspark"}
    if importlib.util.find_spec(module) is None:
        return f"{names.get(module, module)} is not installed; {PEERS_EXTRA} adds it"
    if module == "pyspark":
        version = java_version()
        if version is None:
            return ("no Java runtime (no java in JAVA_HOME or on PATH): Spark needs Java 17 "
                    "or newer, e.g. apt-get install -y openjdk-17-jre-headless")
        if version < 17:
            return f"java is version {version}; Spark 4 needs Java 17 or newer"
    return None


def java_version() -> int | None:
    """The major version of the ``java`` on PATH (or in JAVA_HOME), or None."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        return None
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except OSError:
        return None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not found:
        return None
    major = int(found.group(1))
    return int(found.group(2)) if major == 1 and found.group(2) else major  # "1.8" is 8


def make_data(size) -> tuple:
    """(train, validation, test) of the benchmark's ratings."""
    return R.split(R.make_ratings(*size, k=10, seed=0), seed=0)


def as_float64(ratings: R.Ratings) -> R.Ratings:
    """The same ratings with float64 values, to score a float64 model."""
    return R.Ratings(ratings.users, ratings.items, ratings.values.double(),
                     ratings.n_users, ratings.n_items)


def fit_ours(train: R.Ratings) -> R.FitResult:
    return R.fit_sgd(train, k=K, lr=LR, l2=REG, epochs=EPOCHS, batch_size=BATCH,
                     init_std=INIT_STD, seed=0)


# --- Surprise ------------------------------------------------------------------------

def surprise_sgd(model: R.Model, ratings: R.Ratings, *, lr_all: float, reg_all: float,
                 epochs: int) -> R.Model:
    """Surprise's ``SVD.sgd``, rating by rating, in plain Python: the reference for the mapping.

    A copy of the loop in Surprise's ``matrix_factorization.pyx`` (biased,
    one learning rate and one penalty for all), visiting the ratings as
    Surprise does: user by user in the order users first appear, each
    user's ratings in their given order. Slow; for a few hundred ratings.
    Returns a new model; ``model`` is the starting point.
    """
    m = model.clone()
    bu, bi, P, Q = (t.tolist() for t in m._tensors())
    by_user: dict[int, list] = {}
    for u, i, r in zip(ratings.users.tolist(), ratings.items.tolist(), ratings.values.tolist()):
        by_user.setdefault(u, []).append((i, r))
    for _ in range(epochs):
        for u, pairs in by_user.items():
            for i, r in pairs:
                err = r - (m.mean + bu[u] + bi[i] + sum(p * q for p, q in zip(P[u], Q[i])))
                bu[u] += lr_all * (err - reg_all * bu[u])
                bi[i] += lr_all * (err - reg_all * bi[i])
                for f in range(m.k):
                    puf, qif = P[u][f], Q[i][f]
                    P[u][f] += lr_all * (err * qif - reg_all * puf)
                    Q[i][f] += lr_all * (err * puf - reg_all * qif)
    dtype = m.dtype
    return R.Model(m.mean, torch.tensor(bu, dtype=dtype), torch.tensor(bi, dtype=dtype),
                   torch.tensor(P, dtype=dtype).reshape(m.n_users, m.k),
                   torch.tensor(Q, dtype=dtype).reshape(m.n_items, m.k))


def surprise_trainset(ratings: R.Ratings):
    """The ratings as a Surprise ``Trainset``; the raw ids are our indices."""
    import surprise

    raw = list(zip(ratings.users.tolist(), ratings.items.tolist(),
                   ratings.values.double().tolist(), [None] * len(ratings)))
    scale = (ratings.values.min().item(), ratings.values.max().item())
    return surprise.Dataset(surprise.Reader(rating_scale=scale)).construct_trainset(raw)


def surprise_fit(trainset, *, epochs: int = EPOCHS, lr_all: float = SURPRISE_LR,
                 reg_all: float = REG, k: int = K):
    import surprise

    return surprise.SVD(n_factors=k, n_epochs=epochs, lr_all=lr_all, reg_all=reg_all,
                        init_std_dev=INIT_STD, random_state=0).fit(trainset)


def surprise_model(algo, trainset, n_users: int, n_items: int) -> R.Model:
    """A trained Surprise SVD as a float64 ``Model`` over our indices.

    Surprise numbers users and items in the order they first appear (its
    inner ids); the raw ids are our indices. Users and items it never saw
    keep zero rows, so both predict them by the mean and the known bias, as
    Surprise's ``estimate`` does (unclipped, like ``rmse`` of our models).
    """
    users = torch.tensor([trainset.to_raw_uid(u) for u in trainset.all_users()])
    items = torch.tensor([trainset.to_raw_iid(i) for i in trainset.all_items()])
    model = R.init_model(n_users, n_items, algo.n_factors, mean=trainset.global_mean, std=0.0,
                         dtype=torch.float64)
    model.user_bias[users] = torch.from_numpy(algo.bu)
    model.item_bias[items] = torch.from_numpy(algo.bi)
    model.P[users] = torch.from_numpy(algo.pu)
    model.Q[items] = torch.from_numpy(algo.qi)
    return model


def _walk(trainset) -> None:
    """Surprise's loop over its ratings with nothing in it: what its generator costs.

    Drained by ``deque(maxlen=0)``, in C, as its Cython loop drains it: a
    Python ``for`` loop would add its own bytecode to every rating.
    """
    collections.deque(trainset.all_ratings(), maxlen=0)


def _floor(model, train, order) -> float:
    with num_threads(1):  # as fit_sgd runs (on_one_thread)
        return floor_epoch(model, train, BATCH, order)


def surprise_rows(train, validation, test, where: str, quick: bool) -> tuple[list, dict]:
    """The RMSE and epoch rows against Surprise; also our training's time and test RMSE.

    Our trainings are timed whether Surprise is here or not: Spark's rows
    compare with them.
    """
    reason = missing("surprise")
    rmse_target = f"10 · held-out RMSE, fit_sgd against Surprise's SVD ({where})"
    epoch_target = f"10 · one epoch, fit_sgd against Surprise's SVD ({where})"
    # the goals are the full size's: on the quick size's 2,000 test ratings the
    # seeds alone move either RMSE by about 1 %
    rmse_goal = "reported (quick)" if quick else f"≤ {GOAL_RMSE:g}× Surprise's"
    epoch_goal = "reported (quick)" if quick else f"Surprise's time ≥ {GOAL_SPEED:g}× ours (aim 2×)"
    rounds = QUICK_ROUNDS if quick else ROUNDS
    torch_order = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))
    floor_model = R.init_model(train.n_users, train.n_items, K, std=INIT_STD)
    cases = {"fit_sgd": lambda: fit_ours(train),
             "our floor": lambda: _floor(floor_model, train, torch_order)}
    if reason is None:
        import surprise

        start = time.perf_counter()
        trainset = surprise_trainset(train)
        build = time.perf_counter() - start
        trainset.global_mean  # computed once and kept: not part of the first round
        cases["Surprise"] = lambda: surprise_fit(trainset)
        cases["Surprise's walk"] = lambda: _walk(trainset)
    fit_ours(R.make_ratings(50, 40, 500, seed=1))  # warm up torch
    load_before = load_average()
    s = side_by_side(cases, rounds, warmup=False)
    ours = s["fit_sgd"]
    our_epoch, our_model = ours.median / EPOCHS, ours.result.model
    our_rmse = R.rmse(our_model, test)
    mine = {"seconds": ours.median, "rmse": our_rmse}
    if reason is not None:
        return [skipped(rmse_target, rmse_goal, reason),
                skipped(epoch_target, epoch_goal, reason)], mine
    their_model = surprise_model(s["Surprise"].result, trainset, train.n_users, train.n_items)
    test64, validation64 = as_float64(test), as_float64(validation)
    their_rmse = R.rmse(their_model, test64)
    ratio = our_rmse / their_rmse
    theirs = s["Surprise"]
    speed = paired_ratio(theirs, ours)
    floor, walk = s["our floor"].median, s["Surprise's walk"].median
    settings = (f"k={K}, {EPOCHS} epochs, Surprise lr_all={SURPRISE_LR:g}, reg_all={REG:g}; "
                f"fit_sgd lr={LR:g}, l2={REG:g}, batch {BATCH}")
    rows = [
        row(rmse_target,
            f"{our_rmse:.4f} against {their_rmse:.4f}: {ratio:.4f}×",
            rmse_goal, quick or ratio <= GOAL_RMSE,
            f"{settings}; validation RMSE {R.rmse(our_model, validation):.4f} and "
            f"{R.rmse(their_model, validation64):.4f}; noise floor {test.noise_floor:.4f}; "
            f"{len(train)} training and {len(test)} test ratings; Surprise {surprise.__version__}"
            f" (float64), fit_sgd float32"),
        row(epoch_target,
            f"{seconds(our_epoch)} against {seconds(theirs.median / EPOCHS)} per epoch: "
            f"Surprise takes {speed:.2f}× our time",
            epoch_goal, quick or speed >= GOAL_SPEED,
            f"a whole training each ({EPOCHS} epochs, starting model included), {rounds} "
            f"round{'s' if rounds != 1 else ''} alternating, median of the rounds' ratios (CPU time: "
            f"{paired_ratio(theirs, ours, cpu=True):.2f}×); {settings}; where the time goes: our "
            f"floor (the same batches' reads, gathers and row additions alone) "
            f"{seconds(floor)} per epoch, {floor / our_epoch:.2f} of ours, "
            f"{floor / len(train) * 1e9:.0f} ns per rating; Surprise's walk over its ratings "
            f"alone (its Python generator) {seconds(walk)}, {walk / (theirs.median / EPOCHS):.2f}"
            f" of its epoch; building Surprise's Trainset took {seconds(build)} (not timed "
            f"above); one thread each; load average {load_before} before, {load_average()} "
            "after"),
    ]
    return rows, mine


# --- Spark ---------------------------------------------------------------------------

def _write_csv(ratings: R.Ratings, path: Path, offset: float) -> None:
    lines = (f"{u},{i},{v - offset:.7g}" for u, i, v in zip(
        ratings.users.tolist(), ratings.items.tolist(), ratings.values.tolist()))
    path.write_text("\n".join(lines) + "\n", encoding="ascii")


def spark_child(n_users: int, n_items: int, n_ratings: int) -> dict:
    """Spark's ALS on the benchmark's ratings, in this (fresh) process."""
    train, validation, test = make_data((n_users, n_items, n_ratings))
    mean = train.values.double().mean().item()
    with tempfile.TemporaryDirectory(prefix="mfgd-spark-") as folder:
        folder = Path(folder)
        paths = {}
        for name, part in (("train", train), ("validation", validation), ("test", test)):
            paths[name] = folder / f"{name}.csv"
            _write_csv(part, paths[name], mean)  # ALS has no biases: centred ratings
        start = time.perf_counter()
        import pyspark
        from pyspark.ml.recommendation import ALS
        from pyspark.sql import SparkSession
        from pyspark.sql import functions as F

        spark = (SparkSession.builder.master("local[2]").appName("mfgd-bench-peers")
                 .config("spark.driver.memory", "2g")
                 .config("spark.ui.enabled", "false")
                 .config("spark.ui.showConsoleProgress", "false")
                 .config("spark.sql.shuffle.partitions", "4")
                 .config("spark.local.dir", str(folder))
                 .getOrCreate())
        spark.sparkContext.setLogLevel("ERROR")
        started = time.perf_counter()
        schema = "user INT, item INT, rating DOUBLE"
        frames = {name: spark.read.csv(str(path), schema=schema).cache()
                  for name, path in paths.items()}
        for frame in frames.values():
            frame.count()
        read = time.perf_counter()
        als = ALS(rank=K, maxIter=ALS_ITERATIONS, regParam=ALS_REG, userCol="user",
                  itemCol="item", ratingCol="rating", seed=0, coldStartStrategy="nan")
        model = als.fit(frames["train"])
        fitted = time.perf_counter()

        def rmse(frame) -> float:
            # coldStartStrategy="nan": a user or item unseen in training gets NaN,
            # here the mean (0 on centred ratings)
            error = F.col("rating") - F.nanvl(F.col("prediction"), F.lit(0.0))
            return math.sqrt(model.transform(frame).select(F.avg(error * error)).first()[0])

        out = {"start_seconds": started - start, "read_seconds": read - started,
               "fit_seconds": fitted - read, "test_rmse": rmse(frames["test"]),
               "validation_rmse": rmse(frames["validation"]),
               "spark": pyspark.__version__, "java": java_version(),
               "noise_floor": test.noise_floor}
        spark.stop()
    return out


def run_spark_child(size) -> dict:
    args = [sys.executable, "-m", "benchmarks.bench_peers", "--spark-child", *map(str, size)]
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"Spark's child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def spark_rows(size, where: str, quick: bool, ours: dict) -> list:
    time_target = f"10 · Spark MLlib ALS on local[2] against fit_sgd, time ({where})"
    rmse_target = f"10 · Spark MLlib ALS against fit_sgd, held-out RMSE ({where})"
    reason = "quick mode: starting the JVM alone takes longer than the quick run" if quick \
        else missing("pyspark")
    if reason is not None:
        return [skipped(time_target, "reported", reason), skipped(rmse_target, "reported", reason)]
    our_rmse, our_fit = ours["rmse"], ours["seconds"]
    load_before = load_average()
    m = run_spark_child(size)
    fit, total = m["fit_seconds"], m["start_seconds"] + m["read_seconds"] + m["fit_seconds"]
    settings = (f"rank {K}, {ALS_ITERATIONS} iterations, regParam {ALS_REG:g}, on the ratings "
                f"minus their mean; fit_sgd {EPOCHS} epochs, k={K}, lr={LR:g}, l2={REG:g}")
    return [
        row(time_target,
            f"ALS {seconds(fit)} ({seconds(total)} with the JVM start and reading the ratings) "
            f"against {seconds(our_fit)}: {fit / our_fit:.2f}× ({total / our_fit:.2f}×) our time",
            "reported", True,
            f"{settings}; JVM start {seconds(m['start_seconds'])}, reading the three parts "
            f"from CSV {seconds(m['read_seconds'])}; Spark {m['spark']}, Java {m['java']}, in a "
            f"fresh subprocess after the trainings above (fit_sgd's time is their median, one "
            f"thread); load average "
            f"{load_before} before, {load_average()} after"),
        row(rmse_target,
            f"{m['test_rmse']:.4f} against {our_rmse:.4f}: {m['test_rmse'] / our_rmse:.3f}× ours",
            "reported", True,
            f"{settings}; ALS validation RMSE {m['validation_rmse']:.4f}; noise floor "
            f"{m['noise_floor']:.4f}; cold-start users and items predicted by the mean"),
    ]


# --- the benchmark ---------------------------------------------------------------------

def _count(n: int) -> str:
    return f"{n / 1e6:g}M" if n >= 10**6 else f"{n / 1e3:g}k"


def run(quick: bool) -> list[dict]:
    size = QUICK_SIZE if quick else SIZE
    train, validation, test = make_data(size)
    where = f"{_count(size[2])} ratings, {_count(size[0])} users × {_count(size[1])} items, k={K}"
    rows, ours = surprise_rows(train, validation, test, where, quick)
    return rows + spark_rows(size, where, quick, ours)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 ratings; Spark skipped")
    parser.add_argument("--spark-child", nargs=3, type=int, metavar=("USERS", "ITEMS", "RATINGS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.spark_child:
        print(json.dumps(spark_child(*args.spark_child)))
        return 0
    return print_rows(run(args.quick))


if __name__ == "__main__":
    sys.exit(main())
