"""Encoding a data split off the GUI thread, latest request wins.

:class:`EncodeWorker` lives in its own ``QThread``. The GUI calls :meth:`EncodeWorker.request` (from the GUI
thread) with a model *copy* (never a model being trained), uint8 images and labels; the request is queued
to the worker's thread by a signal. Every request gets a number; a request that is no longer the newest
when the worker reaches it is skipped, and a result that became stale while it was computed is dropped,
so a burst of requests (one per epoch, run switches) costs at most one encoding beyond the newest.

Results cross threads as NumPy arrays by the ``encoded`` / ``failed`` signals; connect them to ``@Slot``
methods of a QObject living in the GUI thread (never to lambdas). Use :func:`start_encode_thread` to get
the (thread, worker) pair, keep references to both, and call :func:`stop_encode_thread` (stop flag,
``thread.quit()``, ``thread.wait()``) on close.
"""
from __future__ import annotations

import threading

import numpy as np
import torch
from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from ..core.latent import encode_dataset


def kl_per_dim(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """Mean KL(q(z|x) || N(0, I)) per latent dimension over a split, in nats (zeros for an empty split)."""
    if len(mu) == 0:
        return np.zeros(mu.shape[1] if mu.ndim == 2 else 0)
    lv = logvar.astype(np.float32, copy=False)
    return (0.5 * (np.square(mu, dtype=np.float32) + np.exp(lv) - 1.0 - lv)).mean(0, dtype=np.float64)


class EncodeWorker(QObject):
    # request number, mu (N, D) float32, logvar (N, D) float32, labels (N,) int64 or None,
    # KL per dimension (D,) float64 (mean over the split, nats)
    encoded = Signal(int, object, object, object, object)
    failed = Signal(int, str)  # request number, a one-line message
    _requested = Signal(int, object, object, object)  # internal: carries a request to the worker thread

    def __init__(self, batch_size: int = 2000):
        super().__init__()
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._latest = 0
        self._stop = threading.Event()
        self._requested.connect(self._encode)  # queued: the worker lives in another thread

    def request(self, model, x: torch.Tensor, y: torch.Tensor | None) -> int:
        """Ask for the encoding of ``x`` (uint8 (N, C, H, W)) by ``model`` (a copy the worker may keep).

        Returns the request's number; only the newest request's result is emitted."""
        with self._lock:
            self._latest += 1
            ticket = self._latest
        self._requested.emit(ticket, model, x, y)
        return ticket

    @property
    def latest(self) -> int:
        with self._lock:
            return self._latest

    def is_current(self, ticket: int) -> bool:
        return not self._stop.is_set() and ticket == self.latest

    def stop(self) -> None:
        """Drop pending work; the encoding in progress (if any) finishes its batch loop and is discarded."""
        self._stop.set()

    @Slot(int, object, object, object)
    def _encode(self, ticket: int, model, x, y) -> None:
        if not self.is_current(ticket):
            return  # a newer request is already queued behind this one
        try:
            with torch.inference_mode():
                enc = encode_dataset(model, x, y, batch_size=self.batch_size)
            mu, logvar = np.ascontiguousarray(enc.mu), np.ascontiguousarray(enc.logvar)
            labels = None if enc.labels is None else np.ascontiguousarray(enc.labels)
            kl = kl_per_dim(mu, logvar)
        except Exception as e:  # noqa: BLE001 - every failure becomes a message, never a dead thread
            if self.is_current(ticket):
                msg = str(e).splitlines()[0] if str(e) else type(e).__name__
                self.failed.emit(ticket, f"could not encode the test split: {msg}")
            return
        if self.is_current(ticket):
            self.encoded.emit(ticket, mu, logvar, labels, kl)


_running: set[tuple[QThread, EncodeWorker]] = set()  # kept alive until stopped, whoever forgets them
_quit_hooked = False


def start_encode_thread() -> tuple[QThread, EncodeWorker]:
    """A started QThread running a fresh EncodeWorker; stop it with :func:`stop_encode_thread`.

    The pair is also kept in a module registry until stopped, so that a panel collected without closing
    cannot destroy a running thread (which aborts the process); :func:`stop_all` runs when the app quits."""
    thread = QThread()
    thread.setObjectName("EncodeWorker")
    worker = EncodeWorker()
    worker.moveToThread(thread)
    thread.start()
    global _quit_hooked
    if not _quit_hooked and (app := QCoreApplication.instance()) is not None:
        app.aboutToQuit.connect(stop_all)
        _quit_hooked = True
    _running.add((thread, worker))
    return thread, worker


def stop_encode_thread(thread: QThread, worker: EncodeWorker) -> None:
    """Stop flag, ``quit()``, ``wait()``; idempotent."""
    worker.stop()
    thread.quit()
    thread.wait()
    _running.discard((thread, worker))


def stop_all() -> None:
    for thread, worker in list(_running):
        stop_encode_thread(thread, worker)
