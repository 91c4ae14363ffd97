import pytest
import torch

import mfgd_helpers as mf


def test_zero_for_an_exact_rank_k_matrix():
    D = mf.make_target(10, 8, 3, seed=0)
    assert mf.best_rank_k_loss(D, 3) < 1e-10
    assert mf.best_rank_k_loss(D, 5) < 1e-10
    assert mf.best_rank_k_loss(D, 2) > 1e-3


def test_equals_the_trailing_singular_values():
    g = torch.Generator().manual_seed(0)
    D = torch.randn(6, 9, generator=g, dtype=torch.float64)
    s = torch.linalg.svdvals(D)
    for k in range(1, 7):
        assert mf.best_rank_k_loss(D, k) == pytest.approx((s[k:] ** 2).sum().item(), rel=1e-12)
    assert mf.best_rank_k_loss(D, 20) == 0.0


def test_truncated_svd_reaches_the_floor():
    g = torch.Generator().manual_seed(1)
    D = torch.randn(7, 5, generator=g, dtype=torch.float64)
    for k in (1, 2, 4, 6):
        C, F = mf.truncated_svd(D, k)
        assert C.shape == (7, k) and F.shape == (k, 5)
        assert mf.criterion(D, C @ F).item() == pytest.approx(mf.best_rank_k_loss(D, k), abs=1e-10)


@pytest.mark.parametrize("method", ["autograd", "analytic"])
def test_training_never_goes_below_the_floor(method):
    D = mf.make_target(6, 5, 3, seed=2)
    C, F = mf.init_factors(6, 5, 2, seed=3)
    floor = mf.best_rank_k_loss(D, 2)
    result = mf.train(D, C, F, lr=mf.suggest_lr(D, C, F), n_iterations=1500, method=method)
    assert min(result.losses) >= floor * (1 - 1e-5)
    assert result.final_loss == pytest.approx(floor, rel=1e-2)


def test_bad_k():
    with pytest.raises(ValueError, match="k == 0"):
        mf.best_rank_k_loss(torch.ones(2, 2), 0)
    with pytest.raises(TypeError, match="k == 1.5"):
        mf.truncated_svd(torch.ones(2, 2), 1.5)
