import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

import mfgd_helpers as mf


@pytest.fixture
def problem():
    D = mf.make_target(5, 4, 2, seed=0)
    C, F = mf.init_factors(5, 4, 2, seed=1)
    return D, C, F


# --- gradient_step -----------------------------------------------------------

def test_gradient_step_is_the_manual_update():
    D, C, F = mf.example_problem()
    mf.criterion(D, C @ F).backward()
    expected_C = C.detach() - 0.01 * C.grad
    expected_F = F.detach() - 0.01 * F.grad
    mf.gradient_step(C, F, 0.01)
    assert torch.equal(C.detach(), expected_C) and torch.equal(F.detach(), expected_F)
    assert torch.count_nonzero(C.grad) == 0 and torch.count_nonzero(F.grad) == 0
    assert C.is_leaf and F.is_leaf


def test_gradient_step_before_backward_is_a_clear_error():
    _, C, F = mf.example_problem()
    with pytest.raises(RuntimeError, match=r"C.grad is None: .*call loss.backward\(\)"):
        mf.gradient_step(C, F, 0.01)


def test_gradient_step_needs_requires_grad():
    with pytest.raises(TypeError, match="C must be a tensor with requires_grad=True"):
        mf.gradient_step(torch.ones(2, 1), torch.ones(1, 2), 0.1)


# --- train -------------------------------------------------------------------

def test_train_works_from_fresh_factors_and_leaves_them_untouched(problem):
    D, C, F = problem
    C0, F0 = C.detach().clone(), F.detach().clone()
    result = mf.train(D, C, F, lr=0.05, n_iterations=50)
    assert C.grad is None and F.grad is None
    assert torch.equal(C.detach(), C0) and torch.equal(F.detach(), F0)
    assert result.C is not C and len(result.losses) == 50


def test_losses_are_recorded_before_each_update(problem):
    D, C, F = problem
    result = mf.train(D, C, F, lr=0.05, n_iterations=3)
    assert result.losses[0] == pytest.approx(mf.criterion(D, C @ F).item(), rel=1e-6)
    one = mf.train(D, C, F, lr=0.05, n_iterations=1)
    assert result.losses[1] == pytest.approx(one.final_loss, rel=1e-6)
    assert result.final_loss == pytest.approx(mf.criterion(D, result.D_hat).item(), rel=1e-6)


def test_zero_iterations(problem):
    D, C, F = problem
    result = mf.train(D, C, F, lr=0.05, n_iterations=0)
    assert result.losses == [] and torch.equal(result.C.detach(), C.detach())


@pytest.mark.parametrize("mask", [False, True])
@pytest.mark.parametrize("l2", [0.0, 0.1])
def test_both_paths_agree(problem, mask, l2):
    D, C, F = problem
    m = (torch.rand(5, 4, generator=torch.Generator().manual_seed(2)) < 0.6) if mask else None
    a = mf.train(D, C, F, lr=0.03, n_iterations=300, mask=m, l2=l2, method="autograd")
    b = mf.train(D, C, F, lr=0.03, n_iterations=300, mask=m, l2=l2, method="analytic")
    np.testing.assert_allclose(a.losses, b.losses, rtol=1e-5)
    torch.testing.assert_close(a.C, b.C, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(a.F, b.F, rtol=1e-4, atol=1e-5)


def test_the_loss_decreases_and_approaches_the_optimum():
    D = mf.make_target(8, 6, 3, seed=5) + 0.05 * torch.randn(8, 6, generator=torch.Generator().manual_seed(0))
    C, F = mf.init_factors(8, 6, 2, seed=6)
    result = mf.train(D, C, F, lr=mf.suggest_lr(D, C, F), n_iterations=3000, method="analytic")
    floor = mf.best_rank_k_loss(D, 2)
    assert floor > 0.01
    assert result.losses[0] > result.losses[100] > result.final_loss
    assert floor <= result.final_loss < floor * 1.01


def test_callback_and_verbose_print_the_source_table(problem, capsys):
    D, C, F = problem
    seen = []
    mf.train(D, C, F, lr=0.01, n_iterations=2500, method="analytic",
             callback=lambda i, loss: seen.append(i), log_every=1000)
    assert seen == [1, 1000, 2000]
    mf.train(D, C, F, lr=0.01, n_iterations=1000, verbose=True, log_every=500)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" . ")[0] for line in lines] == ["Iteration n. 1", "Iteration n. 500", "Iteration n. 1000"]
    assert all(line.startswith("Iteration n. ") and len(line.split("Loss: ")[1]) == 6 for line in lines)


