#!/usr/bin/env bash
# Build, on this machine, the closest emulation of the image Binder
# (repo2docker) builds from binder/, in a fresh virtual environment:
#
#     bash scripts/binder_env.sh VENV
#
# 1. python3 -m venv VENV (removed first if it is already a venv);
# 2. repo2docker's base environment for Python 3.11, as pip packages at the
#    versions of its lock file repo2docker/buildpacks/conda/
#    environment.py-3.11-linux-64.lock (nodejs is conda-only and left out;
#    jupyterhub-singleuser is the pip package jupyterhub);
# 3. from the repository root, the command repo2docker runs:
#        pip install --no-cache-dir -r "binder/requirements.txt"
#    on a temporary copy of binder/requirements.txt that lacks only the
#    `--extra-index-url https://download.pytorch.org/whl/cpu` line, which
#    this machine cannot reach (here torch==2.13.0 is a local CPU wheel).
#    The copy sits in a temporary binder/ folder next to a link to
#    constraints.txt, so its `-c ../constraints.txt` is read as on Binder;
# 4. binder/postBuild, from the repository root, with VENV/bin first on PATH,
#    then which culler settings a Jupyter server of VENV really loads;
# 5. pip check, then the versions that matter. Exits 1 unless pip check is clean.
#
# Then run the Binder session in it:
#     VENV/bin/python -m pytest -m environment -p no:cacheprovider tests/test_binder_session.py -s
set -euo pipefail

