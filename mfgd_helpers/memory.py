"""How much memory a dense computation needs, and whether this machine has it.

The dense path of the series (``make_target``, ``random_mask``, ``train``)
holds n × m matrices. A million users by a hundred thousand items is 10¹¹
entries, 400 GB in float32: torch would fail deep inside its allocator, or
the kernel would be killed. ``check_memory`` refuses such a size first, with
the number of bytes, the memory available and what to use instead: training
on the observed entries only (``mfgd_helpers.ratings``, notebook 11).

The memory available is the smaller of the system's ``MemAvailable``
(/proc/meminfo) and, inside a container such as Binder's, what its cgroup
limit leaves free. Where neither can be read, nothing is refused.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["available_memory", "check_memory", "format_bytes"]

RATINGS_PATH = ("train on the observed entries only with mfgd_helpers.ratings "
                "(notebook 11), whose memory grows with the number of ratings, not with n × m")

MEMINFO = "/proc/meminfo"
SMALL = 1 << 26  # below 64 MiB nothing is read or refused
# cgroup v2, then v1: (limit, usage)
_CGROUPS = (
    ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
    ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
)


def _read_int(path: str) -> int | None:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None  # "max": no limit


def _meminfo_available() -> int | None:
    try:
        lines = Path(MEMINFO).read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return None


def available_memory() -> int | None:
    """Bytes this process can still allocate, or None where that cannot be read.

    >>> free = available_memory()
    >>> free is None or free > 0
    True
    """
    candidates = [_meminfo_available()]
    for limit_path, usage_path in _CGROUPS:
        limit, usage = _read_int(limit_path), _read_int(usage_path)
        if limit is not None and usage is not None and limit < 1 << 60:
            candidates.append(max(limit - usage, 0))
    known = [c for c in candidates if c is not None]
    return min(known) if known else None


def format_bytes(n_bytes: float) -> str:
    """A byte count as people write it.

    >>> format_bytes(4e11), format_bytes(3 * 2**20), format_bytes(512)
    ('400 GB', '3.15 MB', '512 bytes')
    """
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= size:
            value = n_bytes / size
            return f"{value:.0f} {unit}" if value >= 100 else f"{value:.3g} {unit}"
    return f"{int(n_bytes)} bytes"


def check_memory(n_bytes: int, what: str, fix: str = RATINGS_PATH) -> None:
    """Refuse to allocate ``n_bytes`` when more than the available memory.

    ``what`` says what the bytes are for (it starts the message); ``fix``
    says what to do instead. Sizes below 64 MiB are always allowed, without
    reading anything.

    >>> check_memory(4 * 10**15, "D of 100000000 × 10000000 float32 entries")
    Traceback (most recent call last):
    ...
    MemoryError: D of 100000000 × 10000000 float32 entries: 4000 TB, more than the ...
    """
    if n_bytes < SMALL:
        return
    free = available_memory()
    if free is not None and n_bytes > free:
        raise MemoryError(
            f"{what}: {format_bytes(n_bytes)}, more than the {format_bytes(free)} of memory "
            f"available. Use smaller sizes, or {fix}.")
