"""Previews of a cited passage: a PDF page rendered with the passage highlighted, or the passage
within its neighbouring text. No Streamlit here (the page draws what these functions return).

    render_pdf_page(path, page_number, passage, scale, ocr_boxes) -> PagePreview(png, boxes)
    passage_in_context(texts, index, around) -> [(text, is_passage), ...]

Locating a passage on a page: the loader's text (pypdf, lines reflowed, tables written as
"column: value; ..." rows) and the page's own characters (pdfium, in the same coordinates as the
rendered image) agree only on their visible characters. Both are reduced to those, NFKC-folded
(CJK fonts often map to compatibility forms such as Kangxi radicals), and the passage is looked
for verbatim; when that fails (a table row, a hyphen joined, a passage running onto the next
page), the page's stretch that shares the most with it is taken instead. The matched characters'
boxes are merged into one rectangle per line. OCR'd pages have no characters: their chunks carry
the boxes of their lines (`ocr_boxes`, fractions of the page), which are drawn as given.
"""
from __future__ import annotations

import ctypes
import difflib
import io
import json
import unicodedata
from pathlib import Path
from typing import NamedTuple

HIGHLIGHT_FILL = (255, 214, 0, 96)  # semi-transparent yellow: the text under it stays legible
HIGHLIGHT_EDGE = (235, 140, 0, 200)
# Below this share of its visible characters found on the page, a passage counts as not found
# (a highlight in the wrong place is worse than none).
MIN_FOUND_SHARE = 0.3
# Shared runs shorter than this are chance ("的规定", "the") unless the passage itself is short.
MIN_RUN = 3
# The largest page image drawn (about A4 at 300 dpi); bigger pages are drawn smaller.
MAX_PIXELS = 9_000_000
# A shared run this long is the passage wherever it stands on the page.
LONG_RUN = 8


class PagePreview(NamedTuple):
    png: bytes
    boxes: list[tuple[int, int, int, int]]  # highlighted rectangles in the image's pixels; [] = not found


