"""Pictures (PNG, JPEG, TIFF, BMP, WebP, GIF) read by OCR: one block per frame (a multi-page
TIFF fax is several pages), with the text lines' boxes as fractions of the picture."""
from __future__ import annotations

import io

from ..blocks import ParseResult
from ..errors import ParseFailure
from ..ocr import MAX_PIXELS, boxes_json, decode_image, lines_text
from . import ParseContext
from .pdf import reflow_lines


def parse(data: bytes, ctx: ParseContext) -> ParseResult:
    frames = _frame_count(data)
    result = ParseResult()
    ctx.ocr.plan(frames, "pages")
    for frame in range(frames):
        ctx.deadline.check()
        try:
            image = decode_image(data, frame)
        except Exception as exc:  # a damaged frame of a TIFF must not lose the others
            if frame == 0:
                raise ParseFailure("corrupt", f"the picture cannot be decoded: {exc}") from exc
            continue
        lines = ctx.ocr.read(image)
        if lines is None:  # a limit was reached: keep what was read
            break
        result.add_ocr(reflow_lines(lines_text(lines)), page=frame + 1, boxes=boxes_json(lines))
    if not result.blocks:
        if ctx.ocr.max_pages == 0:
            raise ParseFailure("scanned", "text recognition is turned off")
        raise ParseFailure("scanned", "no text found in the picture")
    return result


def _frame_count(data: bytes) -> int:
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as img:
            # An animated GIF or WebP shows one picture: only multi-page TIFFs are pages.
            return max(1, int(getattr(img, "n_frames", 1))) if img.format == "TIFF" else 1
    except Image.DecompressionBombError as exc:  # a few KB can declare a picture of gigapixels
        raise ParseFailure("too_large", _pixels(data)) from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ParseFailure("corrupt", f"not a readable picture: {exc}") from exc


def _pixels(data: bytes) -> str:
    """'20000 × 20000 px' (the header only is read: no limit needed for that)."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None
    try:
        with Image.open(io.BytesIO(data)) as img:
            return f"{img.width} × {img.height} px"
    except Exception:  # noqa: BLE001 - only a detail of the message
        return ""
    finally:
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS

