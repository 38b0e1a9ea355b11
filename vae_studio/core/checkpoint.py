"""Run folders: the files a user keeps. Saved as a whole or not at all, read without trusting anything.

A run folder holds ``config.json`` (format tag, version, the RunConfig, class names), ``model.safetensors``
(the weights; the format tag is repeated in its metadata), ``history.json`` (per-epoch metrics and per-step
losses) and, from format version 2, ``manifest.json`` (each file's size and SHA-256) and the optional
``metrics.json`` and ``explorer.json`` (the latent explorer's bookmarks and directions). A damaged
``explorer.json`` does not refuse the run: it is left out and :attr:`Run.notes` says why.

Saving (:func:`save_run`) writes the new run into a hidden sibling folder, syncs it to disk, moves the old run
aside, moves the new one in and deletes the old one; :func:`recover` finishes or undoes a save that was cut
off, so a crash at any instant leaves exactly the old run or exactly the new one. Loading (:func:`load_run`)
checks the manifest (a folder mixing files of two saves is refused), every field's type, every file's kind
and size before reading it, and the weights' names, dtypes, shapes and finiteness; it never unpickles.
Every refusal is a :class:`CheckpointError` with one line naming the file (and the field).

The format's file names and limits, and the strict checks of each part as it is read, are in
:mod:`vae_studio.core.run_folder_checks`; this module writes run folders and puts runs together from them.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import save as st_save

from .config import ConfigError, RunConfig, check_model_size
from .explorer_state import ExplorerState
from .models import VAE, build_model
from .run_folder_checks import (CONFIG_FILE, EXPLORER_FILE, FORMAT, HISTORY_FILE, MANIFEST_FILE, MAX_CONFIG_BYTES,
                                MAX_HISTORY_BYTES, METRICS_FILE, OPTIONAL_FILES, PRIOR_FILE, READABLE_VERSIONS,
                                RUN_FILES, VERSION, WEIGHTS_FILE, CheckpointError, check_class_names,
                                check_history, check_metrics, load_code_prior, load_explorer, load_weights,
                                max_weights_bytes, parse_object, read_manifest, read_part, refuse_pickle)
from .safe_io import is_regular, loads_json, read_regular
from .training_events import History
from .variants import get_variant

# test hook: pause the save at a step (or at "each" step) until a line arrives on stdin; see _pause
SAVE_PAUSE_ENV = "VAE_STUDIO_SAVE_PAUSE"
SAVE_STEPS = ("started", "wrote config.json", "wrote model.safetensors", "wrote history.json", "wrote manifest.json",
              "synced", "moved old aside", "moved new in", "removed old")


class DestinationError(CheckpointError, OSError):
    """A run cannot be saved where asked (also an OSError, like the failures of writing itself)."""


@dataclass
class Run:
    """A model with its configuration and history: what the CLI and the GUI pass around."""

    config: RunConfig
    model: VAE
    history: History = field(default_factory=History)
    class_names: list[str] = field(default_factory=list)
    folder: Path | None = None
    name: str = ""
    metrics: dict = field(default_factory=dict)  # computed for these weights; saved as metrics.json
    explorer: ExplorerState = field(default_factory=ExplorerState)  # bookmarks, directions; explorer.json
    notes: list[str] = field(default_factory=list)  # what loading left out, for the user (not saved)
    code_prior: torch.nn.Module | None = None  # a VQ-VAE's fitted CodePrior; saved as code_prior.safetensors
    saved_explorer: dict | None = None  # explorer.to_dict() as last saved to or loaded from ``folder``
    saved_prior: torch.nn.Module | None = None  # the code prior as last saved to or loaded from ``folder``

    @property
    def prior_unsaved(self) -> bool:
        """Whether a code prior was fitted (or replaced) since the run was last saved or opened."""
        return self.code_prior is not self.saved_prior

    @property
    def explorer_unsaved(self) -> bool:
        """Whether bookmarks or directions changed since the run was last saved or opened."""
        now = self.explorer.to_dict()
        if self.saved_explorer is None:
            return not self.explorer.is_empty()
        return now != self.saved_explorer


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one, never half.

    The file gets the usual permissions (0666 less the umask), not ``mkstemp``'s private 0600."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        _write_file(tmp, data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:  # open() creates with 0666 & ~umask
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _json_bytes(obj, allow_nan: bool = False) -> bytes:
    return (json.dumps(obj, indent=1, allow_nan=allow_nan) + "\n").encode()


# ---------------------------------------------------------------------------------------------- saving


def run_files(run: Run) -> dict[str, bytes]:
    """The bytes of every file of ``run``'s folder, manifest included (nothing is written)."""
    try:
        run.config.validate()
    except ConfigError as e:
        raise CheckpointError(f"cannot save {run.name or 'the run'}: {e}") from None
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in run.model.state_dict().items()}
    meta = {"format": FORMAT, "version": str(VERSION)}
    files = {
        CONFIG_FILE: _json_bytes({"format": FORMAT, "version": VERSION, "name": run.name,
                                  "config": run.config.to_dict(), "class_names": list(run.class_names)}),
        WEIGHTS_FILE: st_save(tensors, metadata=meta),
        HISTORY_FILE: _json_bytes(run.history.to_dict(), allow_nan=True),
    }
    if run.metrics:
        files[METRICS_FILE] = _json_bytes(_json_safe(run.metrics))
    if not run.explorer.is_empty():
        files[EXPLORER_FILE] = _json_bytes(run.explorer.to_dict())
    p = getattr(run, "code_prior", None)  # views that stand in for a Run (the GUI's entries) may lack it
    if p is not None:
        shape = {**p.shape, "num_codes": p.num_codes, "cells": p.cells}
        tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in p.state_dict().items()}
        files[PRIOR_FILE] = st_save(tensors, metadata={**meta, "prior": json.dumps(shape)})
    manifest = {"format": FORMAT, "version": VERSION,
                "files": {n: {"bytes": len(b), "sha256": hashlib.sha256(b).hexdigest()} for n, b in files.items()}}
    files[MANIFEST_FILE] = _json_bytes(manifest)
    return files


