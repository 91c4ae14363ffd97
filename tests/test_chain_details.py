"""Details of training, the step size, the gradients, the optimum and the data.

What a user can see of each: the exact words of the errors and warnings
(that the parameter named is the one they passed), the numbers of the
result (final_loss with the penalty and the mask, the timing, where a run
diverged), the formulas of ``max_stable_lr`` and ``suggest_lr`` against an
exact Hessian, the Lanczos branch on larger problems, the dtypes asked for,
and that the caller's factors and the global random state are untouched.
Small matrices and few iterations: the file runs in a few seconds.
"""

import inspect
import math
import time
import warnings

import numpy as np
import pytest
import torch

import mfgd_helpers as mf

D0, C0, F0 = (t.detach() for t in mf.example_problem())
F32_MAX = torch.finfo(torch.float32).max
F64_MAX = torch.finfo(torch.float64).max


def _message(exc_info):
    return str(exc_info.value)


def _exact_curvature(D, C, F, mask=None):
    """Top eigenvalue of the Hessian of the (masked) loss, built entry by entry in float64.

    For L = sum(R²), R = M ∘ (C F - D): H = 2 Jᵀ J + 2 sum R_ij ∇²R_ij, with
    ∂R_ij/∂C_ab = M_ij δ_ia F_bj, ∂R_ij/∂F_ab = M_ij C_ia δ_bj and the only second
    derivatives ∂²R_ij/∂C_ab ∂F_bj = M_ij δ_ia.
    """
    D, C, F = D.double(), C.double(), F.double()
    (n, k), m = C.shape, F.shape[1]
    M = torch.ones(n, m, dtype=torch.float64) if mask is None else mask.double()
    R = M * (C @ F - torch.where(M.bool(), D, 0.0))
    eye_n, eye_m, eye_k = (torch.eye(s, dtype=torch.float64) for s in (n, m, k))
    JC = torch.einsum("ij,ia,bj->ijab", M, eye_n, F).reshape(n * m, n * k)
    JF = torch.einsum("ij,ia,bj->ijab", M, C, eye_m).reshape(n * m, k * m)
    J = torch.cat([JC, JF], dim=1)
    K = torch.einsum("ad,bc->abcd", R, eye_k).reshape(n * k, k * m)
    H = 2 * J.T @ J
    H[: n * k, n * k:] += 2 * K
    H[n * k:, : n * k] += 2 * K.T
    threads = torch.get_num_threads()   # LAPACK on several threads is slow on small matrices
    torch.set_num_threads(1)
    try:
        return float(torch.linalg.eigvalsh(H)[-1])
    finally:
        torch.set_num_threads(threads)


def _problem(n, m, k, seed, dtype=torch.float64):
    D = mf.make_target(n, m, k, seed=seed, dtype=dtype)
    C, F = mf.init_factors(n, m, k, seed=seed + 1, dtype=dtype)
    return D, C.detach(), F.detach()


# ---------------------------------------------------------------- train: words


def _train(**kw):
    args = dict(lr=0.01, n_iterations=1)
    args.update(kw)
    return mf.train(D0, C0, F0, **args)


@pytest.mark.parametrize("kw, exc, text", [
    (dict(method="adam"), ValueError,
     "method == 'adam', must be one of ('autograd', 'analytic'). "
     "'autograd' is the teaching loop, 'analytic' the fast path."),
    (dict(l2=-1), ValueError,
     "l2 == -1.0, must be a number >= 0. "
     "Pass l2=0 for no penalty or a small value such as l2=0.01."),
    (dict(callback=3), TypeError,
     "callback == 3 is not callable; pass a function f(iteration, loss) or None."),
    (dict(verbose=1), TypeError, "verbose == 1 (int), must be True or False."),
])
def test_train_refuses_bad_settings_in_words_that_name_them(kw, exc, text):
    with pytest.raises(exc) as caught:
        _train(**kw)
    assert _message(caught) == text


