import pytest
import torch

import mfgd_helpers as mf


# --- load_sample_image -----------------------------------------------------------

@pytest.fixture(scope="module")
def full():
    return mf.load_sample_image()


def test_full_image_is_a_grayscale_matrix_in_0_1(full):
    assert tuple(full.shape) == (600, 512) and full.dtype == torch.float32
    assert full.min().item() >= 0.0 and full.max().item() <= 1.0
    assert full.std().item() > 0.1  # a photo, not a constant or an empty array


@pytest.mark.parametrize("size, shape", [(128, (128, 109)), (64, (64, 55)), (600, (600, 512))])
def test_downsampling_keeps_the_aspect_ratio(size, shape):
    img = mf.load_sample_image(size=size)
    assert tuple(img.shape) == shape
    assert img.dtype == torch.float32


def test_downsampling_averages_the_pixels(full):
    small = mf.load_sample_image(size=120)  # 600 / 120 = 5: a 5 x 5 box per pixel
    assert tuple(small.shape) == (120, 102)
    # the box filter keeps the overall brightness (up to 8-bit rounding and the
    # last partial column of boxes)
    assert small.mean().item() == pytest.approx(full.mean().item(), abs=2e-3)
    # and each new pixel is the mean of its 5 x 5 block
    block = full[:5, :5].mean().item()
    assert small[0, 0].item() == pytest.approx(block, abs=1 / 255 + 1e-6)


def test_loading_is_deterministic():
    assert torch.equal(mf.load_sample_image(size=64), mf.load_sample_image(size=64))


def test_the_image_is_approximately_low_rank():
    img = mf.load_sample_image(size=128).double()
    s = torch.linalg.svdvals(img)
    energy = (s ** 2).cumsum(0) / (s ** 2).sum()
    assert energy[19].item() > 0.95  # 20 of 109 components hold over 95 %


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"name": "lena.png"}, ValueError, r"name == 'lena.png', must be one of \('grace_hopper.jpg',\)"),
        ({"size": 0}, ValueError, r"size == 0, must be an integer >= 8"),
        ({"size": 4}, ValueError, r"size == 4, must be an integer >= 8"),
        ({"size": 1000}, ValueError, r"size == 1000, must be <= 600"),
        ({"size": 12.5}, TypeError, r"size == 12.5 \(float\), must be an integer"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        mf.load_sample_image(**kwargs)


# --- random_mask -------------------------------------------------------------------

@pytest.mark.parametrize("fraction, count", [(0.5, 10), (0.25, 5), (1.0, 20), (0.01, 1), (0.33, 7)])
def test_random_mask_observes_exactly_the_asked_share(fraction, count):
    mask = mf.random_mask((4, 5), fraction, seed=0)
    assert mask.dtype == torch.bool and tuple(mask.shape) == (4, 5)
    assert int(mask.sum()) == count


def test_random_mask_accepts_a_torch_size():
    D = torch.zeros(6, 7)
    assert mf.random_mask(D.shape, 0.5, seed=0).shape == D.shape


def test_random_mask_is_reproducible_and_seed_dependent():
    a = mf.random_mask((10, 10), 0.5, seed=3)
    assert torch.equal(a, mf.random_mask((10, 10), 0.5, seed=3))
    assert not torch.equal(a, mf.random_mask((10, 10), 0.5, seed=4))


def test_random_mask_shares_a_generator_stream():
    g = torch.Generator().manual_seed(0)
    first, second = mf.random_mask((8, 8), 0.5, seed=g), mf.random_mask((8, 8), 0.5, seed=g)
    assert not torch.equal(first, second)


def test_random_mask_leaves_the_global_rng_alone():
    state = torch.get_rng_state()
    mf.random_mask((5, 5), 0.5, seed=None)
    assert torch.equal(state, torch.get_rng_state())


def test_random_mask_is_uniform_over_positions():
    g = torch.Generator().manual_seed(0)
    counts = sum(mf.random_mask((2, 3), 0.5, seed=g).int() for _ in range(3000))
    share = counts.float() / 3000
    assert torch.all((share - 0.5).abs() < 0.04), share


@pytest.mark.parametrize(
    "shape, fraction, exc, match",
    [
        ((4, 5), 0.0, ValueError, r"observed_fraction == 0.0, must be a number > 0 and <= 1"),
        ((4, 5), 1.5, ValueError, r"observed_fraction == 1.5, must be a number > 0 and <= 1"),
        ((4, 5), -0.2, ValueError, r"observed_fraction == -0.2, must be a number > 0 and <= 1"),
        ((4, 5), float("nan"), ValueError, r"observed_fraction == nan, must be a finite number > 0 and <= 1"),
        ((4, 5), "half", TypeError, r"observed_fraction == 'half' \(str\), must be a number"),
        ((4, 5), True, TypeError, r"observed_fraction == True \(bool\), must be a number"),
        ((20,), 0.5, ValueError, r"shape == \(20,\), must be a pair \(n, m\)"),
        ("4x5", 0.5, TypeError, r"shape == '4x5' \(str\), must be a pair \(n, m\)"),
        ((0, 5), 0.5, ValueError, r"shape\[0\] == 0, must be an integer >= 1"),
        ((4, 2.5), 0.5, TypeError, r"shape\[1\] == 2.5 \(float\), must be an integer"),
    ],
)
def test_random_mask_bad_arguments(shape, fraction, exc, match):
    with pytest.raises(exc, match=match):
        mf.random_mask(shape, fraction, seed=0)
