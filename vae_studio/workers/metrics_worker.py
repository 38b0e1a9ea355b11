"""Computing a run's quality metrics off the GUI thread.

:class:`MetricsWorker` lives in its own ``QThread`` and works through requests one at a time, in order (each
request is a different run or weights version, so none is skipped). The GUI calls
:meth:`MetricsWorker.request` with a *copy* of the model (never a model being trained), the data set and the
run's loss settings; it runs :func:`vae_studio.core.metrics.evaluate_run` and emits ``computed`` with the
request's key and a dict of plain floats and lists, or ``failed`` with a one-line message.

Connect the signals to ``@Slot`` methods of a QObject in the GUI thread. Use :func:`start_metrics_thread`,
keep references to the thread and the worker, and on close call :meth:`MetricsWorker.stop`, then
``thread.quit()`` and ``thread.wait()``: a computation in progress stops at its next batch.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import torch
from PySide6.QtCore import QObject, QThread, Signal, Slot

from ..core.metrics import Cancelled, evaluate_run


@dataclass
class MetricsRequest:
    key: object  # anything hashable the caller uses to match the answer (e.g. (id(run), weights version))
    model: torch.nn.Module  # a copy the worker may use freely
    data: object  # ImageData
    recon: str
    beta: float
    gamma: float
    iwae_k: int = 100
    seed: int = 0


class MetricsWorker(QObject):
    started = Signal(object)  # key: the computation of this request began
    computed = Signal(object, object)  # key, dict of metrics (see evaluate_run)
    failed = Signal(object, str)  # key, a one-line message
    _requested = Signal(object)  # internal: carries a MetricsRequest to the worker thread

    def __init__(self):
        super().__init__()
        self._stop = threading.Event()
        self._cancelled: set = set()
        self._lock = threading.Lock()
        self._requested.connect(self._compute)  # queued once the worker is moved to its thread

    def request(self, req: MetricsRequest) -> None:
        """Queue ``req``; call from the GUI thread."""
        with self._lock:
            self._cancelled.discard(req.key)
        self._requested.emit(req)

    def cancel(self, key) -> None:
        """Drop the request with ``key`` (pending, or stop it at its next batch if it is running)."""
        with self._lock:
            self._cancelled.add(key)

    def stop(self) -> None:
        """Drop all pending work; the computation in progress stops at its next batch."""
        self._stop.set()

    def _should_stop(self, key) -> bool:
        with self._lock:
            return self._stop.is_set() or key in self._cancelled

    @Slot(object)
    def _compute(self, req: MetricsRequest) -> None:
        if self._should_stop(req.key):
            return
        self.started.emit(req.key)
        try:
            with torch.inference_mode():
                res = evaluate_run(req.model, req.data, recon=req.recon, beta=req.beta, gamma=req.gamma,
                                   iwae_k=req.iwae_k, seed=req.seed,
                                   should_stop=lambda: self._should_stop(req.key))
        except Cancelled:
            return
        except Exception as e:  # noqa: BLE001 - every failure becomes a message, never a dead thread
            if not self._should_stop(req.key):
                msg = str(e).splitlines()[0] if str(e) else type(e).__name__
                self.failed.emit(req.key, msg)
            return
        if not self._should_stop(req.key):
            self.computed.emit(req.key, res)


def start_metrics_thread(parent: QObject | None = None) -> tuple[QThread, MetricsWorker]:
    """A started QThread running a fresh MetricsWorker; the caller keeps both and stops them on close."""
    thread = QThread(parent)
    thread.setObjectName("MetricsWorker")
    worker = MetricsWorker()
    worker.moveToThread(thread)
    thread.start()
    return thread, worker
