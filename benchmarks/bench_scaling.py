"""Target 3: large matrices, the fast path against its floor and the teaching path.

At 1000×1000 (k = 10) and 2000×2000 (k = 20), 50 iterations each:

* floor: the bare tensor operations of the fast path's steps (the same five
  operations, the same buffers and memory layout), with no checks, no loss
  list and no callback;
* fast path: ``mf.train(..., method="analytic")``, everything included;
* teaching path: ``mf.train(..., method="autograd")``.

Peak memory is measured in a fresh subprocess per configuration
(``python -m benchmarks.bench_scaling --peak-memory ...``): the peak resident
set from just before D is made to the end of training, D included, in units
of D's size. On Linux the kernel's high-water mark (VmHWM) is reset first, so
that importing torch does not count; elsewhere ``ru_maxrss`` is used.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
from pathlib import Path

import torch

import mfgd_helpers as mf

from .timing import (num_threads, paired_ratio, reset_peak, row, seconds, side_by_side,
                     status_kib, thread_settings)

ORDER = 3
ROOT = Path(__file__).resolve().parent.parent
LR = 1e-6  # far below the stable bound at these sizes; the time does not depend on it
_last_times: dict = {}  # filled by run() for draw(): (size, threads) -> seconds per iteration
NOTES = """\
**3.** The floor is the fast path's own five operations with nothing around
them, so the ratio is the package's overhead (argument checks, copies of C and
F, the loss list, the final loss). What made the fast path faster: C is kept in
column-major order while training (MKL runs the two products that touch C up to
1.5× faster that way on this CPU), and the loss is summed in pieces of 65536
entries (one float32 dot product over 4 million entries was 2e-5 off; the
pieces are as accurate as `torch.sum`). Tried: computing the gradient of C as
`F @ R.T` into a separate buffer (faster than `R @ F.T` in row-major order, but
not faster than the column-major `addmm_`, and one operation more). The
teaching path allocates several n×m temporaries per step (difference, square,
their gradients), which is where its time and memory go.
"""


def make_problem(n: int, m: int, k: int):
    D = mf.make_target(n, m, k, seed=0)
    C, F = mf.init_factors(n, m, k, seed=1)
    return D, C.detach(), F.detach()


def floor_steps(D, C, F, n_iterations: int, lr: float = LR) -> list:
    """The bare operations of the fast path's steps; returns the losses."""
    C = torch.empty(C.shape[::-1], dtype=C.dtype).t().copy_(C)  # column-major, as the fast path
    F = F.clone()
    R = torch.empty_like(D)
    gF = torch.empty_like(F)
    pieces, Ct, Ft = R.view(-1).split(1 << 16), C.t(), F.t()
    losses = []
    with torch.inference_mode():
        for _ in range(n_iterations):
            torch.addmm(D, C, F, beta=-1, out=R)
            losses.append(sum(p.dot(p).item() for p in pieces))
            torch.mm(Ct, R, out=gF)
            C.addmm_(R, Ft, alpha=-2 * lr)
            F.add_(gF, alpha=-2 * lr)
    return losses


def max_relative_difference(a, b) -> float:
    return max(abs(x / y - 1.0) for x, y in zip(a, b))


# --- peak memory, in a child process -----------------------------------------





def peak_memory(n: int, m: int, k: int, method: str, n_iterations: int) -> dict:
    """Peak resident memory of making D, C, F and training, in this process."""
    D, C, F = make_problem(3, 4, 2)  # warm up: lazy initialisation is not the run's
    mf.train(D, C, F, lr=LR, n_iterations=2, method=method)
    del D, C, F
    if reset_peak():
        how, before = "VmHWM", status_kib("VmRSS")
    else:  # ru_maxrss: KiB on Linux, bytes on macOS
        how, before = "ru_maxrss", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    D, C, F = make_problem(n, m, k)
    result = mf.train(D, C, F, lr=LR, n_iterations=n_iterations, method=method)
    if how == "VmHWM":
        peak_kib = status_kib("VmHWM") - before
    else:
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        if sys.platform == "darwin":
            peak_kib /= 1024
    return {"peak_bytes": peak_kib * 1024, "d_bytes": D.numel() * D.element_size(),
            "how": how, "final_loss": result.final_loss}


def peak_memory_in_subprocess(n, m, k, method, n_iterations) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_scaling", "--peak-memory",
         str(n), str(m), str(k), method, str(n_iterations)],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"peak-memory child failed ({n}x{m}, {method}):\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- the benchmark -------------------------------------------------------------

