#!/usr/bin/env bash
# Install the classroom hub of docs/classroom.md into a virtual environment:
#
#     bash scripts/classroom/setup.sh VENV      (outside the repository, e.g. /tmp/mfgd-classroom)
#
# 1. python3 -m venv VENV;
# 2. the series' pinned stack, as `make` installs it (-c constraints.txt
#    -e ".[lab]", torch==2.13.0, the CPU build), so every student's server and
#    kernel run what `make test` tests, plus scripts/classroom/requirements.txt
#    (JupyterHub, the idle culler, nbgitpuller, the load test's clients);
# 3. configurable-http-proxy from npm into VENV/node, linked into VENV/bin;
# 4. binder/postBuild with VENV first on PATH: the Jupyter settings of a
#    Binder session, in VENV, for every student's server (closing a tab stops
#    its kernel; a kernel idle for 20 minutes is stopped);
# 5. pip check, and the versions that matter.
#
# A second run with the same pins only checks that VENV is still whole (a few
# seconds): VENV/.mfgd-classroom holds a hash of every input. The load test:
#     VENV/bin/python scripts/classroom/classroom_check.py --students 10
set -euo pipefail

if [[ $# -ne 1 || "$1" == -* ]]; then
  echo "usage: bash scripts/classroom/setup.sh VENV   (a folder outside the repository, e.g. /tmp/mfgd-classroom)" >&2
  exit 2
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/scripts/classroom"
VENV="$(realpath -m "$1")"
PYTHON="${PYTHON:-python3}"
CHP_VERSION=5.3.0
MARKER="$VENV/.mfgd-classroom"
START=$SECONDS

step() { printf '[%3ds] %s\n' "$((SECONDS - START))" "$*"; }
fail() { echo "setup.sh: $*" >&2; exit 1; }
# pip, without this machine's notes on index folders it does not have
pip_install() {
  "$VENV/bin/python" -m pip install --disable-pip-version-check "$@" 2>&1 \
    | sed "/^WARNING: Location 'file:.*' is ignored: it is neither a file nor a directory\.\$/d"
}

case "$VENV/" in
  "$ROOT"/*) fail "$VENV is inside the repository; put it outside (e.g. /tmp/mfgd-classroom)." ;;
esac
command -v npm >/dev/null \
  || fail "npm is not installed; configurable-http-proxy needs Node.js and npm (apt-get install -y npm)."
command -v git >/dev/null || fail "git is not installed; nbgitpuller needs it (apt-get install -y git)."

# Every input of the installation; the same hash means nothing to do.
stamp="$(cat "$ROOT/constraints.txt" "$ROOT/pyproject.toml" "$HERE/requirements.txt" "$HERE/setup.sh" \
  "$ROOT/binder/postBuild" "$ROOT/binder/jupyter_server_config.json" "$ROOT/binder/overrides.json" \
  | { cat; echo "configurable-http-proxy@$CHP_VERSION $("$PYTHON" --version 2>&1)"; } | sha256sum | cut -d' ' -f1)"
if [[ -f "$MARKER" && "$(cat "$MARKER")" == "$stamp" ]] \
   && "$VENV/bin/python" -c "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) is None for m in
       ['jupyterhub', 'nbgitpuller', 'nativeauthenticator', 'systemdspawner', 'mfgd_helpers', 'torch']))" \
   && "$VENV/bin/configurable-http-proxy" --version >/dev/null 2>&1; then
  step "$VENV is up to date (same pins); nothing to install"
  exit 0
fi

if [[ -e "$VENV" ]]; then
  [[ -f "$MARKER" ]] || fail "$VENV exists and was not made by this script; pick a new folder."
  step "removing the previous classroom venv $VENV"
  rm -rf "$VENV"
fi

step "creating $VENV with $("$PYTHON" --version 2>&1)"
"$PYTHON" -m venv "$VENV"
echo "incomplete" > "$MARKER"

step "installing the series' pinned stack and scripts/classroom/requirements.txt"
cd "$ROOT"
pip_install -q -c constraints.txt -e ".[lab]" torch==2.13.0 -r "$HERE/requirements.txt"

step "installing configurable-http-proxy@$CHP_VERSION from npm into $VENV/node"
npm install --silent --no-audit --no-fund --prefix "$VENV/node" "configurable-http-proxy@$CHP_VERSION"
ln -sf "$VENV/node/node_modules/.bin/configurable-http-proxy" "$VENV/bin/configurable-http-proxy"

step "binder/postBuild: the session settings of Binder, for every student's server"
PATH="$VENV/bin:$PATH" bash binder/postBuild

step "pip check"
"$VENV/bin/python" -m pip check

step "versions in $VENV"
"$VENV/bin/python" - <<'EOF'
from importlib.metadata import version
for name in ["jupyterhub", "jupyterhub-idle-culler", "nbgitpuller", "jupyterhub-nativeauthenticator",
             "jupyterhub-systemdspawner", "jupyter_server",
             "jupyterlab", "ipykernel", "torch", "mfgd-helpers"]:
    print(f"    {name:32} {version(name)}")
EOF
printf '    %-32s %s (node %s)\n' configurable-http-proxy \
  "$("$VENV/bin/configurable-http-proxy" --version)" "$(node --version)"

echo "$stamp" > "$MARKER"
step "classroom venv ready: $VENV"