def test_autograd_training_inside_inference_mode_gives_the_whole_reason_and_the_fix():
    with torch.inference_mode(), pytest.raises(RuntimeError) as caught:
        _train()
    assert _message(caught) == (
        "method='autograd' needs autograd, which torch.inference_mode() turns off. "
        "Call train outside the inference_mode block, or use method='analytic'.")
    with torch.inference_mode():   # the fast path works there
        assert _train(method="analytic").losses


def test_the_lr_bound_of_train_is_two_lr_one_plus_l2_against_the_largest_value():
    D, C, F = D0.double(), C0.double(), F0.double()
    # exactly at the bound: refused (2 lr == largest)
    with pytest.raises(ValueError) as caught:
        mf.train(D, C, F, lr=F64_MAX / 2, n_iterations=1, method="analytic")
    assert _message(caught) == (
        f"lr == {F64_MAX / 2:g} with l2 == 0 is too large for torch.float64: the step "
        "2 lr (1 + l2) exceeds its largest value 1.8e+308. Pass a small lr "
        "such as lr=0.01 (mf.suggest_lr gives a safe one).")
    # the penalty counts: 2 lr (1 + 1) is beyond the largest value, 2 lr alone is not
    with pytest.raises(ValueError, match=r"with l2 == 1 is too large for torch.float64"):
        mf.train(D, C, F, lr=F64_MAX / 3, l2=1.0, n_iterations=1, method="analytic")
    # below the bound: accepted (the run then diverges, with a warning, not an error)
    with warnings.catch_warnings(record=True) as caught_w:
        warnings.simplefilter("always")
        result = mf.train(D, C, F, lr=0.375 * F64_MAX, n_iterations=3, method="analytic")
    assert result.diverged
    assert [w.category for w in caught_w] == [mf.DivergenceWarning]


# ------------------------------------------------------ train: the result


def test_final_loss_includes_the_l2_penalty_and_is_the_loss_of_the_next_iteration():
    for method in ("autograd", "analytic"):
        short = mf.train(D0, C0, F0, lr=0.05, n_iterations=20, l2=0.5, method=method)
        longer = mf.train(D0, C0, F0, lr=0.05, n_iterations=21, l2=0.5, method=method)
        C, F = short.C.detach(), short.F.detach()
        expected = float(((C @ F - D0) ** 2).sum() + 0.5 * ((C ** 2).sum() + (F ** 2).sum()))
        assert short.final_loss == pytest.approx(expected, rel=1e-6)
        assert short.final_loss == pytest.approx(longer.losses[-1], rel=1e-5)
        assert short.final_loss > float(mf.criterion(D0, short.D_hat))


def test_final_loss_counts_only_the_observed_entries():
    mask = torch.tensor([[True, False, True, True],
                         [True, True, False, True],
                         [False, True, True, True]])
    D = D0.clone()
    D[~mask] = 100.0   # hidden entries may hold anything
    for method in ("autograd", "analytic"):
        result = mf.train(D, C0, F0, lr=0.05, n_iterations=30, mask=mask, method=method)
        expected = float(mf.criterion(D0, result.D_hat, mask))
        assert result.final_loss == pytest.approx(expected, rel=1e-6)
        assert result.final_loss < result.losses[0]


def test_seconds_is_the_time_of_the_run():
    start = time.perf_counter()
    result = mf.train(D0, C0, F0, lr=0.05, n_iterations=5, method="analytic")
    elapsed = time.perf_counter() - start
    assert isinstance(result.seconds, float)
    assert 0.0 < result.seconds <= elapsed
    assert "seconds" not in repr(result)


def test_a_blow_up_in_the_last_update_is_caught_at_the_loss_after_it():
    # one update with lr=1e18 leaves finite factors whose product overflows float32
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = mf.train(D0, C0, F0, lr=1e18, n_iterations=1, method="analytic")
    assert len(result.losses) == 1 and math.isfinite(result.losses[0])
    assert math.isinf(result.final_loss)
    assert result.diverged_at == 2 and result.diverged
    assert [w.category for w in caught] == [mf.DivergenceWarning]
    assert str(caught[0].message) == (
        "Training diverged at iteration 2: the loss became inf with lr=1e+18. "
        "Try lr=1e+17 or smaller (mf.max_stable_lr(D, C, F) gives the bound, "
        "mf.suggest_lr a safe value).")
    assert repr(result) == ("TrainResult(method='analytic', lr=1e+18, iterations=1/1, "
                            "diverged at iteration 2)")


