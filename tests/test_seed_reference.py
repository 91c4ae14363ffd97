"""The source notebook's printed numbers, taken as the reference.

The source printed D, C and F to 4 decimals; starting from those rounded
values every later number it printed is reproduced within the stated
tolerances.
"""

import pytest
import torch

import mfgd_helpers as mf

SOURCE_C_GRAD = [[1.7976, 1.5676], [0.0270, -0.2698], [-0.4419, -1.9538]]
SOURCE_F_GRAD = [[1.8045, -0.4818, -0.1906, 0.1710], [0.5332, -0.4509, -0.4052, -0.1633]]
SOURCE_C_AFTER = [[0.9541, 0.2361], [0.0383, 0.5885], [0.4250, 0.2805]]
SOURCE_F_AFTER = [[0.8476, 0.0384, 0.1336, 0.2426], [0.4866, 0.5036, 0.4603, 0.7705]]
SOURCE_TABLE = {1: 1.8741, 1000: 0.0223, 2000: 0.0060, 3000: 0.0028, 4000: 0.0020,
                5000: 0.0017, 6000: 0.0016, 7000: 0.0015, 8000: 0.0015,
                9000: 0.0014, 10000: 0.0014}
SOURCE_D_HAT = [[0.0497, 0.1423, 0.0869, 0.1019],
                [0.2768, 0.4008, 0.4364, 0.5000],
                [0.4724, 0.7316, 0.7508, 0.8618]]


@pytest.fixture
def after_one_step():
    D, C, F = mf.example_problem()
    loss = mf.criterion(D, C @ F)
    loss.backward()
    grads = C.grad.clone(), F.grad.clone()
    mf.gradient_step(C, F, lr=0.01)
    return D, C, F, loss.item(), grads


def test_first_loss_and_gradients(after_one_step):
    _, _, _, loss, (gC, gF) = after_one_step
    assert loss == pytest.approx(2.0110, abs=2e-4)
    torch.testing.assert_close(gC, torch.tensor(SOURCE_C_GRAD), atol=2e-4, rtol=0)
    torch.testing.assert_close(gF, torch.tensor(SOURCE_F_GRAD), atol=2e-4, rtol=0)


def test_one_step_with_lr_001(after_one_step):
    D, C, F, _, _ = after_one_step
    torch.testing.assert_close(C.detach(), torch.tensor(SOURCE_C_AFTER), atol=2e-4, rtol=0)
    torch.testing.assert_close(F.detach(), torch.tensor(SOURCE_F_AFTER), atol=2e-4, rtol=0)
    assert mf.criterion(D, C @ F).item() == pytest.approx(1.8741, abs=2e-4)


@pytest.mark.parametrize("method", ["autograd", "analytic"])
def test_ten_thousand_iterations_reproduce_the_table(after_one_step, method):
    D, C, F, _, _ = after_one_step
    result = mf.train(D, C, F, lr=0.001, n_iterations=10000, method=method)
    assert not result.diverged
    for iteration, printed in SOURCE_TABLE.items():
        assert result.losses[iteration - 1] == pytest.approx(printed, abs=2e-4), iteration
    # the source printed D_hat from its last forward pass (before the last update)
    torch.testing.assert_close(result.D_hat, torch.tensor(SOURCE_D_HAT), atol=3e-4, rtol=0)
