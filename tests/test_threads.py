import torch

import mfgd_helpers as mf
from mfgd_helpers.threads import SMALL, one_thread_if_small


def _threads_seen_by_train(n, m):
    D = mf.make_target(n, m, 2, seed=0)
    C, F = mf.init_factors(n, m, 2, seed=1)
    seen = []
    mf.train(D, C, F, lr=1e-4, n_iterations=1, method="analytic",
             callback=lambda i, loss: seen.append(torch.get_num_threads()))
    return seen[0]


def test_small_problems_train_on_one_thread_and_restore_the_setting():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert _threads_seen_by_train(3, 4) == 1
        assert torch.get_num_threads() == 2
        assert _threads_seen_by_train(300, 300) == 2  # 90000 entries > SMALL
        assert 300 * 300 > SMALL
    finally:
        torch.set_num_threads(before)


def test_restored_after_an_exception():
    before = torch.get_num_threads()
    try:
        with one_thread_if_small(1):
            raise KeyError("boom")
    except KeyError:
        pass
    assert torch.get_num_threads() == before
