"""Structure-aware chunker: the blocks of one file -> chunks that follow the document's structure.

Blocks arrive with their heading path (loaders/structure.py). A *section* is a run of
consecutive blocks with the same heading path on the same page: an article (第X条 and its
paragraphs), a table's rows under one heading, the paragraphs under one heading. Text under no
heading at all (a plain letter, a CSV) has no unit to keep: it is cut into sentence windows of
`sentences_per_chunk` sentences sharing `overlap`, within the budget, as before. Chunks of a
document with structure are packed from whole sections:

- each section is a chunk of its own (headings directly before it lead it); with `pack=True`,
  consecutive sections share a chunk while it stays within `chunk_chars` (the budget), but a
  heading still starts a new chunk, so a chunk never straddles two chapters;
- a section longer than the budget is packed from its whole blocks (paragraphs, table rows);
- only a block longer than the budget is cut into sentence windows: at most
  `sentences_per_chunk` sentences and `chunk_chars` characters, consecutive windows sharing
  `overlap` sentences; a sentence longer than `max_chars` is cut at a comma;
- a `row` block (a table row) is never cut, whatever its length; a chunk never spans pages.

A chunk's text is taken verbatim from its blocks (the original spacing between sentences kept;
blocks joined by a newline), so a cited passage can be found in the source. Its metadata
carries `heading`: the heading path its sections share ("" when the document has none).

Written by hand rather than with langchain-text-splitters: its splitters count characters or
tokens, and know nothing of headings, pages or atomic rows.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import groupby

from langchain_core.documents import Document

from .ocr import select_boxes
from .sentences import cut_long_span, sentence_spans
from .structure import SEPARATOR

# For the pieces of a block too long for the budget: 5 sentences with 1 of overlap gave the best
# recall at an equal context budget (bench/eval_chunking.py). No statute sentence is longer than
# 220 characters (99th percentile 109), so 300 only cuts text that lacks sentence ends.
DEFAULT_SENTENCES_PER_CHUNK = 5
DEFAULT_OVERLAP = 1
# Sentences per chunk a user may choose for a knowledge base (the overlap stays below it): the
# one range the settings, KnowledgeBase.set_chunking and the page's inputs read.
CHUNK_SENTENCES_RANGE = (1, 20)
DEFAULT_MAX_CHARS = 300
# The budget of a chunk: a unit (an article, a section) up to this size is kept whole, a longer
# one is cut into sentence windows. 500 keeps 99.4 % of the 3,365 statute articles of the dev
# set whole (median 86, 99th percentile 418 characters), and a passage stays short enough for
# the small answer models. Not packing neighbouring units (DEFAULT_PACK) was chosen by
# measurement: bench/eval_rag.py on the 24-law dev set (bench/results/eval_rag_structure.json):
# one article per chunk gave the best MRR@10 (hybrid 0.590 against 0.480 for the old 5-sentence
# windows) with passages half as long, and its heading path names the article; packing up to
# 500 characters scored 0.713 recall@5 against 0.683 but with passages 3x as long, a path that
# stops at the chapter, and worse ranking of short unrelated rules (tests/test_retrieval.py).
DEFAULT_CHUNK_CHARS = 500
DEFAULT_PACK = False

# Block metadata a chunk inherits (loaders/CONTRACT.md); absent keys stay absent.
INHERITED_KEYS = ("source", "sha256", "format", "page", "title")


@dataclass(frozen=True)
class Unit:
    """One indivisible piece of a chunk: block_text[start:end] of blocks[block]."""

    block: int
    start: int
    end: int
    kind: str  # "text" (a sentence or a piece of one), "heading" or "row"
    page: int | None

    @property
    def size(self) -> int:
        return self.end - self.start


class SentenceChunker:
    def __init__(
        self,
        sentences_per_chunk: int = DEFAULT_SENTENCES_PER_CHUNK,
        overlap: int = DEFAULT_OVERLAP,
        max_chars: int = DEFAULT_MAX_CHARS,
        chunk_chars: int = DEFAULT_CHUNK_CHARS,
        pack: bool = DEFAULT_PACK,
    ) -> None:
        if sentences_per_chunk < 1:
            raise ValueError(f"sentences_per_chunk must be >= 1, got {sentences_per_chunk}")
        if not 0 <= overlap < sentences_per_chunk:
            raise ValueError(
                f"overlap must be >= 0 and < sentences_per_chunk ({sentences_per_chunk}), got {overlap}"
            )
        if max_chars < 1:
            raise ValueError(f"max_chars must be >= 1, got {max_chars}")
        if chunk_chars < 1:
            raise ValueError(f"chunk_chars must be >= 1, got {chunk_chars}")
        self.sentences_per_chunk = sentences_per_chunk
        self.overlap = overlap
        self.max_chars = max_chars
        self.chunk_chars = chunk_chars
        self.pack = pack  # False: every section a chunk of its own (headings still lead it)

    def split(self, blocks: list[Document]) -> list[Document]:
        """Chunks of one file's blocks, in document order; [] when the blocks hold no text."""
        return [
            self._chunk_document(blocks, units, index)
            for index, units in enumerate(self.plan(blocks))
        ]

    def plan(self, blocks: list[Document]) -> list[list[Unit]]:
        """The units of each chunk (what `split` renders); exposed for tests and tools."""
        _check_one_file(blocks)
        units = self.units(blocks)
        windows: list[list[Unit]] = []
        current: list[Unit] = []

        def flush() -> None:
            if current:
                windows.append(list(current))
                current.clear()

        for section in _sections(blocks, units):
            if not blocks[section[0].block].metadata.get("heading"):
                # Text under no heading and no numbered unit has no structure to keep whole:
                # sentence windows, as the knowledge base's "sentences per chunk" asks.
                flush()
                windows.extend(self._sentence_windows(section, []))
                continue
            if current and (current[0].page != section[0].page
                            or (section[0].kind == "heading" and not _only_headings(current))):
                flush()
            elif current and not _only_headings(current) and (not self.pack or not self._fits(current, section)):
                flush()
            if self._fits(current, section):
                current.extend(section)
                continue
            # Too big for one chunk; headings waiting in `current` lead its first piece.
            windows.extend(self._pack_blocks(section, list(current)))
            current.clear()
        flush()
        return windows

    def units(self, blocks: list[Document]) -> list[Unit]:
        units: list[Unit] = []
        for index, block in enumerate(blocks):
            text = block.page_content
            page = block.metadata.get("page")
            kind = block.metadata.get("kind")
            if kind == "row":
                if text.strip():
                    units.append(Unit(index, 0, len(text), "row", page))
                continue
            unit_kind = "heading" if kind == "heading" else "text"
            for span in sentence_spans(text):
                for start, end in cut_long_span(text, span, self.max_chars):
                    units.append(Unit(index, start, end, unit_kind, page))
        return units

    # --- packing ---------------------------------------------------------------------------
    def _pack_blocks(self, section: list[Unit], lead: list[Unit]) -> list[list[Unit]]:
        """A section over the budget: whole blocks while they fit, sentence windows beyond."""
        pieces: list[list[Unit]] = []
        current = list(lead)
        for _, block_units in groupby(section, key=lambda u: u.block):
            block_units = list(block_units)
            if self._fits(current, block_units):
                current.extend(block_units)
                continue
            if current and not _only_headings(current):
                pieces.append(current)
                current = []
            if self._fits(current, block_units):
                current.extend(block_units)
                continue
            windows = self._sentence_windows(block_units, current)
            pieces.extend(windows)
            current = []
        if current:
            pieces.append(current)
        return pieces

    def _fits(self, current: list[Unit], more: list[Unit]) -> bool:
        return _size(current + more) <= self.chunk_chars

    def _sentence_windows(self, run: list[Unit], lead: list[Unit]) -> list[list[Unit]]:
        """Windows of at most N sentences and the budget; neighbours share `overlap` sentences
        (dropped when they would leave no room for a new one). A row is one unit, so it is never
        cut; a window always takes at least one new unit."""
        windows: list[list[Unit]] = []
        done = 0  # run[:done] is in a window already
        while done < len(run):
            begin = max(done - self.overlap, 0) if windows else 0
            window, end = self._fill(run, begin, [] if windows else lead)
            if end <= done:
                window, end = self._fill(run, done, [])
            windows.append(window)
            done = end
        return windows

    def _fill(self, run: list[Unit], begin: int, lead: list[Unit]) -> tuple[list[Unit], int]:
        window, end = list(lead), begin
        while end < len(run) and end - begin < self.sentences_per_chunk:
            if end > begin and _size(window + [run[end]]) > self.chunk_chars:
                break
            window.append(run[end])
            end += 1
        return window, end

    def _chunk_document(self, blocks: list[Document], units: list[Unit], index: int) -> Document:
        first_block = blocks[units[0].block]
        metadata = {key: first_block.metadata[key] for key in INHERITED_KEYS if key in first_block.metadata}
        metadata["heading"] = common_heading([blocks[u.block].metadata.get("heading", "") for u in units])
        metadata["chunk_index"] = index
        metadata["position"] = first_block.metadata.get("position", units[0].block)
        metadata.update(_ocr_metadata(blocks, units))
        return Document(page_content=render_units(blocks, units), metadata=metadata)


