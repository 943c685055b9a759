"""Sentence-based chunker: the blocks of one file -> chunks of N units with K units of overlap.

A *unit* is one sentence of a `text` block (a too-long sentence becomes several units of at
most `max_chars`), or one whole `row` block (a table row is never split or cut, whatever its
length). Units are grouped per page: a chunk never spans two pages, and consecutive chunks of
the same page share exactly K units. A chunk's text is taken verbatim from its blocks (the
original spacing between sentences kept; blocks joined by a newline), so a cited passage can
be found in the source.

Written by hand rather than with langchain-text-splitters: its splitters count characters or
tokens, not sentences, and know nothing of pages or atomic rows.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

from langchain_core.documents import Document

from .sentences import cut_long_span, sentence_spans

# Chosen by measurement (bench/eval_chunking.py on ../shared/eval, bench/results/): 5 sentences
# with 1 of overlap gave the best recall at an equal context budget (1500 characters) for both
# models, and a recall@5 within a question of the best. No statute sentence is longer than
# 220 characters (99th percentile 109), so 300 only cuts text that lacks sentence ends.
DEFAULT_SENTENCES_PER_CHUNK = 5
DEFAULT_OVERLAP = 1
DEFAULT_MAX_CHARS = 300

# Block metadata a chunk inherits (loaders/CONTRACT.md); absent keys stay absent.
INHERITED_KEYS = ("source", "sha256", "format", "page", "title")


@dataclass(frozen=True)
class Unit:
    """One indivisible piece of a chunk: block_text[start:end] of blocks[block]."""

    block: int
    start: int
    end: int
    kind: str  # "text" (a sentence or a piece of one) or "row"
    page: int | None


class SentenceChunker:
    def __init__(
        self,
        sentences_per_chunk: int = DEFAULT_SENTENCES_PER_CHUNK,
        overlap: int = DEFAULT_OVERLAP,
        max_chars: int = DEFAULT_MAX_CHARS,
    ) -> None:
        if sentences_per_chunk < 1:
            raise ValueError(f"sentences_per_chunk must be >= 1, got {sentences_per_chunk}")
        if not 0 <= overlap < sentences_per_chunk:
            raise ValueError(
                f"overlap must be >= 0 and < sentences_per_chunk ({sentences_per_chunk}), got {overlap}"
            )
        if max_chars < 1:
            raise ValueError(f"max_chars must be >= 1, got {max_chars}")
        self.sentences_per_chunk = sentences_per_chunk
        self.overlap = overlap
        self.max_chars = max_chars

    def split(self, blocks: list[Document]) -> list[Document]:
        """Chunks of one file's blocks, in document order; [] when the blocks hold no text."""
        return [
            self._chunk_document(blocks, units, index)
            for index, units in enumerate(self.plan(blocks))
        ]

    def plan(self, blocks: list[Document]) -> list[list[Unit]]:
        """The units of each chunk (what `split` renders); exposed for tests and tools."""
        _check_one_file(blocks)
        windows: list[list[Unit]] = []
        units = self.units(blocks)
        # Consecutive units of the same page form a run; windows never cross runs.
        for _, run in groupby(units, key=lambda unit: unit.page):
            windows.extend(self._windows(list(run)))
        return windows

    def units(self, blocks: list[Document]) -> list[Unit]:
        units: list[Unit] = []
        for index, block in enumerate(blocks):
            text = block.page_content
            page = block.metadata.get("page")
            if block.metadata.get("kind") == "row":
                if text.strip():
                    units.append(Unit(index, 0, len(text), "row", page))
                continue
            for span in sentence_spans(text):
                for start, end in cut_long_span(text, span, self.max_chars):
                    units.append(Unit(index, start, end, "text", page))
        return units

    def _windows(self, run: list[Unit]) -> list[list[Unit]]:
        size, step = self.sentences_per_chunk, self.sentences_per_chunk - self.overlap
        windows, start = [], 0
        while True:
            windows.append(run[start : start + size])
            if start + size >= len(run):
                return windows
            start += step

    def _chunk_document(self, blocks: list[Document], units: list[Unit], index: int) -> Document:
        first_block = blocks[units[0].block]
        metadata = {key: first_block.metadata[key] for key in INHERITED_KEYS if key in first_block.metadata}
        metadata["chunk_index"] = index
        metadata["position"] = first_block.metadata.get("position", units[0].block)
        return Document(page_content=render_units(blocks, units), metadata=metadata)


def render_units(blocks: list[Document], units: list[Unit]) -> str:
    """Verbatim text of consecutive units: one slice per block, blocks joined by a newline."""
    parts = []
    for block_index, same_block in groupby(units, key=lambda unit: unit.block):
        same_block = list(same_block)
        text = blocks[block_index].page_content
        parts.append(text[same_block[0].start : same_block[-1].end])
    return "\n".join(parts)


def _check_one_file(blocks: list[Document]) -> None:
    # Chunk indices and ids are per file; mixing files would give two chunks one id.
    hashes = {block.metadata.get("sha256") for block in blocks}
    if len(hashes) > 1:
        raise ValueError("SentenceChunker.split takes the blocks of one file; got several sha256 values")
