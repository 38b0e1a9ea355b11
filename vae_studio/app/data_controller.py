"""Which data set the workspace holds and how it got there: loads in the background (newest request wins),
the configuration of the loaded set, the error of the last failed load.

It exists before the workspace does (the window shows before torch is imported, and the built-in sprites
start loading at once): a data set that arrives before :meth:`DataController.attach` is kept and handed to
the workspace then. Imports no torch.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot

from ..core.config import DataConfig


class DataController(QObject):
    changed = Signal()  # loading began or ended, or an error appeared or went
    loaded = Signal(int)  # request id: the workspace holds that data set now
    failed = Signal(int, str)  # request id, one-line message

    def __init__(self, loader=None, parent=None):
        """``loader``: a ``workers.data_loader.DataLoader`` (None: nothing can be loaded, e.g. in tests)."""
        super().__init__(parent)
        self.loader = loader
        self.workspace = None
        self.config: DataConfig | None = None  # how the workspace's data set was loaded (or named)
        self.loading_config: DataConfig | None = None
        self.error = ""
        self._request: int | None = None
        self._pending = None  # (request, config, data) loaded before attach()
        self._loaded_data = None
        if loader is not None:
            loader.loading.connect(self._on_loading)
            loader.loaded.connect(self._on_loaded)
            loader.failed.connect(self._on_failed)

    @property
    def loading(self) -> bool:
        return self._request is not None

    def attach(self, workspace) -> None:
        self.workspace = workspace
        workspace.dataChanged.connect(self._on_data_changed)
        if workspace.data is not None:
            self._on_data_changed(workspace.data)
        if self._pending is not None:
            request, cfg, data = self._pending
            self._pending = None
            self._on_loaded(request, cfg, data)

    def load(self, cfg: DataConfig) -> int | None:
        """Load ``cfg`` in the background (a newer request supersedes it); returns the request id."""
        if self.loader is None:
            return None
        self._request = self.loader.load(cfg)
        self.loading_config = cfg
        self.changed.emit()
        return self._request

    def wants(self, cfg: DataConfig | None) -> bool:
        """Whether ``cfg`` asks for something other than what is loaded or loading."""
        return cfg is not None and not (cfg == self.config and self._request is None)

    @Slot(int, object)
    def _on_loading(self, request, cfg) -> None:
        self._request, self.loading_config = request, cfg
        self.changed.emit()

    @Slot(int, object, object)
    def _on_loaded(self, request, cfg, data) -> None:
        if request != self._request:
            return
        if self.workspace is None:  # torch became ready but the window has not attached yet
            self._pending = (request, cfg, data)
            return
        self._request = None
        self.config, self.error = cfg, ""
        self._loaded_data = data
        self.workspace.set_data(data)
        self.changed.emit()
        self.loaded.emit(request)

    @Slot(int, object, str)
    def _on_failed(self, request, cfg, message) -> None:
        if request != self._request:
            return
        self._request = None
        self.error = f"Could not load {cfg.dataset if cfg is not None else 'the data set'}: {message}"
        self.changed.emit()
        self.failed.emit(request, message)

    @Slot(object)
    def _on_data_changed(self, data) -> None:
        if data is not None and data is not self._loaded_data:  # set by a program (tests, scripts)
            self._loaded_data = data
            self.config = DataConfig(dataset=data.name)
        self.error = ""
        self.changed.emit()
