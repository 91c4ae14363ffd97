import math

import numpy as np
import pytest
import torch

from mfgd_helpers.validation import check_factors, check_lr, check_mask, check_matrix as as_matrix


def test_as_matrix_accepts_numpy_and_lists():
    a = as_matrix(np.array([[1.0, 2.0]]), "D")
    assert isinstance(a, torch.Tensor) and a.dtype == torch.float64
    b = as_matrix([[1, 2]], "D")
    assert b.dtype == torch.float32


@pytest.mark.parametrize(
    "value, error, match",
    [
        (torch.ones(3), ValueError, r"D must be 2-D \(n, m\); got shape \(3,\)\. Use D\.reshape\(1, -1\)"),
        (torch.ones(2, 2, 2), ValueError, r"got shape \(2, 2, 2\)"),
        (torch.ones(0, 3), ValueError, r"D is empty"),
        (torch.tensor([[1.0, math.nan]]), ValueError, r"D contains 1 NaN or inf value\(s\), the first at \[0, 1\] == nan"),
        (torch.tensor([[math.inf, 1.0]]), ValueError, r"the first at \[0, 0\] == inf"),
        (torch.ones(2, 2, dtype=torch.bool), TypeError, r"D has dtype torch.bool, must be real numbers"),
        (torch.ones(2, 2, dtype=torch.complex64), TypeError, r"must be real numbers"),
        ("abc", TypeError, r"D == 'abc' \(str\), must be a matrix: a tensor, a numpy array or a nested list"),
    ],
)
def test_as_matrix_rejects(value, error, match):
    with pytest.raises(error, match=match):
        as_matrix(value, "D")


@pytest.mark.parametrize(
    "lr, error, match",
    [
        (0, ValueError, r"lr == 0.0, must be a number > 0"),
        (-0.1, ValueError, r"lr == -0.1, must be a number > 0"),
        (math.nan, ValueError, r"lr == nan"),
        (math.inf, ValueError, r"lr == inf"),
        ("0.1", TypeError, r"lr == '0.1' \(str\), must be a number > 0"),
        (None, TypeError, r"lr == None"),
    ],
)
def test_check_lr(lr, error, match):
    with pytest.raises(error, match=match):
        check_lr(lr)


def test_check_lr_accepts_numpy_floats():
    assert check_lr(np.float32(0.5)) == 0.5


@pytest.mark.parametrize(
    "C, F, match",
    [
        (torch.ones(2, 2), torch.ones(2, 4), r"C has shape \(2, 2\) but D has shape \(3, 4\): C must have n == 3 rows"),
        (torch.ones(3, 2), torch.ones(3, 4), r"F must have k == 2 rows"),
        (torch.ones(3, 2), torch.ones(2, 5), r"F must have m == 4 columns"),
    ],
)
def test_check_factors_shapes(C, F, match):
    with pytest.raises(ValueError, match=match):
        check_factors(torch.ones(3, 4), C, F)


def test_check_factors_converts_to_the_dtype_of_D():
    C, F = check_factors(torch.ones(3, 4), torch.ones(3, 2, dtype=torch.float64), torch.ones(2, 4))
    assert C.dtype == F.dtype == torch.float32


@pytest.mark.parametrize(
    "mask, error, match",
    [
        (torch.ones(3, 3, dtype=torch.bool), ValueError, r"mask has shape \(3, 3\), must match D's shape \(3, 4\)"),
        (torch.ones(3, 4), TypeError, r"mask has dtype torch.float32, must be boolean"),
        (torch.zeros(3, 4, dtype=torch.bool), ValueError, r"observes no entry"),
    ],
)
def test_check_mask(mask, error, match):
    with pytest.raises(error, match=match):
        check_mask(mask, torch.Size([3, 4]))


@pytest.mark.parametrize("entries, bad", [
    ([[3e38, 3e38], [3e38, 1.0]], None),                      # finite, but the sum overflows float32
    ([[math.inf, -math.inf], [1.0, 2.0]], "[0, 0] == inf"),  # the sum is NaN
    ([[1.0, 2.0], [3.0, -math.inf]], "[1, 1] == -inf"),
    ([[1.0, math.nan], [3.0, 4.0]], "[0, 1] == nan"),
])
def test_the_cheap_finiteness_check_has_the_exact_answer(entries, bad):
    from mfgd_helpers.validation import check_finite
    for dtype in (torch.float32, torch.float64, torch.bfloat16):
        x = torch.tensor(entries, dtype=dtype)
        if bad is None:
            check_finite(x, "D")
        else:
            with pytest.raises(ValueError, match=r"D contains \d NaN or inf value\(s\), the first at "
                               + bad.replace("[", r"\[").replace("]", r"\]")):
                check_finite(x, "D")