@pytest.mark.callers_line
@pytest.mark.parametrize("method", ["analytic", "autograd"])
def test_the_divergence_warning_points_at_the_callers_line(method):
    # the caller's file and line, however many frames of the package lie between
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = inspect.currentframe().f_lineno + 1
        mf.train(D0, C0, F0, lr=1e18, n_iterations=3, method=method)
    assert [(w.filename, w.lineno) for w in caught] == [(__file__, line)]


def test_the_default_log_every_calls_back_at_the_first_and_every_thousandth_iteration():
    seen = []
    mf.train(D0, C0, F0, lr=0.01, n_iterations=2000, method="analytic",
             callback=lambda i, loss: seen.append(i))
    assert seen == [1, 1000, 2000]


def test_train_runs_small_problems_on_one_thread_and_restores_the_setting():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        inside = []
        for method in ("autograd", "analytic"):
            mf.train(D0, C0, F0, lr=0.01, n_iterations=1, method=method,
                     callback=lambda i, loss: inside.append(torch.get_num_threads()))
            assert torch.get_num_threads() == 2
        assert inside == [1, 1]
        assert mf.curvature(D0, C0, F0) > 0
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_the_fast_path_writes_back_factors_that_are_not_contiguous():
    # F given as a transposed (column-major) tensor: training works on a copy of it
    F_t = F0.T.contiguous().T
    assert not F_t.is_contiguous()
    C_t = C0.T.contiguous().T   # C column-major: the layout the fast path trains in
    plain = mf.train(D0, C0, F0, lr=0.05, n_iterations=50, method="analytic")
    for C, F in ((C0, F_t), (C_t, F0), (C_t, F_t)):
        result = mf.train(D0, C, F, lr=0.05, n_iterations=50, method="analytic")
        assert torch.allclose(result.C, plain.C, rtol=1e-6, atol=1e-7)
        assert torch.allclose(result.F, plain.F, rtol=1e-6, atol=1e-7)
        assert result.final_loss == pytest.approx(plain.final_loss, rel=1e-5)
        assert not torch.equal(result.F, F0)
    assert torch.equal(F_t, F0) and torch.equal(C_t, C0)   # the caller's are untouched


# ----------------------------------------------------------- gradient_step


def _leaf(values):
    return torch.tensor(values, requires_grad=True)


def test_gradient_step_names_F_when_F_is_the_problem():
    C = _leaf([[1.0]])
    C.grad = torch.zeros(1, 1)
    with pytest.raises(TypeError) as caught:
        mf.gradient_step(C, torch.ones(1, 1), lr=0.1)
    assert _message(caught) == ("F must be a tensor with requires_grad=True; "
                                "create it with F.requires_grad_().")
    F = _leaf([[1.0]])
    with pytest.raises(RuntimeError) as caught:
        mf.gradient_step(C, F, lr=0.1)
    assert _message(caught).startswith("F.grad is None: compute the loss")


def test_gradient_step_refuses_a_nan_gradient_in_full_words():
    C, F = _leaf([[1.0]]), _leaf([[1.0]])
    C.grad, F.grad = torch.zeros(1, 1), torch.tensor([[math.nan]])
    with pytest.raises(ValueError) as caught:
        mf.gradient_step(C, F, lr=0.1)
    assert _message(caught) == (
        "F.grad contains NaN or inf: the loss it came from was not finite. "
        "Start again from finite C and F with a smaller lr (mf.suggest_lr "
        "gives a safe one).")
    assert C.item() == 1.0 and F.item() == 1.0   # nothing was changed


