"""PDF structure beyond the text: headings by font size and tables as row records.

pypdf reads the text (it copes with the CJK fonts and damaged files seen here). While it does,
its visitors report each text run's font size and font, and how many lines and rectangles the
page draws; both come at almost no cost. From them:

- headings: a short line set clearly larger than the document's body text (ratio to the most
  common font size: 1.5 -> level 1, 1.25 -> 2, 1.1 -> 3), or bold at body size (level 4). It
  must also stand out on its own page: the quarterly report sets a whole page in 14 pt over a
  9 pt document. The body size is known only after the last page, so pages are gathered first
  and turned into blocks in `finish`.
- tables: only a page that draws enough rules to hold one goes to pdfplumber (MIT), which finds
  the ruled cells. pdfminer parses a page several times slower than pypdf (the federal register:
  5.6 s for 15 pages against 0.8 s), so text-only pages never pay for it. Each row becomes a
  `row` block rendered with its header (`table_rows`), and the pypdf lines that are the table's
  cells are dropped from the prose, so a table is not read twice. The rows stand where the
  table's first line stood.
- running heads and feet: a line among the first or last few of its page that recurs there on
  many pages (the company and report name, "Federal Register / Vol. 85 …", page numbers),
  digits aside, is dropped. Left in, it becomes chunks of its own that match every question
  naming the company or the year and outrank the page that answers it. What it says is kept
  once, as the document's title heading: every passage's heading path then names the report and
  its period ("东北电气…2018 年第一季度报告全文 › 第二节 …"), for retrieval and for the claim check.
"""
from __future__ import annotations

import io
import logging
import math
import re
from dataclasses import dataclass, field

from ..blocks import HEADING, ROW, TEXT, RawBlock, ParseResult, normalise_text, render_row
from ..structure import numbered

logging.getLogger("pdfminer").setLevel(logging.ERROR)

_BOLD = re.compile(r"bold|black|heavy|semibold|demi|simhei|黑体", re.I)
_NUMBERISH = re.compile(r"^[\s\d.,，%％()（）+\-–—/:]*\d[\s\d.,，%％()（）+\-–—/:]*$")
_DATE = re.compile(r"^\d{4}\s*年(\s*\d{1,2}\s*月)?(\s*\d{1,2}\s*日)?$|^[A-Z][a-z]+ \d{1,2}, \d{4}$")
_HEADING_RATIOS = ((1.5, 1), (1.25, 2), (1.1, 3))  # font size / body size -> level
_BOLD_LEVEL = 4
_HEADING_MAX = 80  # characters: a longer line in a large font is a banner, not a heading
_TABLE_MIN_RULES = 8  # lines + rectangles a page must draw before tables are looked for


def squeeze(text: str) -> str:
    return "".join(normalise_text(text).split())


@dataclass
class _Line:
    key: str  # the line without spaces (normalised), to find it in pypdf's text
    size: float
    bold: bool


@dataclass
class _Page:
    number: int
    text: str
    lines: dict[str, _Line] = field(default_factory=dict)
    body: float = 0.0  # the page's most common font size
    tables: list["_Table"] = field(default_factory=list)


