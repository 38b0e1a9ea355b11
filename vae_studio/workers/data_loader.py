"""Loading a data set (and, at start-up, torch itself) off the GUI thread, on a :class:`~.tasks.TaskRunner`.

:class:`DataLoader` lives in the GUI thread. Its first task imports torch and the core modules (seconds),
so the window can be shown before they are ready (``coreReady`` says when they are); each :meth:`load` is a
task after it, in order, and the newest load wins: an older one still waiting is dropped, and one already
running (a load cannot be interrupted; it is short) finishes but its result is dropped. torchvision is not
imported at start-up at all (a second, sympy and triton behind it, 220 MB): only a CIFAR-10 load needs it.

The first task also imports what would otherwise be imported later, on first use, in the GUI thread or the
training thread (:func:`warm_up`): PyTorch's first optimiser imports ``torch._dynamo`` (0.8-1.1 s, some 870
modules, sympy and triton among them), and the first click on Start waited that long for its first curve.
So does ``numpy.ma``, which ``np.unique`` imports on its first call (11 ms when the explorer lists a split's
classes). ``importing`` says while that task runs, so the window can hold its cycle collections meanwhile (scanning
the new modules' objects froze it).

This module imports no torch at module level: the window imports it before torch is loaded.
"""
from __future__ import annotations

import importlib
import time

from PySide6.QtCore import QObject, Signal, Slot

from .tasks import Mode, runner_for
from .torch_libraries import open_torch_libraries

CORE_MODULES = ("torch", "vae_studio.core.data", "vae_studio.core.devices", "vae_studio.core.training",
                "vae_studio.core.checkpoint", "vae_studio.core.latent", "vae_studio.core.metrics", "numpy.ma")
CORE, DATA = "core", "data"  # the task keys


def import_optional(names: tuple[str, ...]) -> None:
    """Import ``names`` on a best-effort basis (a failure is left for whoever imports them later to report)."""
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - reported when the GUI imports it itself
            pass


def warm_up() -> None:
    """Import what a run's first step imports on first use (see the module's notes): an optimiser for a
    throw-away parameter."""
    import torch

    torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])


def import_core(extra: tuple[str, ...] = ()) -> dict:
    """Import torch and the core modules (a no-op once done), then ``extra`` modules on a best-effort basis, then
    :func:`warm_up`; returns versions for the About box."""
    open_torch_libraries()  # the dynamic loader's share of the import, without stopping the GUI thread
    for name in CORE_MODULES:
        importlib.import_module(name)
    import_optional(tuple(extra))
    warm_up()
    import torch

    return {"torch": torch.__version__}


def import_task(_state, extra: tuple[str, ...] = ()) -> dict:
    """The task form of :func:`import_core`."""
    return import_core(extra)


def load_task(_state, config) -> tuple:
    """Load ``config`` (a DataConfig): (config, ImageData, seconds). DataError, MemoryError... fail the task."""
    from ..core.data import load_dataset

    t0 = time.perf_counter()
    data = load_dataset(config)
    return config, data, time.perf_counter() - t0


class DataLoader(QObject):
    """Loads data sets in the background, newest request wins. Lives in the GUI thread."""

    coreReady = Signal(object)  # versions dict, once: torch and core are imported
    loading = Signal(int, object)  # request id, DataConfig: a load began
    loaded = Signal(int, object, object)  # request id, DataConfig, ImageData (newest request only)
    failed = Signal(int, object, str)  # request id, DataConfig (None: importing torch failed), message
    importing = Signal(bool)  # True when the first task (imports, warm-up) is queued, False when it ends

    def __init__(self, parent=None, preload: tuple[str, ...] = (), tasks=None):
        """``preload``: more modules to import in the background before ``coreReady`` (best effort);
        ``tasks``: the window's TaskHub (else the loader makes its own runner)."""
        super().__init__(parent)
        self.preload_modules = tuple(preload)
        self.runner = runner_for(self, tasks, "data", Mode.QUEUE)
        self.runner.done.connect(self._on_done)
        self.runner.failed.connect(self._on_failed)
        self._import_ticket: int | None = None
        self._configs: dict[int, object] = {}  # ticket of a load in flight -> its DataConfig
        self.core_ready = False
        self.versions: dict = {}

    def preload(self) -> None:
        """Import torch and core in the background (a load does it too)."""
        if not self.core_ready and self._import_ticket is None:
            self._import_ticket = self.runner.submit(import_task, self.preload_modules, key=CORE)
            self.importing.emit(True)

    def load(self, config) -> int:
        """Start loading ``config`` (a DataConfig); returns the request id the signals will carry."""
        self.preload()
        self.runner.cancel(DATA)  # the newest load wins
        self._configs.clear()
        request = self.runner.submit(load_task, config, key=DATA)
        self._configs[request] = config
        self.loading.emit(request, config)
        return request

    @Slot(int, object)
    def _on_done(self, ticket: int, result) -> None:
        if ticket == self._import_ticket:
            self.importing.emit(False)
            if not self.core_ready:
                self.core_ready = True
                self.versions = dict(result)
                self.coreReady.emit(self.versions)
        elif self._configs.pop(ticket, None) is not None:
            config, data, _seconds = result
            self.loaded.emit(ticket, config, data)

    @Slot(int, str)
    def _on_failed(self, ticket: int, message: str) -> None:
        if ticket == self._import_ticket:
            self.importing.emit(False)
            self._import_ticket = None  # a later load tries again
            self.failed.emit(ticket, None, message)
        elif (config := self._configs.pop(ticket, None)) is not None:
            self.failed.emit(ticket, config, message)

    def shutdown(self) -> None:
        """Wait for the load in progress, if any, and end the thread (the window's TaskHub also does it)."""
        self.runner.shutdown()
