"""A stored conversation as a Markdown or a Word (DOCX) document, for its owner to keep or
share (issue 14). Each answer is followed by the sources it cited (file, page, heading)."""
from __future__ import annotations

import io
import time

from .conversations import Conversation, Source

_WORDS = {
    "zh": {"title": "对话", "kb": "知识库", "date": "时间", "q": "问", "a": "答", "sources": "来源",
           "page": "第 {page} 页", "error": "（这个问题当时没能回答）", "stopped": "（回答被停止）",
           "untitled": "未命名对话"},
    "en": {"title": "Conversation", "kb": "Knowledge base", "date": "Date", "q": "Q", "a": "A",
           "sources": "Sources", "page": "page {page}", "error": "(this question could not be answered)",
           "stopped": "(the answer was stopped)", "untitled": "Untitled conversation"},
}


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def _source_line(src: Source, w: dict) -> str:
    where = src.source + (f" ({w['page'].format(page=src.page)})" if src.page else "")
    return f"{where} › {src.heading}" if src.heading else where


def _answer(turn, w: dict) -> str:
    if turn.error:
        return w["error"]
    return turn.answer + (f" {w['stopped']}" if turn.stopped else "")


def to_markdown(conv: Conversation, lang: str = "zh") -> str:
    w = _WORDS.get(lang, _WORDS["en"])
    lines = [f"# {conv.title or w['untitled']}", "",
             f"- {w['kb']}: {conv.kb}", f"- {w['date']}: {_when(conv.created)} – {_when(conv.updated)}", ""]
    for n, turn in enumerate(conv.turns, 1):
        lines += [f"## {n}. {turn.question}", "", f"**{w['a']}:** {_answer(turn, w)}", ""]
        if turn.sources and not turn.error:
            lines.append(f"{w['sources']}:")
            lines += [f"{i}. {_source_line(s, w)}" for i, s in enumerate(turn.sources, 1)]
            lines.append("")
    return "\n".join(lines)


def to_docx(conv: Conversation, lang: str = "zh") -> bytes:
    from docx import Document
    w = _WORDS.get(lang, _WORDS["en"])
    doc = Document()
    doc.add_heading(conv.title or w["untitled"], level=1)
    doc.add_paragraph(f"{w['kb']}: {conv.kb}\n{w['date']}: {_when(conv.created)} – {_when(conv.updated)}")
    for n, turn in enumerate(conv.turns, 1):
        doc.add_heading(f"{n}. {turn.question}", level=2)
        para = doc.add_paragraph()
        para.add_run(f"{w['a']}: ").bold = True
        para.add_run(_answer(turn, w))
        if turn.sources and not turn.error:
            doc.add_paragraph(f"{w['sources']}:")
            for s in turn.sources:
                doc.add_paragraph(_source_line(s, w), style="List Number")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