@pytest.mark.parametrize("method", ["autograd", "analytic"])
def test_divergence_stops_warns_and_never_records_nan(problem, method):
    D, C, F = problem
    with pytest.warns(RuntimeWarning, match=r"diverged at iteration (\d+).*lr=5.*Try lr=0.5 or smaller"):
        result = mf.train(D, C, F, lr=5.0, n_iterations=1000, method=method)
    assert result.diverged and result.diverged_at is not None
    assert len(result.losses) == result.diverged_at - 1 < 1000
    assert all(math.isfinite(v) for v in result.losses)
    assert "diverged at iteration" in repr(result)


def _train_with(monkeypatch, *, batch=None, batched=True, **kwargs):
    """``train`` with the fast path's batch length set, or with one loss at a time."""
    from mfgd_helpers import training
    with monkeypatch.context() as patch:
        if batch is not None:
            patch.setattr(training, "BATCH", batch)
            patch.setattr(training, "MIN_BATCH", 1)
        if not batched:
            patch.setattr(training, "BATCHED", 0)
        return mf.train(**kwargs)


def _close(a, b, rtol=1e-6):
    return len(a) == len(b) and all(abs(x - y) <= rtol * abs(y) for x, y in zip(a, b))


@pytest.mark.parametrize("n_iterations", [1, 127, 128, 129, 300])
@pytest.mark.parametrize("log_every", [1, 3, 100, 128, 1000])
def test_batched_losses_call_back_at_the_same_iterations(problem, monkeypatch, n_iterations, log_every):
    D, C, F = problem
    expected = sorted({1} | set(range(log_every, n_iterations + 1, log_every)))
    runs = []
    for batched in (True, False):
        seen = []
        result = _train_with(monkeypatch, batched=batched, D=D, C=C, F=F, lr=0.01,
                             n_iterations=n_iterations, method="analytic", log_every=log_every,
                             callback=lambda i, loss: seen.append((i, loss)))
        assert [i for i, _ in seen] == expected
        assert all(loss == result.losses[i - 1] for i, loss in seen)
        runs.append(result)
    batched, single = runs
    # the same steps, bit for bit; the losses summed in another order
    assert torch.equal(batched.C, single.C) and torch.equal(batched.F, single.F)
    assert _close(batched.losses, single.losses)


@pytest.mark.parametrize("batch", [2, 3, 4, 128])
@pytest.mark.parametrize("lr", [0.6, 0.7, 1.0, 5.0])   # diverge at iterations 7, 6, 5, 4
def test_a_divergence_inside_a_batch_stops_where_one_loss_at_a_time_stops(monkeypatch, batch, lr):
    D, C, F = mf.example_problem()
    kwargs = dict(D=D, C=C, F=F, lr=lr, n_iterations=1000, method="analytic")
    with pytest.warns(mf.DivergenceWarning) as batched_warnings:
        batched = _train_with(monkeypatch, batch=batch, **kwargs)
    with pytest.warns(mf.DivergenceWarning) as single_warnings:
        single = _train_with(monkeypatch, batched=False, **kwargs)
    assert len(batched_warnings) == len(single_warnings) == 1
    assert batched.diverged_at == single.diverged_at == len(batched.losses) + 1 > 1
    assert f"diverged at iteration {single.diverged_at}:" in str(batched_warnings[0].message)
    assert _close(batched.losses, single.losses) and all(map(math.isfinite, batched.losses))
    # the factors are those whose loss was not finite, exactly as one loss at a time
    assert torch.equal(batched.C, single.C) and torch.equal(batched.F, single.F)
    assert not math.isfinite(batched.final_loss)
    assert not torch.isfinite(((batched.C @ batched.F - D) ** 2).sum())


def test_large_targets_and_l2_record_one_loss_at_a_time():
    from mfgd_helpers import training
    D = mf.make_target(200, 200, 3, seed=0)
    C, F = mf.init_factors(200, 200, 3, seed=1)
    assert training.BATCHED // D.numel() < training.MIN_BATCH   # so this run is not batched
    seen = []
    result = mf.train(D, C, F, lr=1e-4, n_iterations=300, method="analytic", log_every=100,
                      callback=lambda i, loss: seen.append(i))
    assert seen == [1, 100, 200, 300] and len(result.losses) == 300
    reference = mf.train(D, C, F, lr=1e-4, n_iterations=300)
    assert _close(result.losses, reference.losses, rtol=1e-5)
    small_D, small_C, small_F = mf.example_problem()
    with_l2 = mf.train(small_D, small_C, small_F, lr=0.01, n_iterations=300, l2=0.1, method="analytic")
    assert _close(with_l2.losses, mf.train(small_D, small_C, small_F, lr=0.01, n_iterations=300,
                                           l2=0.1).losses, rtol=1e-5)


