"""End to end: the real Streamlit server, driven in headless Debian Chromium through Playwright.

Upload a DOCX and a PDF, ask, see the streamed answer with file and page, delete the PDF, and
check the next answer no longer cites it. A failing step leaves a screenshot in test-artifacts/.
Chromium comes from Debian (`apt-get install chromium`); never `playwright install`."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
PDF = REPO / "data" / "it_security_policy_en.pdf"
DOCX = REPO / "data" / "employee_handbook_zh.docx"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
QUESTION = "How long must passwords be?"


def _missing(reason: str) -> None:
    if os.environ.get("DOCCHAT_REQUIRE_SHARED") == "1":  # CI: everything must be there
        pytest.fail(reason)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`streamlit run ui/app.py` on a free port with a fresh DocChat home; yields its URL."""
    home = tmp_path_factory.mktemp("docchat-home")
    port = _free_port()
    env = dict(os.environ, DOCCHAT_HOME=str(home), DOCCHAT_GGUF_MODEL="0.5b",
               DOCCHAT_MAX_NEW_TOKENS="64", DOCCHAT_TEMPERATURE="0", DOCCHAT_LANG="en",
               HF_HUB_OFFLINE="1", ANONYMIZED_TELEMETRY="False")
    log_file = open(home / "server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "ui/app.py", "--server.port", str(port),
         "--server.headless", "true", "--server.address", "127.0.0.1"],
        cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"the server did not start; see {home / 'server.log'}")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log_file.close()


@pytest.fixture
def page(server, request):
    """A Chromium page on the app; on a failing test, its screenshot goes to test-artifacts/."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("needs the Python package playwright")
    if not CHROMIUM.exists():
        _missing("needs Debian chromium at /usr/bin/chromium (apt-get install chromium)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.set_default_timeout(120_000)
        pg.goto(server)
        try:
            yield pg
        finally:
            browser.close()


@contextmanager
def screenshot_on_failure(pg, name: str):
    try:
        yield
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        raise


def wait_idle(pg) -> None:
    """Until the script run the last action started has finished."""
    pg.wait_for_timeout(300)
    pg.locator("[data-testid=stStatusWidgetRunningIcon]").wait_for(state="detached")


def go_to(pg, label: str) -> None:
    pg.get_by_test_id("stSidebar").get_by_text(label, exact=True).click()
    wait_idle(pg)


def ask(pg, question: str, answers_before: int) -> str:
    """Asks, waits for the streamed answer to finish; returns the last answer's text."""
    box = pg.get_by_test_id("stChatInputTextArea")
    box.fill(question)
    box.press("Enter")
    assistant = pg.locator("[data-testid=stChatMessage]:has([data-testid=stChatMessageAvatarAssistant])")
    assistant.nth(answers_before).wait_for()
    pg.wait_for_function(
        "() => !document.body.innerText.includes('▌') && !document.body.innerText.includes('Looking it up')"
        " && !document.body.innerText.includes('Checking the answer')"
        " && !document.querySelector('[data-testid=stStatusWidgetRunningIcon]')")
    return assistant.nth(answers_before).inner_text()


def test_upload_ask_delete_in_a_real_browser(page):
    with screenshot_on_failure(page, "upload_ask_delete"):
        _upload_ask_delete(page)


def _upload_ask_delete(pg):
    go_to(pg, "📚 Knowledge base")
    pg.locator("input[type=file]").set_input_files([str(DOCX), str(PDF)])
    pg.get_by_role("button", name="Add to the knowledge base").click()
    pg.get_by_text(f"{PDF.name}: indexed").first.wait_for()
    pg.get_by_text(f"{DOCX.name}: indexed").first.wait_for()
    wait_idle(pg)

    go_to(pg, "💬 Chat")
    first = ask(pg, QUESTION, 0)
    assert f"{PDF.name} (page 1)" in first, first

    go_to(pg, "📚 Knowledge base")
    pg.get_by_test_id("stSelectbox").filter(has_text="Choose a document").click()
    pg.get_by_role("option", name=PDF.name).click()
    wait_idle(pg)
    pg.get_by_role("button", name="Delete the chosen document").click()
    pg.get_by_role("button", name="Yes, delete it").click()  # deleting is asked once more
    pg.get_by_text(f"Removed from the knowledge base: {PDF.name}").wait_for()
    wait_idle(pg)

    go_to(pg, "💬 Chat")
    second = ask(pg, QUESTION, 1)
    assert PDF.name not in second, second