def _json_safe(obj):
    """Metrics as strict JSON: non-finite numbers become null."""
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if hasattr(obj, "item") and callable(obj.item):  # NumPy and torch scalars
        return _json_safe(obj.item())
    return obj


def side_folders(folder: str | Path) -> tuple[Path, Path]:
    """(new, old): the hidden siblings a save writes the new run into and moves the old run to."""
    folder = Path(os.path.abspath(folder))
    name = folder.name
    if len(os.fsencode(name)) > 200:  # keep the sibling names within the file system's 255 bytes
        name = hashlib.sha256(os.fsencode(name)).hexdigest()[:16]
    return folder.with_name(f".{name}.saving"), folder.with_name(f".{name}.replaced")


def recover(folder: str | Path) -> None:
    """Finish or undo a save of ``folder`` that was cut off (a crash, a kill, Ctrl-C).

    A save moves the old run to ``old`` only after the new one is complete in ``new``, and moves ``new`` in
    right after. So: no folder but an ``old`` -> the swap was cut in the middle, put the old run back; a
    folder and an ``old`` -> the swap was done, the old copy is stale; a ``new`` left over -> it never
    became the run. Each step is a rename or a removal, so recovering can itself be cut off and rerun."""
    folder = Path(os.path.abspath(folder))
    new, old = side_folders(folder)
    if old.is_dir() and not old.is_symlink():
        if not os.path.lexists(folder):
            os.rename(old, folder)
        else:
            shutil.rmtree(old)
    if new.is_dir() and not new.is_symlink():
        shutil.rmtree(new)


def _pause(step: str) -> None:
    """Test hook: with ``$VAE_STUDIO_SAVE_PAUSE`` set to this step's name (or "each"), say so on stderr and
    wait for a line on stdin, so that a test can look at the folder or kill the process at this instant."""
    want = os.environ.get(SAVE_PAUSE_ENV)
    if want and want in (step, "each") and sys.stdin is not None:
        if sys.stderr is not None:
            print(f"{SAVE_PAUSE_ENV}: {step}", file=sys.stderr, flush=True)
        sys.stdin.readline()


