"""pyproject.toml, constraints.txt and environment.yml must agree, and the
package must build cleanly.

A package missing from one of them, a CUDA build of PyTorch, version bounds
that the pinned versions do not satisfy, or a Python bound that differs from
``requires-python`` all fail here. binder/ reads constraints.txt itself
(tests/test_repo2docker.py checks it).
"""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAME = {"torch": "pytorch-cpu"}
NOT_IN_CONDA = {
    # The browser tests need Debian's Chromium as well; they run through
    # `make test` (pip) and skip with a reason elsewhere.
    "playwright",
    # The peers extra is for benchmarks/bench_peers.py, not for the course:
    # pip install -e ".[peers]" (Spark needs Java as well).
    "scikit-surprise",
    "pyspark",
}
CONDA_FILE = "environment.yml"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def project():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def pyproject_requirements():
    meta = project()
    reqs = [Requirement(r) for r in meta["dependencies"]]
    for extra in meta["optional-dependencies"].values():
        reqs += [Requirement(r) for r in extra]
    return {canonical(r.name): r for r in reqs}


def pins():
    found = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            found[canonical(name)] = version
    return found


def conda_dependencies(path=CONDA_FILE):
    env = yaml.safe_load((ROOT / path).read_text())
    deps, pip_section = {}, []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip_section += dep.get("pip", [])
            continue
        match = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", dep)
        deps[canonical(match.group(1))] = match.group(2).strip()
    return env, deps, pip_section


def test_every_dependency_is_pinned_and_the_pin_fits_pyproject():
    pinned = pins()
    for name, req in pyproject_requirements().items():
        assert name in pinned, f"{name} is in pyproject.toml but not pinned in constraints.txt"
        assert req.specifier.contains(pinned[name], prereleases=True), (
            f"constraints.txt pins {name}=={pinned[name]}, outside pyproject's {req.specifier}")


def test_every_dependency_has_a_floor():
    # make test-oldest installs each floor; a requirement without one is untested
    for name, req in pyproject_requirements().items():
        assert any(s.operator == ">=" for s in req.specifier), f"{name} has no lower bound"


def test_torch_is_pinned_to_the_cpu_release():
    assert pins()["torch"] == "2.13.0"


def test_conda_file_lists_every_package_with_the_same_bounds():
    env, deps, _ = conda_dependencies()
    assert env["channels"][0] == "conda-forge"
    pinned = pins()
    for name, req in pyproject_requirements().items():
        if name in NOT_IN_CONDA:
            continue
        conda = CONDA_NAME.get(name, name)
        assert conda in deps, f"{conda} (for {name}) is missing from {CONDA_FILE}"
        bound = SpecifierSet(deps[conda])
        assert bound.contains(pinned[name], prereleases=True), (
            f"{CONDA_FILE} asks {conda}{deps[conda]}, which excludes the pinned "
            f"{name}=={pinned[name]}")
        assert bound == req.specifier, (
            f"{CONDA_FILE} bounds {conda} by {bound}, pyproject.toml by {req.specifier}")


def test_conda_python_bound_is_requires_python():
    _, deps, _ = conda_dependencies()
    assert SpecifierSet(deps["python"]) == SpecifierSet(project()["requires-python"])


def test_conda_file_never_asks_for_a_cuda_build():
    _, deps, pip_section = conda_dependencies()
    for bad in ("pytorch", "pytorch-gpu", "cudatoolkit", "cuda-version", "torch"):
        assert bad not in deps, f"{CONDA_FILE} lists {bad}: use pytorch-cpu"
    assert not [p for p in pip_section if re.match(r"^torch\b", p)], (
        f"{CONDA_FILE} pip-installs torch")


def test_make_uses_the_pins():
    assert "-c constraints.txt" in (ROOT / "Makefile").read_text()


def test_license_metadata_is_pep_639():
    meta = project()
    assert meta["license"] == "MIT"
    assert meta["license-files"] == ["LICENSE"]
    backend = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    (setuptools,) = [Requirement(r) for r in backend if r.startswith("setuptools")]
    assert setuptools.specifier.contains("77") and not setuptools.specifier.contains("999"), (
        f"the build backend must be bounded on both sides, got {setuptools}")


def test_the_wheel_builds_without_a_deprecation_warning_and_holds_the_package(tmp_path):
    """pip's isolated build, as `pip install git+...` and Binder run it, of a clean copy.

    A clean copy, because setuptools writes build/ into the source tree, and
    a module deleted since the last build would linger there and in the wheel.
    """
    import shutil
    import zipfile

    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "build", "*.egg-info", "__pycache__", "mutants", "notebooks"))
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--disable-pip-version-check",
         "-w", str(wheels), str(source)],
        capture_output=True, text=True, timeout=300)
    output = build.stdout + build.stderr
    assert build.returncode == 0, output[-3000:]
    warnings = [line for line in output.splitlines() if re.search("deprecat", line, re.I)]
    assert not warnings, "\n".join(warnings)
    wheel = wheels / f"mfgd_helpers-{project()['version']}-py3-none-any.whl"
    assert [p.name for p in wheels.iterdir()] == [wheel.name]
    packaged = {n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".py")}
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "mfgd_helpers").rglob("*.py")
               if "__pycache__" not in p.parts}
    assert packaged == modules


def test_make_unit_collects_no_notebook():
    """`make unit` is the quick loop: pytest's own collection of its paths holds no .ipynb."""
    import re
    import subprocess
    import sys

    recipe = re.search(r"^unit:.*\n\t(.*)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    paths = [p for p in recipe.split() if (ROOT / p).exists()]
    assert paths and "notebooks" not in paths
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", *paths],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-2000:]
    assert not [line for line in out.stdout.splitlines() if line.startswith("notebooks/")]
    assert "tests/test_training.py::" in out.stdout
