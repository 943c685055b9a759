"""The token estimate for models without a tokenizer here (OpenAI-compatible servers).

Each LLM wrapper answers ``count_tokens(text)`` and ``context_window`` itself; this estimate is
what the ones without a local tokenizer count with. Not LangChain's ``get_num_tokens`` default:
it loads GPT-2's tokenizer from the Hugging Face hub, which this offline app cannot reach (and it
miscounts Chinese).
"""
from __future__ import annotations

import math
import re

# When a server does not say how long its context is.
DEFAULT_CONTEXT_WINDOW = 4096

# CJK ideographs, kana, CJK and full-width punctuation: about one token each.
_CJK = re.compile(r"[\u3000-\u9fff\uf900-\ufaff\uff00-\uffef]")


def estimate_tokens(text: str) -> int:
    """About one token per CJK character and one per four other characters (what Qwen/ChatGLM
    tokenizers give on this app's Chinese and English text, rounded up)."""
    cjk = len(_CJK.findall(text))
    return cjk + math.ceil((len(text) - cjk) / 4)