class PageLayout:
    """Gathers each page (`extract_text`, `add_page`), then makes the blocks (`finish`)."""

    def __init__(self, data: bytes):
        self.data = data
        self.sizes: dict[float, int] = {}  # font size -> characters, whole document
        self.pages: list[_Page] = []
        self._plumber = None
        self._plumber_failed = False
        self._runs: list[tuple[str, float, bool]] = []
        self._rules = 0

    # --- while reading -------------------------------------------------------------------
    def extract_text(self, page) -> str:
        """pypdf's text of the page, noting font sizes and rules on the way."""
        runs: list[tuple[str, float, bool]] = []
        rules = [0]

        def on_text(text, cm, tm, font, size):
            if text:
                scale = math.hypot(tm[2], tm[3]) * math.hypot(cm[2], cm[3]) or 1.0
                name = str((font or {}).get("/BaseFont", "")) if hasattr(font, "get") else ""
                runs.append((text, round(float(size or 0) * scale, 1), bool(_BOLD.search(name))))

        def on_operator(operator, *_):
            if operator in (b"re", b"l"):
                rules[0] += 1

        text = page.extract_text(visitor_text=on_text, visitor_operand_before=on_operator) or ""
        self._runs, self._rules = runs, rules[0]
        return text

    def add_page(self, text: str, number: int, page_index: int) -> None:
        """Keeps the page (its text as read by `extract_text` just before) for `finish`."""
        info = _Page(number, text)
        page_sizes: dict[float, int] = {}
        for line_text, size, bold, counts in _lines(self._runs):
            for s, n in counts.items():
                page_sizes[s] = page_sizes.get(s, 0) + n
                self.sizes[s] = self.sizes.get(s, 0) + n
            key = squeeze(line_text)
            if key and key not in info.lines:
                info.lines[key] = _Line(key, size, bold)
        info.body = max(page_sizes, key=page_sizes.get) if page_sizes else 0.0
        if self._rules >= _TABLE_MIN_RULES and text.strip():
            info.tables = self._tables(page_index)
        self.pages.append(info)
        self._runs, self._rules = [], 0

    def _tables(self, page_index: int) -> list["_Table"]:
        if self._plumber is None and not self._plumber_failed:
            try:
                import pdfplumber  # only PDFs with ruled tables pay for it
                self._plumber = pdfplumber.open(io.BytesIO(self.data))
            except Exception:  # pdfminer cannot read what pypdf can: the text stays as it is
                self._plumber_failed = True
        if self._plumber is None:
            return []
        page = None
        try:
            page = self._plumber.pages[page_index]
            tables = []
            for found in page.find_tables():
                cells = found.extract()
                if len(cells) >= 2 and max(len(row) for row in cells) >= 2:
                    tables.append(_Table(cells))
            return tables
        except Exception:  # one page pdfminer chokes on keeps its text, tables and all
            return []
        finally:
            if page is not None:
                try:
                    page.close()  # drops the page's parsed objects; pages are not revisited
                except Exception:
                    pass

    # --- at the end ----------------------------------------------------------------------
    def finish(self, result: ParseResult) -> None:
        """Adds the gathered pages' blocks, each page before what is already there for it
        (form values)."""
        from .pdf import reflow_lines  # pdf imports this module

        head = drop_running_lines(self.pages)
        body = max(self.sizes, key=self.sizes.get) if self.sizes else 0.0
        existing: dict[int | None, list[RawBlock]] = {}
        for block in result.blocks:
            existing.setdefault(block.page, []).append(block)
        blocks: list[RawBlock] = []
        for info in self.pages:
            blocks.extend(self._page_blocks(info, body, reflow_lines))
            blocks.extend(existing.pop(info.number, []))
        for rest in existing.values():
            blocks.extend(rest)
        if head and self.pages:
            blocks.insert(0, RawBlock(head, HEADING, self.pages[0].number, 0))
        result.blocks = blocks
        if self._plumber is not None:
            try:
                self._plumber.close()
            except Exception:
                pass

    def _page_blocks(self, info: _Page, body: float, reflow) -> list[RawBlock]:
        out: list[RawBlock] = []
        prose: list[str] = []
        emitted: set[int] = set()

        def flush() -> None:
            text = reflow("\n".join(prose))
            if text.strip():
                out.append(RawBlock(text, TEXT, info.number))
            prose.clear()

        for line in info.text.split("\n"):
            key = squeeze(line)
            table = next((i for i, t in enumerate(info.tables) if key and t.holds(key)), None)
            if table is not None:
                if table not in emitted:  # the rows go where the table's first line was
                    flush()
                    emitted.add(table)
                    out.extend(RawBlock(row, ROW, info.number) for row in info.tables[table].rows)
                continue
            level = _heading_level(line, info.lines.get(key), body, info.body)
            if level is None:
                prose.append(line)
                continue
            flush()
            previous = out[-1] if out else None
            if previous is not None and previous.kind == HEADING and previous.level == level \
                    and numbered(line) is None:
                previous.text = f"{previous.text} {line.strip()}"  # a heading set on two lines
            else:
                out.append(RawBlock(line.strip(), HEADING, info.number, level))
        flush()
        for i, table in enumerate(info.tables):  # tables pypdf did not give as text
            if i not in emitted:
                out.extend(RawBlock(row, ROW, info.number) for row in table.rows)
        return out


