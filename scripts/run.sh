#!/usr/bin/env bash
# Starts DocChat on the embedded default model with the sample documents in data/.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False
# Keep the default knowledge base in step with data/ (new, changed and removed files).
.venv/bin/docchat ingest --sync data
if [ -f ui/app.py ]; then
  exec .venv/bin/streamlit run ui/app.py --server.address 127.0.0.1 --server.headless true
fi
echo "The web page is not built yet: starting the terminal chat instead (Ctrl-D to leave)."
exec .venv/bin/docchat chat