def test_gradient_step_refuses_a_step_that_overflows_and_leaves_the_factors_alone():
    # lr * grad = 1e39 does not fit in float32
    C, F = _leaf([[1.0]]), _leaf([[1.0]])
    C.grad, F.grad = torch.tensor([[1e38]]), torch.tensor([[1e38]])
    with pytest.raises(ValueError) as caught:
        mf.gradient_step(C, F, lr=10.0)
    assert _message(caught) == (
        "the step with lr=10 overflow torch.float32 (largest value 3.4e+38) although "
        "every input is finite. Scale the data down or compute in float64 (.double()).")
    assert C.item() == 1.0 and F.item() == 1.0
    # factors so large that together they pass the largest value
    C, F = _leaf([[2e38]]), _leaf([[2e38]])
    C.grad, F.grad = torch.ones(1, 1), torch.ones(1, 1)
    with pytest.raises(ValueError, match=r"the step with lr=0.1 overflow torch.float32"):
        mf.gradient_step(C, F, lr=0.1)
    # a large but representable step is taken
    C, F = _leaf([[1.0]]), _leaf([[1.0]])
    C.grad, F.grad = torch.tensor([[1e30]]), torch.tensor([[2.0]])
    mf.gradient_step(C, F, lr=1e7)
    assert C.item() == pytest.approx(-1e37, rel=1e-6) and F.item() == pytest.approx(1 - 2e7)


# ------------------------------------------------------- analytic_gradients


def test_analytic_gradients_check_l2_in_words_that_name_it():
    with pytest.raises(ValueError) as caught:
        mf.analytic_gradients(D0, C0, F0, l2=-0.5)
    assert _message(caught) == "l2 == -0.5, must be a number >= 0. Pass l2=0 for no penalty."
    with pytest.raises(TypeError) as caught:
        mf.analytic_gradients(D0, C0, F0, l2="big")
    assert _message(caught) == ("l2 == 'big' (str), must be a number >= 0. "
                                "Pass l2=0 for no penalty.")


def test_analytic_gradients_refuse_gradients_whose_size_overflows():
    # 1 x 1: dC = 2 (cf - d) f and dF = 2 (cf - d) c, each about 2e38, together past 3.4e38
    c = 4.7e12
    D, C, F = torch.zeros(1, 1), torch.tensor([[c]]), torch.tensor([[c]])
    with pytest.raises(ValueError) as caught:
        mf.analytic_gradients(D, C, F)
    assert _message(caught) == (
        "the gradients overflow torch.float32 (largest value 3.4e+38) although every "
        "input is finite. Scale the data down or compute in float64 (.double()).")
    dC, dF = mf.analytic_gradients(D.double(), C.double(), F.double())   # float64 has room
    assert dC.item() == pytest.approx(2 * c ** 3) and dF.item() == pytest.approx(2 * c ** 3)


# ---------------------------------------------------------------- curvature


def test_curvature_of_a_tiny_problem_is_the_exact_top_eigenvalue_even_below_one():
    # loss (cf - d)^2 at c = f = 0: the Hessian [[0, -2d], [-2d, 0]], top eigenvalue 2d
    for d in (0.5, 0.01):
        D = torch.tensor([[d]], dtype=torch.float64)
        C = F = torch.zeros(1, 1, dtype=torch.float64)
        assert mf.curvature(D, C, F) == pytest.approx(2 * d, rel=1e-12)
        assert mf.max_stable_lr(D, C, F) == pytest.approx(1 / d, rel=1e-12)
    D, C, F = _problem(3, 4, 2, seed=0)
    small = 1e-3
    assert mf.curvature(D * small ** 2, C * small, F * small) == pytest.approx(
        _exact_curvature(D * small ** 2, C * small, F * small), rel=1e-9)


def test_a_flat_loss_has_curvature_zero_and_no_step_bound():
    D, C, F = torch.zeros(2, 3), torch.zeros(2, 1), torch.zeros(1, 3)
    assert mf.curvature(D, C, F) == 0.0
    assert mf.max_stable_lr(D, C, F) == math.inf
    lr = mf.suggest_lr(D, C, F)
    assert math.isfinite(lr) and lr > 0


