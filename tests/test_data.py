import numpy as np
import pytest
import torch

import mfgd_helpers as mf


def test_make_target_is_reproducible_and_low_rank():
    D = mf.make_target(6, 5, 2, seed=3)
    assert D.shape == (6, 5) and D.dtype == torch.float32
    assert torch.equal(D, mf.make_target(6, 5, 2, seed=3))
    assert not torch.equal(D, mf.make_target(6, 5, 2, seed=4))
    assert torch.linalg.matrix_rank(D).item() == 2


def test_make_target_matches_the_raw_torch_recipe():
    g = torch.Generator().manual_seed(7)
    expected = torch.rand(3, 2, generator=g) @ torch.rand(2, 4, generator=g)
    assert torch.equal(mf.make_target(3, 4, 2, seed=7), expected)


def test_seed_never_touches_the_global_rng():
    state = torch.get_rng_state()
    mf.make_target(3, 4, 2, seed=0)
    mf.init_factors(3, 4, 2, seed=0)
    mf.make_target(3, 4, 2)
    assert torch.equal(state, torch.get_rng_state())


def test_generator_is_shared_between_calls():
    g = torch.Generator().manual_seed(0)
    a = mf.make_target(2, 2, 1, seed=g)
    b = mf.make_target(2, 2, 1, seed=g)
    assert not torch.equal(a, b)


def test_init_factors_are_fresh_uniform_leaves():
    C, F = mf.init_factors(50, 40, 3, seed=0)
    assert C.shape == (50, 3) and F.shape == (3, 40)
    for t in (C, F):
        assert t.is_leaf and t.requires_grad and t.grad is None
        assert 0 <= t.min().item() and t.max().item() < 1


def test_example_problem_is_the_source_notebook():
    D, C, F = mf.example_problem()
    assert D.shape == (3, 4) and C.shape == (3, 2) and F.shape == (2, 4)
    assert D[2, 3].item() == pytest.approx(0.8673)
    assert C[0, 0].item() == pytest.approx(0.9721)
    assert F[1, 3].item() == pytest.approx(0.7689)
    assert C.requires_grad and F.requires_grad and not D.requires_grad


@pytest.mark.parametrize(
    "args, error, match",
    [
        ((0, 4, 2), ValueError, r"n == 0, must be an integer >= 1"),
        ((3, -1, 2), ValueError, r"m == -1, must be an integer >= 1"),
        ((3, 4, 0), ValueError, r"k == 0, must be an integer >= 1"),
        ((3, 4, 2.5), TypeError, r"k == 2.5 \(float\), must be an integer"),
        ((3, 4, True), TypeError, r"k == True \(bool\)"),
        ((np.int64(3), 4, 2), None, None),
    ],
)
@pytest.mark.parametrize("func", [mf.make_target, mf.init_factors])
def test_bad_dimensions(func, args, error, match):
    if error is None:
        func(*args, seed=0)
        return
    with pytest.raises(error, match=match):
        func(*args, seed=0)


@pytest.mark.parametrize("seed, error", [(-1, ValueError), (2**64, ValueError),
                                         (1.5, TypeError), ("0", TypeError), (True, TypeError)])
def test_bad_seed(seed, error):
    with pytest.raises(error, match=r"seed == .*must be an integer >= 0 and <= 18446744073709551615\. .*seed=0"):
        mf.make_target(3, 4, 2, seed=seed)


def test_largest_seed_and_numpy_seeds_are_accepted():
    import numpy as np

    assert torch.equal(mf.make_target(2, 2, 1, seed=np.int64(3)), mf.make_target(2, 2, 1, seed=3))
    mf.make_target(2, 2, 1, seed=2**64 - 1)
