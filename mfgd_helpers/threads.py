"""Threads: small problems run on one thread.

On a 2-core machine torch's default of one thread per core makes operations
on small matrices slower, not faster: the threads spend longer waking and
waiting for each other than computing, and when the machine is busy the
same loop can take tens of times longer (measured: 3000 masked iterations on
a 20x20 matrix took 0.05 s on one thread and up to 3.8 s on two). Training,
curvature and the playground therefore switch to one thread for problems up
to ``SMALL`` entries and restore the caller's setting afterwards.
"""

from __future__ import annotations

import contextlib

import torch

__all__ = ["SMALL", "one_thread_if_small"]

SMALL = 1 << 16  # entries of D up to which one thread is used


@contextlib.contextmanager
def one_thread_if_small(numel: int):
    """Run the block on one torch thread when ``numel <= SMALL``, then restore.

    Examples
    --------
    >>> import torch
    >>> before = torch.get_num_threads()
    >>> with one_thread_if_small(12):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    threads = torch.get_num_threads()
    if threads == 1 or numel > SMALL:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
