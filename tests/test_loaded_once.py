"""The caches a process keeps outside the app object are LoadedOnce objects: loaded on first
use and never twice, also when threads ask at once; shared by two app objects."""
from __future__ import annotations

import threading
import time

from common.loaded_once import LoadedOnce


def test_two_threads_asking_at_once_load_it_once():
    cache: LoadedOnce[object] = LoadedOnce("things")
    loads = []

    def load():
        loads.append(1)
        time.sleep(0.2)  # slow, like weights: the second thread asks while it loads
        return object()

    got = []
    threads = [threading.Thread(target=lambda: got.append(cache.get("k", load))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1 and len({id(g) for g in got}) == 1 and len(cache) == 1
    assert cache.drain() == [got[0]] and len(cache) == 0
    assert cache.get("k", load) is not got[0]  # loaded again after a drain


def test_two_app_objects_share_the_loaded_embedding_model_but_not_their_state(tmp_path):
    from docchat.app import DocChat
    from docchat.settings import Settings
    from vectorstore import embeddings

    first = DocChat.from_settings(Settings(home=tmp_path / "a"))
    second = DocChat.from_settings(Settings(home=tmp_path / "b"))
    e1, e2 = first.parts.embeddings, second.parts.embeddings
    assert e1 is not e2 and e1._model is e2._model and e1._lock is e2._lock  # one copy of the weights
    assert first.parts.store is not second.parts.store  # each home its own store
    assert first.kb("default") is not second.kb("default")
    assert "embedding models" in repr(embeddings._MODELS)
    first.close()
    second.close()
