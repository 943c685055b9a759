#!/usr/bin/env bash
# Starts DocChat on the embedded default model with the sample documents in data/.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False
# Keep the default knowledge base in step with data/ (new, changed and removed files).
.venv/bin/docchat ingest --sync data
# The sample FAQ list is ours, so it is trusted to answer word for word (other tables are not).
.venv/bin/docchat ingest --faq data/office_faq_zh.csv >/dev/null
if [ -f ui/app.py ]; then
  # Binds to DOCCHAT_SERVER_ADDRESS (127.0.0.1 unless set) whatever the working directory.
  exec .venv/bin/docchat serve
fi
echo "The web page is not built yet: starting the terminal chat instead (Ctrl-D to leave)."
exec .venv/bin/docchat chat