def _is_run_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a VAE Studio run (its config.json says so, or it has a manifest)."""
    if is_regular(folder / MANIFEST_FILE):
        return True
    try:
        meta = loads_json(read_regular(folder / CONFIG_FILE, MAX_CONFIG_BYTES, CheckpointError), CheckpointError)
    except CheckpointError:
        return False
    return isinstance(meta, dict) and meta.get("format") == FORMAT


def _ours(name: str) -> bool:
    return name in RUN_FILES or name in (MANIFEST_FILE, *OPTIONAL_FILES) or (name.startswith(".") and name.endswith(".tmp"))


_SYSTEM_DIRS = ("/dev", "/proc", "/sys")


def check_destination(folder: str | Path, overwrite: bool = False) -> Path:
    """Whether a run can be saved as ``folder``; the absolute path, or :class:`DestinationError`.

    Refuses an empty name, a file, a folder under /dev, /proc or /sys, a name too long for the file system,
    a place that cannot be written, an unrelated folder that is not empty, and (unless ``overwrite``) an
    existing run. Also finishes or undoes a save of ``folder`` that was cut off. Writes nothing that stays."""
    if folder is None or not str(folder).strip():
        raise DestinationError("the run folder needs a name")
    path = Path(os.path.abspath(os.path.expanduser(str(folder))))
    real = os.path.realpath(path)
    if any(real == d or real.startswith(d + os.sep) for d in _SYSTEM_DIRS):
        raise DestinationError(f"{path} is in a system folder ({', '.join(_SYSTEM_DIRS)}); choose a folder "
                               "of your own")
    if len(os.fsencode(path.name)) > 255 or len(os.fsencode(str(path))) > 4000:
        raise DestinationError(f"the folder name is too long ({len(os.fsencode(path.name))} bytes): "
                               "choose a shorter one")
    if path.is_symlink():
        raise DestinationError(f"{path} is a symbolic link; save into the folder it points to instead")
    try:
        recover(path)
    except OSError as e:
        raise DestinationError(f"cannot finish an earlier, interrupted save of {path}: {e.strerror or e}") from None
    if os.path.lexists(path):
        if not path.is_dir():
            raise DestinationError(f"{path} is a file, not a folder; choose a name for a new folder")
        try:
            names = sorted(os.listdir(path))
        except OSError as e:
            raise DestinationError(f"cannot look into {path}: {e.strerror or e}") from None
        if names:
            if not _is_run_folder(path):
                raise DestinationError(f"{path} already exists and is not a VAE Studio run folder; "
                                       "choose another name")
            if not overwrite:
                raise DestinationError(f"{path} already holds a run; choose another folder or replace it "
                                       "(--overwrite)")
            extra = [n for n in names if not _ours(n)]
            if extra:
                raise DestinationError(f"{path} holds files that are not part of the run ({extra[0]}); move "
                                       "them elsewhere before replacing the run")
    _check_writable(path.parent)
    return path


def _check_writable(parent: Path) -> None:
    """The nearest existing folder above ``parent`` (inclusive) must let us create a folder in it."""
    probe = parent
    while not os.path.lexists(probe) and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        raise DestinationError(f"{probe} is not a folder, so nothing can be saved under it")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".vae-studio-probe-", dir=probe))
    except OSError as e:
        raise DestinationError(f"cannot save in {probe}: {e.strerror or e}") from None


def save_run(run: Run, folder: str | Path, *, overwrite: bool = True) -> Path:
    """Save ``run`` as ``folder``, replacing the run there only if ``overwrite`` (the GUI asks first).

    All or nothing: the new run is written and synced in a hidden sibling folder, then swapped in; a crash or
    Ctrl-C at any instant leaves exactly the old run or exactly the new one (see :func:`recover`). Raises
    :class:`DestinationError` (an OSError) when the destination cannot take a run, OSError when writing
    fails; nothing is left behind either way."""
    folder = check_destination(folder, overwrite)
    files = run_files(run)
    new, old = side_folders(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.mkdir(new)
        _pause("started")
        for name, data in files.items():
            _write_file(new / name, data)
            _pause(f"wrote {name}")
        _fsync_dir(new)
        _pause("synced")
        if os.path.lexists(folder):
            os.rename(folder, old)
            _fsync_dir(folder.parent)
            _pause("moved old aside")
        os.rename(new, folder)
        _fsync_dir(folder.parent)
        _pause("moved new in")
        if old.exists():
            shutil.rmtree(old)
        _pause("removed old")
    except BaseException:
        try:
            recover(folder)
        except OSError:
            pass  # the next save or load finishes it
        raise
    run.folder = folder
    run.saved_explorer = run.explorer.to_dict()
    run.saved_prior = getattr(run, "code_prior", None)
    return folder


# ---------------------------------------------------------------------------------------------- loading


def load_run(path: str | Path, device: str | torch.device = "cpu") -> Run:
    """Load a run folder (or a file inside one). Never unpickles; refuses foreign, damaged or mixed folders
    with one line naming the file and the field; never reads more than the run can hold."""
    path = Path(path)
    if not os.path.lexists(path) and not side_folders(path)[1].is_dir():
        raise CheckpointError(f"{path} does not exist")
    if os.path.lexists(path) and not path.is_dir():
        refuse_pickle(path)  # also refuses pipes, devices, symlink loops
        if path.name not in (*RUN_FILES, MANIFEST_FILE):
            raise CheckpointError(f"{path} is not a VAE Studio run: open the run folder that holds "
                                  f"{CONFIG_FILE} and {WEIGHTS_FILE}")
        path = path.parent
    try:
        recover(path)  # a save cut off in the middle: the old run goes back in place
    except OSError:
        pass
    folder = path if path.is_dir() else side_folders(path)[1]
    if not folder.is_dir():
        raise CheckpointError(f"{path} does not exist")

    manifest = read_manifest(folder)
    cfg_path = folder / CONFIG_FILE
    meta = parse_object(read_part(folder, CONFIG_FILE, MAX_CONFIG_BYTES, manifest), cfg_path, "configuration")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{cfg_path} is not a VAE Studio run configuration")
    version = meta.get("version")
    if version not in READABLE_VERSIONS or isinstance(version, bool):
        raise CheckpointError(f"{path} was saved by format version {str(version)[:20]}; this VAE Studio reads "
                              f"versions {', '.join(map(str, READABLE_VERSIONS))}")
    if version >= 2 and manifest is None:
        raise CheckpointError(f"{folder} is not complete: {MANIFEST_FILE} is missing")
    try:
        config = RunConfig.from_dict(meta.get("config")).validate()
        n_params = check_model_size(config.model)
    except ConfigError as e:
        raise CheckpointError(f"{cfg_path}: {e}") from None
    class_names = check_class_names(meta.get("class_names", []), cfg_path, config)
    name = meta.get("name", "")
    if not isinstance(name, str):
        raise CheckpointError(f"{cfg_path}: field name must be text")

    model = build_model(config.model)
    weights = folder / WEIGHTS_FILE
    raw = read_part(folder, WEIGHTS_FILE, max_weights_bytes(n_params, len(model.state_dict())), manifest)
    model.load_state_dict(load_weights(raw, weights, model), strict=True)
    del raw
    model.to(device).eval()

    hist_path = folder / HISTORY_FILE
    history = History()
    if manifest is not None or os.path.lexists(hist_path):
        h = parse_object(read_part(folder, HISTORY_FILE, MAX_HISTORY_BYTES, manifest), hist_path, "history")
        history = check_history(h, hist_path, get_variant(config.model.kind).kl_size(config.model))
    metrics = {}
    if manifest is not None and METRICS_FILE in manifest:
        m_path = folder / METRICS_FILE
        metrics = check_metrics(parse_object(read_part(folder, METRICS_FILE, MAX_CONFIG_BYTES, manifest), m_path,
                                               "metrics"), m_path)
    code_prior = None
    if manifest is not None and PRIOR_FILE in manifest:
        code_prior = load_code_prior(folder, manifest, model)
        model.attach_prior(code_prior)
    explorer, notes = load_explorer(folder, manifest, config.model.latent_dim)
    return Run(config=config, model=model, history=history, class_names=class_names, folder=path,
               name=name or path.name, metrics=metrics, explorer=explorer, notes=notes,
               saved_explorer=explorer.to_dict(), code_prior=code_prior, saved_prior=code_prior)