def test_a_masked_run_of_a_mid_sized_target_is_batched_and_matches_the_teaching_path():
    from mfgd_helpers import training
    D = mf.make_target(60, 80, 4, seed=0)
    mask = mf.random_mask(D.shape, 0.6, seed=1)
    C, F = mf.init_factors(60, 80, 4, seed=2)
    assert training.MIN_BATCH <= training.BATCHED // D.numel() < training.BATCH
    lr = mf.suggest_lr(D, C, F, mask=mask)
    fast = mf.train(D, C, F, lr=lr, n_iterations=500, method="analytic", mask=mask)
    slow = mf.train(D, C, F, lr=lr, n_iterations=500, mask=mask)
    assert _close(fast.losses, slow.losses, rtol=1e-4) and fast.losses[-1] < fast.losses[0] / 10


def test_stable_run_does_not_warn(problem):
    D, C, F = problem
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = mf.train(D, C, F, lr=0.01, n_iterations=100)
    assert not result.diverged and result.diverged_at is None


def test_accepts_numpy_and_converts_factors_to_D_dtype(problem):
    D, C, F = problem
    result = mf.train(D.double().numpy(), C.detach().numpy(), F.detach().numpy(),
                      lr=0.05, n_iterations=10, method="analytic")
    assert result.C.dtype == torch.float64


def test_repr_is_short(problem):
    D, C, F = problem
    text = repr(mf.train(D, C, F, lr=0.05, n_iterations=10))
    assert text.startswith("TrainResult(method='autograd', lr=0.05, iterations=10/10, final_loss=")


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(lr=0.0), ValueError, r"lr == 0.0, must be a number > 0"),
        (dict(lr=float("nan")), ValueError, r"lr == nan"),
        (dict(n_iterations=-1), ValueError, r"n_iterations == -1, must be an integer >= 0"),
        (dict(n_iterations=10.0), TypeError, r"n_iterations == 10.0 \(float\)"),
        (dict(method="adam"), ValueError, r"method == 'adam', must be one of \('autograd', 'analytic'\)"),
        (dict(log_every=0), ValueError, r"log_every == 0"),
        (dict(l2=-1.0), ValueError, r"l2 == -1.0, must be a number >= 0"),
        (dict(callback=3), TypeError, r"callback == 3 is not callable"),
        (dict(mask=torch.ones(5, 4)), TypeError, r"mask has dtype torch.float32, must be boolean"),
    ],
)
def test_bad_arguments(problem, kwargs, error, match):
    D, C, F = problem
    args = dict(lr=0.01, n_iterations=5) | kwargs
    with pytest.raises(error, match=match):
        mf.train(D, C, F, **args)


def test_bad_matrices(problem):
    D, C, F = problem
    with pytest.raises(ValueError, match=r"D contains 1 NaN"):
        bad = D.clone()
        bad[1, 1] = float("nan")
        mf.train(bad, C, F, lr=0.01, n_iterations=5)
    with pytest.raises(ValueError, match=r"D must be 2-D"):
        mf.train(D.flatten(), C, F, lr=0.01, n_iterations=5)
    with pytest.raises(ValueError, match=r"C must have n == 5 rows"):
        mf.train(D, C[:3], F, lr=0.01, n_iterations=5)


def test_hidden_entries_may_hold_nan_but_observed_ones_may_not(problem):
    D, C, F = problem
    mask = torch.ones(5, 4, dtype=torch.bool)
    mask[0, 1] = mask[3, 2] = False
    placeholder = D.clone()
    placeholder[~mask] = float("nan")
    for method in ("autograd", "analytic"):
        a = mf.train(placeholder, C, F, lr=0.03, n_iterations=50, mask=mask, method=method)
        b = mf.train(D, C, F, lr=0.03, n_iterations=50, mask=mask, method=method)
        assert a.losses == b.losses and not a.diverged
    assert mf.suggest_lr(placeholder, C, F, mask=mask) == mf.suggest_lr(D * mask, C, F, mask=mask)
    assert mf.criterion(placeholder, C @ F, mask=mask).isfinite()
    dC, dF = mf.analytic_gradients(placeholder, C, F, mask=mask)
    assert dC.isfinite().all() and dF.isfinite().all()
    mask[0, 1] = True
    with pytest.raises(ValueError, match=r"D contains 1 observed NaN or inf value\(s\), the first at \[0, 1\].*mark it unobserved"):
        mf.train(placeholder, C, F, lr=0.03, n_iterations=5, mask=mask)


