"""ChatGLM2's tokenizer and prompt format, re-implemented without the release's remote code.

The release's tokenizer is a SentencePiece model plus five special tokens numbered right after
the SentencePiece vocabulary. Prompts are ``[gMASK] sop`` followed by the round format built by
the official ``build_prompt``; responses are decoded and post-processed as the official ``chat``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import sentencepiece

from .errors import ModelSetupError

# Order matters: the release numbers them n_words, n_words + 1, ... in this order.
SPECIAL_TOKENS = ("[MASK]", "[gMASK]", "[sMASK]", "sop", "eop")

History = Sequence[tuple[str, str]]


def build_prompt(query: str, history: History | None = None) -> str:
    """The official ``build_prompt``: numbered rounds, the last one open for the answer."""
    prompt = ""
    for index, (old_query, response) in enumerate(history or []):
        prompt += f"[Round {index + 1}]\n\n问：{old_query}\n\n答：{response}\n\n"
    prompt += f"[Round {len(history or []) + 1}]\n\n问：{query}\n\n答："
    return prompt


def process_response(response: str) -> str:
    """The official ``process_response`` of ChatGLM2's ``chat``."""
    response = response.strip()
    response = response.replace("[[训练时间]]", "2023年")
    return response


# Strings process_response rewrites; a stream must not emit a partial one (it would change later).
RESPONSE_REPLACEMENTS = ("[[训练时间]]",)


class ChatGLM2Tokenizer:
    """Encode prompts and decode responses exactly as the official ChatGLM2 tokenizer does."""

    def __init__(self, model_file: str | Path):
        model_file = Path(model_file)
        try:
            self._sp = sentencepiece.SentencePieceProcessor(model_file=str(model_file))
        except Exception as exc:  # sentencepiece raises bare OSError/RuntimeError on bad files
            raise ModelSetupError(
                f"The tokenizer file {model_file} could not be read ({exc}); copy tokenizer.model "
                "again from the ChatGLM2 release."
            ) from exc
        self.vocab_size_without_specials = self._sp.vocab_size()
        self.special_token_ids = {
            token: self.vocab_size_without_specials + offset
            for offset, token in enumerate(SPECIAL_TOKENS)
        }
        self.eos_id = self._sp.eos_id()
        self.bos_id = self._sp.bos_id()
        # The official tokenizer uses SentencePiece's unk id as its pad id.
        self.pad_id = self._sp.unk_id()
        self._ids_decoded_as_empty = {self.eos_id, self.bos_id, self.pad_id}

    @property
    def vocab_size(self) -> int:
        return self.vocab_size_without_specials + len(SPECIAL_TOKENS)

    def prefix_ids(self) -> list[int]:
        return [self.special_token_ids["[gMASK]"], self.special_token_ids["sop"]]

    def encode_text(self, text: str) -> list[int]:
        """SentencePiece ids of plain text, without the prompt prefix.

        Unlike the official tokenizer (through transformers' special-token splitting), a literal
        "</s>" or "<unk>" in the text stays text: document content must not end the prompt.
        """
        return self._sp.encode(text)

    def encode_prompt(self, prompt: str) -> list[int]:
        """Model input ids for a rendered prompt: [gMASK] sop + the text's ids."""
        return self.prefix_ids() + self.encode_text(prompt)

    def decode(self, ids: Sequence[int]) -> str:
        """Raw decode as the official tokenizer: special ids become empty pieces."""
        return self._sp.decode_pieces([self._piece(int(i)) for i in ids])

    def _piece(self, token_id: int) -> str:
        if (
            token_id in self._ids_decoded_as_empty
            or token_id < 0
            # Special tokens, and ids in the padded part of the embedding the vocabulary lacks
            # (the official code would raise there; an empty piece keeps a serving process up).
            or token_id >= self.vocab_size_without_specials
        ):
            return ""
        return self._sp.id_to_piece(token_id)
