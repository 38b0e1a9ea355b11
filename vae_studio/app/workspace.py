"""The workspace: the one model every panel views (data set, runs, selection, probe state, decode device).

Only the workspace emits these signals. Panels set its attributes through its methods and follow its events;
they keep no copy of the state and never reach into each other. Runs are :class:`RunEntry` objects with a
stable id (never ``id(obj)``), a colour, a status and a weights version; decoding for display never touches
a model that is being trained: :meth:`Workspace.decode_model` builds an eval copy on the decode device from
the latest published weights of the run, cached per weights version.
"""
from __future__ import annotations

import copy
import dataclasses
import itertools

import numpy as np
import torch
from PySide6.QtCore import QObject, Signal

from ..core.checkpoint import Run
from ..core.data import ImageData
from ..core.devices import resolve_device
from ..core.explorer_state import MAX_ITEMS, Bookmark, Direction, unique_name
from ..core.models import VAE, build_model
from .states import RunStatus

# matplotlib's tab10, in the order runs get them (the curves, the runs list and the metrics plot use them)
RUN_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
               "#7f7f7f", "#bcbd22")


class RunEntry:
    """One run of the workspace: the core :class:`Run` plus what the GUI keeps about it.

    The attributes of the run (``config``, ``model``, ``history``, ``class_names``, ``folder``, ``name``) read
    through, so views can treat an entry as the run it holds; ``run`` is what is saved to a folder."""

    def __init__(self, run: Run, run_id: int, colour: str):
        self.run = run
        self.id = run_id
        self.colour = colour
        self.weights_version = 0
        self.metrics_version = 0  # the weights version the run's metrics were computed for

    config = property(lambda self: self.run.config)
    model = property(lambda self: self.run.model)
    history = property(lambda self: self.run.history)
    class_names = property(lambda self: self.run.class_names)
    metrics = property(lambda self: self.run.metrics)  # saved with the run (metrics.json)
    explorer = property(lambda self: self.run.explorer)  # bookmarks and directions (explorer.json)

    @property
    def name(self) -> str:
        return self.run.name

    @name.setter
    def name(self, value: str) -> None:
        self.run.name = value

    @property
    def folder(self):
        return self.run.folder

    @folder.setter
    def folder(self, value) -> None:
        self.run.folder = value

    @property
    def status(self) -> RunStatus:
        return RunStatus.of(self.run.history.status)

    @property
    def trained(self) -> bool:
        """It has learnt something (at least one step or epoch)."""
        return bool(self.run.history.epochs or self.run.history.steps)

    def __repr__(self) -> str:
        return f"RunEntry(id={self.id}, name={self.name!r}, status={self.status.value})"


