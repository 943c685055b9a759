"""HTML to paragraphs (used by the HTML, EPUB and e-mail parsers): no script/style, data
tables as row blocks, block elements as paragraph breaks."""
from __future__ import annotations

import re
import warnings

from bs4 import BeautifulSoup, NavigableString, XMLParsedAsHTMLWarning

from ..blocks import HEADING, ROW, TEXT, ParseResult, render_row

_DROP = ["script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "canvas", "head"]
_BLOCK = ["p", "div", "br", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6",
          "section", "article", "header", "footer", "nav", "aside", "main", "blockquote", "pre",
          "table", "tr", "td", "th", "caption", "figure", "figcaption", "form", "fieldset",
          "address", "hr", "title", "body"]
_BREAK = "\x1f"   # paragraph boundary marker, never in real text
_TABLE = "\x1e"   # surrounds the index of a data table replaced by its rows
_SPLIT = re.compile(f"{_TABLE}(\\d+){_TABLE}")
_LEVEL = "\ue000"  # private-use mark around an <hN>'s level, put before its text
_HEADING_MARK = re.compile(f"^\\s*{_LEVEL}([1-6]){_LEVEL}")
_ANY_MARK = re.compile(f"{_LEVEL}[1-6]{_LEVEL}")


def html_to_result(markup: str | bytes, result: ParseResult | None = None,
                   page: int | None = None) -> ParseResult:
    result = result if result is not None else ParseResult()
    with warnings.catch_warnings():
        # XHTML (EPUB chapters, saved pages) starts with <?xml ...>: the HTML parser is right.
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        soup = BeautifulSoup(markup, "lxml")
    if result.title is None and soup.title and soup.title.get_text(strip=True):
        result.title = " ".join(soup.title.get_text().split())
    for tag in soup.find_all(_DROP):
        tag.decompose()
    tables = []
    for table in soup.find_all("table"):
        if table.find("th") and not table.find("table"):
            tables.append(_table_rows(table))
            table.replace_with(NavigableString(f"{_TABLE}{len(tables) - 1}{_TABLE}"))
    for tag in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6"]):
        tag.insert(0, NavigableString(f"{_LEVEL}{tag.name[1]}{_LEVEL}"))
    for tag in soup.find_all(_BLOCK):
        tag.insert_before(_BREAK)
        tag.insert_after(_BREAK)
    text = soup.get_text()
    parts = _SPLIT.split(text)
    for i, part in enumerate(parts):
        if i % 2:  # a table index
            for row in tables[int(part)]:
                result.add(row, ROW, page)
            continue
        for paragraph in part.split(_BREAK):
            heading = _HEADING_MARK.match(paragraph)
            if heading:
                text = " ".join(paragraph[heading.end():].split())
                result.add(text, HEADING, page, level=int(heading.group(1)))
            else:
                result.add(" ".join(_ANY_MARK.sub(" ", paragraph).split()), TEXT, page)
    return result


def _table_rows(table) -> list[str]:
    rows = []
    header: list[str] | None = None
    for tr in table.find_all("tr"):
        cells = [" ".join(c.get_text(" ").split()) for c in tr.find_all(["td", "th"])]
        if not any(cells):
            continue
        if header is None:
            header = cells
            rows.append("; ".join(c for c in cells if c))
        else:
            rows.append(render_row(header, cells))
    return rows
