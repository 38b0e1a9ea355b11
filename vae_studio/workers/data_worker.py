"""Loading a data set (and, at start-up, torch itself) off the GUI thread.

:class:`DataLoader` lives in the GUI thread and hands each request to a :class:`DataWorker` on its own
QThread. The newest request wins: results of older ones are dropped. The first worker also imports torch
and the core modules, which takes seconds, so the window can be shown before they are ready
(``coreReady`` says when they are).

This module imports no torch at module level: the window imports it before torch is loaded.
"""
from __future__ import annotations

import importlib
import time

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

CORE_MODULES = ("torch", "vae_studio.core.data", "vae_studio.core.devices", "vae_studio.core.training",
                "vae_studio.core.checkpoint", "vae_studio.core.latent", "vae_studio.core.metrics")
OPTIONAL_MODULES = ("torchvision.utils",)  # seconds to import; the panels use it


def import_core(extra: tuple[str, ...] = ()) -> dict:
    """Import torch and the core modules (a no-op once done), then ``extra`` modules on a best-effort basis
    (a failure there is left for whoever imports them later to report); returns versions for the About box."""
    for name in CORE_MODULES:
        importlib.import_module(name)
    for name in OPTIONAL_MODULES + tuple(extra):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - reported when the GUI imports it itself
            pass
    import torch

    return {"torch": torch.__version__}


class DataWorker(QObject):
    imported = Signal(object)  # dict of versions: torch and the core modules are importable now
    loaded = Signal(int, object, object, float)  # request id, DataConfig, ImageData, seconds
    failed = Signal(int, object, str)  # request id, DataConfig, message
    finished = Signal()

    def __init__(self, request: int, config, preload: tuple[str, ...] = ()):
        super().__init__()
        self.request = request
        self.config = config
        self.preload = preload

    @Slot()
    def run(self) -> None:
        try:
            self.imported.emit(import_core(self.preload))
            if self.config is not None:
                from ..core.data import load_dataset

                t0 = time.perf_counter()
                data = load_dataset(self.config)
                self.loaded.emit(self.request, self.config, data, time.perf_counter() - t0)
        except Exception as e:  # noqa: BLE001 - DataError, MemoryError, a broken install: all become messages
            text = str(e).strip().splitlines()
            self.failed.emit(self.request, self.config, text[0] if text else type(e).__name__)
        finally:
            self.finished.emit()


class DataLoader(QObject):
    """Loads data sets in the background, newest request wins. Lives in the GUI thread."""

    coreReady = Signal(object)  # versions dict, once: torch and core are imported
    loading = Signal(int, object)  # request id, DataConfig: a load began
    loaded = Signal(int, object, object)  # request id, DataConfig, ImageData (newest request only)
    failed = Signal(int, object, str)  # request id, DataConfig, message (newest request only)

    def __init__(self, parent=None, preload: tuple[str, ...] = ()):
        """``preload``: more modules to import in the background before ``coreReady`` (best effort)."""
        super().__init__(parent)
        self.preload_modules = tuple(preload)
        self._jobs: list[tuple[QThread, DataWorker]] = []  # every thread alive, with its worker
        self._latest = 0
        self.core_ready = False
        self.versions: dict = {}
        self.last_seconds = 0.0

    @property
    def busy(self) -> bool:
        return any(job[1].config is not None and job[1].request == self._latest and job[0].isRunning()
                   for job in self._jobs)

    def preload(self) -> None:
        """Import torch and core in the background (a load does it too)."""
        self._start(None)

    def load(self, config) -> int:
        """Start loading ``config`` (a DataConfig); returns the request id the signals will carry."""
        request = self._start(config)
        self.loading.emit(request, config)
        return request

    def _start(self, config) -> int:
        self._latest += 1 if config is not None else 0
        request = self._latest
        thread = QThread()
        thread.setObjectName("vae-studio-data")
        worker = DataWorker(request, config, () if self.core_ready else self.preload_modules)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.finished.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        worker.imported.connect(self._on_imported)
        worker.loaded.connect(self._on_loaded)
        worker.failed.connect(self._on_failed)
        thread.finished.connect(self._reap)
        self._jobs.append((thread, worker))
        thread.start()
        return request

    @Slot(object)
    def _on_imported(self, versions) -> None:
        if not self.core_ready:
            self.core_ready = True
            self.versions = dict(versions)
            self.coreReady.emit(self.versions)

    @Slot(int, object, object, float)
    def _on_loaded(self, request, config, data, seconds) -> None:
        if request == self._latest:
            self.last_seconds = seconds
            self.loaded.emit(request, config, data)

    @Slot(int, object, str)
    def _on_failed(self, request, config, message) -> None:
        if request == self._latest or config is None:
            self.failed.emit(request, config, message)

    @Slot()
    def _reap(self) -> None:
        self._jobs = [job for job in self._jobs if not job[0].isFinished()]

    def shutdown(self) -> None:
        """Wait for every loading thread to end (a load cannot be interrupted; it is short)."""
        for thread, _worker in list(self._jobs):
            thread.quit()
            thread.wait()
        self._jobs.clear()
