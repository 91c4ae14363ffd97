"""The benchmarks in quick mode: each runs, its rows are well-formed, its
correctness checks hold. No speed is asserted anywhere: timings depend on the
machine and its load; ``make bench`` reports them."""

import functools
import importlib.util
import math
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import mfgd_helpers as mf
from mfgd_helpers import ratings as R

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"


def _load_runner():
    spec = importlib.util.spec_from_file_location("benchmarks_run", BENCHMARKS / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


runner = _load_runner()
MODULES, DISCOVERY_NOTES = runner.discover()
BY_NAME = dict(MODULES)
source_loop = BY_NAME["source_loop"]
scaling = BY_NAME["scaling"]
convergence = BY_NAME["convergence"]
peers = BY_NAME["peers"]
timing = importlib.import_module("benchmarks.timing")  # the package discover() loaded
NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?", re.IGNORECASE)


@functools.lru_cache(maxsize=None)
def quick_rows(name):
    return BY_NAME[name].run(quick=True)


def row_starting(name, prefix):
    rows = [r for r in quick_rows(name) if r["target"].startswith(prefix)]
    assert len(rows) == 1, [r["target"] for r in quick_rows(name)]
    return rows[0]


# --- every module, quick mode ------------------------------------------------------

def test_all_own_benchmarks_are_found():
    assert {"source_loop", "scaling", "convergence", "notebooks", "import"} <= set(BY_NAME)
    assert not [n for n in DISCOVERY_NOTES if "failed to import" in n], DISCOVERY_NOTES


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_quick_mode_rows_are_well_formed(name):
    rows = runner.check_rows(name, quick_rows(name))
    if name == "notebooks":
        assert rows == []  # kernels take seconds to start: skipped in quick mode
        return
    assert rows, f"bench_{name} measured nothing in quick mode"
    for r in rows:
        assert r["target"] and r["goal"], r
        if r["measured"] == "skipped":  # an optional peer is missing: the detail says why
            assert re.match(r"skipped: \S.{10,}", r["detail"]) and r["met"], r
            continue
        text = r["measured"]
        assert not re.search(r"\b(nan|inf)\b", text, re.IGNORECASE), r
        numbers = [float(x) for x in NUMBER.findall(text)]
        assert numbers, f"no number in measured: {r}"
        assert all(math.isfinite(x) and x >= 0 for x in numbers), r
        assert any(x > 0 for x in numbers), r


# --- the correctness parts ------------------------------------------------------------

def test_the_reference_starts_where_the_source_starts_its_loop():
    D, C, F = source_loop.source_start()
    after = [[0.9541, 0.2361], [0.0383, 0.5885], [0.4250, 0.2805]]  # printed by the source
    torch.testing.assert_close(C.detach(), torch.tensor(after), atol=2e-4, rtol=0)
    assert torch.count_nonzero(C.grad) == 0 and torch.count_nonzero(F.grad) == 0
    assert mf.criterion(D, C @ F).item() == pytest.approx(1.8740, abs=1e-4)


def test_the_source_loop_and_both_paths_give_the_same_history():
    h = source_loop.histories(300)
    assert h["source"] == h["autograd"]  # bit for bit
    assert source_loop.max_relative_difference(h["analytic"], h["source"]) <= 1e-5
    assert source_loop.table_matches(h["source"]) == (1, 1)
    assert h["source"][0] > h["source"][-1]


def test_table_matches_counts_only_what_the_history_covers():
    history = [1.8740] + [0.5] * 998 + [0.0223]
    assert source_loop.table_matches(history) == (2, 2)
    assert source_loop.table_matches([1.9]) == (0, 1)


def test_quick_rows_report_the_correctness_checks_as_met():
    assert row_starting("source_loop", "1–2 · same loss history")["met"]
    assert row_starting("scaling", "3 · same losses")["met"]
    assert row_starting("convergence", "4 · iterations to within 1 % of the optimum, suggest_lr")["met"]


def test_the_floor_computes_what_the_fast_path_computes():
    D, C, F = scaling.make_problem(40, 30, 3)
    floor = scaling.floor_steps(D, C, F, 20, lr=1e-3)
    fast = mf.train(D, C, F, lr=1e-3, n_iterations=20, method="analytic").losses
    assert scaling.max_relative_difference(fast, floor) <= 1e-6
    assert floor[0] > floor[-1]


def test_peak_memory_counts_D_and_the_work_buffers():
    measured = row_starting("scaling", "3 · peak memory of the fast path")["measured"]
    times = float(re.match(r"([\d.]+)× the size of D", measured).group(1))
    assert times >= 2  # D and the residual R at least, measured in a child process


def test_iterations_to_reach():
    run = SimpleNamespace(losses=[5.0, 3.0, 1.5, 1.0], final_loss=0.9, diverged=False,
                          n_iterations=4)
    assert convergence.iterations_to_reach(run, 1.0) == 3
    assert convergence.iterations_to_reach(run, 0.95) == 4  # only after the last update
    assert convergence.iterations_to_reach(run, 0.5) is None
    diverged = SimpleNamespace(losses=[5.0, 30.0], final_loss=float("nan"), diverged=True,
                               n_iterations=100)
    assert convergence.iterations_to_reach(diverged, 1.0) is None


def test_convergence_draws_its_curves():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    quick_rows("convergence")
    fig, ax = plt.subplots()
    try:
        assert convergence.draw(ax)
        assert len(ax.get_lines()) >= 4  # two curves, the optimum, optimum + 1 %
    finally:
        plt.close(fig)


# --- the peers (optional: scikit-surprise and pyspark, the "peers" extra) -------------

def _sorted_ratings_and_start(dtype=torch.float64):
    """Ratings sorted by user (Surprise's visiting order) and a start without unseen rows."""
    ratings = R.make_ratings(30, 20, 240, k=2, seed=3, dtype=dtype)
    assert torch.bincount(ratings.users, minlength=30).min() > 0
    assert torch.bincount(ratings.items, minlength=20).min() > 0
    start = R.init_model(30, 20, 3, mean=ratings.values.double().mean().item(), std=0.1,
                         seed=1, dtype=dtype)
    return ratings, start


def test_surprise_update_rule_is_fit_sgd_at_batch_1_with_half_the_lr():
    ratings, start = _sorted_ratings_and_start()
    theirs = peers.surprise_sgd(start, ratings, lr_all=0.03, reg_all=0.05, epochs=3)
    ours = R.fit_sgd(ratings, lr=0.015, l2=0.05, epochs=3, batch_size=1, shuffle=False,
                     init=start).model
    assert theirs.mean == ours.mean
    for a, b in zip(theirs._tensors(), ours._tensors()):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    moved = peers.surprise_sgd(start, ratings, lr_all=0.03, reg_all=0.05, epochs=1)
    assert not torch.allclose(moved.P, start.P)  # the comparison is not of two starts


def test_the_python_copy_of_surprises_loop_is_surprise():
    pytest.importorskip("surprise")
    import numpy as np

    ratings, _ = _sorted_ratings_and_start()
    order = torch.randperm(len(ratings), generator=torch.Generator().manual_seed(0))
    ratings = R.Ratings(ratings.users[order], ratings.items[order], ratings.values[order])
    trainset = peers.surprise_trainset(ratings)  # its inner ids are not our indices
    assert [trainset.to_raw_uid(u) for u in trainset.all_users()] != list(range(30))
    algo = peers.surprise_fit(trainset, epochs=3, lr_all=0.03, reg_all=0.05, k=3)
    rng = np.random.RandomState(0)  # Surprise's start: biases 0, P then Q from N(0, 0.1²)
    drawn = SimpleNamespace(n_factors=3, bu=np.zeros(trainset.n_users),
                            bi=np.zeros(trainset.n_items),
                            pu=rng.normal(0, peers.INIT_STD, (trainset.n_users, 3)),
                            qi=rng.normal(0, peers.INIT_STD, (trainset.n_items, 3)))
    start = peers.surprise_model(drawn, trainset, 30, 20)
    expected = peers.surprise_sgd(start, ratings, lr_all=0.03, reg_all=0.05, epochs=3)
    got = peers.surprise_model(algo, trainset, 30, 20)
    for a, b in zip(got._tensors(), expected._tensors()):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    users, items = ratings.users[:5].tolist(), ratings.items[:5].tolist()
    estimates = [algo.estimate(trainset.to_inner_uid(u), trainset.to_inner_iid(i))
                 for u, i in zip(users, items)]
    torch.testing.assert_close(R.predict(got, users, items),
                               torch.tensor(estimates, dtype=torch.float64))


def test_a_missing_peer_is_skipped_with_the_reason_and_the_fix(monkeypatch):
    monkeypatch.setattr(peers, "missing",
                        lambda module: f"{module} is not installed; {peers.PEERS_EXTRA} adds it")
    train, validation, test = peers.make_data((300, 50, 3000))
    rows, ours = peers.surprise_rows(train, validation, test, "tiny", quick=False)
    rows += peers.spark_rows((300, 50, 3000), "tiny", False, ours)
    assert [r["measured"] for r in rows] == ["skipped"] * 4
    assert all(r["met"] and '".[peers]"' in r["detail"] for r in rows)
    assert [r["target"].split(",")[0] for r in rows[:2]] == [
        "10 · held-out RMSE", "10 · one epoch"]
    assert ours["seconds"] > 0 and 0.4 < ours["rmse"] < 1.5  # ours is timed all the same


def test_missing_names_the_package_and_the_java_it_needs(monkeypatch, tmp_path):
    assert "not installed" in peers.missing("no_such_module_for_mfgd")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))  # no bin/java there
    assert peers.java_version() is None
    if importlib.util.find_spec("pyspark") is not None:
        assert "openjdk-17-jre-headless" in peers.missing("pyspark")