EDGE_LINES = 3  # lines at the top and at the bottom of a page where running heads and feet stand
RUNNING_SHARE = 0.4  # of the pages (at least RUNNING_MIN_PAGES) a line must recur on
RUNNING_MIN_PAGES = 3


def _running_key(line: str) -> str:
    """A line as compared across pages: no spaces, no digits (the page number, the date)."""
    return re.sub(r"\d+", "", squeeze(line))


def _edge_lines(text: str) -> list[int]:
    """Indexes of the first and last few non-empty lines of a page's text."""
    filled = [i for i, line in enumerate(text.split("\n")) if line.strip()]
    return sorted(set(filled[:EDGE_LINES] + filled[-EDGE_LINES:]))


def drop_running_lines(pages: list[_Page]) -> str:
    """Removes running heads and feet from each page's text (see the module docstring). Returns
    the running line that says the most (its page number cut off), "" when there is none."""
    if len(pages) < RUNNING_MIN_PAGES:
        return ""
    counts: dict[str, int] = {}
    for info in pages:
        lines = info.text.split("\n")
        for key in {_running_key(lines[i]) for i in _edge_lines(info.text)}:
            counts[key] = counts.get(key, 0) + 1
    need = max(RUNNING_MIN_PAGES, math.ceil(RUNNING_SHARE * len(pages)))
    running = {key for key, n in counts.items() if n >= need}
    if not running:
        return ""
    said: dict[str, str] = {}  # key -> its first line as written
    on_top: dict[str, int] = {}  # key -> pages where it is the first line: a head, not a foot
    for info in pages:
        lines = info.text.split("\n")
        edges = set(_edge_lines(info.text))
        for i in sorted(edges):
            key = _running_key(lines[i])
            if key in running:
                said.setdefault(key, " ".join(lines[i].split()))
                if i == min(edges):
                    on_top[key] = on_top.get(key, 0) + 1
        info.text = "\n".join(line for i, line in enumerate(lines)
                              if not (i in edges and _running_key(line) in running))
    # The one that says the most: letters, less twice its digits ("Federal Register / Vol. 85 …"
    # over the printer's "VerDate Sep<11>2014 16:21 … Frm 00001 Fmt 4702" and "- 3 -").
    # A head (first line of its pages) goes before a foot or a printer's stamp.
    key = max(said, key=lambda k: (on_top.get(k, 0) * 2 >= len(pages),
                                   sum(ch.isalpha() for ch in said[k]) - 2 * sum(ch.isdigit() for ch in said[k])),
              default="")
    head = re.sub(r"^\s*\d+\s+|\s*\d+\s*$", "", said.get(key, "")).strip()  # the page number
    return head if sum(ch.isalpha() for ch in head) >= 4 else ""


def _lines(runs: list[tuple[str, float, bool]]):
    """(text, font size, bold, characters per size) of each line the runs make up."""
    text: list[str] = []
    counts: dict[float, int] = {}
    bold_chars = 0

    def line():
        chars = sum(counts.values())
        size = max(counts, key=counts.get) if counts else 0.0
        return "".join(text), size, chars > 0 and bold_chars > chars / 2, dict(counts)

    for run, size, bold in runs:
        parts = run.split("\n")
        for i, part in enumerate(parts):
            if i:
                yield line()
                text.clear()
                counts.clear()
                bold_chars = 0
            visible = len("".join(part.split()))
            if visible:
                text.append(part)
                counts[size] = counts.get(size, 0) + visible
                bold_chars += visible if bold else 0
            elif part:
                text.append(part)
    yield line()


