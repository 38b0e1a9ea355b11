"""Watching a sweep folder: each run folder that appears in it (a finished trial of a running sweep, or every
run of a finished one) is loaded in the background and handed over once, by :attr:`SweepWatcher.runsFound`.

The folder is polled with a timer rather than a file-system watcher: a sweep on a Ray cluster writes to a
shared (network) file system, where change notifications do not arrive. A run folder is moved in whole by
its save, so a folder that is listed is complete.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from ..core.sweep import sweep_run_folders
from ..workers.run_loading import load_runs
from ..workers.tasks import Mode, TaskHub, runner_for

POLL_MS = 2000


class SweepWatcher(QObject):
    runsFound = Signal(object)  # list[Run]: runs of the watched sweep not handed over before
    loadFailed = Signal(str, str)  # folder, one-line message

    def __init__(self, tasks: TaskHub | None = None, parent: QObject | None = None, poll_ms: int = POLL_MS):
        super().__init__(parent)
        self.folder: Path | None = None
        self._seen: set[str] = set()
        self._runner = runner_for(self, tasks, "sweep", Mode.QUEUE)
        self._runner.done.connect(self._on_loaded)
        self._timer = QTimer(self)
        self._timer.setInterval(poll_ms)
        self._timer.timeout.connect(self.poll)

    def watch(self, folder: str | Path) -> None:
        """Watch ``folder`` from now on (instead of the sweep watched before)."""
        self._runner.cancel_all()
        self.folder = Path(folder)
        self._seen = set()
        self.poll()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self._runner.cancel_all()
        self.folder = None

    @property
    def watching(self) -> bool:
        return self._timer.isActive()

    @Slot()
    def poll(self) -> None:
        """Load the run folders that appeared since the last look (in the background)."""
        if self.folder is None:
            return
        new = [p for p in sweep_run_folders(self.folder) if str(p) not in self._seen]
        if new:
            self._seen.update(str(p) for p in new)
            self._runner.submit(load_runs, new, key=str(self.folder))

    @Slot(int, object)
    def _on_loaded(self, _ticket: int, loaded) -> None:
        runs = [run for folder, run in loaded if not isinstance(run, str)
                and self.folder is not None and Path(folder).parent == self.folder]
        if runs:
            self.runsFound.emit(runs)
        for folder, message in loaded:  # after the runs: the last word in the status bar
            if isinstance(message, str):
                self.loadFailed.emit(folder, message)
