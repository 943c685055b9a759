"""The web page's logic, driven through Streamlit's AppTest: real files, real knowledge base,
real embedded model (0.5B for speed)."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from ui.safety import safe_filename, safe_markdown  # noqa: E402

from ui_helpers import APP, fresh_home, messages, upload  # noqa: E402
from ui_helpers import start as _start  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PDF = REPO / "data" / "it_security_policy_en.pdf"
DOCX = REPO / "data" / "employee_handbook_zh.docx"


@pytest.fixture
def app_env(tmp_path, monkeypatch):
    """A fresh DocChat home; the fast, deterministic model."""
    yield from fresh_home(tmp_path, monkeypatch, gguf_model="0.5b", max_new_tokens="64",
                          temperature="0", lang="en")


def start(page: str = "chat") -> AppTest:
    return _start(page)


def ask(at: AppTest, question: str) -> AppTest:
    return at.chat_input(key="question").set_value(question).run()


def title(label: str) -> str:
    """A listed conversation's title: its button shows the title, then ' :gray[· time]'."""
    return label.split(" :gray[")[0]


def last_sources_label(at: AppTest) -> str:
    """The sources line under the latest answer ("" when it cites nothing)."""
    last = [m for m in at.chat_message if m.name == "assistant"][-1]
    labels = [e.label for e in last.expander if e.label.startswith("Sources")]
    return labels[-1] if labels else ""


def test_upload_ask_delete_and_the_deleted_file_is_no_longer_cited(app_env):
    at = start("kb")
    assert not at.exception
    upload(at, (PDF.name, PDF.read_bytes()), (DOCX.name, DOCX.read_bytes()))
    assert not at.exception
    shown = messages(at)
    assert any(PDF.name in m and "indexed" in m and "passages" in m for m in shown), shown
    assert any(DOCX.name in m and "indexed" in m for m in shown), shown
    assert (app_env / "uploads" / "default" / PDF.name).is_file()
    names = at.dataframe[0].value.iloc[:, 0].tolist()
    assert sorted(names) == sorted([PDF.name, DOCX.name])

    at.radio(key="page").set_value("chat").run()
    ask(at, "How long must passwords be?")
    assert not at.exception
    label = last_sources_label(at)
    assert PDF.name in label and "page" in label, label
    assert any("[1]" in m.value for m in at.markdown), "the quoted passage is shown under the answer"

    at.radio(key="page").set_value("kb").run()
    at.selectbox(key="doc_to_delete").set_value(PDF.name).run()
    at.button(key="delete_doc").click().run()
    # Nothing is deleted before the user confirms it.
    assert sorted(at.dataframe[0].value.iloc[:, 0].tolist()) == sorted([PDF.name, DOCX.name])
    assert any(PDF.name in w.value and "cannot be undone" in w.value for w in at.warning)
    at.button(key="delete_doc_yes").click().run()
    assert not at.exception
    assert at.dataframe[0].value.iloc[:, 0].tolist() == [DOCX.name]

    at.radio(key="page").set_value("chat").run()
    at.slider(key="top_k").set_value(2).run()  # the sidebar's top-k reaches the retriever
    ask(at, "How long must passwords be?")
    assert not at.exception
    label = last_sources_label(at)
    assert PDF.name not in label
    assert not label or int(label.split("(")[1].split(")")[0]) <= 2, label
    assert len([m for m in at.chat_message if m.name == "assistant"]) == 2


def test_a_broken_pdf_shows_one_plain_message_and_no_traceback(app_env):
    at = start("kb")
    upload(at, ("broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\nthis is not a real pdf"))
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "broken.pdf" in errors[0] and "could not read" in errors[0], errors
    assert "Traceback" not in errors[0]
    assert not at.dataframe  # nothing was added
    assert not (app_env / "uploads" / "default" / "broken.pdf").exists()  # nor kept on disk


