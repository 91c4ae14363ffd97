"""The dense path refuses sizes that cannot fit, before it allocates anything."""

import pytest
import torch

import mfgd_helpers as mf
from mfgd_helpers import memory


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """A fake machine: /proc/meminfo and cgroup files under tmp_path."""
    def make(available_kb=None, cgroup=None):
        meminfo = tmp_path / "meminfo"
        lines = ["MemTotal:       24000000 kB"]
        if available_kb is not None:
            lines.append(f"MemAvailable:   {available_kb} kB")
        meminfo.write_text("\n".join(lines) + "\n")
        monkeypatch.setattr(memory, "MEMINFO", str(meminfo))
        paths = []
        if cgroup is not None:
            limit, usage = tmp_path / "memory.max", tmp_path / "memory.current"
            limit.write_text(f"{cgroup[0]}\n")
            usage.write_text(f"{cgroup[1]}\n")
            paths.append((str(limit), str(usage)))
        monkeypatch.setattr(memory, "_CGROUPS", tuple(paths))
        monkeypatch.setattr(memory, "SMALL", 0)  # check every size, so tests stay small
    return make


def test_available_memory_is_meminfos_memavailable(machine):
    machine(available_kb=1000)
    assert memory.available_memory() == 1000 * 1024


def test_a_containers_limit_counts_when_it_is_smaller(machine):
    machine(available_kb=20_000_000, cgroup=(2 * 10**9, 15 * 10**8))
    assert memory.available_memory() == 5 * 10**8


def test_no_cgroup_limit_reads_max(machine):
    machine(available_kb=1000, cgroup=("max", 10**9))
    assert memory.available_memory() == 1000 * 1024


def test_nothing_readable_refuses_nothing(machine, tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "MEMINFO", str(tmp_path / "absent"))
    monkeypatch.setattr(memory, "_CGROUPS", ())
    assert memory.available_memory() is None
    memory.check_memory(10**18, "anything")  # cannot know, so no refusal


def test_small_sizes_read_nothing(monkeypatch):
    assert memory.SMALL == 1 << 26
    def fail():
        raise AssertionError("read the memory for a small size")
    monkeypatch.setattr(memory, "available_memory", fail)
    memory.check_memory(memory.SMALL - 1, "a small matrix")


def test_the_message_gives_the_size_the_memory_and_the_way_out(machine):
    machine(available_kb=1_000_000)
    with pytest.raises(MemoryError) as caught:
        memory.check_memory(4 * 10**11, "D of 1000000 × 100000 float32 entries")
    assert str(caught.value) == (
        "D of 1000000 × 100000 float32 entries: 400 GB, more than the 1.02 GB of memory "
        "available. Use smaller sizes, or train on the observed entries only with "
        "mfgd_helpers.ratings (notebook 11), whose memory grows with the number of ratings, "
        "not with n × m.")


@pytest.mark.parametrize("n_bytes, text", [
    (0, "0 bytes"), (999, "999 bytes"), (1000, "1 kB"), (1536, "1.54 kB"),
    (3 * 2**20, "3.15 MB"), (4 * 10**11, "400 GB"), (1.5e12, "1.5 TB")])
def test_format_bytes(n_bytes, text):
    assert memory.format_bytes(n_bytes) == text


def test_make_target_refuses_a_d_of_400_gb_before_allocating(machine):
    machine(available_kb=8_000_000)
    with pytest.raises(MemoryError, match=r"make_target\(n=1000000, m=100000, k=32\) builds D "
                                          r"of 1000000 × 100000 float32 entries: 400 GB"):
        mf.make_target(1_000_000, 100_000, 32)
    with pytest.raises(MemoryError, match="float64 entries: 800 GB"):
        mf.make_target(1_000_000, 100_000, 32, dtype=torch.float64)


def test_random_mask_refuses_before_allocating(machine):
    machine(available_kb=8_000_000)
    with pytest.raises(MemoryError, match=r"random_mask\(\(1000000, 100000\), \.\.\.\).*900 GB"):
        mf.random_mask((1_000_000, 100_000), 0.05)


@pytest.mark.parametrize("method, copies, fix", [
    ("analytic", 1, "train on the observed entries only with mfgd_helpers.ratings"),
    ("autograd", 5, "use method='analytic' (1 instead of 5), or train on the observed"),
])
def test_train_refuses_a_loop_that_would_not_fit(machine, method, copies, fix):
    D = torch.zeros(512, 512)  # 1 MiB; the loop needs copies × that
    machine(available_kb=copies * 1024 - 1)
    with pytest.raises(MemoryError) as caught:
        mf.train(D, torch.zeros(512, 1), torch.zeros(1, 512), lr=0.01, n_iterations=1,
                 method=method)
    message = str(caught.value)
    assert message.startswith(f"train(method={method!r}) on a 512 × 512 target holds about "
                              f"{copies} more n × m float32 matrices")
    assert fix in message
    assert ("use method='analytic'" in message) == (method == "autograd")


@pytest.mark.parametrize("method, copies", [("analytic", 2), ("autograd", 6)])
def test_a_mask_adds_one_matrix_to_the_loop(machine, method, copies):
    D = torch.zeros(512, 512)
    mask = torch.ones(512, 512, dtype=torch.bool)
    machine(available_kb=copies * 1024 - 1)
    with pytest.raises(MemoryError, match=rf"holds about {copies} more n × m float32 matrices"):
        mf.train(D, torch.zeros(512, 1), torch.zeros(1, 512), lr=0.01, n_iterations=1,
                 method=method, mask=mask)
    machine(available_kb=copies * 1024)
    mf.train(D, torch.zeros(512, 1), torch.zeros(1, 512), lr=0.01, n_iterations=1,
             method=method, mask=mask)


def test_train_runs_when_the_loop_fits(machine):
    D = torch.zeros(512, 512)
    machine(available_kb=5 * 1024)  # exactly the autograd loop's 5 MiB
    result = mf.train(D, torch.zeros(512, 1), torch.zeros(1, 512), lr=0.01, n_iterations=1)
    assert result.final_loss == 0.0
