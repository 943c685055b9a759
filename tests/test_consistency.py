"""`docchat check`: do Chroma rows, keyword rows and catalog chunks agree? Real stores on a
temporary home, the real `docchat` process; a store broken behind the knowledge base's back is
reported, in the user's language, with a failing exit status."""
from __future__ import annotations

import json

from kb_helpers import config, write_txt
from test_cli import docchat
from vectorstore import KnowledgeBase


def test_check_reports_agreement_and_then_vectors_lost_behind_its_back(tmp_path):
    home = tmp_path / "home"
    write_txt(tmp_path / "docs" / "a.txt", ["加班须提前一天申请。", "调休须在三个月内使用。"])
    write_txt(tmp_path / "docs" / "b.txt", ["报销须在三十日内提交。"])
    assert docchat(home, "ingest", str(tmp_path / "docs")).returncode == 0

    out = docchat(home, "check", "--json")
    report = json.loads(out.stdout)
    assert out.returncode == 0 and report["ok"], out.stderr
    assert report["catalog_chunks"] == report["chroma_rows"] == report["keyword_rows"] > 0
    assert report["keyword_generation"] == report["catalog_generation"]

    # One file's vectors vanish from Chroma, the catalog and keyword index still list it.
    kb = KnowledgeBase("default", config(home))
    lost = next(r for r in kb.files() if r.name == "b.txt")
    kb.store.delete_file(kb.collection, lost.sha256)
    kb.close()
    out = docchat(home, "check", "--json")
    report = json.loads(out.stdout)
    assert out.returncode == 1 and not report["ok"]
    assert report["missing_in_chroma"] == lost.chunks and report["chroma_rows"] == report["catalog_chunks"] - lost.chunks
    zh = docchat(home, "check", lang="zh")
    assert zh.returncode == 1 and "不一致" in zh.stdout and "缺少向量" in zh.stdout
    assert "docchat reindex" in zh.stdout
    # What it advises mends it: the documents are embedded again, and the stores agree.
    assert docchat(home, "reindex").returncode == 0
    out = docchat(home, "check")
    assert out.returncode == 0 and "is consistent" in out.stdout