def test_the_quick_peer_rows_skip_spark_and_say_why():
    spark = [r for r in quick_rows("peers") if "Spark" in r["target"]]
    assert len(spark) == 2
    assert all(r["measured"] == "skipped" and "quick mode" in r["detail"] for r in spark)


# --- the shared helpers and the runner ----------------------------------------------

def test_side_by_side_interleaves_and_alternates_the_order():
    calls = []
    cases = {"a": lambda: calls.append("a") or 1, "b": lambda: calls.append("b") or 2}
    samples = timing.side_by_side(cases, repeats=3, warmup=False)
    assert calls == ["a", "b", "b", "a", "a", "b"]
    assert [len(samples[k].wall) for k in "ab"] == [3, 3]
    assert samples["a"].result == 1 and samples["b"].median >= 0


def test_paired_ratio_compares_runs_of_the_same_round():
    slow = timing.Samples(wall=[2.0, 9.0, 4.0], cpu=[2.0, 3.0, 4.0])
    fast = timing.Samples(wall=[1.0, 3.0, 4.0], cpu=[1.0, 1.0, 1.0])
    assert timing.paired_ratio(slow, fast) == 2.0  # ratios 2, 3, 1
    assert timing.paired_ratio(slow, fast, cpu=True) == 3.0


def test_num_threads_restores_the_setting():
    before = torch.get_num_threads()
    with timing.num_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("value, text", [(2.5, "2.5 s"), (0.0123, "12.3 ms"), (4.2e-6, "4.2 µs")])
