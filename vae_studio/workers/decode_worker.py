"""Decoding big grids off the GUI thread, latest request wins.

:class:`DecodeWorker` lives in its own ``QThread``; its :meth:`DecodeWorker.run` loop waits for a request,
decodes it in chunks and emits the images as NumPy arrays. :meth:`DecodeWorker.submit` (from any thread)
replaces the pending request, so a burst of requests (a slider being dragged, a model publishing new
weights) never queues stale work; a decode already under way gives up between chunks when a newer request
arrives. :class:`DecodeService` owns the thread and the worker, re-emits their results in the GUI thread
and shuts both down cleanly (stop flag, ``quit()``, ``wait()``).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import torch
from PySide6.QtCore import QObject, QThread, Signal, Slot

from ..core.export import grid_array
from ..core.latent import decode
from ..core.models import VAE

CHUNK = 256  # images decoded between checks for a newer request
GRID_PADDING = 2
GRID_PAD_VALUE = 0.3  # grey lines between the cells, visible on black and white backgrounds


def decode_latents(model: VAE, z: np.ndarray, labels: np.ndarray | None = None) -> torch.Tensor:
    """Latents (N, D) -> images (N, C, H, W) float [0, 1] on the CPU; ``labels`` (N,) one class per row
    for a conditional model (each class decoded with :func:`core.latent.decode`)."""
    z = np.asarray(z, np.float32).reshape(len(z), -1)
    if labels is None or not model.conditional:
        return decode(model, z, 0 if model.conditional else None)
    labels = np.asarray(labels, np.int64)
    out = None
    for c in np.unique(labels):
        rows = np.flatnonzero(labels == c)
        imgs = decode(model, z[rows], int(c))
        if out is None:
            out = torch.empty((len(z), *imgs.shape[1:]), dtype=imgs.dtype)
        out[torch.from_numpy(rows)] = imgs
    return out


def grid_image(images, nrow: int) -> np.ndarray:
    """Images (N, C, H, W) float [0, 1] (torch or NumPy) -> one uint8 picture (H', W') or (H', W', 3),
    row-major, cells ``GRID_PADDING`` pixels apart on grey; :func:`cell_at` maps a pixel back to an image."""
    return grid_array(images, nrow, padding=GRID_PADDING, pad_value=GRID_PAD_VALUE)


def cell_at(x: float, y: float, n: int, nrow: int, size: tuple[int, int]) -> int | None:
    """The index of the image under pixel (x, y) of :func:`grid_image`'s picture, or None (padding/outside).

    ``size`` is one image's (height, width)."""
    h, w = size
    ncol = min(max(1, nrow), n)
    col, cx = divmod(x - GRID_PADDING, w + GRID_PADDING)
    row, cy = divmod(y - GRID_PADDING, h + GRID_PADDING)
    if x < GRID_PADDING or y < GRID_PADDING or cx >= w or cy >= h or col >= ncol:
        return None
    i = int(row) * ncol + int(col)
    return i if 0 <= i < n else None


@dataclass
class DecodeRequest:
    model: VAE  # an eval copy for display (Workspace.decode_model), never the model being trained
    z: np.ndarray  # (N, D) float32
    labels: np.ndarray | None = None  # (N,) class per image, conditional models only
    nrow: int = 8  # images per row of the grid picture
    request_id: int = 0  # set by DecodeWorker.submit


class DecodeWorker(QObject):
    """Decodes the latest submitted request; lives in its own QThread (see :class:`DecodeService`)."""

    decoded = Signal(int, object, object)  # request id, images (N, C, H, W) float32, grid uint8 (H, W[, 3])
    failed = Signal(int, str)  # request id, one-line message
    busy = Signal(bool)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._lock = threading.Lock()
        self._pending: DecodeRequest | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._next_id = 0

    def submit(self, request: DecodeRequest) -> int:
        """Replace the pending request (thread-safe); returns the id its result will carry."""
        with self._lock:
            self._next_id += 1
            request.request_id = self._next_id
            self._pending = request
        self._wake.set()
        return request.request_id

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def _newer_waiting(self) -> bool:
        return self._stop.is_set() or self._pending is not None

    def _take(self) -> DecodeRequest | None:
        with self._lock:
            req, self._pending = self._pending, None
            self._wake.clear()
        return req

    @Slot()
    def run(self) -> None:
        """The loop of the worker thread: wait, take the latest request, decode it, emit; until stopped."""
        while not self._stop.is_set():
            self._wake.wait()
            req = self._take()
            if req is None or self._stop.is_set():
                continue
            self.busy.emit(True)
            try:
                self._decode(req)
            except Exception as e:  # never let an error kill the thread
                msg = str(e).splitlines()[0] if str(e) else type(e).__name__
                self.failed.emit(req.request_id, f"decoding failed: {msg}")
            finally:
                if self._pending is None:
                    self.busy.emit(False)

    def _decode(self, req: DecodeRequest) -> None:
        z = np.asarray(req.z, np.float32)
        parts = []
        for i in range(0, len(z), CHUNK):
            if self._newer_waiting():
                return  # a newer request (or stop) supersedes this one
            labels = None if req.labels is None else req.labels[i:i + CHUNK]
            parts.append(decode_latents(req.model, z[i:i + CHUNK], labels))
        if not parts or self._newer_waiting():
            return
        images = torch.cat(parts)
        grid = grid_image(images, req.nrow)
        self.decoded.emit(req.request_id, images.numpy(), grid)


class DecodeService(QObject):
    """Owns one DecodeWorker and its QThread (started on first use); results arrive in this object's thread."""

    decoded = Signal(int, object, object)  # request id, images (N, C, H, W) float32, grid uint8 (H, W[, 3])
    failed = Signal(int, str)
    busyChanged = Signal(bool)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: DecodeWorker | None = None
        self.latest_id = 0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.isRunning()

    def submit(self, request: DecodeRequest) -> int:
        if self._thread is None:
            self._start()
        self.latest_id = self._worker.submit(request)
        return self.latest_id

    def _start(self) -> None:
        self._thread = QThread()
        self._thread.setObjectName("DecodeWorker")
        self._worker = DecodeWorker()
        self._worker.moveToThread(self._thread)
        self._worker.decoded.connect(self._on_decoded)
        self._worker.failed.connect(self._on_failed)
        self._worker.busy.connect(self._on_busy)
        self._thread.started.connect(self._worker.run)
        self._thread.start()

    @Slot(int, object, object)
    def _on_decoded(self, request_id: int, images, grid) -> None:
        self.decoded.emit(request_id, images, grid)

    @Slot(int, str)
    def _on_failed(self, request_id: int, message: str) -> None:
        self.failed.emit(request_id, message)

    @Slot(bool)
    def _on_busy(self, busy: bool) -> None:
        self.busyChanged.emit(busy)

    def shutdown(self) -> None:
        """Stop the loop, end the thread's event loop and wait for it; safe to call twice."""
        if self._thread is None:
            return
        self._worker.stop()
        self._thread.quit()
        self._thread.wait()
        self._thread = None
        self._worker = None
