"""Text recognition (OCR) for scanned pages and pictures, fully offline.

RapidOCR runs the PP-OCR detection and recognition ONNX models that ship inside its wheel; the
model paths are given explicitly so nothing is ever looked up or downloaded. The engine is
created on first use, once per process (loading the models takes about a second), and calls are
serialised: onnxruntime already uses every core for one image, so parallel calls only thrash.

    ocr_image(image) -> list[OcrLine]   image: encoded bytes (PNG, JPEG, TIFF, ...) or a BGR
                                        (or grey) ndarray; boxes as fractions of its size;
                                        a long screenshot is read in overlapping tiles
    OcrRun                              one file's OCR: page limit, time budget, progress,
                                        and the warning when not every page could be read
"""
from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path
from typing import Callable, NamedTuple

from .guards import Deadline

# Lines the recogniser is less sure of than this are dropped (RapidOCR's own default).
MIN_SCORE = 0.5
# A picture smaller than this (icons, bullets, rules) holds no text worth the time.
MIN_PICTURE_SIDE = 24
# PIL refuses larger images as decompression bombs; a real scan page is far below it.
MAX_PIXELS = 60_000_000

Progress = Callable[[int, int], None]  # (pages done, pages to do)


class OcrLine(NamedTuple):
    text: str
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions (0..1) of width/height


_ENGINE = None
_ENGINE_LOCK = threading.Lock()  # guards creation
_RUN_LOCK = threading.Lock()  # one image at a time per process


def _models_dir() -> Path:
    import rapidocr
    return Path(rapidocr.__file__).resolve().parent / "models"


def _create_engine():
    try:
        from rapidocr import RapidOCR
    except ImportError as exc:  # ImportError passes through load_file as a broken installation
        raise ImportError(f"text recognition needs the 'rapidocr' package: {exc}") from exc
    models = _models_dir()
    paths = {"Det": models / "PP-OCRv6_det_small.onnx", "Rec": models / "PP-OCRv6_rec_small.onnx",
             "Cls": models / "ch_ppocr_mobile_v2.0_cls_mobile.onnx"}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        # Never let RapidOCR fetch a model: say which packaged file is gone instead.
        raise ImportError(f"the OCR model files that ship with rapidocr are missing: {', '.join(missing)}")
    params = {f"{task}.model_path": str(path) for task, path in paths.items()}
    params.update({"Global.log_level": "error", "Global.text_score": MIN_SCORE,
                   # Upside-down text lines are rare in office scans; the angle classifier
                   # would cost a pass over every line.
                   "Global.use_cls": False})
    return RapidOCR(params=params)


def engine():
    """The process's OCR engine, created on first use."""
    global _ENGINE
    if _ENGINE is None:
        with _ENGINE_LOCK:
            if _ENGINE is None:
                _ENGINE = _create_engine()
    return _ENGINE


def decode_image(data: bytes, frame: int = 0):
    """An encoded picture as a BGR ndarray (EXIF rotation applied, transparency on white)."""
    import numpy as np
    from PIL import Image, ImageOps

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    with Image.open(io.BytesIO(data)) as img:
        if frame:
            img.seek(frame)
        img = ImageOps.exif_transpose(img) or img
        if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
            rgba = img.convert("RGBA")
            img = Image.new("RGB", rgba.size, (255, 255, 255))
            img.paste(rgba, mask=rgba.split()[3])
        elif img.mode != "RGB":
            img = img.convert("RGB")
        return np.ascontiguousarray(np.asarray(img)[:, :, ::-1])  # RGB -> BGR, as OpenCV wants