def test_seconds_picks_a_readable_unit(value, text):
    assert timing.seconds(value) == text


def test_machine_description_has_what_the_results_file_needs():
    info = timing.machine()
    assert {"CPU", "cores", "torch", "Python", "date"} <= set(info)
    assert torch.__version__ in info["torch"]


@pytest.mark.parametrize(
    "rows, match",
    [
        ({"target": "x"}, r"must be a list of dicts"),
        ([{"target": "x"}], r"row 0 must be a dict with exactly the keys"),
        ([dict(target="x", measured="1", goal="g", met="yes", detail="")], r"met == 'yes', must be bool"),
        ([dict(target="x", measured=1.0, goal="g", met=True, detail="")], r"measured == 1.0, must be str"),
    ],
)
def test_check_rows_rejects_malformed_rows(rows, match):
    with pytest.raises(ValueError, match=match):
        runner.check_rows("demo", rows)


def test_a_missing_benchmark_is_reported_not_fatal(monkeypatch):
    monkeypatch.setattr(runner, "EXPECTED", ("playground", "not_written_yet"))
    _, notes = runner.discover(only=["import"])
    assert any("bench_not_written_yet.py not found" in n for n in notes)


def test_quick_mode_refuses_to_overwrite_the_results_file():
    with pytest.raises(SystemExit):
        runner.main(["--quick", "--output", str(runner.RESULTS)])


def test_the_runner_writes_results_and_plot_only_where_told(tmp_path, capsys):
    before = runner.RESULTS.stat().st_mtime_ns if runner.RESULTS.exists() else None
    out = tmp_path / "results.md"
    assert runner.main(["--quick", "--only", "convergence", "--output", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "## Machine" in text and "| torch |" in text and "![benchmark plots](results.png)" in text
    assert "| 4 · iterations to within 1 %" in text
    assert (tmp_path / "results.png").stat().st_size > 10_000
    assert "rows meet their goal" in capsys.readouterr().out
    after = runner.RESULTS.stat().st_mtime_ns if runner.RESULTS.exists() else None
    assert after == before


def test_slowest_cell_reads_the_recorded_timing():
    import nbformat

    notebooks = BY_NAME["notebooks"]
    nb = nbformat.v4.new_notebook()
    for source, begin, end in [("x = 1", "10:00:00.0", "10:00:00.5"),
                               ("# train\nmf.train(...)", "10:00:01.0", "10:00:03.0"),
                               ("print(x)", "10:00:03.0", "10:00:03.1")]:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["execution"] = {"iopub.execute_input": f"2026-01-01T{begin}Z",
                                      "shell.execute_reply": f"2026-01-01T{end}Z"}
        nb.cells.append(cell)
    nb.cells.insert(0, nbformat.v4.new_markdown_cell("# title"))
    assert notebooks.slowest_cells(nb) == [(2, 2.0, "mf.train(...)"), (1, 0.5, "x = 1")]
    assert notebooks.slowest_cells(nbformat.v4.new_notebook()) == []


def test_an_empty_notebook_runs_in_a_fresh_kernel():
    notebooks = BY_NAME["notebooks"]
    seconds, executed = notebooks.run_notebook(notebooks.empty_notebook(), ROOT / "notebooks")
    assert 0 < seconds < 300
    [(index, took, first)] = notebooks.slowest_cells(executed)
    assert (index, first) == (0, "import torch") and 0 < took < seconds