class Workspace(QObject):
    dataChanged = Signal(object)  # ImageData | None: the current data set
    runAdded = Signal(object)  # RunEntry
    runRemoved = Signal(object)  # RunEntry
    runUpdated = Signal(object)  # RunEntry: new weights published (epoch end, training finished, loaded)
    runRenamed = Signal(object)  # RunEntry
    runStatusChanged = Signal(object)  # RunEntry: status, folder or metrics changed (not the weights)
    selectedRunChanged = Signal(object)  # RunEntry | None
    decodeDeviceChanged = Signal(str)
    probeRequested = Signal(object)  # np.ndarray (D,): "move the explorer's probe here"
    probeChanged = Signal(object)  # np.ndarray (D,): the probe moved (the explorer reports it)
    pointPicked = Signal(int)  # index into data.test_x that the user clicked in the scatter
    userPointsChanged = Signal()  # user images encoded into latent space (see user_points)
    statusMessage = Signal(str)  # a short message for the status bar
    liveWeightsChanged = Signal(bool)  # whether running runs publish their weights within epochs too
    bookmarksChanged = Signal(object)  # RunEntry: a bookmark was added or removed
    directionsChanged = Signal(object)  # RunEntry: a direction was added or removed

    def __init__(self, parent=None):
        super().__init__(parent)
        self.data: ImageData | None = None
        self.runs: list[RunEntry] = []
        self.selected: RunEntry | None = None
        self.decode_device = "cpu"
        self.probe: np.ndarray | None = None  # the explorer's probe, full latent vector
        self.picked_index: int | None = None
        self.user_points: list[tuple[str, np.ndarray]] = []  # (label, latent mean) of the user's images
        self.live_weights = False  # the explorer's Live: follow a running run within its epochs
        self._ids = itertools.count(1)
        self._colours = itertools.cycle(RUN_COLOURS)
        self._weights: dict[int, dict] = {}  # run id -> CPU state dict of the latest published weights
        self._decoders: dict[int, tuple[tuple, VAE]] = {}  # run id -> ((version, device), model)

    def show_message(self, text: str) -> None:
        """A short message for the status bar (views call this; only the workspace emits)."""
        self.statusMessage.emit(text)

    def set_live_weights(self, live: bool) -> None:
        if bool(live) != self.live_weights:
            self.live_weights = bool(live)
            self.liveWeightsChanged.emit(self.live_weights)

    # -- data --------------------------------------------------------------------------------------
    def set_data(self, data: ImageData | None) -> None:
        self.data = data
        self.dataChanged.emit(data)

    # -- runs --------------------------------------------------------------------------------------
    def entry(self, run) -> RunEntry | None:
        """The entry of ``run`` (a RunEntry, a core Run held by one, or a run id); None if not here."""
        for e in self.runs:
            if e is run or e.run is run or e.id == run:
                return e
        return None

    def add_run(self, run: Run | RunEntry, select: bool = True, index: int | None = None) -> RunEntry:
        """Add a run (a core Run gets a new entry with the next id and colour); returns its entry.

        Adding back a removed entry (undo) keeps its id, colour and place (``index``)."""
        entry = run if isinstance(run, RunEntry) else RunEntry(run, next(self._ids), next(self._colours))
        if entry in self.runs:
            return entry
        self.runs.insert(len(self.runs) if index is None else max(0, min(index, len(self.runs))), entry)
        metrics_current = bool(entry.metrics) and entry.metrics_version == entry.weights_version
        self.publish_weights(entry, emit=False)
        if metrics_current:  # opened with the metrics saved for its weights, or brought back by undo
            entry.metrics_version = entry.weights_version
        self.runAdded.emit(entry)
        if select:
            self.select_run(entry)
        return entry

    def remove_run(self, run) -> int | None:
        """Remove a run from the workspace; returns where it was (for undo), None if it was not here."""
        entry = self.entry(run)
        if entry is None:
            return None
        index = self.runs.index(entry)
        self.runs.remove(entry)
        self._weights.pop(entry.id, None)
        self._decoders.pop(entry.id, None)
        self.runRemoved.emit(entry)
        if self.selected is entry:
            self.select_run(self.runs[-1] if self.runs else None)
        return index

    def select_run(self, run) -> None:
        entry = self.entry(run) if run is not None else None
        if entry is self.selected:
            return
        self.selected = entry
        self.user_points.clear()
        self.selectedRunChanged.emit(entry)

    def rename_run(self, run, name: str) -> None:
        entry = self.entry(run)
        name = name.strip()
        if entry is None or not name or name == entry.name:
            return
        entry.name = name
        self.runRenamed.emit(entry)

    def update_status(self, run) -> None:
        """Tell the views that a run's status, folder or metrics changed (its weights did not)."""
        entry = self.entry(run)
        if entry is not None:
            self.runStatusChanged.emit(entry)

    def set_metrics(self, run, metrics: dict, weights_version: int) -> None:
        """Keep the metrics computed for ``weights_version`` of a run (saved with it from then on)."""
        entry = self.entry(run)
        if entry is not None:
            entry.run.metrics = dict(metrics)
            entry.metrics_version = weights_version
            self.runStatusChanged.emit(entry)

    def current_metrics(self, run) -> tuple[dict | None, bool]:
        """(metrics, current): the run's last computed metrics, and whether they are for its current weights."""
        entry = self.entry(run)
        if entry is None or not entry.metrics:
            return None, False
        return entry.metrics, entry.metrics_version == entry.weights_version

    def unique_name(self, base: str = "run") -> str:
        """``base N`` with the least N that no run of the workspace uses (opened runs included)."""
        names = {e.name for e in self.runs}
        for k in itertools.count(1):
            if f"{base} {k}" not in names:
                return f"{base} {k}"

    def publish_weights(self, run, state: dict | None = None, emit: bool = True) -> None:
        """Record new weights of ``run`` for display (``state``: a CPU state dict; default: the run's model).

        Call from the GUI thread; the training worker sends its CPU snapshot by signal."""
        entry = self.entry(run)
        if entry is None:
            return
        if state is None:
            state = {k: v.detach().to("cpu").clone() for k, v in entry.model.state_dict().items()}
        entry.weights_version += 1
        self._weights[entry.id] = state
        if emit:
            self.runUpdated.emit(entry)

    def set_code_prior(self, run, prior) -> None:
        """Attach a fitted code prior to ``run`` (a VQ-VAE): it samples at once, and counts as unsaved until
        the run is saved. Its metrics (the prior's NLL) are then for earlier weights: the version moves on."""
        entry = self.entry(run)
        if entry is None:
            return
        entry.run.code_prior = prior
        self.publish_weights(entry, self._weights.get(entry.id))  # same weights, new prior: a new decode copy
        self.runStatusChanged.emit(entry)

    def weights_version(self, run) -> int:
        entry = self.entry(run)
        return entry.weights_version if entry is not None else 0

    # -- decoding ----------------------------------------------------------------------------------
    def set_decode_device(self, name: str) -> None:
        dev = str(resolve_device(name))  # raises DeviceError with a message for an absent device
        if dev == self.decode_device:
            return
        self.decode_device = dev
        self._decoders.clear()
        self.decodeDeviceChanged.emit(dev)

    def decode_model(self, run=None) -> VAE | None:
        """An eval-mode copy of ``run`` (default: the selected run) on the decode device; cached."""
        entry = self.entry(run) if run is not None else self.selected
        if entry is None:
            return None
        if entry.id not in self._weights:
            self.publish_weights(entry, emit=False)
        key = (entry.weights_version, self.decode_device)
        cached = self._decoders.get(entry.id)
        if cached is not None and cached[0] == key:
            return cached[1]
        model = build_model(entry.config.model)
        model.load_state_dict(self._weights[entry.id])
        if entry.run.code_prior is not None:  # a VQ-VAE's fitted prior: a file of its own, not in the weights
            model.attach_prior(copy.deepcopy(entry.run.code_prior))
        model.to(self.decode_device).eval()
        for p in model.parameters():
            p.requires_grad_(False)
        self._decoders[entry.id] = (key, model)
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


    # -- bookmarks and directions of a run (saved with it; undoable through ui/widgets/undo.py) ---------
    def add_bookmark(self, run, bookmark: Bookmark, index: int | None = None) -> Bookmark | None:
        """Add ``bookmark`` to ``run`` (its name made unique); returns what was added, None if not."""
        return self._add_item(run, "bookmarks", bookmark, index)

    def remove_bookmark(self, run, name: str) -> tuple[int, Bookmark] | None:
        """Remove the bookmark called ``name``; returns (where it was, it) for undo, None if none."""
        return self._remove_item(run, "bookmarks", name)

    def add_direction(self, run, direction: Direction, index: int | None = None) -> Direction | None:
        return self._add_item(run, "directions", direction, index)

    def remove_direction(self, run, name: str) -> tuple[int, Direction] | None:
        return self._remove_item(run, "directions", name)

    def _add_item(self, run, kind: str, item, index: int | None):
        entry = self.entry(run)
        if entry is None:
            return None
        items = getattr(entry.explorer, kind)
        if len(items) >= MAX_ITEMS:
            self.show_message(f"{entry.name} already has {MAX_ITEMS} {kind}: delete some first")
            return None
        if len(item.z if kind == "bookmarks" else item.vector) != entry.config.model.latent_dim:
            return None
        item = dataclasses.replace(item, name=unique_name(item.name, [x.name for x in items]))
        items.insert(len(items) if index is None else max(0, min(index, len(items))), item)
        self._items_changed(entry, kind)
        return item

    def _remove_item(self, run, kind: str, name: str):
        entry = self.entry(run)
        if entry is None:
            return None
        items = getattr(entry.explorer, kind)
        for i, item in enumerate(items):
            if item.name == name:
                del items[i]
                self._items_changed(entry, kind)
                return i, item
        return None

    def _items_changed(self, entry: RunEntry, kind: str) -> None:
        (self.bookmarksChanged if kind == "bookmarks" else self.directionsChanged).emit(entry)


def torch_threads_for_gui() -> None:
    """Leave a core for the GUI on small machines."""
    import os

    n = os.cpu_count() or 1
    if n <= 4:
        torch.set_num_threads(max(1, n - 1))