@pytest.mark.parametrize("method", ["autograd", "analytic"])
def test_transposed_and_fortran_ordered_inputs(problem, method):
    D, C, F = problem
    reference = mf.train(D, C, F, lr=0.03, n_iterations=20, method="autograd")
    Ft = F.detach().T.contiguous().T          # same values, column-major
    Dt = D.T.contiguous().T
    result = mf.train(Dt, C, Ft, lr=0.03, n_iterations=20, method=method)
    np.testing.assert_allclose(result.losses, reference.losses, rtol=1e-5)
    fortran = np.asfortranarray(D.numpy())
    result = mf.train(fortran, C, F, lr=0.03, n_iterations=20, method=method)
    np.testing.assert_allclose(result.losses, reference.losses, rtol=1e-5)


def test_autograd_inside_inference_mode_is_a_clear_error(problem):
    D, C, F = problem
    with torch.inference_mode():
        with pytest.raises(RuntimeError, match=r"method='autograd' needs autograd.*inference_mode"):
            mf.train(D, C, F, lr=0.03, n_iterations=2)
        assert not mf.train(D, C, F, lr=0.03, n_iterations=2, method="analytic").diverged


def test_divergence_warns_at_the_callers_line_every_time(tmp_path):
    # a fresh interpreter with Python's default warning filters, which show a
    # plain warning only once per line: re-running a diverging cell must warn again
    script = tmp_path / "student.py"
    script.write_text(
        "import mfgd_helpers as mf\n"
        "D, C, F = mf.example_problem()\n"
        "for attempt in range(2):\n"
        "    mf.train(D, C, F, lr=5.0, n_iterations=50, method='analytic')\n")
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    lines = [line for line in run.stderr.splitlines() if "DivergenceWarning" in line]
    assert len(lines) == 2, run.stderr
    assert all(line.startswith(f"{script}:4: DivergenceWarning: Training diverged")
               for line in lines), run.stderr


def test_divergence_warning_is_a_runtime_warning_filtered_by_category():
    D, C, F = mf.example_problem()
    assert issubclass(mf.DivergenceWarning, RuntimeWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=mf.DivergenceWarning)
        result = mf.train(D, C, F, lr=5.0, n_iterations=50, method="analytic")
    assert result.diverged


@pytest.mark.parametrize("shape, l2", [((200, 200), 0.0), ((20, 30), 0.1), ((20, 30), 0.0)])
def test_the_fast_path_keeps_float64_and_the_mask_on_every_route(shape, l2):
    """One loss at a time (large or L2) and batched: float64 in, float64 out, hidden entries ignored."""
    n, m = shape
    D = mf.make_target(n, m, 3, seed=0, dtype=torch.float64)
    mask = mf.random_mask(D.shape, 0.7, seed=1)
    D_hidden = torch.where(mask, D, torch.tensor(1e6, dtype=torch.float64))  # junk where hidden
    C, F = mf.init_factors(n, m, 3, seed=2)
    lr = mf.suggest_lr(D, C, F, mask=mask)
    fast = mf.train(D_hidden, C, F, lr=lr, n_iterations=200, method="analytic", mask=mask, l2=l2)
    slow = mf.train(D_hidden, C, F, lr=lr, n_iterations=200, mask=mask, l2=l2)
    assert fast.C.dtype == fast.F.dtype == torch.float64
    assert _close(fast.losses, slow.losses, rtol=1e-9) and abs(fast.final_loss / slow.final_loss - 1) < 1e-9


@pytest.mark.parametrize("batch", [3, 128])
def test_a_masked_divergence_stops_in_the_same_state_in_batches(monkeypatch, batch):
    D = mf.make_target(6, 5, 2, seed=0)
    mask = mf.random_mask(D.shape, 0.6, seed=1)
    C, F = mf.init_factors(6, 5, 2, seed=2)
    kwargs = dict(D=torch.where(mask, D, torch.tensor(float("nan"))), C=C, F=F, lr=2.0,
                  n_iterations=100, method="analytic", mask=mask)
    with pytest.warns(mf.DivergenceWarning):
        batched = _train_with(monkeypatch, batch=batch, **kwargs)
    with pytest.warns(mf.DivergenceWarning):
        single = _train_with(monkeypatch, batched=False, **kwargs)
    assert batched.diverged_at == single.diverged_at > 2
    assert torch.equal(batched.C, single.C) and torch.equal(batched.F, single.F)
