"""Mutation testing of the core modules with mutmut: `make mutation`.

    python scripts/mutation.py                       # the seven core modules
    python scripts/mutation.py --modules mfgd_helpers/optimum.py
    python scripts/mutation.py --keep                # reuse mutants/ (incremental)
    python scripts/mutation.py --report              # only print the last summary

mutmut (pinned below, installed into this interpreter's venv when missing)
copies mfgd_helpers/ into mutants/, rewrites every function of the modules in
``[tool.mutmut] only_mutate`` (pyproject.toml) into the original plus its
mutants behind a trampoline, and runs, for each mutant, only the tests that
called that function: the fast unit tests and the doctests listed in
``pytest_add_cli_args_test_selection``, never the notebooks. A mutant is
killed when one of those tests fails, survives when all pass.

By default mutants/ is removed first, so every verdict is fresh: mutmut's
cache notices a changed function but not a changed test. The run ends with,
per module, mutants killed / survived / timeout / total and the kill rate,
then every mutant that no test killed (module:line, its function, the changed
lines), for a developer to judge which are equivalent. The summary is also
written to mutants/mutation-summary.txt; the whole mutmut log to
mutants/mutmut-run.log. `.venv/bin/mutmut show NAME` prints a mutant's diff
with context, `.venv/bin/mutmut browse` opens mutmut's own browser.

Each mutant runs in a process forked from a fork server (``process_isolation``
is "forkserver": torch's thread pools are not fork-safe) with one intra-op
thread (OMP_NUM_THREADS=1), one mutant per core.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "mutants"
# mutmut and the packages it brings that constraints.txt does not pin (coverage,
# pytest, pygments, pyyaml... are pinned there and come from it).
REQUIREMENTS = [
    "mutmut==3.8.1",
    "click==8.5.1",
    "libcst==1.9.0",
    "linkify-it-py==2.2.0",
    "markdown-it-py==4.3.0",
    "mdit-py-plugins==0.7.0",
    "mdurl==0.1.2",
    "rich==15.0.0",
    "setproctitle==1.3.8",
    "textual==8.2.8",
]
SOURCES = MUTANTS / "mutation-sources"  # the modules as mutmut read them, for line numbers
SUMMARY = MUTANTS / "mutation-summary.txt"
LOG = MUTANTS / "mutmut-run.log"
DEBUG_LOG = "mutmut-debug.log"  # [tool.mutmut] log_file_path's default, in mutants/
TIMEOUT = {"timeout"}
NOT_RUN = {"not checked", "skipped", "check was interrupted by user"}


def configured_modules() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    return list(config["only_mutate"])


def ensure_mutmut() -> None:
    wanted = REQUIREMENTS[0].split("==")[1]
    try:
        if importlib.metadata.version("mutmut") == wanted:
            return
    except importlib.metadata.PackageNotFoundError:
        pass
    print(f"installing {REQUIREMENTS[0]} into {sys.prefix}", flush=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-q",
                    "-c", str(ROOT / "constraints.txt"), *REQUIREMENTS], check=True)


def module_glob(path: str) -> str:
    """mfgd_helpers/optimum.py -> mfgd_helpers.optimum.* (mutmut's mutant names)."""
    return path.removesuffix(".py").replace("/", ".") + ".*"


def run_mutmut(modules: list[str], every_module: bool, max_children: int | None) -> int:
    mutmut = Path(sys.executable).with_name("mutmut")
    command = [str(mutmut), "run"]
    if max_children:
        command += ["--max-children", str(max_children)]
    if not every_module:
        command += [module_glob(path) for path in modules]
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("MKL_NUM_THREADS", "1")
    env["PYTHONUNBUFFERED"] = "1"
    print("$", " ".join(command), flush=True)
    # mutmut's own listing of every mutant (after "Mutant results", when names
    # are given) stays in the log; the terminal gets its progress line.
    echo = True
    with open(LOG, "wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT)
        marker = b"Mutant results"
        pending = b""  # the end of the output that may be the marker's beginning
        while chunk := process.stdout.read1(4096):
            log.write(chunk)
            if not echo:
                continue
            pending += chunk
            if marker in pending:
                shown, echo = pending[:pending.index(marker)], False
            else:
                shown, pending = pending[:-len(marker)], pending[-len(marker):]
            sys.stdout.buffer.write(shown)
            sys.stdout.flush()
        if echo:
            sys.stdout.buffer.write(pending)
        return process.wait()


def diagnose() -> None:
    """Rerun mutmut's test selection in mutants/ with plain pytest, to show a failure.

    In forkserver mode mutmut runs its stats and clean runs in a child and
    keeps none of pytest's output: a test that fails unmutated in mutants/
    stops it with only "failed to collect stats" or "Failed to run clean test".
    """
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    command = [sys.executable, "-m", "pytest", "-q", "--rootdir=.", "--tb=short", "-p", "no:randomly",
               *config.get("pytest_add_cli_args", []),
               *config.get("pytest_add_cli_args_test_selection", [])]
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    print("\nthe same tests, unmutated, with plain pytest in mutants/:", file=sys.stderr)
    print("$ cd mutants &&", " ".join(command[1:]), file=sys.stderr, flush=True)
    run = subprocess.run(command, cwd=MUTANTS, env=env, capture_output=True, text=True)
    print((run.stdout + run.stderr)[-6000:], file=sys.stderr)


def snapshot_sources(modules: list[str]) -> None:
    for path in modules:
        target = SOURCES / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, target)


# ---------------------------------------------------------------- the summary

def load_results(path: str) -> dict[str, int | None]:
    meta = MUTANTS / (path + ".meta")
    if not meta.exists():
        return {}
    return json.loads(meta.read_text())["exit_code_by_key"]


def worker_seconds() -> dict[str, float]:
    """Each mutant's wall time, from the fork server's log (log_to_file = true).

    mutmut 3.8.1 records 0.0 s for every mutant in forkserver mode, but logs
    "Completed NAME: exit=CODE (SECONDS s)".
    """
    seconds = {}
    for log in sorted(MUTANTS.glob(DEBUG_LOG + "*")):
        for match in re.finditer(r"Completed (\S+): exit=-?\d+ \(([\d.]+)s\)", log.read_text(errors="replace")):
            seconds[match.group(1)] = float(match.group(2))
    return seconds


def changed_lines(mutant: str, path: str) -> tuple[int | None, str, list[str]]:
    """The mutant's line in the module, its function and its -/+ lines."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.utils.format_utils import orig_function_and_class_names_from_key

    function, class_name = orig_function_and_class_names_from_key(mutant)
    where = f"{class_name}.{function}" if class_name else function
    try:
        diff = get_diff_for_mutant(mutant, path=path).splitlines()
    except Exception as error:  # noqa: BLE001 - a report line, not a crash
        return None, where, [f"(no diff: {error})"]
    changes = [line for line in diff[2:] if line[:1] in "-+" and not line.startswith("@@")]
    return locate(diff, path), where, changes


def locate(diff: list[str], path: str) -> int | None:
    """The line in the module of the diff's first changed line.

    mutmut diffs the function alone: find the hunk's unmutated lines (its
    context and its "-" lines) in the module as mutmut read it.
    """
    hunks = [i for i, line in enumerate(diff) if line.startswith("@@")]
    if not hunks:
        return None
    before, offset = [], None
    for line in diff[hunks[0] + 1:]:
        if line.startswith("@@"):
            break
        if line[:1] in "-+" and offset is None:
            offset = len(before)
        if not line.startswith("+"):
            before.append(line[1:])
    if offset is None or not before:
        return None
    source_file = SOURCES / path if (SOURCES / path).exists() else ROOT / path
    source = source_file.read_text().splitlines()
    for i in range(len(source) - len(before) + 1):
        if source[i:i + len(before)] == before:
            return i + offset + 1
    return None


def summarize(modules: list[str], elapsed: float | None) -> str:
    from mutmut.stats import status_by_exit_code

    lines = []
    rows = []
    leftovers = []
    seconds = worker_seconds()
    totals = dict(killed=0, survived=0, timeout=0, no_tests=0, other=0, total=0, seconds=0.0)
    for path in modules:
        results = load_results(path)
        count = dict(killed=0, survived=0, timeout=0, no_tests=0, other=0, total=0, seconds=0.0)
        for mutant, code in sorted(results.items(), key=lambda kv: natural(kv[0])):
            status = status_by_exit_code[code]
            count["total"] += 1
            count["seconds"] += seconds.get(mutant, 0.0)
            if status == "killed":
                count["killed"] += 1
            elif status in TIMEOUT:
                count["timeout"] += 1
            elif status == "survived":
                count["survived"] += 1
                leftovers.append((path, mutant, status))
            elif status == "no tests":
                count["no_tests"] += 1
                leftovers.append((path, mutant, status))
            else:
                count["other"] += 1
                if status not in NOT_RUN:
                    leftovers.append((path, mutant, status))
        rows.append((path, count))
        for key in totals:
            totals[key] += count[key]
    rows.append(("total", totals))

    def rate(count):
        caught = count["killed"] + count["timeout"]
        return f"{100 * caught / count['total']:.1f}%" if count["total"] else "-"

    header = (f"{'module':<28} {'killed':>6} {'survived':>8} {'timeout':>7} {'no tests':>8} "
              f"{'other':>5} {'total':>5}  kill rate  worker-min")
    lines += ["", "Mutation testing (mutmut) of the core modules", "", header, "-" * len(header)]
    for path, count in rows:
        if path == "total":
            lines.append("-" * len(header))
        lines.append(f"{path:<28} {count['killed']:>6} {count['survived']:>8} {count['timeout']:>7} "
                     f"{count['no_tests']:>8} {count['other']:>5} {count['total']:>5}  {rate(count):>9}  "
                     f"{count['seconds'] / 60:>10.1f}")
    lines += ["",
              "kill rate = (killed + timeout) / total; 'no tests': no selected test calls the "
              "function; 'other': suspicious, segfault, or not run.",
              "worker-min: the mutants' test runs added up (they run side by side, one per core), "
              "without mutmut's set-up (copy, stats and clean runs)."]
    if elapsed is not None:
        lines.append(f"mutmut ran for {elapsed / 60:.1f} min")
    lines += ["", f"Mutants no test killed ({len(leftovers)}): module:line  function  [status]  mutant",
              "  (`.venv/bin/mutmut show MUTANT` prints one with context)"]
    for path, mutant, status in leftovers:
        line, where, changes = changed_lines(mutant, path)
        lines.append("")
        lines.append(f"{path}:{line if line else '?'}  {where}  [{status}]  {mutant}")
        lines += [f"    {change}" for change in changes]
    return "\n".join(lines) + "\n"


def natural(name: str):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", nargs="+", metavar="PATH",
                        help="modules to mutate (default: [tool.mutmut] only_mutate in pyproject.toml)")
    parser.add_argument("--keep", action="store_true",
                        help="keep mutants/ and mutmut's cached verdicts (a changed test is not noticed)")
    parser.add_argument("--report", action="store_true", help="only print the summary of the last run")
    parser.add_argument("--max-children", type=int, help="mutants run at once (default: the cores)")
    args = parser.parse_args()

    configured = configured_modules()
    modules = [str(Path(m)) for m in (args.modules or configured)]
    unknown = [m for m in modules if m not in configured]
    if unknown:
        parser.error(f"not in [tool.mutmut] only_mutate of pyproject.toml: {', '.join(unknown)} "
                     f"(one of {', '.join(configured)})")
    os.chdir(ROOT)  # mutmut reads pyproject.toml and mutants/ from the working directory
    ensure_mutmut()

    elapsed = None
    if not args.report:
        if not args.keep and MUTANTS.exists():
            shutil.rmtree(MUTANTS)
        MUTANTS.mkdir(exist_ok=True)
        snapshot_sources(configured)
        started = time.monotonic()
        code = run_mutmut(modules, every_module=set(modules) == set(configured),
                          max_children=args.max_children)
        elapsed = time.monotonic() - started
        if code != 0:
            print(f"\nmutmut failed (exit {code}); the end of {LOG.relative_to(ROOT)}:", file=sys.stderr)
            print(LOG.read_text(errors="replace")[-4000:], file=sys.stderr)
            diagnose()
            return code
    elif not MUTANTS.exists():
        parser.error("no mutants/ folder: run without --report first")

    summary = summarize(modules, elapsed)
    SUMMARY.write_text(summary)
    print(summary, end="")
    print(f"(also in {SUMMARY.relative_to(ROOT)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
