#!/usr/bin/env bash
# Runs every test with the real parts, offline.
set -uo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False
# Tests get a fresh state folder, but share the model cache that setup assembled.
export DOCCHAT_MODELS_DIR=${DOCCHAT_MODELS_DIR:-$(.venv/bin/python -c "from docchat.settings import get_settings; print(get_settings().models_dir)")}
export DOCCHAT_HOME=${DOCCHAT_TEST_HOME:-$(mktemp -d /tmp/docchat-test-home.XXXXXX)}
.venv/bin/python -m pytest -q -rs "$@"
