"""OCR for PDF pages without a usable text layer: the page is rendered with pypdfium2 and read
by loaders/ocr.py. Which pages: see `needs_ocr`."""
from __future__ import annotations

import threading
import unicodedata

from ..blocks import ParseResult
from ..errors import ParseFailure
from ..ocr import boxes_json, lines_text
from . import ParseContext

# A page with no text layer is read by OCR (text drawn as outlines has none either; a blank page
# is skipped before the models run). One with fewer visible characters than this that shows a
# picture is a scan too: scanners and archives often stamp just a page number or a file name.
MIN_TEXT_CHARS = 10
# ... or when more than this share of them cannot be real text: private-use or unassigned code
# points, U+FFFD, controls, or Latin-1/Latin Extended letters (GBK bytes read as Latin-1 look
# like "ÊÇµÄ"). Measured on the corpus: real text layers score 0-0.4 % (the EPSON OCR layer of
# zh_scan_ocr_gbk_cmap.pdf included); the threshold leaves a wide margin.
MAX_UNREADABLE_SHARE = 0.3
# Pages are rendered so their longer side has about this many pixels (A4: about 120 dpi):
# enough for body text, and detection time grows with the pixel count.
RENDER_LONG_SIDE = 1400
MAX_SCALE = 4.0

# pdfium is not thread-safe: one document at a time per process.
_PDFIUM_LOCK = threading.Lock()


def unreadable_share(text: str) -> float:
    chars = [c for c in text if not c.isspace()]
    if not chars:
        return 1.0
    bad = sum(1 for c in chars if c == "\ufffd" or "\u0080" <= c <= "\u024f"
              or unicodedata.category(c) in ("Co", "Cn", "Cc", "Cs"))
    return bad / len(chars)


def needs_ocr(text: str, page=None) -> bool:
    """No text layer, or one that is garbage: the page's picture is read instead. `page`: the
    pypdf page, to tell a scan with a stamped number from a short page of real text."""
    visible = sum(1 for c in text if not c.isspace())
    if visible == 0:
        return True
    if visible < MIN_TEXT_CHARS:
        return page is not None and _shows_picture(page)
    return unreadable_share(text) > MAX_UNREADABLE_SHARE


def _shows_picture(page) -> bool:
    """Whether the page's resources hold an image (directly or in a form), without decoding it."""
    def images(resources, depth: int) -> bool:
        xobjects = (resources or {}).get("/XObject") or {}
        for ref in xobjects.values():
            xobject = ref.get_object()
            if xobject.get("/Subtype") == "/Image":
                return True
            if depth < 3 and xobject.get("/Subtype") == "/Form" and images(xobject.get("/Resources"), depth + 1):
                return True
        return False
    try:
        return images(page.get("/Resources"), 0)
    except Exception:  # odd resources: treat the page as text, as before OCR existed
        return False


def ocr_pages(data: bytes, numbers: list[int], result: ParseResult, ctx: ParseContext) -> None:
    """OCR the 1-based `numbers` pages into `result` (kept in page order), within ctx.ocr's limits."""
    from .pdf import reflow_lines

    ctx.ocr.plan(len(numbers), "pages")
    if ctx.ocr.max_pages == 0 and not result.blocks:
        raise ParseFailure("scanned", "no text layer, and text recognition (OCR) is turned off")
    import pypdfium2 as pdfium

    with _PDFIUM_LOCK:
        try:
            document = pdfium.PdfDocument(data)
        except Exception:  # pdfium cannot open what pypdf could: the text pages stay as they are
            return
        try:
            for number in numbers:
                ctx.deadline.check()
                if not ctx.ocr.allows():
                    break
                try:
                    page = document[number - 1]
                    width, height = page.get_size()
                    scale = min(MAX_SCALE, max(1.0, RENDER_LONG_SIDE / max(width, height, 1.0)))
                    image = page.render(scale=scale).to_numpy()  # BGR, as OpenCV wants
                    page.close()
                except Exception:  # one page pdfium cannot draw must not lose the others
                    continue
                lines = ctx.ocr.read(image)
                if lines is None:
                    break
                result.add_ocr(reflow_lines(lines_text(lines)), page=number, boxes=boxes_json(lines))
        finally:
            document.close()
    # OCR'd pages were read after the text pages: put every block back in page order.
    result.blocks.sort(key=lambda block: block.page or 0)