def ocr_image(image) -> list[OcrLine]:
    """The text lines of one picture, top to bottom, each with its box as fractions (0..1) of
    the picture's width and height. `image`: encoded bytes, or a BGR (or grey) ndarray."""
    import numpy as np

    array = decode_image(image) if isinstance(image, (bytes, bytearray)) else image
    if not isinstance(array, np.ndarray) or array.ndim not in (2, 3):
        raise TypeError("ocr_image takes encoded image bytes or an image ndarray")
    height, width = array.shape[:2]
    if min(height, width) < MIN_PICTURE_SIDE or _blank(array):
        return []
    ocr = engine()
    lines: list[OcrLine] = []
    tiles = _tiles(height, width)
    for i, (top, bottom) in enumerate(tiles):
        if len(tiles) > 1 and _blank(array[top:bottom]):
            continue
        with _RUN_LOCK:
            out = ocr(array[top:bottom])
        for points, text, score in zip(out.boxes if out.boxes is not None else (), out.txts or (),
                                       out.scores or ()):
            text = " ".join(str(text).split())
            if not text or score < MIN_SCORE:
                continue
            xs, ys = [float(p[0]) for p in points], [top + float(p[1]) for p in points]
            # Tiles overlap by more than a line's height: each line is taken from the tile whose
            # share (up to the middle of the overlaps) holds its centre, where it is whole.
            centre = (min(ys) + max(ys)) / 2
            if i and centre < (top + tiles[i - 1][1]) / 2:
                continue
            if i < len(tiles) - 1 and centre >= (tiles[i + 1][0] + bottom) / 2:
                continue
            box = (_frac(min(xs), width), _frac(min(ys), height), _frac(max(xs), width), _frac(max(ys), height))
            lines.append(OcrLine(text, box))
    return lines


# RapidOCR shrinks a picture to at most this many pixels on its longer side, which makes the
# text of a long screenshot unreadable; such a picture is read in overlapping square-ish tiles.
MAX_SIDE = 2000
TILE_OVERLAP = 0.2


def _tiles(height: int, width: int) -> list[tuple[int, int]]:
    """(top, bottom) rows of the horizontal bands a picture is read in: one for most pictures."""
    if height <= MAX_SIDE or height <= 2 * width:
        return [(0, height)]
    size = min(MAX_SIDE, max(width, 1000))
    step = int(size * (1 - TILE_OVERLAP))
    tops = list(range(0, height - size, step)) + [height - size]
    return [(top, top + size) for top in tops]


def _frac(value: float, size: int) -> float:
    return round(min(max(value / size, 0.0), 1.0), 4)


def _blank(array) -> bool:
    """An empty page (all one colour): no need to run the models on it. Every pixel is looked
    at: a sample could miss the thin strokes of small print."""
    return int(array.max()) - int(array.min()) < 16


def lines_text(lines: list[OcrLine]) -> str:
    """Lines in reading order: boxes side by side on one visual row are joined by a space, rows
    by a line break (wrapped sentences are joined later, like PDF text), and a blank line where
    the layout shows a new paragraph: a wide vertical gap, an indented first line, or a row that
    stops well short of the text's right edge (a title, the end of a paragraph)."""
    rows = _rows(lines)
    if not rows:
        return ""
    bounds = [(min(ln.box[0] for ln in row), min(ln.box[1] for ln in row),
               max(ln.box[2] for ln in row), max(ln.box[3] for ln in row)) for row in rows]
    height = sorted(b[3] - b[1] for b in bounds)[len(bounds) // 2]
    left, right = min(b[0] for b in bounds), max(b[2] for b in bounds)
    out: list[str] = []
    for i, row in enumerate(rows):
        if i:
            prev, this = bounds[i - 1], bounds[i]
            if (this[1] - prev[3] > height or this[0] > left + PARAGRAPH_INDENT
                    or prev[2] < right - SHORT_ROW):
                out.append("")
        out.append(" ".join(ln.text for ln in row))
    return "\n".join(out)


# Paragraph cues, as fractions of the picture's width: a first line indented by two Chinese
# characters on an A4 scan is about 0.04; a row ending this far from the right edge is short.
PARAGRAPH_INDENT = 0.025
SHORT_ROW = 0.08


def _rows(lines: list[OcrLine]) -> list[list[OcrLine]]:
    """Visual rows, top to bottom, each left to right."""
    rows: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda ln: (ln.box[1], ln.box[0])):
        row = rows[-1] if rows else None
        if row and _same_row(row[-1], line):
            row.append(line)
        else:
            rows.append([line])
    return [sorted(row, key=lambda ln: ln.box[0]) for row in rows]


def _reading_order(lines: list[OcrLine]) -> list[OcrLine]:
    """The lines in the order `lines_text` writes them."""
    return [line for row in _rows(lines) for line in row]


def _same_row(a: OcrLine, b: OcrLine) -> bool:
    centre = (b.box[1] + b.box[3]) / 2
    return a.box[1] <= centre <= a.box[3]