def run(quick: bool) -> list[dict]:
    sizes = [(400, 250, 5)] if quick else [(1000, 1000, 10), (2000, 2000, 20)]
    n_iterations = 20 if quick else 50
    repeats = 3 if quick else 7
    rows = []
    _last_times.clear()
    for n, m, k in sizes:
        D, C, F = make_problem(n, m, k)
        cases = {
            "floor": lambda: floor_steps(D, C, F, n_iterations),
            "analytic": lambda: mf.train(D, C, F, lr=LR, n_iterations=n_iterations,
                                         method="analytic").losses,
            "autograd": lambda: mf.train(D, C, F, lr=LR, n_iterations=n_iterations).losses,
        }
        where = f"{n}×{m}, k={k}, {n_iterations} it."
        for label, threads in thread_settings():
            with num_threads(threads):
                # warm up on 2 iterations: a whole extra run costs seconds at 2000x2000
                floor_steps(D, C, F, 2)
                for method in ("analytic", "autograd"):
                    mf.train(D, C, F, lr=LR, n_iterations=2, method=method)
                t = side_by_side(cases, repeats, warmup=False)
            floor, fast, auto = (t[c].median / n_iterations
                                 for c in ("floor", "analytic", "autograd"))
            _last_times[(f"{n}×{m}, k={k}", label)] = (floor, fast, auto)
            how = f"median over {repeats} interleaved rounds of the ratio within a round"
            over_floor = paired_ratio(t["analytic"], t["floor"])
            rows.append(row(
                f"3 · fast path vs the floor ({where}, {label})",
                f"{over_floor:.2f}× ({seconds(fast)} vs {seconds(floor)} per it.)",
                "≤ 1.1×", over_floor <= 1.1, how))
            speedup = paired_ratio(t["autograd"], t["analytic"])
            rows.append(row(
                f"3 · fast path vs teaching path ({where}, {label})",
                f"{speedup:.2f}× faster ({seconds(fast)} vs {seconds(auto)} per it.)",
                "≥ 1.8× faster", speedup >= 1.8,
                f"{how}; CPU-time ratio {paired_ratio(t['autograd'], t['analytic'], cpu=True):.2f}"))
        rel_auto = max_relative_difference(t["analytic"].result, t["autograd"].result)
        rel_floor = max_relative_difference(t["analytic"].result, t["floor"].result)
        rows.append(row(
            f"3 · same losses on all three ({where})",
            f"fast vs teaching path {rel_auto:.1e}, fast path vs floor {rel_floor:.1e} relative",
            "≤ 1e-5 relative", max(rel_auto, rel_floor) <= 1e-5,
            f"first loss {t['analytic'].result[0]:.6g}, last {t['analytic'].result[-1]:.6g}"))
        mem = peak_memory_in_subprocess(n, m, k, "analytic", n_iterations)
        times = mem["peak_bytes"] / mem["d_bytes"]
        detail = f"D included; a fresh subprocess per run, {mem['how']} reset after the imports"
        if not quick:  # quick mode: one child process shows the measurement works
            auto = peak_memory_in_subprocess(n, m, k, "autograd", n_iterations)
            detail += f"; teaching path {auto['peak_bytes'] / auto['d_bytes']:.1f}× D"
        rows.append(row(
            f"3 · peak memory of the fast path ({where})",
            f"{times:.1f}× the size of D ({mem['peak_bytes'] / 2**20:.1f} MiB; "
            f"D is {mem['d_bytes'] / 2**20:.2f} MiB)",
            "≤ 6× D", times <= 6, detail))
    return rows


def draw(ax) -> bool:
    """Time per iteration of the floor, the fast path and the teaching path, as bars."""
    if not _last_times:
        return False
    keys = list(_last_times)
    width = 0.27
    for j, (name, colour) in enumerate((("floor", "tab:grey"), ("fast path", "tab:blue"),
                                        ("teaching path", "tab:orange"))):
        ax.bar([i + (j - 1) * width for i in range(len(keys))],
               [_last_times[key][j] * 1e3 for key in keys], width, label=name, color=colour)
    ax.set_xticks(range(len(keys)), [f"{size}\n{threads}" for size, threads in keys],
                  fontsize="small")
    ax.set_yscale("log")
    ax.set_ylabel("ms per iteration (log scale)")
    ax.set_title("Time per iteration (median of interleaved runs)")
    ax.legend(fontsize="small")
    return True


def _main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Peak memory of one training run.")
    parser.add_argument("--peak-memory", nargs=5, required=True,
                        metavar=("N", "M", "K", "METHOD", "ITERATIONS"))
    args = parser.parse_args(argv)
    n, m, k, method, iterations = args.peak_memory
    result = peak_memory(int(n), int(m), int(k), method, int(iterations))
    if not math.isfinite(result["final_loss"]):
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
