"""What Binder (repo2docker) builds from binder/.

The unmarked tests read files only and run with `make test`:
binder/requirements.txt takes its versions from ../constraints.txt (no copy
of the pins in binder/), runtime.txt asks for the Python that pyproject.toml
allows, and postBuild installs the two Jupyter configuration files.

The `environment` test installs jupyter-repo2docker into a throwaway venv and
asks it for the Dockerfile it would build (`repo2docker --no-build --debug`,
no container engine needed) from a clean copy of the tracked files, then
checks what Binder would do: Python 3.11 from runtime.txt, repo2docker's 3.11
lock, `pip install -r "binder/requirements.txt"` after the whole repository
is copied in, then postBuild.

    python -m pytest -m environment -p no:cacheprovider tests/test_repo2docker.py
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import venv
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
CPU_INDEX = "--extra-index-url https://download.pytorch.org/whl/cpu"
CONSTRAINT = "-c ../constraints.txt"
PIP_STEP = 'RUN ${KERNEL_PYTHON_PREFIX}/bin/pip install --no-cache-dir -r "binder/requirements.txt"'
COPY_REPO = "COPY --chown=1000:1000 src/ ${REPO_DIR}/"
# What postBuild must install: (file in binder/, destination below sys.prefix).
# The server's settings must be a top-level jupyter_server_config.json: from
# the files in jupyter_server_config.d/ Jupyter Server reads only
# ServerApp.jpserver_extensions (to enable extensions) and ignores the rest,
# so a culler configured there is never started.
CONFIG_FILES = [
    ("jupyter_server_config.json", "etc/jupyter/jupyter_server_config.json"),
    ("overrides.json", "share/jupyter/lab/settings/overrides.json"),
]


def requirement_lines(path: Path) -> list[str]:
    lines = (line.split(" #")[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def pinned_names() -> set[str]:
    return {canonical(line.split("==")[0]) for line in requirement_lines(ROOT / "constraints.txt")}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# ---------------------------------------------------------------- cheap, in make test

def test_binder_requirements_read_the_pins_from_constraints_txt():
    lines = requirement_lines(BINDER / "requirements.txt")
    assert CONSTRAINT in lines, (
        f"binder/requirements.txt must read the pins with `{CONSTRAINT}`; it has {lines}")
    assert (BINDER / "../constraints.txt").resolve() == ROOT / "constraints.txt"
    assert CPU_INDEX in lines, (
        "binder/requirements.txt lost PyTorch's CPU index: Binder would install "
        "the CUDA build of torch from PyPI (several GB)")
    assert "-e .[lab,test]" in lines, "binder/requirements.txt must install the project itself"
    # pip reads -c relative to the requirements file; a line before the index
    # or the constraint would be resolved without them
    assert lines.index(CPU_INDEX) < lines.index("-e .[lab,test]")
    assert lines.index(CONSTRAINT) < lines.index("-e .[lab,test]")


def test_binder_holds_no_copy_of_the_pins():
    pinned = pinned_names()
    for path in sorted(BINDER.iterdir()):
        if path.suffix == ".json" or not path.is_file():
            continue
        for line in requirement_lines(path):
            match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[.*\])?\s*[=<>~!]=", line)
            assert not (match and canonical(match.group(1)) in pinned), (
                f"binder/{path.name} pins `{line}`; pins live in constraints.txt only")


def test_runtime_txt_is_python_3_11_and_allowed_by_pyproject():
    assert (BINDER / "runtime.txt").is_file(), (
        "binder/runtime.txt is missing: repo2docker would build with its default Python "
        "(3.10), which pyproject.toml excludes")
    runtime = (BINDER / "runtime.txt").read_text().strip()
    assert runtime == "python-3.11", f"binder/runtime.txt says {runtime!r}"
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert SpecifierSet(requires).contains("3.11"), (
        f"runtime.txt asks for 3.11, pyproject.toml requires-python is {requires}")
    # repo2docker ignores pyproject.toml when binder/ exists, so runtime.txt
    # alone decides; it should be the oldest Python the project supports,
    # the one the pins are tested with
    assert not SpecifierSet(requires).contains("3.10")


def test_postbuild_installs_the_two_config_files():
    script = (BINDER / "postBuild").read_text()
    assert script.startswith("#!/bin/bash\n") and "set -euo pipefail" in script
    assert (BINDER / "postBuild").stat().st_mode & 0o111, "binder/postBuild must be executable"
    assert re.search(r"""prefix="\$\(python -c ['"]import sys; print\(sys\.prefix\)['"]\)\"""",
                     script), "postBuild must install below the Python environment's sys.prefix"
    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("#"))
    assert "jupyter_server_config.d" not in code, (
        "postBuild installs server settings into jupyter_server_config.d/, where Jupyter "
        "Server reads only jpserver_extensions: the culler settings would be ignored; "
        "install binder/jupyter_server_config.json as "
        "$prefix/etc/jupyter/jupyter_server_config.json")
    for source, destination in CONFIG_FILES:
        json.loads((BINDER / source).read_text())  # valid JSON
        assert f'cp binder/{source} "$prefix/{destination}"' in script, (
            f"postBuild does not copy binder/{source} to $prefix/{destination}")
        assert f'"$prefix/{Path(destination).parent}"' in script, (
            f"postBuild does not create $prefix/{Path(destination).parent}")


