#!/usr/bin/env bash
# Build a Colab-like virtual environment for scripts/run_notebooks_colab.py.
#
#   bash scripts/colab_env.sh VENV          (VENV under /tmp, e.g. /tmp/mfgd-colab)
#
# What Colab has, as far as the notebooks can tell:
#   - its own torch, matplotlib, numpy, pillow, tqdm, ipykernel and ipywidgets 7.7.1,
#     and NOT mfgd_helpers (the notebooks' first cell installs it with --no-deps);
#   - a kernel started as `python3 -m colab_kernel_launcher`, which imports
#     google.colab first, so "google.colab" in sys.modules is true in the kernel.
# Here: torch is the CPU build 2.13.0 (never an unpinned torch: that is a CUDA
# download of several GB); notebook<7 because ipywidgets 7's widgetsnbextension
# needs `notebook` and notebook 7 would bring JupyterLab (Colab has notebook 6.5).
# Python is this machine's python3 (3.11; Colab has 3.12).
#
# The stand-in google.colab (scripts/colab_standin/) is put on this venv's
# sys.path by a .pth file, and the kernel spec "mfgd-colab", in this venv only,
# starts the kernel with the stand-in colab_kernel_launcher. Nothing outside
# VENV changes. The package is built from a copy of the work tree (tracked and
# untracked-but-not-ignored files), so no build/ or *.egg-info lands in the
# repository; the wheel goes to VENV/mfgd-wheel/ for MFGD_INSTALL_SOURCE.
set -euo pipefail

if [[ $# -ne 1 || $1 == -* ]]; then
    echo "usage: bash scripts/colab_env.sh VENV   (a new folder, e.g. /tmp/mfgd-colab)" >&2
    exit 2
fi
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=$(realpath -m "$1")
MARKER="$VENV/.mfgd-colab-env"
STANDIN="$ROOT/scripts/colab_standin"
PYTHON=${PYTHON:-python3}
START=$SECONDS

step() { printf '[%3ds] %s\n' "$((SECONDS - START))" "$*"; }
fail() { echo "colab_env.sh: $*" >&2; exit 1; }

case "$VENV/" in
    "$ROOT"/*) fail "$VENV is inside the repository; put it outside (e.g. /tmp/mfgd-colab)." ;;
esac
[[ -d $STANDIN/google/colab ]] || fail "no stand-in at $STANDIN/google/colab."
if [[ -e $VENV ]]; then
    [[ -f $MARKER ]] || fail "$VENV exists and was not made by this script; pick a new folder."
    step "removing the previous Colab-like venv $VENV"
    rm -rf "$VENV"
fi

step "creating $VENV with $($PYTHON --version)"
"$PYTHON" -m venv "$VENV"
touch "$MARKER"
PY="$VENV/bin/python"
# pip, without this machine's notes on index folders it does not have
pip() {
    "$PY" -m pip --disable-pip-version-check "$@" \
        2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
}

step "installing Colab's packages (torch 2.13.0 CPU, ipywidgets 7.7.1, ...)"
pip install -q torch==2.13.0 ipywidgets==7.7.1 'notebook<7' \
    matplotlib numpy pillow tqdm ipykernel nbclient nbformat
if "$PY" -c 'import importlib.util as u, sys; sys.exit(u.find_spec("jupyterlab") is None)'; then
    fail "jupyterlab got installed; Colab has none (check the notebook<7 pin)."
fi

step "putting the stand-in google.colab on the venv's path and writing the kernel spec"
SITE=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$STANDIN" > "$SITE/mfgd_colab_standin.pth"
KERNEL="$VENV/share/jupyter/kernels/mfgd-colab"
mkdir -p "$KERNEL"
cat > "$KERNEL/kernel.json" <<EOF
{
  "argv": ["$PY", "-m", "colab_kernel_launcher", "-f", "{connection_file}"],
  "display_name": "Python 3 (Colab-like, stand-in google.colab)",
  "language": "python",
  "metadata": {"debugger": false}
}
EOF
"$PY" -I - <<'EOF'  # -I: not from the cwd, which may be the repository
import importlib.util, sys
import google.colab
assert google.colab.STANDIN, "google.colab is not the stand-in"
assert "colab_kernel_launcher" not in sys.modules
assert importlib.util.find_spec("mfgd_helpers") is None, "mfgd_helpers is installed already"
EOF

step "building the mfgd-helpers wheel from a copy of the work tree"
BUILD=$(mktemp -d /tmp/mfgd-colab-build.XXXXXX)
trap 'rm -rf "$BUILD"' EXIT
git -C "$ROOT" ls-files -z --cached --others --exclude-standard \
    | tar -C "$ROOT" --null -T - --ignore-failed-read -cf - 2>/dev/null \
    | tar -C "$BUILD" -xf -
pip wheel -q --no-deps "$BUILD" -w "$VENV/mfgd-wheel"
WHEEL=$(ls "$VENV"/mfgd-wheel/mfgd_helpers-*.whl)

step "done: $VENV"
echo "  kernel spec  mfgd-colab ($KERNEL)"
echo "  wheel        $WHEEL"
echo "  run          $PY scripts/run_notebooks_colab.py"