def test_the_files_of_one_upload_go_through_one_batched_ingest_each_with_its_message(app_env, monkeypatch):
    """Each file is read, hashed and size-checked once, by the page; the knowledge base gets
    them all in one ingest call and hashes none again; every file still gets its own message."""
    from vectorstore import KnowledgeBase, KnownFile
    from vectorstore import ingest as stages

    calls, hashed = [], []
    real_ingest, real_hash = KnowledgeBase.ingest, stages.file_sha256

    def ingest(self, paths, *args, **kwargs):  # counts the calls, then does the real ingest
        calls.append(list(paths))
        return real_ingest(self, calls[-1], *args, **kwargs)

    monkeypatch.setattr(KnowledgeBase, "ingest", ingest)
    monkeypatch.setattr(stages, "file_sha256", lambda path: hashed.append(path) or real_hash(path))
    monkeypatch.setenv("DOCCHAT_MAX_FILE_MB", "0.01")  # 10 KB: big.txt is refused by the page
    at = start("kb")
    rules = b"Visitors sign in at the front desk and wear a badge."
    upload(at, ("rules.txt", rules), ("broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\nthis is not a real pdf"), ("big.txt", b"x" * 20000),
           ("rules copy.txt", rules))
    assert not at.exception
    assert len(calls) == 1 and all(isinstance(f, KnownFile) for f in calls[0])
    assert [f.name for f in calls[0]] == ["rules.txt", "broken.pdf", "rules copy.txt"]
    assert hashed == []  # the page's hash was used
    shown = messages(at)

    def about(name):  # the one message naming this file
        (said,) = [m for m in shown if f"**{name}**" in m or m.startswith(f"{name}:")]
        return said

    assert "indexed" in about("rules.txt") and "could not read" in about("broken.pdf")
    assert "too large" in about("big.txt") and "already" in about("rules copy.txt"), shown
    assert any(m.startswith("4 files") for m in shown), shown
    assert at.dataframe[0].value.iloc[:, 0].tolist() == ["rules.txt"]
    kept = sorted(p.name for p in (app_env / "uploads" / "default").iterdir() if not p.name.startswith("."))
    assert kept == ["rules copy.txt", "rules.txt"]  # the refused ones are not kept on disk


def test_an_upload_with_a_taken_name_asks_to_replace_or_keep_both(app_env):
    at = start("kb")
    upload(at, ("notes.txt", "The first team's notes: sales rose in May.".encode()))
    assert any("notes.txt" in m and "indexed" in m for m in messages(at))
    # Same name, other content: nothing is replaced until the user says so.
    at.run()  # the page drew a fresh, empty uploader after the upload
    upload(at, ("notes.txt", "The second team's notes: costs fell in June.".encode()))
    assert not at.exception
    assert any("notes.txt" in w.value and "Replace" in w.value for w in at.warning), messages(at)
    assert at.dataframe[0].value.iloc[:, 0].tolist() == ["notes.txt"]
    at.button(key="clash_keep_both").click().run()
    assert not at.exception
    assert sorted(at.dataframe[0].value.iloc[:, 0].tolist()) == ["notes (2).txt", "notes.txt"]
    assert "sales rose" in (app_env / "uploads" / "default" / "notes.txt").read_text(encoding="utf-8")
    # A third version, replaced on purpose: the name now holds the new content.
    at.run()
    upload(at, ("notes.txt", "The third version: budgets were approved.".encode()))
    at.button(key="clash_replace").click().run()
    assert not at.exception
    assert sorted(at.dataframe[0].value.iloc[:, 0].tolist()) == ["notes (2).txt", "notes.txt"]
    assert "budgets" in (app_env / "uploads" / "default" / "notes.txt").read_text(encoding="utf-8")


def test_a_file_over_our_size_limit_is_refused_before_it_is_stored(app_env, monkeypatch):
    monkeypatch.setenv("DOCCHAT_MAX_FILE_MB", "0.001")
    at = start("kb")
    upload(at, ("big.txt", b"x" * 5000))
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "too large" in errors[0]
    assert not (app_env / "uploads" / "default" / "big.txt").exists()


def test_first_run_welcome_loads_the_samples_then_offers_sample_questions(app_env, monkeypatch):
    monkeypatch.setenv("DOCCHAT_LANG", "zh")
    at = start("chat")
    assert "空的" in at.info[0].value
    at.button(key="load_samples").click().run()
    assert not at.exception
    # No reload needed: the page draws itself again once the samples are in.
    assert any("示例文件已载入" in m.value for m in at.success)
    labels = [b.label for b in at.button]
    assert "出差住宿费一线城市每晚最多多少钱？" in labels


def test_choosing_a_backend_that_is_not_set_up_gives_one_plain_sentence(app_env):
    at = start("kb")
    upload(at, (DOCX.name, DOCX.read_bytes()))
    at.radio(key="page").set_value("chat").run()
    # No DOCCHAT_CHATGLM_PATH here: choosing ChatGLM2 in the sidebar is a setup error.
    at.selectbox(key="backend").set_value("chatglm2").run()
    ask(at, "试用期多长？")
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "DOCCHAT_CHATGLM_PATH" in errors[0] and "administrator" in errors[0]
    at.run()  # the failed turn stays on the page (this session only: nothing was stored)
    assert [e.value for e in at.error] == errors
    assert [m.name for m in at.chat_message] == ["user", "assistant"]


def test_the_language_switch_changes_the_page_words(app_env):
    at = start("kb")
    assert at.header[0].value.startswith("Knowledge base")
    at.radio(key="lang").set_value("zh").run()
    assert at.header[0].value.startswith("知识库")


