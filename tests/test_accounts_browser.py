"""Accounts in the real browser (issue 14): the real Streamlit server with DOCCHAT_ACCOUNTS=1,
driven in headless Debian Chromium through Playwright, one browser context per person.

Users, a restricted knowledge base and the conversations are made through the real stores
before the server starts (no answer from the language model is needed). A failing step leaves a
screenshot in test-artifacts/."""
from __future__ import annotations

import pytest

from test_ui_browser import chromium, open_options, screenshot_on_failure, streamlit_server, wait_idle

PASSWORDS = {"root": "root-password", "alice": "alice-password", "bob": "bob-password", "carol": "carol-password"}
ALICE_Q = "Alice asks about the bonus rules"
ALICE_GONE = "Alice asks something she will delete"
BOB_Q = "Bob asks about parking permits"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The server with accounts on; yields (url, home, conversation ids)."""
    home = tmp_path_factory.mktemp("docchat-accounts-home")
    from chains.conversations import ConversationStore
    from docchat.accounts import AccountStore
    from docchat.kb_access import KBAccess
    from vectorstore.catalog import Catalog
    from vectorstore.kb import kb_folder

    users = AccountStore.at_home(home)
    users.add_user("root", PASSWORDS["root"], admin=True)
    for name in ("alice", "bob", "carol"):
        users.add_user(name, PASSWORDS[name])
    # A second knowledge base, "secret", that only alice may read. Its catalog is what makes it
    # a knowledge base on disk (opening it for real would load the embedding model here too).
    folder = kb_folder(home, "secret")
    folder.mkdir(parents=True)
    catalog = Catalog(folder / "catalog.sqlite3")
    catalog.set_meta("name", "secret")
    catalog.close()
    KBAccess.at_home(home).set_rule("secret", readers=["alice"], writers=[])
    store = ConversationStore.at_home(home)
    ids = {}
    for key, owner, question, answer in (("alice", "alice", ALICE_Q, "Bonuses are paid in March."),
                                         ("gone", "alice", ALICE_GONE, "This will be deleted."),
                                         ("bob", "bob", BOB_Q, "Permits are renewed yearly.")):
        conv = store.create("default", owner=owner)
        store.add_turn(conv.id, question, answer)
        ids[key] = conv.id

    with streamlit_server(home, DOCCHAT_ACCOUNTS="1", DOCCHAT_LANG="en", DOCCHAT_LOGIN_MAX_FAILURES="3",
                          DOCCHAT_GGUF_MODEL="0.5b") as url:
        yield url, home, ids


@pytest.fixture
def browser(site):
    with chromium() as b:
        yield b


def person(browser, url: str, path: str = "/"):
    """A page in its own browser context: its own cookies and its own Streamlit session."""
    pg = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True).new_page()
    pg.set_default_timeout(60_000)
    pg.goto(url + path)
    return pg


def sign_in(pg, name: str, password: str | None = None, *, ok: bool = True) -> None:
    pg.get_by_label("Username").fill(name)
    pg.get_by_label("Password", exact=True).fill(password or PASSWORDS[name])
    pg.get_by_role("button", name="Sign in").click()
    if ok:  # the whole page drawn: the conversations come last in the sidebar
        sidebar(pg).get_by_role("button", name="New conversation").wait_for()
    wait_idle(pg)


def sidebar(pg):
    return pg.get_by_test_id("stSidebar")


def kb_options(pg) -> list[str]:
    open_options(pg, sidebar(pg), "Knowledge base")
    options = pg.get_by_role("option").all_inner_texts()
    pg.keyboard.press("Escape")
    return [o.strip() for o in options]


def test_nothing_shows_before_sign_in_and_two_people_see_only_their_own(site, browser):
    url, home, ids = site
    alice, bob = person(browser, url), person(browser, url)
    with screenshot_on_failure(alice, "accounts_alice"), screenshot_on_failure(bob, "accounts_bob"):
        # Before signing in: the form, and nothing of the app.
        alice.get_by_label("Username").wait_for()
        assert sidebar(alice).count() == 0 or not sidebar(alice).is_visible()
        body = alice.get_by_test_id("stApp").inner_text()
        assert ALICE_Q not in body and "Knowledge base" not in body

        sign_in(alice, "alice")
        sign_in(bob, "bob")
        sidebar(alice).get_by_role("button", name=ALICE_GONE).wait_for()
        sidebar(bob).get_by_role("button", name=BOB_Q).wait_for()
        alice_side, bob_side = sidebar(alice).inner_text(), sidebar(bob).inner_text()
        assert ALICE_Q in alice_side and ALICE_GONE in alice_side and BOB_Q not in alice_side
        assert BOB_Q in bob_side and ALICE_Q not in bob_side and ALICE_GONE not in bob_side
        # The restricted knowledge base: in alice's choice, not in bob's, on either page.
        assert kb_options(alice) == ["default", "secret"]
        assert kb_options(bob) == ["default"]
        sidebar(bob).get_by_text("📚 Knowledge base", exact=True).click()
        wait_idle(bob)
        assert "Knowledge base: default" in bob.get_by_test_id("stMain").inner_text()
        assert kb_options(bob) == ["default"]
        assert "secret" not in bob.get_by_test_id("stMain").inner_text()
        assert "Admin" not in sidebar(bob).inner_text()  # members get no admin page

        # bob with alice's conversation in the address (a shared link): it does not open.
        peek = person(browser, url, f"/?c={ids['alice']}")
        with screenshot_on_failure(peek, "accounts_peek"):
            sign_in(peek, "bob")
            assert ALICE_Q not in peek.get_by_test_id("stApp").inner_text()
            assert "c=" not in peek.url

        # alice opens hers; a reload keeps it open (and the language) once she signs in again.
        sidebar(alice).get_by_role("button", name=ALICE_Q).click()
        wait_idle(alice)
        alice.get_by_test_id("stChatMessage").filter(has_text="Bonuses are paid in March.").wait_for()
        assert f"c={ids['alice']}" in alice.url and "lang=en" in alice.url
        alice.reload()
        sign_in(alice, "alice")
        alice.get_by_test_id("stChatMessage").filter(has_text="Bonuses are paid in March.").wait_for()


def test_wrong_passwords_are_limited_and_say_when_to_try_again(site, browser):
    url, _, _ = site
    pg = person(browser, url)
    with screenshot_on_failure(pg, "accounts_limits"):
        for _ in range(2):
            sign_in(pg, "carol", "not-her-password", ok=False)
            pg.get_by_text("The username or password is not right").wait_for()
        sign_in(pg, "carol", "still-not-her-password", ok=False)  # the third: the limit (3 in this test)
        paused = pg.get_by_text("Too many wrong passwords")
        paused.wait_for()
        assert "Try again in 15 minute(s)" in paused.inner_text()
        # Even the right password waits now, in this context and in another one.
        sign_in(pg, "carol", ok=False)
        pg.get_by_text("Too many wrong passwords").wait_for()
        assert sidebar(pg).count() == 0 or not sidebar(pg).is_visible()
        other = person(browser, url)
        sign_in(other, "carol", ok=False)
        other.get_by_text("Too many wrong passwords").wait_for()


def test_feedback_given_by_a_member_is_seen_by_an_admin(site, browser):
    url, _, ids = site
    alice, root = person(browser, url, f"/?c={ids['alice']}"), person(browser, url)
    with screenshot_on_failure(alice, "accounts_feedback_alice"), screenshot_on_failure(root, "accounts_feedback_root"):
        sign_in(alice, "alice")
        answer = alice.get_by_test_id("stChatMessage").filter(has_text="Bonuses are paid in March.")
        answer.get_by_role("radio", name="Thumbs down").click()
        wait_idle(alice)
        answer.get_by_role("button", name="Comment").click()
        alice.get_by_label("What was good or wrong about this answer? (optional)").fill("It should say April.")
        alice.get_by_role("button", name="Send", exact=True).click()
        alice.get_by_text("Thank you, your comment was saved.").wait_for()

        sign_in(root, "root")
        sidebar(root).get_by_text("🛠️ Admin", exact=True).click()
        wait_idle(root)
        main = root.get_by_test_id("stMain")
        main.get_by_text("Feedback (1: 👍 0, 👎 1)").wait_for()
        table = main.get_by_test_id("stTable").inner_text()
        assert "It should say April." in table and "alice" in table and ALICE_Q in table and "👎" in table
        with root.expect_download() as download:
            main.get_by_role("button", name="Export as CSV (opens in Excel)").click()
        csv_text = open(download.value.path(), encoding="utf-8-sig").read()
        assert "alice,default,down,It should say April." in csv_text


def test_a_deleted_conversation_is_gone_for_good(site, browser):
    url, home, ids = site
    from chains.conversations import ConversationNotFound, ConversationStore
    pg = person(browser, url)
    with screenshot_on_failure(pg, "accounts_delete"):
        sign_in(pg, "alice")
        sidebar(pg).get_by_role("button", name=ALICE_GONE).click()
        wait_idle(pg)
        sidebar(pg).get_by_role("button", name="Manage this conversation").click()
        delete = pg.get_by_role("button", name="Delete conversation")
        assert delete.is_disabled()  # asked first
        pg.get_by_text("I am sure: delete this conversation for good").click()
        wait_idle(pg)
        pg.get_by_role("button", name="Delete conversation").click()
        pg.get_by_text("The conversation was deleted for good.").wait_for()
        wait_idle(pg)
        assert ALICE_GONE not in sidebar(pg).inner_text()
        assert ALICE_Q in sidebar(pg).inner_text()  # the other one stays
        with pytest.raises(ConversationNotFound):
            ConversationStore.at_home(home).get(ids["gone"])
        # Not back after a reload, nor through its old address.
        again = person(browser, url, f"/?c={ids['gone']}")
        sign_in(again, "alice")
        assert ALICE_GONE not in again.get_by_test_id("stApp").inner_text()