if [[ $# -ne 1 || "$1" == -* ]]; then
  echo "usage: bash scripts/binder_env.sh VENV   (for example /tmp/binder-venv)" >&2
  exit 2
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="$1"
CPU_INDEX_LINE="--extra-index-url https://download.pytorch.org/whl/cpu"

# repo2docker's Python 3.11 base environment (environment.py-3.11-linux-64.lock).
# tests/test_repo2docker.py checks these against the lock repo2docker ships.
BASE_PACKAGES=(
  jupyterlab==4.4.9
  notebook==7.4.7
  ipywidgets==8.1.7
  jupyter_server==2.17.0
  ipykernel==7.0.1
  jupyter-resource-usage==1.2.0
  jupyterhub==5.4.0
  jupyter-offlinenotebook==0.3.2
)

say() { printf '\n== %s\n' "$*"; }
# pip as repo2docker runs it, without this machine's notes on index folders it lacks
pip_install() {
  "$VENV/bin/pip" install --no-cache-dir --disable-pip-version-check "$@" 2>&1 \
    | sed "/^WARNING: Location 'file:.*' is ignored: it is neither a file nor a directory\.\$/d"
}
fail() { printf 'binder_env.sh: %s\n' "$*" >&2; exit 1; }

declare -a STEP_NAMES=() STEP_SECONDS=()
step_start=0
begin() { say "$1"; STEP_NAMES+=("$1"); step_start=$SECONDS; }
end() { STEP_SECONDS+=($((SECONDS - step_start))); }

cd "$ROOT"
[[ -f binder/requirements.txt && -f binder/postBuild && -f constraints.txt ]] \
  || fail "run from a checkout of mfgd: binder/requirements.txt, binder/postBuild or constraints.txt is missing in $ROOT"

want_python="$(sed -n 's/^python-\([0-9.]*\).*/\1/p' binder/runtime.txt)"
have_python="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
  || fail "cannot run $PYTHON; set PYTHON to a Python $want_python interpreter"
[[ "$have_python" == "$want_python" ]] \
  || fail "binder/runtime.txt asks for Python $want_python, but $PYTHON is $have_python; set PYTHON=python$want_python"

grep -qxF -- "$CPU_INDEX_LINE" binder/requirements.txt \
  || fail "binder/requirements.txt has no line '$CPU_INDEX_LINE': on Binder torch would come from PyPI as a CUDA build of several GB"

if [[ -e "$VENV" ]]; then
  [[ -f "$VENV/pyvenv.cfg" ]] || fail "$VENV exists and is not a virtual environment; not removing it"
  [[ "$(cd "$VENV" && pwd)" != "$ROOT/.venv" ]] || fail "refusing to replace the project's pinned .venv; pick another folder"
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
total_start=$SECONDS

begin "fresh venv $VENV with $PYTHON ($have_python)"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
VENV="$(cd "$VENV" && pwd)"
"$VENV/bin/python" -m pip --version
end

begin "repo2docker's base environment: ${BASE_PACKAGES[*]}"
pip_install -q "${BASE_PACKAGES[@]}"
end

begin "pip install --no-cache-dir -r binder/requirements.txt (from $ROOT, without the CPU index line)"
mkdir "$tmp/binder"
ln -s "$ROOT/constraints.txt" "$tmp/constraints.txt"
grep -vxF -- "$CPU_INDEX_LINE" binder/requirements.txt > "$tmp/binder/requirements.txt"
echo "requirements as installed:"
grep -v '^#' "$tmp/binder/requirements.txt" | sed 's/^/    /'
pip_install -r "$tmp/binder/requirements.txt"
end

begin "binder/postBuild (VENV/bin first on PATH)"
PATH="$VENV/bin:$PATH" bash binder/postBuild
prefix="$("$VENV/bin/python" -c 'import sys; print(sys.prefix)')"
overrides="$prefix/share/jupyter/lab/settings/overrides.json"
[[ -f "$overrides" ]] || fail "postBuild did not install $overrides"
echo "installed $overrides"
# Which settings a Jupyter server of VENV loads, with no user config.
mkdir "$tmp/jupyter"
loaded="$(JUPYTER_CONFIG_DIR="$tmp/jupyter/config" JUPYTER_DATA_DIR="$tmp/jupyter/data" \
  JUPYTER_RUNTIME_DIR="$tmp/jupyter/runtime" JUPYTER_PLATFORM_DIRS=1 \
  "$VENV/bin/jupyter" server --show-config-json 2>/dev/null)" \
  || fail "$VENV/bin/jupyter server --show-config-json failed"
culler="$(printf '%s' "$loaded" | "$VENV/bin/python" -c '
import json, sys
mkm = json.load(sys.stdin).get("MappingKernelManager", {})
print(" ".join(f"{k}={mkm[k]}" for k in sorted(mkm)) or "none")')"
if [[ "$culler" == none ]]; then
  culler_state="NOT loaded: a Jupyter server of this environment starts no idle culler"
  echo "WARNING: the server settings binder/postBuild installed are not loaded by Jupyter Server" >&2
  echo "         (from jupyter_server_config.d/ it reads only ServerApp.jpserver_extensions;" >&2
  echo "         they belong in \$prefix/etc/jupyter/jupyter_server_config.json)" >&2
else
  culler_state="loaded: MappingKernelManager $culler"
fi
echo "culler settings: $culler_state"
end

begin "pip check"
if "$VENV/bin/pip" check; then pip_check="clean"; else pip_check="NOT clean (see above)"; fi
end

say "versions in $VENV"
"$VENV/bin/python" - <<'EOF'
from importlib.metadata import version
import torch
print(f"{'torch':24} {torch.__version__}")
for name in ["jupyterlab", "notebook", "ipywidgets", "voila", "jupyter_server", "ipykernel",
             "jupyter-resource-usage", "jupyterhub", "jupyter-offlinenotebook"]:
    print(f"{name:24} {version(name)}")
EOF

say "times"
for i in "${!STEP_NAMES[@]}"; do
  printf '%5d s  %s\n' "${STEP_SECONDS[$i]}" "${STEP_NAMES[$i]}"
done
printf '%5d s  total\n' $((SECONDS - total_start))
echo "pip check: $pip_check"
echo "culler settings: $culler_state"
[[ "$pip_check" == clean ]] || exit 1
echo "Binder environment ready: $VENV"
echo "next: $VENV/bin/python -m pytest -m environment -p no:cacheprovider tests/test_binder_session.py -s"
