"""explorer.json: bookmarks and directions saved with a run, read back strictly, never at the run's expense."""
import hashlib
import json

import pytest
import torch

from vae_studio.core.checkpoint import EXPLORER_FILE, MANIFEST_FILE, Run, load_run, save_run
from vae_studio.core.config import RunConfig
from vae_studio.core.explorer_state import (Bookmark, Direction, ExplorerState, ExplorerStateError, state_from_dict,
                                            unique_name)
from vae_studio.core.models import build_model


def small_run() -> Run:
    c = RunConfig()
    c.model.hidden, c.model.latent_dim, c.model.image_size = [8], 3, 8
    return Run(config=c, model=build_model(c.model), name="r")


def with_state(run: Run) -> Run:
    run.explorer = ExplorerState([Bookmark.of("smile", [0.5, -1, 2]), Bookmark.of("b2", [0, 0, 0])],
                                 [Direction.of("a − b", [1, 2, 3], "mean of class a − mean of class b")])
    return run


def rewrite(folder, name, text):
    """Replace a run file and keep the manifest consistent (a hand edit that still passes the hash check)."""
    raw = text.encode()
    (folder / name).write_bytes(raw)
    m = json.loads((folder / MANIFEST_FILE).read_text())
    m["files"][name] = {"bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}
    (folder / MANIFEST_FILE).write_text(json.dumps(m))


def test_bookmarks_and_directions_survive_save_and_load(tmp_path):
    run = with_state(small_run())
    folder = save_run(run, tmp_path / "run")
    back = load_run(folder)
    assert back.explorer == run.explorer and back.notes == []
    assert back.explorer.bookmarks[0].z == (0.5, -1.0, 2.0)


def test_a_run_without_bookmarks_writes_no_explorer_file_and_old_folders_open(tmp_path):
    folder = save_run(small_run(), tmp_path / "run")
    assert not (folder / EXPLORER_FILE).exists()
    back = load_run(folder)
    assert back.explorer.is_empty() and back.notes == []


HOSTILE = [
    ("[1, 2]", "not a JSON object"),
    ('{"format": "x", "version": 1}', "field format"),
    ('{"format": "vae-studio-explorer", "version": 99}', "version"),
    ('{"format": "vae-studio-explorer", "version": 1, "code": "rm -rf"}', "field code"),
    ('{"format": "vae-studio-explorer", "version": 1, "bookmarks": [{"name": "a", "z": [1, 2]}]}',
     "bookmarks[0].z must be a list of 3 finite numbers"),
    ('{"format": "vae-studio-explorer", "version": 1, "bookmarks": [{"name": "a", "z": [1, NaN, 2]}]}',
     "bookmarks[0].z"),
    ('{"format": "vae-studio-explorer", "version": 1, "bookmarks": [{"name": "a", "z": [1, 1e400, 2]}]}',
     "bookmarks[0].z"),
    ('{"format": "vae-studio-explorer", "version": 1, "directions": [{"name": "", "vector": [1, 2, 3]}]}',
     "directions[0].name"),
    ('{"format": "vae-studio-explorer", "version": 1, "bookmarks": [{"name": "a", "z": [1, 2, 3]}, '
     '{"name": "a", "z": [1, 2, 3]}]}', "names 'a' twice"),
    ('{"format": "vae-studio-explorer", "version": 1, "bookmarks": ' + json.dumps([{"name": f"{i}", "z": [0, 0, 0]}
                                                                                  for i in range(1001)]) + "}",
     "at most 1000"),
    ('{"format": "vae-studio-explorer", "version": 1, "bookmarks": [{"name": "a", "z": [true, 1, 2]}]}',
     "bookmarks[0].z"),
    ('{"format": "vae-studio-explorer", "version": 1, "bookmarks": [[' * 5000 + ']]' * 5000 + "}", "explorer"),
]


@pytest.mark.parametrize("text, why", HOSTILE)
def test_a_hostile_explorer_file_is_left_out_with_a_note_and_the_weights_still_open(tmp_path, text, why):
    run = with_state(small_run())
    folder = save_run(run, tmp_path / "run")
    rewrite(folder, EXPLORER_FILE, text)
    back = load_run(folder)
    assert back.explorer.is_empty()
    assert len(back.notes) == 1 and why in back.notes[0] and "explorer.json" in back.notes[0]
    sd, bd = run.model.state_dict(), back.model.state_dict()
    assert all(torch.equal(sd[k], bd[k]) for k in sd)  # the model opened as saved


def test_an_explorer_file_changed_after_saving_is_left_out(tmp_path):
    folder = save_run(with_state(small_run()), tmp_path / "run")
    (folder / EXPLORER_FILE).write_text((folder / EXPLORER_FILE).read_text().replace("smile", "frown"))
    back = load_run(folder)
    assert back.explorer.is_empty() and "does not match manifest.json" in back.notes[0]


def test_state_round_trips_through_its_dict_and_names_are_made_unique():
    state = with_state(small_run()).explorer
    assert state_from_dict(json.loads(json.dumps(state.to_dict())), 3) == state
    with pytest.raises(ExplorerStateError, match="list of 4 finite numbers"):
        state_from_dict(state.to_dict(), 4)
    assert unique_name("bookmark", ["bookmark", "bookmark 2"]) == "bookmark 3"
    assert unique_name("  x ", []) == "x"
