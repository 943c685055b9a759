"""An ingest's writes, made in one writer thread while the caller prepares the next files.

Embedding is the floor of an ingest's time. The write of a batch (keyword tokens, Chroma
upsert, catalog rows) used to start only when the embedding stopped; here the caller's thread
keeps preparing (hash, parse, chunk, embed) while one writer thread tokenises and writes the
batches handed to it through a bounded queue:

- One writer thread: batches are written one at a time, in the order given, each under the
  writer lock and each file all-or-nothing, exactly as a direct write (KBWriter.write).
- Bounded: at most ``depth`` batches wait for the writer, so memory stays bounded and a killed
  ingest loses at most that much prepared work. A waiting file is not in the catalog yet, so a
  crash leaves nothing to roll back but the batch being written (its ``pending`` rows, which
  ``KBWriter.repair`` handles as before).
- A write that fails stops the pipeline: batches still waiting are dropped (never written
  after a failed one), and the caller gets the error at its next hand-over or at ``close``.
- Progress: the writer thread never calls the caller's callback (a Streamlit page may only be
  drawn from its own thread); its reports are queued and made by the caller's thread.
"""
from __future__ import annotations

import queue
import threading
from typing import Callable

from .ingest import PreparedFile, Progress
from .results import IngestResult

Write = Callable[[list[PreparedFile], Progress], list[IngestResult]]
Batch = list[tuple[int, PreparedFile]]  # (the caller's slot for the result, the prepared file)

_STOP = None  # sentinel: no more batches


class WritePipeline:
    def __init__(self, write: Write, progress: Progress | None = None, depth: int = 1):
        self._write, self._progress = write, progress
        self._batches: queue.Queue[Batch | None] = queue.Queue(maxsize=max(1, depth))
        self._reports: queue.SimpleQueue[tuple[str, str, float]] = queue.SimpleQueue()
        self._results: dict[int, IngestResult] = {}
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="docchat-kb-writer", daemon=True)
        self._thread.start()

    # --- the caller's side ---------------------------------------------------------------------
    def submit(self, batch: Batch) -> None:
        """Hands a batch to the writer; waits while ``depth`` batches are already waiting.
        Raises the writer's error if an earlier write failed."""
        if not batch:
            return
        batch = list(batch)
        while True:
            self.check()
            try:
                self._batches.put(batch, timeout=0.2)
                return
            except queue.Full:
                self.report()

    def check(self) -> None:
        """Makes the writer's progress reports here, and raises its error if a write failed."""
        self.report()
        if self._error is not None:
            raise self._error

    def report(self) -> None:
        while True:
            try:
                name, stage, fraction = self._reports.get_nowait()
            except queue.Empty:
                return
            if self._progress is not None:
                self._progress(name, stage, fraction)

    def close(self) -> dict[int, IngestResult]:
        """Waits for every batch handed over to be written; the results by slot. Raises the
        writer's error if a write failed."""
        if not self._closed:
            self._closed = True
            self._batches.put(_STOP)  # the writer drains the queue, so this never waits for long
            self._thread.join()
        self.check()
        return dict(self._results)

    # --- the writer thread ---------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            batch = self._batches.get()
            if batch is _STOP:
                return
            if self._error is not None:
                continue  # after a failed write nothing more is written
            try:
                written = self._write([p for _, p in batch], self._queue_report)
            except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
                self._error = error
                continue
            for (slot, _), result in zip(batch, written):
                self._results[slot] = result

    def _queue_report(self, name: str, stage: str, fraction: float) -> None:
        self._reports.put((name, stage, fraction))
