"""Images as matrices: a bundled grayscale photo and random masks of missing entries.

The photo comes with matplotlib (its sample data), so nothing is downloaded.
matplotlib and Pillow are imported inside the function that reads it, so
``import mfgd_helpers`` stays cheap.
"""

from __future__ import annotations

import torch

from .memory import check_memory
from .validation import Seed, check_choice, check_dim, check_scalar, check_seed

__all__ = ["load_sample_image", "random_mask"]

SAMPLE_IMAGES = ("grace_hopper.jpg",)


def load_sample_image(name: str = "grace_hopper.jpg", size: int | None = None) -> torch.Tensor:
    """A photo bundled with matplotlib as a grayscale matrix with values in [0, 1].

    Parameters
    ----------
    name : str
        File name in matplotlib's sample data; ``"grace_hopper.jpg"`` (a
        600 x 512 portrait) is bundled with every matplotlib release.
    size : int, optional
        Length of the longer side after downsampling (box filter: each new
        pixel is the mean of the pixels it covers); the aspect ratio is kept.
        None keeps the full resolution. Smaller images train much faster:
        size=128 gives a 128 x 109 matrix.

    Returns
    -------
    Tensor of shape (height, width), float32, 0 = black, 1 = white.

    Raises
    ------
    ValueError
        If ``name`` is not a bundled image, or ``size`` is < 8 or larger than
        the image.

    Examples
    --------
    >>> img = load_sample_image(size=64)
    >>> tuple(img.shape), img.dtype
    ((64, 55), torch.float32)
    >>> 0.0 <= img.min().item() < img.max().item() <= 1.0
    True
    """
    check_choice(name, "name", SAMPLE_IMAGES, "These photos ship with matplotlib.")
    import matplotlib.cbook
    import numpy as np
    from PIL import Image

    path = matplotlib.cbook.get_sample_data(name, asfileobj=False)
    with Image.open(path) as image:
        gray = image.convert("L")  # ITU-R 601-2 luma: 0.299 R + 0.587 G + 0.114 B
    width, height = gray.size
    if size is not None:
        size = check_dim(size, "size", minimum=8)
        longest = max(width, height)
        if size > longest:
            raise ValueError(
                f"size == {size}, must be <= {longest} (the longer side of {name}); "
                "pass size=None for the full resolution or a smaller size such as size=128."
            )
        scale = size / longest
        new = (max(1, round(width * scale)), max(1, round(height * scale)))
        gray = gray.resize(new, Image.Resampling.BOX)
    pixels = np.asarray(gray, dtype=np.float32) / 255.0
    return torch.from_numpy(pixels.copy())


def random_mask(shape: tuple[int, int], observed_fraction: float, *,
                seed: Seed = None) -> torch.Tensor:
    """A boolean mask with a given fraction of True (observed) entries at random places.

    Exactly ``round(observed_fraction * n * m)`` entries are True (at least
    one), chosen uniformly without replacement, so the split is the same size
    on every run and every seed.

    Parameters
    ----------
    shape : (n, m) tuple or torch.Size
        Shape of the matrix, e.g. ``D.shape``.
    observed_fraction : float in (0, 1]
        Share of entries that stay observed; 0.5 hides half of them.
    seed : None, int or torch.Generator
        Source of randomness; a local generator, the global RNG is untouched.

    Returns
    -------
    Bool tensor of ``shape``; True marks an observed entry, False a hidden one.

    Examples
    --------
    >>> mask = random_mask((4, 5), 0.5, seed=0)
    >>> mask.dtype, tuple(mask.shape), int(mask.sum())
    (torch.bool, (4, 5), 10)
    >>> torch.equal(mask, random_mask((4, 5), 0.5, seed=0))
    True
    """
    if not isinstance(shape, (tuple, list, torch.Size)):
        raise TypeError(f"shape == {shape!r} ({type(shape).__name__}), must be a pair "
                        "(n, m) such as D.shape.")
    if len(shape) != 2:
        raise ValueError(f"shape == {tuple(shape)!r}, must be a pair (n, m) such as D.shape.")
    n, m = check_dim(shape[0], "shape[0]"), check_dim(shape[1], "shape[1]")
    fraction = check_scalar(
        observed_fraction, "observed_fraction", float, min_val=0, max_val=1,
        include_boundaries="right",
        fix="It is the share of entries that stay observed: observed_fraction=0.5 "
            "hides half of them.")
    g = check_seed(seed)
    check_memory(9 * n * m, f"random_mask(({n}, {m}), ...) draws a random order of the "
                            f"{n} × {m} entries (8 bytes each) and the mask (1 byte each)")
    count = max(1, round(fraction * n * m))
    order = torch.randperm(n * m, generator=g)
    mask = torch.zeros(n * m, dtype=torch.bool)
    mask[order[:count]] = True
    return mask.view(n, m)