def _heading_level(line: str, seen: _Line | None, body: float, page_body: float) -> int | None:
    text = line.strip()
    if seen is None or not body or not 0 < len(text) <= _HEADING_MAX:
        return None
    if _NUMBERISH.match(text) or _DATE.match(text):
        return None
    if seen.size > max(page_body, body) * 1.05:  # larger than the body, here and overall
        return next((level for ratio, level in _HEADING_RATIOS if seen.size >= body * ratio), None)
    if seen.bold and abs(seen.size - body) < 0.5 and len(text) <= 40 \
            and not text.endswith(tuple("。；;，,：:.")):
        return _BOLD_LEVEL
    return None


class _Table:
    def __init__(self, cells: list[list[str | None]]):
        self.rows = table_rows(cells)
        flat = [squeeze(c) for row in cells for c in row if c]
        self.text = "".join(flat)
        self.cells = sorted({c for c in flat if len(c) > 1}, key=len, reverse=True)

    def holds(self, key: str) -> bool:
        """A pypdf line made of this table's cells (pypdf runs a row's cells into one line)."""
        if key in self.text:
            return True
        rest = key
        for cell in self.cells:
            if cell in rest:
                rest = rest.replace(cell, "")
        return len(rest) <= 0.2 * len(key)


def _cell(text: str | None) -> str:
    """A cell's wrapped lines joined back (no space inside Chinese)."""
    from .pdf import reflow_lines
    return reflow_lines(text).replace("\n", " ").strip() if text else ""


def _header_like(row: list[str]) -> bool:
    filled = [c for c in row if c]
    return len(filled) >= 2 and not any(_NUMBERISH.match(c) for c in filled[1:])


def table_rows(cells: list[list[str | None]]) -> list[str]:
    """Rows rendered to stand alone: 'header: value; ...', the row's own label first.

    A first row without figures is the header (a header cell spanning columns names each of
    them); a further row is part of the header when it has no figures either and leaves the
    label column empty or sits under spanning cells (up to three rows, joined per column). The
    header is given as a row of its own too. A table without such a row gives its rows as
    cells joined by '; '."""
    grid: list[list[str]] = []
    spans: list[list[bool]] = []  # True where pdfplumber gave None: covered by a merged cell
    for row in cells:
        grid.append([_cell(c) for c in row])
        spans.append([c is None for c in row])
    keep = [i for i, row in enumerate(grid) if any(row)]
    grid, spans = [grid[i] for i in keep], [spans[i] for i in keep]
    width = max((len(r) for r in grid), default=0)
    grid = [r + [""] * (width - len(r)) for r in grid]
    spans = [s + [False] * (width - len(s)) for s in spans]
    n_header = 1 if len(grid) > 1 and _header_like(grid[0]) else 0
    while n_header and n_header < min(3, len(grid) - 1) and _header_like(grid[n_header]) \
            and (not grid[n_header][0] or any(spans[n_header - 1])):
        n_header += 1
    parts: list[list[str]] = [[] for _ in range(width)]
    for r in range(n_header):
        last = ""
        for col in range(width):
            value = grid[r][col]
            if not value and spans[r][col]:
                value = last  # a header cell spanning this column
            last = value
            if value and value not in parts[col]:
                parts[col].append(value)
    header = [" ".join(p) for p in parts]
    out = []
    if n_header:
        out.append("; ".join(dict.fromkeys(h for h in header if h)))
    for row in grid[n_header:]:
        out.append(render_row(header, row))
    return [r for r in out if r]