def _sections(blocks: list[Document], units: list[Unit]) -> list[list[Unit]]:
    """Runs of units whose blocks share heading path and page; a heading block starts a run."""
    sections: list[list[Unit]] = []
    key = None
    for unit in units:
        block = blocks[unit.block]
        this = (block.metadata.get("heading", ""), unit.page)
        new_heading = unit.kind == "heading" and (not sections or sections[-1][-1].block != unit.block)
        if sections and this == key and not new_heading:
            sections[-1].append(unit)
        else:
            sections.append([unit])
        key = this
    return sections


def _size(units: list[Unit]) -> int:
    """Characters of `render_units(units)`: the units, the text between two of one block, and a
    newline between blocks (units are consecutive, as everywhere here)."""
    total = 0
    for i, unit in enumerate(units):
        total += unit.size
        if i:
            previous = units[i - 1]
            total += unit.start - previous.end if unit.block == previous.block else 1
    return total


def _only_headings(units: list[Unit]) -> bool:
    return bool(units) and all(u.kind == "heading" for u in units)


def common_heading(paths: list[str]) -> str:
    """The heading path every one of `paths` lies under (levels joined by " › ")."""
    split = [p.split(SEPARATOR) if p else [] for p in paths]
    if not split:
        return ""
    common = split[0]
    for other in split[1:]:
        n = 0
        while n < min(len(common), len(other)) and common[n] == other[n]:
            n += 1
        common = common[:n]
    return SEPARATOR.join(common)


def with_heading(heading: str, text: str) -> str:
    """What is embedded and keyword-indexed for a chunk: its heading path, then its text."""
    return f"{heading}\n{text}" if heading else text


def _ocr_metadata(blocks: list[Document], units: list[Unit]) -> dict:
    """`ocr` when any of the chunk's text was read by OCR, and the boxes of the lines it covers
    (loaders/ocr.py; a chunk never spans two pages, so they are all on its page)."""
    ocr = [u for u in units if blocks[u.block].metadata.get("ocr")]
    if not ocr:
        return {}
    boxes: list = []
    for block_index, same_block in groupby(ocr, key=lambda unit: unit.block):
        same_block = list(same_block)
        block = blocks[block_index]
        if block.metadata.get("boxes"):
            found = select_boxes(block.metadata["boxes"], block.page_content,
                                 same_block[0].start, same_block[-1].end)
            boxes.extend(json.loads(found) if found else [])
    return {"ocr": True, **({"boxes": json.dumps(boxes, separators=(",", ":"))} if boxes else {})}


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
