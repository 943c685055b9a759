"""One DocChat app replica in a process of its own, driven over its stdin/stdout.

Run as a script (``python tests/replica.py``), it builds ``DocChat.from_settings()`` from its
environment (DOCCHAT_HOME, DOCCHAT_CHROMA_URL, DOCCHAT_DATABASE_URL, DOCCHAT_LLM=openai, ...),
exactly like the page does, and answers JSON requests, one a line, e.g.
``{"op": "ingest", "id": 7, "kb": "team", "paths": ["/docs/a.pdf"]}``, with one JSON line
``{"id": ..., "ok": true, "result": ..., "done_at": <epoch s>}``; requests run at once, each
in a thread, as a web server's users do. It keeps its app object and its open
knowledge bases between requests, as a running web page does (ui/state.py: ``app().kb(name)``).

Imported, ``Replica`` starts one and sends it requests (tests/test_replicas.py,
bench/replica_bench.py).
"""
from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


# --- the replica process ------------------------------------------------------------------------
def _serve() -> None:
    sys.path.insert(0, str(REPO))
    from chains.chat_session import ChatSession
    from chains.grounded_answer import Answer
    from docchat.app import DocChat
    from docchat.factory import account_store
    from vectorstore.consistency import check

    app = DocChat.from_settings()
    app.kb()  # the embedder loads and the default knowledge base opens (and repairs) once, up front

    def ingest(kb, paths):
        return [r.to_json() for r in app.kb(kb).ingest([Path(p) for p in paths])]

    def search(kb, query, k=5, mode="hybrid"):
        return [h.to_json() for h in app.kb(kb).search(query, k=k, mode=mode)]

    def ask(kb, question, k=3, keep=False, conversation=None):
        """``keep``: the turn is stored in the app's conversation store, as the page stores it
        (``conversation``: continue that stored conversation)."""
        answer, pieces = Answer(question), 0
        session = ChatSession(app.kb(kb), app.llm(), k=k, queue=app.answer_queue,
                              store=app.conversations if keep or conversation else None,
                              conversation_id=conversation)
        for _ in session.stream(question, answer):
            pieces += 1
        return {**answer.to_json(), "pieces": pieces, "conversation": session.conversation_id}

    def sign_in(name, password):
        """A new user signs in here; the token is what the page keeps for the browser tab."""
        accounts = account_store(app.settings)
        if accounts.get_user(name) is None:
            accounts.add_user(name, password)
        return accounts.start_session(accounts.login(name, password).user)

    def signed_in_as(token):
        user = account_store(app.settings).session_user(token)
        return user.name if user else None

    ops = {
        "ingest": ingest,
        "delete": lambda kb, name: [r.to_json() for r in app.kb(kb).delete(name)],
        "search": search,
        "ask": ask,
        "files": lambda kb: [f.name for f in app.kb(kb).files()],
        "pending": lambda kb: [f.name for f in app.kb(kb).catalog.pending_files()],
        "repair": lambda kb: app.kb(kb).repair(),
        "check": lambda kb: check(app.kb(kb)).to_json(),
        "turns": lambda conversation: [t.question for t in app.conversations.get(conversation).turns],
        "sign_in": sign_in,
        "signed_in_as": signed_in_as,
    }
    out_lock = threading.Lock()

    def run(request: dict) -> None:
        op, rid = request.pop("op"), request.pop("id", None)
        try:
            reply = {"ok": True, "result": ops[op](**request)}
        except Exception as exc:  # noqa: BLE001 - reported to the driver, the replica keeps serving
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        reply.update(id=rid, done_at=time.time())
        with out_lock:
            print(json.dumps(reply, ensure_ascii=False), flush=True)

    print(json.dumps({"ok": True, "result": "ready", "id": None, "pid": os.getpid()}), flush=True)
    # Each request in a thread of its own, as a web server serves its users: several chat
    # sessions of one replica at once share its app object (and its answer queue).
    workers = []
    for line in sys.stdin:
        worker = threading.Thread(target=run, args=(json.loads(line),))
        worker.start()
        workers.append(worker)
    for worker in workers:
        worker.join()


# --- the driver's side ----------------------------------------------------------------------------
class ReplicaError(RuntimeError):
    pass


class Replica:
    """A replica process with its own DOCCHAT_HOME; ``env`` names the shared servers. Thread
    safe: ``call`` from several threads runs their requests at once in the replica."""

    def __init__(self, name: str, home: Path, env: dict[str, str], log: Path):
        self.name, self.home = name, home
        self._log = open(log, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True, bufsize=1,
            env={**os.environ, **env, "DOCCHAT_HOME": str(home)}, cwd=str(REPO))
        self._ids = itertools.count(1)
        self._send_lock = threading.Lock()
        self._waiting: dict[int | None, Future] = {None: Future()}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._result(self._waiting[None])  # "ready": the app object is built

    def _read(self) -> None:
        for line in self.proc.stdout:
            reply = json.loads(line)
            future = self._waiting.pop(reply["id"], None)
            if future is not None:
                future.set_result(reply)
        for rid in list(self._waiting):  # the process is gone: nobody waits for ever
            future = self._waiting.pop(rid, None)
            if future is not None and not future.done():
                future.set_exception(ReplicaError(
                    f"replica {self.name} exited ({self.proc.wait()}); see its log {self._log.name}"))

    def send(self, op: str, **args) -> Future:
        """Sends a request; its Future gives the whole reply (``result``, ``done_at``)."""
        rid = next(self._ids)
        future = self._waiting[rid] = Future()
        with self._send_lock:
            self.proc.stdin.write(json.dumps({"op": op, "id": rid, **args}, ensure_ascii=False) + "\n")
            self.proc.stdin.flush()
        return future

    def _result(self, future: Future):
        reply = future.result()
        if not reply["ok"]:
            raise ReplicaError(f"replica {self.name}: {reply['error']}")
        return reply["result"]

    def reply(self, future: Future):
        """The result of a request sent earlier (ReplicaError when it failed)."""
        return self._result(future)

    def call(self, op: str, **args):
        return self._result(self.send(op, **args))

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=10)
        self._log.close()


if __name__ == "__main__":
    _serve()