@pytest.mark.parametrize("scale", [1.0, 1e-3])
def test_the_lanczos_branch_matches_the_exact_hessian(scale):
    # k (n + m) = 3 * 40 = 120 unknowns: beyond the full-Hessian size
    D, C, F = _problem(15, 25, 3, seed=3)
    D, C, F = D * scale ** 2, C * scale, F * scale
    mask = torch.rand(15, 25, generator=torch.Generator().manual_seed(5)) < 0.7
    for m in (None, mask):
        assert mf.curvature(D, C, F, mask=m) == pytest.approx(
            _exact_curvature(D, C, F, m), rel=1e-8)


def test_curvature_neither_uses_nor_moves_the_global_random_state():
    D, C, F = _problem(15, 25, 3, seed=3)
    torch.manual_seed(1)
    state = torch.get_rng_state()
    first = mf.curvature(D, C, F)
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(2)
    assert mf.curvature(D, C, F) == first   # the same start, the same float


def test_curvature_refuses_factors_whose_hessian_would_overflow_float64():
    # (|C| + |F|)^2 = 4e308: past float64's largest value
    D = torch.zeros(1, 1, dtype=torch.float64)
    C = torch.full((1, 1), 1e154, dtype=torch.float64)
    with pytest.raises(ValueError) as caught:
        mf.curvature(D, C, C.clone())
    assert _message(caught) == (
        "the Hessian's entries (products of C, F and C F - D) overflow torch.float64 "
        "(largest value 1.8e+308) although every input is finite. Scale the data down.")
    # 4 columns: the sums over a row of F F^T pass the largest value
    D = torch.zeros(4, 4, dtype=torch.float64)
    C = torch.full((4, 1), 0.6e154, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"Hessian's entries .* overflow torch.float64"):
        mf.curvature(D, C, C.T.clone())
    # a huge residual counts too: R = 1.45e308 is finite, the Hessian's 2 R is not
    D = torch.full((1, 1), -1.2e308, dtype=torch.float64)
    C = torch.full((1, 1), 0.5e154, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"Hessian's entries .* overflow torch.float64"):
        mf.curvature(D, C, C.clone())
    # large but representable: a number
    D = torch.zeros(1, 1, dtype=torch.float64)
    C = torch.full((1, 1), 5e119, dtype=torch.float64)
    lam = mf.curvature(D, C, C.clone())
    assert math.isfinite(lam) and lam == pytest.approx(_exact_curvature(D, C, C.clone()), rel=1e-9)


def test_curvature_counts_the_inner_dimension_in_its_overflow_bound():
    # n = m = 1, k = 4: Cᵀ C (entries 0.81e308) has the eigenvalue 4 x 0.81e308, beyond float64
    D = torch.zeros(1, 1, dtype=torch.float64)
    C = torch.full((1, 4), 0.9e154, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"Hessian's entries .* overflow torch.float64"):
        mf.curvature(D, C, torch.ones(4, 1, dtype=torch.float64))


# ------------------------------------------------- max_stable_lr, suggest_lr


def test_max_stable_lr_is_two_over_the_curvature():
    D, C, F = _problem(4, 5, 2, seed=7)
    lam = _exact_curvature(D, C, F)
    assert mf.max_stable_lr(D, C, F) == pytest.approx(2 / lam, rel=1e-10)
    # curvature exactly 1 (d = 0.5 at c = f = 0): a finite bound of 2
    D1, Z = torch.tensor([[0.5]], dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64)
    assert mf.curvature(D1, Z, Z) == 1.0
    assert mf.max_stable_lr(D1, Z, Z) == 2.0


