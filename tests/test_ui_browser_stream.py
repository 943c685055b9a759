"""End to end in the real browser: what the streamed answer shows is never taken back, and the
stop button ends an answer at once, keeps it (marked stopped) and frees the model.

Every text the live answer shows is recorded in the page by a MutationObserver while it streams;
each one must be the start of the final answer. The server, browser and helpers are those of
tests/test_ui_browser.py (same real Streamlit server, Debian Chromium, embedded 0.5B model)."""
from __future__ import annotations

from test_ui_browser import ask, go_to, page, screenshot_on_failure, server, wait_idle  # noqa: F401

# Only the live answer inside the last chat message: during a rerun Streamlit keeps the previous
# run's elements on screen (stale) until they are replaced, and those belong to earlier answers.
RECORD = """() => {
  window.__seen = [];
  const note = () => {
    const messages = document.querySelectorAll('[data-testid=stChatMessage]');
    if (!messages.length) return;
    const live = messages[messages.length - 1].querySelector('.st-key-live_answer');
    if (live) window.__seen.push(live.innerText);
  };
  new MutationObserver(note).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""
QUESTIONS = ["How long must passwords be?", "What is the minimum wage in Beijing per month?",
             "出差住宿费一线城市每晚最多多少钱？"]


def load_samples(pg) -> None:
    pg.get_by_role("button", name="Load the sample documents").click()
    pg.get_by_text("indexed").first.wait_for()
    wait_idle(pg)


def test_streamed_text_is_never_taken_back(page):  # noqa: F811
    with screenshot_on_failure(page, "stream_never_taken_back"):
        load_samples(page)
        for n, question in enumerate(QUESTIONS):
            page.evaluate(RECORD)
            final = ask(page, question, n)
            seen = [text.replace("▌", "").strip() for text in page.evaluate("window.__seen")]
            shown = [text for text in seen if text and not text.startswith(("Looking it up", "Checking"))]
            assert shown, (question, seen)
            answer = shown[-1]
            assert answer in final, (answer, final)
            for text in shown:
                assert answer.startswith(text), (question, text, answer)  # nothing shown was withdrawn


def test_stop_ends_the_answer_keeps_it_and_frees_the_model(page):  # noqa: F811
    with screenshot_on_failure(page, "stop_button"):
        go_to(page, "💬 Chat")
        box = page.get_by_test_id("stChatInputTextArea")
        box.fill("Summarise every rule of the IT security policy in detail.")
        box.press("Enter")
        page.get_by_role("button", name="Stop").click()
        page.get_by_text("(stopped: this is what was shown before it was stopped)").wait_for()
        wait_idle(page)
        assistants = page.locator("[data-testid=stChatMessage]:has([data-testid=stChatMessageAvatarAssistant])")
        after = ask(page, QUESTIONS[0], assistants.count())
        assert "it_security_policy_en.pdf" in after, after  # the model was free for the next one