def test_the_config_files_say_what_postbuild_promises():
    server = json.loads((BINDER / "jupyter_server_config.json").read_text())
    assert server == {"MappingKernelManager": {"cull_idle_timeout": 1200, "cull_interval": 60,
                                               "cull_connected": True, "cull_busy": False}}
    lab = json.loads((BINDER / "overrides.json").read_text())
    assert lab["@jupyterlab/notebook-extension:tracker"] == {"kernelShutdown": True}
    assert lab["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"


# ---------------------------------------------------------------- repo2docker itself

def clean_copy(destination: Path) -> Path:
    """The tracked files of the repository (as they are on disk) in ``destination``.

    Outside a git checkout: the tree without virtual environments, caches and
    build output.
    """
    try:
        listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], check=True,
                                capture_output=True, text=True).stdout.split("\0")
    except (OSError, subprocess.CalledProcessError):
        shutil.copytree(ROOT, destination, symlinks=True, ignore=shutil.ignore_patterns(
            ".git", ".venv", "venv", "__pycache__", "*.egg-info", "build",
            ".ipynb_checkpoints", "screenshots"))
        return destination
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():  # tracked but deleted in the work tree: leave out
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


@pytest.fixture(scope="module")
def repo2docker(tmp_path_factory):
    """Dockerfile and log of repo2docker --no-build --debug, as BinderHub calls it."""
    home = tmp_path_factory.mktemp("repo2docker")
    env_dir = home / "venv"
    venv.create(env_dir, with_pip=True)
    install = subprocess.run([str(env_dir / "bin" / "python"), "-m", "pip", "install",
                              "--disable-pip-version-check", "-q", "jupyter-repo2docker"],
                             capture_output=True, text=True)
    if install.returncode:
        pytest.fail("pip install jupyter-repo2docker failed:\n" + install.stderr[-3000:])
    repo = clean_copy(home / "repo")
    # BinderHub builds as jovyan, uid 1000; root (this machine) is not allowed there
    cmd = [str(env_dir / "bin" / "repo2docker"), "--no-build", "--debug",
           "--user-id", "1000", "--user-name", "jovyan", str(repo)]
    run = subprocess.run(cmd, cwd=home, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"{shlex.join(cmd)} failed:\n{run.stderr}\n{run.stdout[-3000:]}"
    version = subprocess.run([str(env_dir / "bin" / "repo2docker"), "--version"],
                             capture_output=True, text=True).stdout.strip()
    site = subprocess.run([str(env_dir / "bin" / "python"), "-c",
                           "import repo2docker, os; print(os.path.dirname(repo2docker.__file__))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (home / "Dockerfile").write_text(run.stdout)
    (home / "repo2docker.log").write_text(run.stderr)
    print(f"\nrepo2docker {version}: Dockerfile in {home / 'Dockerfile'}, log:\n{run.stderr}")
    return {"dockerfile": run.stdout, "log": run.stderr, "package": Path(site),
            "version": version}


def unescape_build_file(name: str) -> str:
    """repo2docker's build_script_files/<escaped path>-<hash> back to the path."""
    name = re.sub(r"-[0-9a-f]{6}$", "", name)
    return re.sub(r"-([0-9a-f]{2})", lambda m: chr(int(m.group(1), 16)), name)


@pytest.mark.environment
def test_repo2docker_uses_python_3_11_from_runtime_txt(repo2docker):
    log, dockerfile = repo2docker["log"], repo2docker["dockerfile"]
    assert "Python version unspecified" not in log, log
    assert "Building conda environment for python=3.11" in log, log
    copies = dict(re.findall(r"^COPY --chown=\S+ build_script_files/(\S+) (\S+)$",
                             dockerfile, flags=re.M))
    lock = {dst: unescape_build_file(src) for src, dst in copies.items()}.get(
        "/tmp/env/environment.lock", "")
    assert lock.endswith("/repo2docker/buildpacks/conda/environment.py-3.11-linux-64.lock"), (
        f"repo2docker's base environment comes from {lock!r}, not the Python 3.11 lock")
    # a Python build: no conda environment.yml of the repository is used
    assert "environment.yml" not in dockerfile


@pytest.mark.environment
def test_repo2docker_installs_binder_requirements_after_copying_the_repository(repo2docker):
    lines = repo2docker["dockerfile"].splitlines()
    assert PIP_STEP in lines, "no pip install of binder/requirements.txt:\n" + "\n".join(
        line for line in lines if "pip" in line)
    assert COPY_REPO in lines, "the Dockerfile does not copy the repository"
    assert lines.index(COPY_REPO) < lines.index(PIP_STEP), (
        "pip install -r binder/requirements.txt runs before the repository is copied in: "
        "-c ../constraints.txt and -e . would not be there")
    assert lines.count(PIP_STEP) == 1
    # the pip step runs as the user, in the repository root (WORKDIR ${REPO_DIR})
    before = lines[:lines.index(PIP_STEP)]
    assert "WORKDIR ${REPO_DIR}" in before
    assert [line for line in before if line.startswith("USER ")][-1] == "USER ${NB_USER}"
    # what that step reads
    requirements = requirement_lines(BINDER / "requirements.txt")
    assert CPU_INDEX in requirements, f"binder/requirements.txt has no `{CPU_INDEX}`"
    assert CONSTRAINT in requirements, f"binder/requirements.txt has no `{CONSTRAINT}`"


@pytest.mark.environment
def test_repo2docker_runs_postbuild_last(repo2docker):
    lines = repo2docker["dockerfile"].splitlines()
    assert "RUN ./binder/postBuild" in lines, "postBuild is not run"
    assert lines.index(PIP_STEP) < lines.index("RUN ./binder/postBuild")
    assert [line for line in lines[:lines.index("RUN ./binder/postBuild")]
            if line.startswith("USER ")][-1] == "USER ${NB_USER}"


@pytest.mark.environment
def test_binder_env_sh_emulates_repo2dockers_base_environment(repo2docker):
    """scripts/binder_env.sh installs the lock's versions of the base packages."""
    lock = (repo2docker["package"] / "buildpacks" / "conda"
            / "environment.py-3.11-linux-64.lock").read_text()
    in_lock = {canonical(name): version for name, version in
               re.findall(r"/noarch/([A-Za-z0-9_.-]+?)-(\d[^-]*)-[^-/]+\.conda", lock)}
    script = (ROOT / "scripts" / "binder_env.sh").read_text()
    block = re.search(r"BASE_PACKAGES=\((.*?)\)", script, flags=re.S).group(1)
    emulated = {canonical(name): version
                for name, version in re.findall(r"([A-Za-z0-9_.-]+)==(\S+)", block)}
    conda_name = {"jupyterhub": "jupyterhub-base"}  # jupyterhub-singleuser's Python part
    assert emulated, "no BASE_PACKAGES in scripts/binder_env.sh"
    for name, version in emulated.items():
        assert in_lock.get(conda_name.get(name, name)) == version, (
            f"scripts/binder_env.sh installs {name}=={version}, repo2docker "
            f"{repo2docker['version']}'s lock has {in_lock.get(conda_name.get(name, name))}")
    for needed in ["jupyterlab", "notebook", "ipywidgets", "jupyter-server", "ipykernel"]:
        assert needed in emulated, f"scripts/binder_env.sh leaves out {needed}"
