"""The session: the state every panel observes (data set, runs, selected run, decode device).

Panels never reach into each other: they set state here and follow its signals (state -> view).
Decoding for display never touches a model that is being trained: :meth:`Session.decode_model` builds a
copy on the decode device from the latest published weights of the run, cached per weights version.
"""
from __future__ import annotations

import numpy as np
import torch
from PySide6.QtCore import QObject, Signal

from ..core.checkpoint import Run
from ..core.data import ImageData
from ..core.devices import resolve_device
from ..core.models import VAE, build_model


class Session(QObject):
    dataChanged = Signal(object)  # ImageData | None: the current data set
    runAdded = Signal(object)  # Run
    runRemoved = Signal(object)  # Run
    runUpdated = Signal(object)  # Run: new weights published (epoch end, training finished, loaded)
    selectedRunChanged = Signal(object)  # Run | None
    decodeDeviceChanged = Signal(str)
    probeRequested = Signal(object)  # np.ndarray (D,): "move the explorer's probe here"
    probeChanged = Signal(object)  # np.ndarray (D,): the probe moved (the explorer reports it)
    pointPicked = Signal(int)  # index into data.test_x that the user clicked in the scatter
    userPointsChanged = Signal()  # user images encoded into latent space (see user_points)
    statusMessage = Signal(str)  # a short message for the status bar

    def __init__(self, parent=None):
        super().__init__(parent)
        self.data: ImageData | None = None
        self.runs: list[Run] = []
        self.selected: Run | None = None
        self.decode_device = "cpu"
        self.probe: np.ndarray | None = None  # the explorer's probe, full latent vector
        self.picked_index: int | None = None
        self.user_points: list[tuple[str, np.ndarray]] = []  # (label, latent mean) of the user's images
        self._weights: dict[int, tuple[int, dict]] = {}  # id(run) -> (version, CPU state dict)
        self._decoders: dict[int, tuple[tuple, VAE]] = {}  # id(run) -> ((version, device), model)

    # -- data --------------------------------------------------------------------------------------
    def set_data(self, data: ImageData | None) -> None:
        self.data = data
        self.dataChanged.emit(data)

    # -- runs --------------------------------------------------------------------------------------
    def add_run(self, run: Run, select: bool = True) -> None:
        self.runs.append(run)
        self.publish_weights(run, emit=False)
        self.runAdded.emit(run)
        if select:
            self.select_run(run)

    def remove_run(self, run: Run) -> None:
        if run not in self.runs:
            return
        self.runs.remove(run)
        self._weights.pop(id(run), None)
        self._decoders.pop(id(run), None)
        self.runRemoved.emit(run)
        if self.selected is run:
            self.select_run(self.runs[-1] if self.runs else None)

    def select_run(self, run: Run | None) -> None:
        if run is self.selected:
            return
        self.selected = run
        self.user_points.clear()
        self.selectedRunChanged.emit(run)

    def publish_weights(self, run: Run, state: dict | None = None, emit: bool = True) -> None:
        """Record new weights of ``run`` for display (``state``: a CPU state dict; default: the run's model).

        Call from the GUI thread; the training worker sends its CPU snapshot by signal."""
        if state is None:
            state = {k: v.detach().to("cpu").clone() for k, v in run.model.state_dict().items()}
        version = self._weights.get(id(run), (0, None))[0] + 1
        self._weights[id(run)] = (version, state)
        if emit:
            self.runUpdated.emit(run)

    def weights_version(self, run: Run) -> int:
        return self._weights.get(id(run), (0, None))[0]

    # -- decoding ----------------------------------------------------------------------------------
    def set_decode_device(self, name: str) -> None:
        dev = str(resolve_device(name))  # raises DeviceError with a message for an absent device
        if dev == self.decode_device:
            return
        self.decode_device = dev
        self._decoders.clear()
        self.decodeDeviceChanged.emit(dev)

    def decode_model(self, run: Run | None = None) -> VAE | None:
        """An eval-mode copy of ``run`` (default: the selected run) on the decode device; cached."""
        run = run if run is not None else self.selected
        if run is None:
            return None
        version, state = self._weights.get(id(run), (0, None))
        if state is None:
            self.publish_weights(run, emit=False)
            version, state = self._weights[id(run)]
        key = (version, self.decode_device)
        cached = self._decoders.get(id(run))
        if cached is not None and cached[0] == key:
            return cached[1]
        model = build_model(run.config.model)
        model.load_state_dict(state)
        model.to(self.decode_device).eval()
        for p in model.parameters():
            p.requires_grad_(False)
        self._decoders[id(run)] = (key, model)
        return model

    # -- latent space, shared between the explorer and the sampling canvas ----------------------------
    def request_probe(self, z) -> None:
        self.probeRequested.emit(np.asarray(z, dtype=np.float32).reshape(-1))

    def set_probe(self, z) -> None:
        self.probe = np.asarray(z, dtype=np.float32).reshape(-1)
        self.probeChanged.emit(self.probe)

    def pick_point(self, index: int) -> None:
        self.picked_index = int(index)
        self.pointPicked.emit(int(index))

    def add_user_point(self, label: str, z) -> None:
        """Show a user's encoded image on the scatter; a point with the same label is replaced."""
        self.user_points = [p for p in self.user_points if p[0] != label]
        self.user_points.append((label, np.asarray(z, dtype=np.float32).reshape(-1)))
        self.userPointsChanged.emit()


def torch_threads_for_gui() -> None:
    """Leave a core for the GUI on small machines."""
    import os

    n = os.cpu_count() or 1
    if n <= 4:
        torch.set_num_threads(max(1, n - 1))