@pytest.mark.parametrize("scale", [1.0, 1e-3, 10.0])
def test_suggest_lr_is_one_over_the_larger_of_curvature_and_four_sigma1(scale):
    D, C, F = _problem(4, 5, 2, seed=11)
    for factors in ((C, F), (C * 0.01, F * 0.01), (C * 5, F * 5)):
        Cs, Fs = factors
        Ds = D * scale
        lam = _exact_curvature(Ds, Cs, Fs)
        sigma1 = float(np.linalg.norm(Ds.numpy(), 2))
        assert mf.suggest_lr(Ds, Cs, Fs) == pytest.approx(1 / max(lam, 4 * sigma1), rel=1e-9)
    # small factors: the balanced-solution term 4 sigma1 is the larger one
    lam = _exact_curvature(D * scale, C * 0.01, F * 0.01)
    assert 4 * float(np.linalg.norm((D * scale).numpy(), 2)) > lam


def test_suggest_lr_with_a_mask_takes_sigma1_of_the_observed_entries():
    D, C, F = _problem(4, 5, 2, seed=11)
    mask = torch.ones(4, 5, dtype=torch.bool)
    mask[0, :3] = False
    D = D.clone()
    D[~mask] = math.nan
    lam = _exact_curvature(D, C * 0.01, F * 0.01, mask)
    sigma1 = float(np.linalg.norm(torch.where(mask, D, 0.0).numpy(), 2))
    assert mf.suggest_lr(D, C * 0.01, F * 0.01, mask=mask) == pytest.approx(
        1 / max(lam, 4 * sigma1), rel=1e-9)


def test_suggest_lr_is_computed_in_float64_whatever_the_input_dtype():
    D, C, F = _problem(4, 5, 2, seed=11, dtype=torch.float32)
    small = (C * 0.01, F * 0.01)   # 4 sigma1 decides
    assert mf.suggest_lr(D, *small) == mf.suggest_lr(D.double(), *(t.double() for t in small))


# ------------------------------------------------------------------ optimum


@pytest.mark.parametrize("function", [mf.best_rank_k_loss, mf.truncated_svd])
def test_the_optimum_names_D_when_D_is_wrong(function):
    with pytest.raises(ValueError) as caught:
        function(torch.ones(3), 1)
    assert _message(caught) == ("D must be 2-D (n, m); got shape (3,). "
                                "Use D.reshape(1, -1) for a single row.")


def test_truncated_svd_keeps_float64_precision():
    D = mf.make_target(6, 5, 4, seed=2, dtype=torch.float64)
    for k in (1, 2, 3):
        C, F = mf.truncated_svd(D, k)
        assert C.dtype == F.dtype == torch.float64
        loss = float(((C @ F - D) ** 2).sum())
        assert loss == pytest.approx(mf.best_rank_k_loss(D, k), rel=1e-10, abs=1e-13)
    C, F = mf.truncated_svd(D, 4)   # rank 4: exact
    assert torch.allclose(C @ F, D, rtol=0, atol=1e-13)


def test_truncated_svd_pads_with_zeros_beyond_the_rank():
    D = mf.make_target(3, 4, 2, seed=0)
    C, F = mf.truncated_svd(D, 5)
    assert C.shape == (3, 5) and F.shape == (5, 4) and C.dtype == torch.float32
    assert torch.equal(C[:, 3:], torch.zeros(3, 2)) and torch.equal(F[3:], torch.zeros(2, 4))
    assert torch.allclose(C @ F, D, atol=1e-5)


# --------------------------------------------------------------------- data


def test_the_data_come_in_the_dtype_asked_for():
    for dtype in (torch.float32, torch.float64):
        D = mf.make_target(3, 4, 2, seed=0, dtype=dtype)
        C, F = mf.init_factors(3, 4, 2, seed=1, dtype=dtype)
        assert D.dtype == C.dtype == F.dtype == dtype
        assert C.requires_grad and F.requires_grad


@pytest.mark.callers_line
def test_a_divergence_under_python_dash_c_warns_instead_of_failing():
    # `python -c` has no source file for __main__: the warning must not look for it
    import subprocess
    import sys
    code = ("import warnings, mfgd_helpers as mf\n"
            "D, C, F = mf.example_problem()\n"
            "r = mf.train(D, C, F, lr=5.0, n_iterations=50, method='analytic')\n"
            "print(r.diverged_at)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "4"
    assert "<string>:3: DivergenceWarning: Training diverged at iteration 4" in done.stderr