def render_pdf_page(path: str | Path, page_number: int, passage: str = "", scale: float = 1.5,
                    ocr_boxes: str | None = None) -> PagePreview:
    """Page `page_number` (1-based) of the PDF as PNG, `passage` highlighted where it is found.
    Raises FileNotFoundError for a missing file, ValueError for a page the PDF does not have."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(str(path))
    doc = pdfium.PdfDocument(str(path))
    try:
        if not 1 <= page_number <= len(doc):
            raise ValueError(f"page {page_number} of {len(doc)}")
        page = doc[page_number - 1]
        width_pt, height_pt = page.get_size()
        # A hostile (or poster-sized) page must not become a gigabyte bitmap.
        scale = min(scale, (MAX_PIXELS / max(width_pt * height_pt, 1.0)) ** 0.5)
        image = page.render(scale=scale).to_pil().convert("RGB")
        width, height = image.size
        boxes = _ocr_rects(ocr_boxes, width, height) if ocr_boxes else []
        if not boxes and passage.strip():
            textpage = page.get_textpage()
            chars = _page_chars(raw, page, textpage, width, height)
            keys = "".join(key for key, _ in chars)
            boxes = _line_rects([chars[i][1] for i in find_passage(keys, passage)])
            textpage.close()
        page.close()
    finally:
        doc.close()
    if boxes:
        image = _highlight(image, boxes)
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=3)  # level 3: a third of the default's time, 10% bigger
    return PagePreview(out.getvalue(), boxes)


def squeeze(text: str) -> str:
    """The visible characters of `text`, NFKC-folded and lower-cased: what matching compares."""
    return "".join(_fold(ch) for ch in text)


def _fold(ch: str) -> str:
    folded = unicodedata.normalize("NFKC", ch).lower()
    return "".join(c for c in folded if not c.isspace() and unicodedata.category(c)[0] not in "CZ")


def find_passage(page_keys: str, passage: str) -> list[int]:
    """Indices into `page_keys` (one folded visible character per entry, as `squeeze` makes
    them) of the characters that are `passage`: its verbatim place, else the stretch of the page
    sharing the most with it; [] when too little of it is on the page."""
    want = squeeze(passage)
    if not want or not page_keys:
        return []
    at = page_keys.find(want)
    if at >= 0:
        return list(range(at, at + len(want)))
    min_run = min(MIN_RUN, len(want))
    matcher = difflib.SequenceMatcher(None, page_keys, want, autojunk=False)
    blocks = [b for b in matcher.get_matching_blocks() if b.size >= min_run]
    runs = [(a, size) for a, _b, size in blocks]
    # The densest stretch about as long as the passage: short chance runs elsewhere go.
    window = int(len(want) * 1.5) + 20
    best_runs: list[tuple[int, int]] = []
    for i, (start, _) in enumerate(runs):
        inside = [r for r in runs[i:] if r[0] + r[1] <= start + window]
        if sum(s for _, s in inside) > sum(s for _, s in best_runs):
            best_runs = inside
    # Long runs are no chance wherever they are: the loader may have put a table before the
    # heading above it, so the passage's parts can come in another order than the page's.
    kept = set(best_runs) | {r for r in runs if r[1] >= LONG_RUN}
    covered = [False] * len(want)
    for a, b, size in blocks:
        if (a, size) in kept:
            covered[b:b + size] = [True] * size
    for piece_at, piece in _uncovered(want, covered):
        at = page_keys.find(piece)  # out of order for the matcher, which keeps both orders
        if at >= 0:
            kept.add((at, len(piece)))
    found = sorted({i for start, size in kept for i in range(start, start + size)})
    return found if len(found) >= max(min_run, MIN_FOUND_SHARE * len(want)) else []


def _uncovered(want: str, covered: list[bool]) -> list[tuple[int, str]]:
    """Stretches of the passage no kept run covers, at least LONG_RUN characters long."""
    out, start = [], None
    for i, done in enumerate([*covered, True]):
        if not done and start is None:
            start = i
        elif done and start is not None:
            if i - start >= LONG_RUN:
                out.append((start, want[start:i]))
            start = None
    return out


def _page_chars(raw, page, textpage, width: int, height: int) -> list[tuple[str, tuple[float, float, float, float]]]:
    """(folded character, pixel box) for each visible character of the page, in pdfium's order.
    A character that folds to several (a ligature) repeats its box."""
    out = []
    rect = raw.FS_RECTF()
    dx, dy = ctypes.c_int(), ctypes.c_int()

    def to_pixel(x: float, y: float) -> tuple[int, int]:
        # pdfium's own page-to-image mapping: crop box and /Rotate as the render applied them.
        raw.FPDF_PageToDevice(page, 0, 0, width, height, 0, x, y, dx, dy)
        return dx.value, dy.value

    for i in range(textpage.count_chars()):
        code = raw.FPDFText_GetUnicode(textpage, i)
        if not code or 0xD800 <= code <= 0xDFFF:
            continue
        key = _fold(chr(code))
        if not key or not raw.FPDFText_GetLooseCharBox(textpage, i, rect):
            continue
        (x0, y0), (x1, y1) = to_pixel(rect.left, rect.top), to_pixel(rect.right, rect.bottom)
        box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        out.extend((k, box) for k in key)
    return out


def _line_rects(boxes: list[tuple[float, float, float, float]]) -> list[tuple[int, int, int, int]]:
    """Character boxes (in reading order) merged into one rectangle per line: a character joins
    the current line when its middle lies within the line's height and it is not far to the
    right of it (a gap of more than three character heights is another column or table cell
    block, which gets its own rectangle)."""
    lines: list[list[float]] = []
    for x0, y0, x1, y1 in boxes:
        mid = (y0 + y1) / 2
        for line in reversed(lines[-3:]):  # the line just left, or one a table row came back to
            lx0, ly0, lx1, ly1 = line
            height = max(ly1 - ly0, y1 - y0, 1)
            if ly0 <= mid <= ly1 and x0 <= lx1 + 3 * height and x1 >= lx0 - 3 * height:
                line[:] = [min(lx0, x0), min(ly0, y0), max(lx1, x1), max(ly1, y1)]
                break
        else:
            lines.append([x0, y0, x1, y1])
    return [(int(a) - 2, int(b) - 1, int(c) + 2, int(d) + 1) for a, b, c, d in lines]


def _ocr_rects(boxes_json: str, width: int, height: int) -> list[tuple[int, int, int, int]]:
    """OCR line boxes ([[x0, y0, x1, y1, n], ...] as fractions of the page) in pixels."""
    try:
        return [(int(b[0] * width), int(b[1] * height), int(b[2] * width + 0.5), int(b[3] * height + 0.5))
                for b in json.loads(boxes_json) if len(b) >= 4]
    except (ValueError, TypeError):
        return []


def _highlight(image, boxes):
    from PIL import Image, ImageDraw

    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for box in boxes:
        draw.rectangle(box, fill=HIGHLIGHT_FILL, outline=HIGHLIGHT_EDGE, width=2)
    return Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB")


# --- text formats ----------------------------------------------------------------------------

def passage_in_context(texts: list[str], index: int, around: int = 2,
                       max_chars: int = 800) -> list[tuple[str, bool]]:
    """The passage `texts[index]` with up to `around` neighbouring passages on each side (at most
    `max_chars` of each side, cut at a line where one is near), as [(text, is_passage), ...].
    Neighbours share sentences with it (the chunker's overlap): what they repeat of the passage
    is cut, so nothing shows twice."""
    if not 0 <= index < len(texts):
        return []
    passage = texts[index]
    before = _join(texts[max(0, index - around):index])
    after = _join(texts[index + 1:index + 1 + around])
    before = before[:len(before) - _overlap(before, passage)] if before else ""
    after = after[_overlap(passage, after):] if after else ""
    if len(before) > max_chars:
        cut = before.find("\n", len(before) - max_chars, len(before) - max_chars // 2)
        before = "… " + before[cut + 1 if cut >= 0 else len(before) - max_chars:]
    if len(after) > max_chars:
        cut = after.rfind("\n", max_chars // 2, max_chars)
        after = after[:cut if cut >= 0 else max_chars] + " …"
    parts = [(before.rstrip(), False), (passage, True), (after.lstrip(), False)]
    return [(text, marked) for text, marked in parts if text or marked]


def _join(texts: list[str]) -> str:
    out = ""
    for text in texts:
        out = out + "\n" + text[_overlap(out, text):].lstrip() if out else text
    return out


def _overlap(first: str, second: str) -> int:
    """Length of the longest end of `first` that `second` starts with (at least 2 characters,
    so a shared full stop is not an overlap)."""
    longest = min(len(first), len(second))
    for start in range(len(first) - longest, len(first) - 1):
        if second.startswith(first[start:]):
            return len(first) - start
    return 0
