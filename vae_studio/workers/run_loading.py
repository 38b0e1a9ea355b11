"""Loading run folders as a plain task function (for a :class:`~.tasks.TaskRunner`): reading and checking a
run's files takes from milliseconds to seconds, so the GUI thread never does it for a whole sweep."""
from __future__ import annotations

from pathlib import Path

from ..core.checkpoint import load_run
from .tasks import one_line


def load_runs(state, folders: list[Path]) -> list[tuple[str, object]]:
    """``(folder, Run)`` for each folder that loads, ``(folder, one-line message)`` for each that does not;
    stops early (with what it has) when cancelled."""
    loaded: list[tuple[str, object]] = []
    for i, folder in enumerate(folders):
        if state.is_cancelled():
            break
        try:
            loaded.append((str(folder), load_run(folder)))
        except Exception as e:  # noqa: BLE001 - a damaged folder is reported, the others still load
            loaded.append((str(folder), one_line(e)))
        state.set_progress((i + 1) / len(folders))
    return loaded
