"""End to end in a real browser (fixtures of test_ui_browser.py): the original file downloads
from the knowledge-base page, and after an answer, its [1] source's "View source" button opens
the cited page of the right file, with the passage highlighted on screen."""
from __future__ import annotations

import io
import re

import numpy as np
from PIL import Image

from test_ui_browser import (PDF, QUESTION, ask, go_to, page, screenshot_on_failure,  # noqa: F401
                             server, wait_idle)


def test_download_then_view_source_opens_the_cited_page(page):  # noqa: F811
    with screenshot_on_failure(page, "view_source"):
        _download_then_view_source(page)


def _download_then_view_source(pg):
    go_to(pg, "📚 Knowledge base")
    pg.locator("input[type=file]").set_input_files([str(PDF)])
    pg.get_by_role("button", name="Add to the knowledge base").click()
    pg.get_by_text(f"{PDF.name}: indexed").first.wait_for()
    wait_idle(pg)
    with pg.expect_download() as download:
        pg.get_by_role("button", name=re.compile("Download the original")).click()
    assert download.value.suggested_filename == PDF.name
    assert open(download.value.path(), "rb").read() == PDF.read_bytes()

    go_to(pg, "💬 Chat")
    answer = ask(pg, QUESTION, 0)
    assert PDF.name in answer, answer
    pg.get_by_test_id("stExpander").filter(has_text="Sources").last.locator("summary").click()
    button = pg.get_by_role("button", name=re.compile(r"\[1\] .*View source"))
    label = button.inner_text()
    cited = re.search(r"\[1\] (\S+) \(page (\d+)\)", label)
    assert cited and cited.group(1) == PDF.name, label
    button.click()
    dialog = pg.get_by_role("dialog")
    where = f"{PDF.name} — page {cited.group(2)}"
    image = dialog.get_by_role("img", name=where)  # the page image's alt text names file and page
    image.wait_for()
    assert where in dialog.inner_text()  # and so does its caption
    assert "marked in yellow" in dialog.inner_text()
    # The highlight is on screen: the page as the browser shows it has yellow pixels.
    rgb = np.asarray(Image.open(io.BytesIO(image.screenshot())).convert("RGB")).astype(int)
    yellow = (rgb[..., 0] - rgb[..., 2] > 40) & (rgb[..., 1] - rgb[..., 2] > 30)
    assert yellow.sum() > 200, "no highlight visible on the page"