def boxes_json(lines: list[OcrLine], into: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)) -> str:
    """The lines' boxes as compact JSON [[x0, y0, x1, y1, n], ...] in reading order, mapped into
    the region `into` (fractions of the page) when the picture is only part of a page. `n` is
    the number of visible (non-space) characters of the line: spacing changes as text is
    cleaned and reflowed, visible characters do not, so a slice of the text finds its boxes
    (`select_boxes`)."""
    x, y, w, h = into[0], into[1], into[2] - into[0], into[3] - into[1]
    boxes = [[round(x + ln.box[0] * w, 4), round(y + ln.box[1] * h, 4), round(x + ln.box[2] * w, 4),
              round(y + ln.box[3] * h, 4), _visible(ln.text)] for ln in _reading_order(lines)]
    return json.dumps(boxes, separators=(",", ":"))


def select_boxes(boxes: str, text: str, start: int, end: int) -> str | None:
    """The boxes (as in `boxes_json`) of the lines that text[start:end] covers, where `text` is
    the whole text the boxes belong to; `n` counts only the covered characters."""
    first = _visible(text[:start])
    last = first + _visible(text[start:end])
    out, pos = [], 0
    try:
        for x0, y0, x1, y1, n in json.loads(boxes):
            lo, hi, pos = pos, pos + n, pos + n
            if lo < last and hi > first:
                out.append([x0, y0, x1, y1, min(hi, last) - max(lo, first)])
    except (ValueError, TypeError):
        return None
    return json.dumps(out, separators=(",", ":")) if out else None


def _visible(text: str) -> int:
    return sum(1 for c in text if not c.isspace())


class OcrRun:
    """The OCR of one file: at most `max_pages` pages (or pictures), about `page_seconds` each on
    average, and never past 3/4 of the file's parse deadline (the rest of the ingest needs time
    too). What is read before a limit is kept; `warning()` then says how much that was."""

    # Share of the file's parse deadline OCR may use.
    DEADLINE_SHARE = 0.75

    def __init__(self, max_pages: int = 50, page_seconds: float = 30.0,
                 progress: Progress | None = None, deadline: Deadline | None = None) -> None:
        self.max_pages = max(0, int(max_pages))
        self.page_seconds = float(page_seconds)
        self.progress = progress
        self.deadline = deadline
        self.total = 0  # pages (or pictures) that needed OCR
        self.done = 0
        self.unit = "pages"
        self.stopped: str | None = None  # "pages" (page limit) or "time" once one was skipped
        self._spent = 0.0

    def plan(self, total: int, unit: str = "pages") -> None:
        """Announce how many pages (or pictures) will be asked for."""
        self.total, self.unit = total, unit
        self._report()

    def allows(self) -> bool:
        """Whether one more page may be read; records why not."""
        if self.done >= self.max_pages:
            self.stopped = self.stopped or "pages"
            return False
        budget = self.page_seconds * max(1, min(self.total, self.max_pages))
        late = self.deadline is not None and self.deadline.elapsed() > self.DEADLINE_SHARE * self.deadline.seconds
        if self._spent >= budget or late:
            self.stopped = self.stopped or "time"
            return False
        return True

    def read(self, image) -> list[OcrLine] | None:
        """The page's lines, or None when a limit stops it (then nothing is run)."""
        if not self.allows():
            return None
        start = time.monotonic()
        try:
            return ocr_image(image)
        finally:
            self._spent += time.monotonic() - start
            self.done += 1
            self._report()

    def _report(self) -> None:
        if self.progress and self.total:
            self.progress(min(self.done, self.total), self.total)

    def warning(self) -> tuple[str, str] | None:
        """(English, Chinese) when some pages were not read, else None."""
        if not self.stopped or self.done >= self.total:
            return None
        pictures = self.unit == "pictures"
        what_en = "pictures" if pictures else "pages"
        what_zh = "张图片" if pictures else "页"
        if self.max_pages == 0:
            return (f"Text recognition (OCR) is turned off, so its {self.total} scanned {what_en} "
                    f"were not read.", f"文字识别（OCR）已关闭，其中 {self.total} {what_zh}扫描内容未读取。")
        why_en = "the limit per file" if self.stopped == "pages" else "the time limit"
        why_zh = "已达每个文件的上限" if self.stopped == "pages" else "已达时间上限"
        return (f"OCR read {self.done} of {self.total} {what_en} ({why_en}); the rest cannot be "
                f"searched. Split the file to read all of it.",
                f"文字识别（OCR）只读取了 {self.total} {what_zh}中的 {self.done} {what_zh}（{why_zh}），"
                f"其余部分无法检索。如需全部读取，请拆分文件。")
