"""pyproject.toml, constraints.txt, environment.yml and binder/ must agree.

A package missing from one of them, a CUDA build of PyTorch, or version
bounds that the pinned versions do not satisfy all fail here.
"""

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

tomllib = pytest.importorskip("tomllib")
yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAME = {"torch": "pytorch-cpu"}
NOT_IN_CONDA = {
    # The browser tests need Debian's Chromium as well; they run through
    # `make test` (pip) and skip with a reason elsewhere.
    "playwright",
}
CONDA_FILES = ["environment.yml", "binder/environment.yml"]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject_requirements():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
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


def conda_dependencies(path):
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


def test_torch_is_pinned_to_the_cpu_release():
    assert pins()["torch"] == "2.13.0"


@pytest.mark.parametrize("path", CONDA_FILES)
def test_conda_files_list_every_package_with_compatible_bounds(path):
    env, deps, _ = conda_dependencies(path)
    assert env["channels"][0] == "conda-forge"
    pinned = pins()
    for name, req in pyproject_requirements().items():
        if name in NOT_IN_CONDA:
            continue
        conda = CONDA_NAME.get(name, name)
        assert conda in deps, f"{conda} (for {name}) is missing from {path}"
        bound = SpecifierSet(deps[conda]) if deps[conda] else SpecifierSet()
        assert bound.contains(pinned[name], prereleases=True), (
            f"{path} asks {conda}{deps[conda]}, which excludes the pinned {name}=={pinned[name]}")
        if req.specifier:
            assert str(bound) == str(req.specifier) or not bound, (
                f"{path} bounds {conda} by {bound}, pyproject.toml by {req.specifier}")


@pytest.mark.parametrize("path", CONDA_FILES)
def test_conda_files_never_ask_for_a_cuda_build(path):
    _, deps, pip_section = conda_dependencies(path)
    for bad in ("pytorch", "pytorch-gpu", "cudatoolkit", "cuda-version", "torch"):
        assert bad not in deps, f"{path} lists {bad}: use pytorch-cpu"
    assert not [p for p in pip_section if re.match(r"^torch\b", p)], f"{path} pip-installs torch"


def test_binder_matches_the_top_level_environment():
    _, top, _ = conda_dependencies("environment.yml")
    _, binder, binder_pip = conda_dependencies("binder/environment.yml")
    assert top == binder
    assert binder_pip == [], "binder/ installs the package in postBuild, not in the pip section"


def test_binder_postbuild_installs_the_package_without_dependencies():
    script = (ROOT / "binder" / "postBuild").read_text()
    assert "set -euo pipefail" in script
    assert re.search(r"pip install --no-deps .*-e \.", script)


def test_make_uses_the_pins():
    assert "-c constraints.txt" in (ROOT / "Makefile").read_text()