def test_an_optional_password_guards_the_page(app_env):
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["password"] = "demo-pass"
    at.run()
    assert not at.sidebar.radio and not at.file_uploader  # nothing but the sign-in form
    at.text_input(key="password_given").input("wrong")  # a form: sent with its button
    at.button[0].click().run()
    assert "not right" in at.error[0].value
    at.text_input(key="password_given").input("demo-pass")
    at.button[0].click().run()
    assert at.radio(key="page").value == "chat" and not at.error


def test_the_password_can_come_from_the_environment(app_env, monkeypatch):
    monkeypatch.setenv("DOCCHAT_UI_PASSWORD", "lan-demo")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.sidebar.radio and not at.file_uploader
    at.text_input(key="password_given").input("lan-demo")
    at.button[0].click().run()
    assert at.radio(key="page").value == "chat" and not at.error


def test_create_and_delete_a_knowledge_base(app_env):
    at = start("kb")
    at.text_input[0].input("projects")
    at.button(key="FormSubmitter:create_kb-Create").click().run()
    assert not at.exception
    assert at.selectbox(key="kb_name").value == "projects"
    assert "projects" in at.selectbox(key="kb_name").options
    at.checkbox(key="delete_kb_sure_projects").check().run()
    at.button(key="delete_kb").click().run()
    assert "projects" not in at.selectbox(key="kb_name").options
    assert at.selectbox(key="kb_name").value == "default"
    assert any("Deleted" in m.value for m in at.success)


def test_a_conversation_persists_and_is_reopened_from_a_new_session(app_env):
    from chains.conversations import ConversationStore
    at = start("kb")
    upload(at, (PDF.name, PDF.read_bytes()))
    at.radio(key="page").set_value("chat").run()
    ask(at, "How long must passwords be?")
    # The sidebar lists the new conversation right after its first answer, highlighted as the
    # current one (AppTest's Button.type is the element kind; the button's own type is in proto).
    listed = [b for b in at.sidebar.button if b.key.startswith("conv_")]
    assert [(title(b.label), b.proto.type) for b in listed] == [("How long must passwords be?", "primary")]
    ask(at, "And how often must they be changed?")  # a follow-up: same conversation
    assert not at.exception
    (conv,) = ConversationStore.at_home(app_env).list()
    turns = ConversationStore.at_home(app_env).get(conv.id).turns
    assert [t.question for t in turns] == ["How long must passwords be?", "And how often must they be changed?"]
    assert turns[0].sources and turns[0].sources[0].source == PDF.name
    assert turns[1].standalone_question  # rewritten from the history (or kept, when the rewrite failed)

    fresh = start("chat")  # another browser session, as after closing the tab or restarting the app
    assert not fresh.chat_message  # it starts a new conversation...
    past = [b for b in fresh.sidebar.button if b.key.startswith("conv_")]
    assert [title(b.label) for b in past] == ["How long must passwords be?"]  # ...and lists the old one
    past[0].click().run()
    assert not fresh.exception
    shown = [(m.name, m.markdown[0].value) for m in fresh.chat_message]
    assert [name for name, _ in shown] == ["user", "assistant"] * 2
    assert shown[0][1] == "How long must passwords be?" and shown[1][1] == safe_markdown(turns[0].answer)
    assert PDF.name in last_sources_label(fresh)

    fresh.sidebar.button(key="new_chat").click().run()
    assert not fresh.chat_message


def test_answers_wait_in_line_and_a_leaver_frees_its_place():
    from chains.answer_queue import AnswerQueue
    q = AnswerQueue()
    first, second, third = q.join(), q.join(), q.join()
    assert q.wait(first, 0) == 0 and q.wait(second, 0) == 1 and q.wait(third, 0) == 2
    q.leave(second)  # gave up waiting (page closed)
    assert q.wait(third, 0) == 1
    q.leave(first)
    assert q.wait(third, 0) == 0


def test_upload_names_are_sanitised():
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("C:\\Users\\me\\报告 2024.docx") == "报告 2024.docx"
    assert safe_filename("CON.txt") == "upload_CON.txt"
    assert safe_filename('a<b>:"c".pdf') == "a_b___c_.pdf"
    assert safe_filename("...") == "upload"
    assert len(safe_filename("长" * 300 + ".pdf").encode()) <= 200


def test_model_output_renders_no_html_images_or_links():
    out = safe_markdown('ok ![x](http://e.com/t.png) [click](https://evil.com) <img src=x> '
                        'https://evil.com/a <http://b.c> [1]\n[r]: http://ref.example')
    assert "](" not in out and "<img" not in out and "ref.example" not in out
    assert "`https://evil.com/a`" in out and "[1]" in out and "click" in out
