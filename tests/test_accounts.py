"""Accounts, knowledge-base permissions, feedback and conversation management (issue 14):
the real stores (SQLite, bcrypt, python-docx) and the real `docchat` command."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from chains.conversation_export import to_docx, to_markdown
from chains.conversations import ConversationNotFound, ConversationStore
from docchat.accounts import AccountError, AccountStore, User
from docchat.feedback import FeedbackStore
from docchat.kb_access import EVERYONE, AccessDenied, KBAccess


@pytest.fixture
def store(tmp_path) -> AccountStore:
    return AccountStore.at_home(tmp_path, max_failures_user=3, max_failures_address=5, window_s=60,
                                session_idle_s=600)


def test_passwords_are_kept_as_bcrypt_hashes_and_checked(store, tmp_path):
    store.add_user("alice", "correct horse", admin=True)
    store.add_user("王芳", "另一个好密码123")
    raw = (tmp_path / "accounts.sqlite3").read_bytes()
    assert b"correct horse" not in raw and "另一个好密码123".encode() not in raw
    with sqlite3.connect(tmp_path / "accounts.sqlite3") as db:
        digest = db.execute("SELECT hash FROM users WHERE name='alice'").fetchone()[0]
    assert digest.startswith(b"$2b$12$")  # bcrypt, cost 12

    assert store.login("alice", "correct horse").user == User("alice", "admin", store.get_user("alice").created)
    assert store.login("王芳", "另一个好密码123").user.role == "member"
    assert not store.login("alice", "Correct horse").ok
    assert not store.login("nobody", "correct horse").ok
    assert [u.name for u in store.users()] == ["alice", "王芳"]

    with pytest.raises(AccountError, match="already"):
        store.add_user("alice", "something else")
    with pytest.raises(AccountError) as short:
        store.add_user("carol", "short")
    assert "8" in short.value.message("zh") and "8" in short.value.message("en")
    with pytest.raises(AccountError):
        store.add_user("bad name!", "long enough")
    assert store.remove_user("王芳") and not store.remove_user("王芳")
    assert not store.login("王芳", "另一个好密码123").ok


def test_failed_logins_are_limited_per_user_and_per_address_and_say_when_to_retry(store):
    store.add_user("alice", "correct horse")
    store.add_user("bob", "battery staple")
    t0 = 1_000_000.0
    assert store.login("alice", "wrong", "10.0.0.1", now=t0).retry_at is None
    assert store.login("alice", "wrong", "10.0.0.1", now=t0 + 1).retry_at is None
    third = store.login("alice", "wrong", "10.0.0.1", now=t0 + 2)
    assert not third.ok and third.retry_at == t0 + 60  # the limit: said at once
    # Locked: even the right password is not checked until the first failure is a minute old.
    locked = store.login("alice", "correct horse", "10.0.0.2", now=t0 + 30)
    assert not locked.ok and locked.retry_at == t0 + 60
    assert store.login("alice", "correct horse", "10.0.0.2", now=t0 + 61).ok  # and it resets the name

    # Per address: many names tried from one address stop that address, not the others.
    for i in range(5):
        store.login(f"guess{i}", "wrong", "10.0.0.9", now=t0 + 100 + i)
    from_there = store.login("bob", "battery staple", "10.0.0.9", now=t0 + 110)
    assert not from_there.ok and from_there.retry_at == t0 + 160
    assert store.login("bob", "battery staple", "10.0.0.3", now=t0 + 110).ok


def test_sessions_expire_and_end_with_a_new_password_or_removal(store):
    alice = store.add_user("alice", "correct horse")
    t0 = 2_000_000.0
    token = store.start_session(alice, now=t0)
    assert store.session_user(token, now=t0 + 500).name == "alice"
    assert store.session_user(token, now=t0 + 1000).name == "alice"  # used at +500: still fresh
    assert store.session_user(token, now=t0 + 1700) is None  # unused for 700 s > 600 s
    assert store.session_user(token, now=t0 + 1701) is None  # and gone for good
    assert store.session_user("made-up-token") is None

    token = store.start_session(alice)
    store.set_password("alice", "a new password")
    assert store.session_user(token) is None
    token = store.start_session(alice)
    store.end_session(token)
    assert store.session_user(token) is None
    token = store.start_session(alice)
    store.remove_user("alice")
    assert store.session_user(token) is None


def test_knowledge_base_permissions(tmp_path):
    access = KBAccess.at_home(tmp_path)
    admin, alice, bob = User("root", "admin"), User("alice"), User("bob")
    # Never set: everyone reads, only admins change.
    assert access.can_read(bob, "default") and not access.can_change(bob, "default")
    assert access.can_change(admin, "default")
    access.set_rule("hr", readers=["alice"], writers=[])
    assert access.can_read(alice, "hr") and not access.can_read(bob, "hr") and access.can_read(admin, "hr")
    assert access.readable(bob, ["default", "hr"]) == ["default"]
    with pytest.raises(AccessDenied) as denied:
        access.check_read(bob, "hr")
    assert "hr" in denied.value.message("en")
    # A user who may not read it is not told that it exists when they try to change it.
    with pytest.raises(AccessDenied) as denied:
        access.check_change(bob, "hr")
    assert not denied.value.change
    with pytest.raises(AccessDenied) as denied:
        access.check_change(alice, "hr")
    assert denied.value.change and "change" in denied.value.message("en")
    access.set_rule("hr", readers=[], writers=["bob"])  # a writer reads too
    assert access.can_read(bob, "hr") and access.can_change(bob, "hr") and not access.can_read(alice, "hr")
    access.set_rule("hr", readers=[EVERYONE], writers=[])
    assert access.can_read(alice, "hr")
    access.forget("hr")
    assert access.rule("hr").readers == (EVERYONE,)
    assert access.can_read(None, "anything") and access.can_change(None, "anything")  # accounts off


def test_feedback_is_kept_once_per_answer_and_user_and_exported_as_csv(tmp_path):
    fb = FeedbackStore.at_home(tmp_path)
    fb.give("c1", 0, rating=1, kb="default", question="试用期多长？", answer="六个月 [1]", user="alice")
    fb.give("c1", 0, rating=-1, kb="default", question="试用期多长？", answer="六个月 [1]", user="alice",
            comment="应该是三个月")
    fb.give("c2", 1, rating=1, kb="hr", question="Q2", answer="A2", user="bob")
    rows = fb.list()
    assert [(f.user, f.rating, f.comment) for f in rows] == [("bob", 1, ""), ("alice", -1, "应该是三个月")]
    assert fb.get("c1", 0, "alice").rating == -1 and fb.get("c1", 0, "bob") is None
    text = fb.to_csv()
    assert text.startswith("\ufefftime,user,knowledge_base,rating,comment,question,answer")
    assert "alice,default,down,应该是三个月,试用期多长？" in text and "bob,hr,up" in text
    with pytest.raises(ValueError):
        fb.give("c1", 0, rating=5, kb="x", question="q", answer="a")


def test_conversations_are_renamed_exported_and_deleted_for_good(tmp_path):
    from docx import Document
    from io import BytesIO
    store = ConversationStore.at_home(tmp_path)
    conv = store.create("default", owner="alice")
    store.add_turn(conv.id, "出差住宿费一线城市每晚最多多少钱？", "一线城市每晚不超过 600 元 [1]。",
                   [_source("travel_policy_zh.pdf", 2, "一线城市住宿费每晚不超过600元。")])
    store.add_turn(conv.id, "Unanswerable secret-question-xyzzy", "", error=True)
    other = store.create("default", owner="bob")
    store.add_turn(other.id, "bob's question", "bob's answer")
    assert [c.id for c in store.list(owner="alice")] == [conv.id]

    store.rename(conv.id, "  出差 住宿  标准 ")
    conv = store.get(conv.id)
    assert conv.title == "出差 住宿 标准"
    with pytest.raises(ConversationNotFound):
        store.rename("nope", "x")

    md = to_markdown(conv, "zh")
    assert md.startswith("# 出差 住宿 标准") and "一线城市每晚不超过 600 元" in md
    assert "travel_policy_zh.pdf (第 2 页)" in md and "没能回答" in md
    doc = Document(BytesIO(to_docx(conv, "en")))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "出差 住宿 标准" in text and "600 元" in text and "travel_policy_zh.pdf (page 2)" in text

    assert store.delete(conv.id)
    with pytest.raises(ConversationNotFound):
        store.get(conv.id)
    assert [c.id for c in store.list(include_empty=True)] == [other.id]
    # Gone for good: not even left in the file's free pages or its write-ahead log.
    for path in tmp_path.glob("conversations.sqlite3*"):
        assert b"secret-question-xyzzy" not in path.read_bytes(), path


def _source(name: str, page: int, text: str):
    from chains.conversations import Source
    return Source(name, page, text)


# --- the CLI ----------------------------------------------------------------------------------

@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    """Runs `docchat ARGS` in this process (the same main() as the installed command; a new
    process per call would cost seconds of imports each): returns (exit code, stdout, stderr)."""
    import io

    from docchat import cli as docchat_cli
    from docchat.settings import get_settings
    monkeypatch.setenv("DOCCHAT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DOCCHAT_ACCOUNTS", "1")
    monkeypatch.setenv("DOCCHAT_LANG", "en")
    get_settings.cache_clear()

    def run(*args: str, stdin: str = ""):
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = docchat_cli.main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    yield run
    get_settings.cache_clear()


def test_users_are_added_from_standard_input_by_the_installed_command(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "DOCCHAT_HOME": str(home), "DOCCHAT_LANG": "en"}
    add = subprocess.run([sys.executable, "-m", "docchat.cli", "users", "add", "alice", "--admin"], env=env,
                         input="alice-password\n", text=True, capture_output=True, timeout=300)
    assert add.returncode == 0 and "added alice (admin)" in add.stdout, add.stderr
    assert "DOCCHAT_ACCOUNTS=1" in add.stderr  # accounts are still off: it says how to turn them on
    assert AccountStore.at_home(home).login("alice", "alice-password").user.is_admin


def test_cli_manages_users_and_never_opens_a_knowledge_base_the_user_may_not_read(tmp_path, cli):
    home, docs = tmp_path / "home", tmp_path / "docs"
    docs.mkdir()
    (docs / "salaries.txt").write_text("The salary band for engineers is 9000 to 12000 per month.", encoding="utf-8")

    assert cli("users", "add", "alice", "--admin", stdin="alice-password\n")[0] == 0
    assert cli("users", "add", "bob", stdin="bob-password\n")[0] == 0
    code, _, err = cli("users", "add", "carol", stdin="short\n")
    assert code == 1 and "at least 8 characters" in err and "Traceback" not in err
    listed = cli("users", "list")[1].split("\n")
    assert listed[0].split()[:2] == ["alice", "admin"] and listed[1].split()[:2] == ["bob", "member"]

    # The operator (no --user) fills a knowledge base and lets only alice read it.
    assert cli("ingest", "--kb", "hr", str(docs / "salaries.txt"))[0] == 0
    assert cli("kbs", "create", "canteen")[0] == 0
    assert "hr: read: alice" in cli("access", "hr", "--read", "alice", "--change", "")[1]
    code, _, err = cli("--user", "bob", "access", "hr", "--read", "bob")
    assert code == 1 and "Only administrators" in err

    assert cli("--user", "bob", "kbs", "list")[1].split() == ["canteen"]
    assert sorted(cli("--user", "alice", "kbs", "list")[1].split()) == ["canteen", "hr"]
    for command in (["list", "--kb", "hr"], ["search", "--kb", "hr", "salary band"],
                    ["ask", "--kb", "hr", "What is the salary band?"], ["delete", "--kb", "hr", "salaries.txt"]):
        code, out, err = cli("--user", "bob", *command)
        assert code == 1 and "no knowledge base “hr” that you may read" in err, command
        assert "salar" not in out, command
    assert "salaries.txt" in cli("--user", "alice", "list", "--kb", "hr")[1]
    # bob reads the open one but may not change it (only admins change one nobody set).
    assert cli("--user", "bob", "list", "--kb", "canteen")[0] == 0
    code, _, err = cli("--user", "bob", "delete", "--kb", "canteen", "anything.txt")
    assert code == 1 and "may not change" in err
    assert cli("--user", "nobody", "kbs", "list")[0] == 1

    # Conversations: each user lists and opens only their own.
    store = ConversationStore.at_home(home)
    mine = store.create("default", owner="alice")
    store.add_turn(mine.id, "alice asks about the canteen", "11:30")
    theirs = store.create("default", owner="bob")
    store.add_turn(theirs.id, "bob asks about lunch", "13:30")
    bob_list = cli("--user", "bob", "chat", "--list")[1]
    assert "bob asks" in bob_list and "alice asks" not in bob_list
    code, out, _ = cli("--user", "bob", "chat", "--conversation", mine.id)
    assert code == 1 and "alice asks" not in out

    assert cli("users", "passwd", "bob", stdin="bob-new-password\n")[0] == 0
    assert AccountStore.at_home(home).login("bob", "bob-new-password").ok
    assert cli("users", "remove", "bob")[0] == 0
    assert cli("users", "remove", "bob")[0] == 1


# --- the page, through Streamlit's AppTest ----------------------------------------------------

@pytest.fixture
def accounts_home(tmp_path, monkeypatch):
    from ui_helpers import fresh_home
    yield from fresh_home(tmp_path, monkeypatch, accounts="1", lang="en")


def test_a_member_signs_in_reads_but_cannot_change_and_the_session_can_end(accounts_home):
    from streamlit.testing.v1 import AppTest

    from ui_helpers import APP, messages, upload
    home = accounts_home
    users = AccountStore.at_home(home)
    users.add_user("bob", "bob-password")
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.sidebar.radio and not at.file_uploader and not at.chat_input  # only the form
    at.text_input(key="login_name").input("bob")
    at.text_input(key="login_password").input("bob-password")
    at.button[0].click().run()
    assert not at.exception
    assert at.radio(key="page").options == ["💬 Chat", "📚 Knowledge base"]  # no admin page
    assert not [s for s in at.selectbox if s.key == "backend"]  # the model is the admins' choice
    at.radio(key="page").set_value("kb").run()
    assert not at.file_uploader and any("may read this knowledge base but not change" in c.value for c in at.caption)
    assert not [b for b in at.button if b.key in ("sync", "reindex", "delete_kb")]

    KBAccess.at_home(home).set_rule("default", readers=[EVERYONE], writers=["bob"])
    at.run()
    assert at.file_uploader  # allowed now: bob uploads here
    upload(at, ("canteen.txt", b"The canteen opens at 11:30 and closes at 13:30."), mime="text/plain")
    assert any("canteen.txt" in m and "indexed" in m for m in messages(at))
    assert at.dataframe[0].value.iloc[:, 0].tolist() == ["canteen.txt"]
    # The page was drawn again: an empty picker, so the upload button cannot be pressed twice.
    assert not [b for b in at.button if b.key == "upload_go"]

    users.end_session(at.session_state["session_token"])  # e.g. expired, or signed out elsewhere
    at.run()
    assert not at.file_uploader and any("session has ended" in i.value for i in at.info)

    at.text_input(key="login_name").input("bob")
    at.text_input(key="login_password").input("bob-password")
    at.button[0].click().run()
    assert at.chat_input  # signed in again
    at.button(key="sign_out").click().run()
    assert not at.chat_input and at.text_input(key="login_name")
    assert "user" not in at.session_state and "session_token" not in at.session_state
