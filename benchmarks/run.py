"""Run every benchmark, print one table, write benchmarks/RESULTS.md and results.png.

    python benchmarks/run.py            # all targets (minutes); writes the results
    python benchmarks/run.py --quick    # small sizes, a few seconds; writes nothing
    python benchmarks/run.py --only scaling --only import

Every ``benchmarks/bench_<name>.py`` is found at run time and must expose
``run(quick: bool) -> list[dict]``, each dict with the keys "target",
"measured", "goal", "met" and "detail". A module may also define ``ORDER``
(its place in the table), ``NOTES`` (markdown for the results file) and
``draw(ax)`` (a panel of the results plot).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
import textwrap
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
PLOT = HERE / "results.png"
EXPECTED = ("playground",)  # written separately; reported when missing


def _package():
    """The benchmarks folder as the package ``benchmarks`` (loaded from its path)."""
    if "benchmarks" in sys.modules and getattr(sys.modules["benchmarks"], "__path__", None) == [str(HERE)]:
        return sys.modules["benchmarks"]
    spec = importlib.util.spec_from_file_location(
        "benchmarks", HERE / "__init__.py", submodule_search_locations=[str(HERE)])
    package = importlib.util.module_from_spec(spec)
    sys.modules["benchmarks"] = package
    spec.loader.exec_module(package)
    return package


def discover(only=None) -> tuple[list, list[str]]:
    """([(name, module)] in table order, notes on what is missing or failed to import)."""
    _package()
    names = sorted(p.stem[len("bench_"):] for p in HERE.glob("bench_*.py"))
    notes = [f"bench_{name}.py not found: its target is not measured"
             for name in EXPECTED if name not in names]
    if only:
        unknown = sorted(set(only) - set(names))
        if unknown:
            raise SystemExit(f"--only {', '.join(unknown)}: no such benchmark; "
                             f"choose from {', '.join(names)}")
        names = [n for n in names if n in only]
    modules = []
    for name in names:
        try:
            module = importlib.import_module(f"benchmarks.bench_{name}")
        except Exception as err:
            notes.append(f"bench_{name}.py failed to import: {type(err).__name__}: {err}")
            continue
        if not callable(getattr(module, "run", None)):
            notes.append(f"bench_{name}.py has no run(quick) function")
            continue
        modules.append((name, module))
    modules.sort(key=lambda item: (getattr(item[1], "ORDER", 99), item[0]))
    return modules, notes


def check_rows(name: str, rows) -> list[dict]:
    """The rows a benchmark returned, or a ValueError saying what is wrong with them."""
    keys = {"target": str, "measured": str, "goal": str, "met": bool, "detail": str}
    if not isinstance(rows, list):
        raise ValueError(f"bench_{name}.run returned {type(rows).__name__}, must be a list of dicts")
    for i, r in enumerate(rows):
        if not isinstance(r, dict) or set(r) != set(keys):
            raise ValueError(f"bench_{name}.run row {i} must be a dict with exactly the keys "
                             f"{sorted(keys)}; got {r!r}")
        for key, kind in keys.items():
            if not isinstance(r[key], kind):
                raise ValueError(f"bench_{name}.run row {i}: {key} == {r[key]!r}, "
                                 f"must be {kind.__name__}")
    return rows


def run_all(modules, quick: bool, log=print) -> tuple[list[dict], list[str]]:
    """Run each module; a module that raises becomes a failed row, not a crash."""
    rows, notes = [], []
    for name, module in modules:
        log(f"running bench_{name} ...")
        start = time.perf_counter()
        try:
            got = check_rows(name, module.run(quick))
        except Exception as err:
            traceback.print_exc()
            got = [{"target": f"bench_{name}", "measured": "raised an error", "goal": "runs",
                    "met": False, "detail": f"{type(err).__name__}: {err}"}]
        if not got:
            notes.append(f"bench_{name}: nothing measured in {'quick' if quick else 'full'} mode")
        rows.extend(got)
        log(f"  bench_{name}: {len(got)} rows in {time.perf_counter() - start:.1f} s")
    return rows, notes


def text_table(rows) -> str:
    """The rows as a plain-text table; each detail on an indented line below its row."""
    header = ("met", "target", "measured", "goal")
    cells = [("yes" if r["met"] else "NO", r["target"], r["measured"], r["goal"]) for r in rows]
    widths = [max(len(c[i]) for c in [header, *cells]) for i in range(4)]
    widths[1] = min(widths[1], 70)

    def line(values) -> str:
        return "  ".join(str(x).ljust(w) for x, w in zip(values, widths)).rstrip()

    out = [line(header), line(["-" * w for w in widths])]
    for r, c in zip(rows, cells):
        out.append(line(c))
        if r["detail"]:
            out.append(textwrap.indent(textwrap.fill(r["detail"], 100), " " * (widths[0] + 2)))
    return "\n".join(out)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(rows, machine: dict, loads: tuple[str, str], notes: list[str], modules,
             plot_name: str | None, seconds_total: float) -> str:
    met = sum(r["met"] for r in rows)
    missed = [r for r in rows if not r["met"]]
    out = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python benchmarks/run.py`); do not edit by hand. "
        "Every number is a ratio of two things measured side by side in the same run "
        "(interleaved repeats, medians), so that both sides see the same load. "
        "See [README.md](README.md) for what each target means.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *[f"| {key} | {_md(value)} |" for key, value in machine.items()],
        f"| load average (1 / 5 / 15 min) | {loads[0]} at the start, {loads[1]} at the end |",
        f"| duration | {seconds_total:.0f} s |",
        "",
        "A load average above the number of cores means other processes were running: "
        "absolute times are then slower and noisier, the ratios less so.",
        "",
        "## Summary",
        "",
        f"{met} of {len(rows)} rows meet their goal.",
    ]
    if missed:
        out += ["", "Not met:", ""]
        out += [f"- {_md(r['target'])}: {_md(r['measured'])} (goal {_md(r['goal'])})"
                for r in missed]
    if notes:
        out += ["", *[f"- Note: {_md(n)}" for n in notes]]
    out += ["", "## Results", "",
            "| target | measured | goal | met | detail |", "|---|---|---|---|---|"]
    out += [f"| {_md(r['target'])} | {_md(r['measured'])} | {_md(r['goal'])} | "
            f"{'yes' if r['met'] else '**no**'} | {_md(r['detail'])} |" for r in rows]
    if plot_name:
        out += ["", "## Plot", "", f"![benchmark plots]({plot_name})"]
    written = [getattr(m, "NOTES", "").strip() for _, m in modules]
    if any(written):
        out += ["", "## What was measured and tried", ""]
        out += [f"{n}\n" for n in written if n]
    return "\n".join(out).rstrip() + "\n"


def save_plot(modules, path: Path) -> bool:
    """One panel per module with a ``draw(ax)`` that has something to show."""
    drawers = [m.draw for _, m in modules if callable(getattr(m, "draw", None))]
    if not drawers:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(drawers), figsize=(6.5 * len(drawers), 4.5), squeeze=False)
    drawn = [draw(ax) for draw, ax in zip(drawers, axes[0])]
    for ax, ok in zip(axes[0], drawn):
        if not ok:
            ax.set_axis_off()
    if any(drawn):
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    plt.close(fig)
    return any(drawn)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes, a few seconds; writes no results file")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only bench_NAME.py (repeatable); writes no results file")
    parser.add_argument("--output", type=Path, default=None,
                        help="write the results here instead (the plot goes next to it)")
    args = parser.parse_args(argv)
    output = args.output
    if output is None and not args.quick and not args.only:
        output = RESULTS
    if args.quick and output is not None and output.resolve() == RESULTS:
        parser.error(f"--quick must not overwrite {RESULTS.name}; pass another --output")

    modules, notes = discover(args.only)
    timing = importlib.import_module("benchmarks.timing")
    machine = timing.machine()
    load_start = timing.load_average()
    start = time.perf_counter()
    rows, run_notes = run_all(modules, args.quick,
                              log=lambda text: print(text, file=sys.stderr, flush=True))
    elapsed = time.perf_counter() - start
    notes += run_notes
    loads = (load_start, timing.load_average())

    print(text_table(rows))
    for note in notes:
        print(f"note: {note}")
    met = sum(r["met"] for r in rows)
    print(f"{met} of {len(rows)} rows meet their goal; {elapsed:.0f} s; "
          f"load average {loads[0]} at the start, {loads[1]} at the end")
    if output is not None:
        plot = PLOT if output.resolve() == RESULTS else output.with_suffix(".png")
        has_plot = save_plot(modules, plot)
        text = markdown(rows, machine, loads, notes, modules,
                        plot.name if has_plot else None, elapsed)
        tmp = output.with_name(output.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(output)
        print(f"wrote {output}" + (f" and {plot}" if has_plot else ""))
    crashed = any(r["measured"] == "raised an error" for r in rows)
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
