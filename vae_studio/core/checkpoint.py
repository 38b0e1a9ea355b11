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

Longer than most modules (about 550 lines) on purpose: it is the one place that knows the run-folder format,
so what is written and what is checked when read stay side by side and change together.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load, save as st_save

from .config import ConfigError, RunConfig, check_model_size
from .explorer_state import ExplorerState, ExplorerStateError, state_from_dict
from .models import VAE, build_model
from .safe_io import MiB, is_regular, loads_json, open_regular, read_regular
from .training_events import BASE_COLUMNS, History
from .variants import get_variant

FORMAT = "vae-studio-run"
VERSION = 2  # 2: manifest.json binds the files; 1 (no manifest) is still read
READABLE_VERSIONS = (1, 2)
CONFIG_FILE, WEIGHTS_FILE, HISTORY_FILE, MANIFEST_FILE = "config.json", "model.safetensors", "history.json", "manifest.json"
RUN_FILES = (CONFIG_FILE, WEIGHTS_FILE, HISTORY_FILE)
METRICS_FILE = "metrics.json"  # optional: quality metrics computed for these weights (metrics panel, eval)
EXPLORER_FILE = "explorer.json"  # optional: the latent explorer's bookmarks and directions (explorer_state)
PRIOR_FILE = "code_prior.safetensors"  # optional: a VQ-VAE's fitted prior over its code grids (fit-prior)
OPTIONAL_FILES = (METRICS_FILE, EXPLORER_FILE, PRIOR_FILE)  # written when the run has them, in the manifest
PRIOR_LIMITS = {"width": (8, 1024), "layers": (1, 16), "heads": (1, 16)}  # of a prior's shape, as read back
MAX_CONFIG_BYTES = 4 * MiB  # config.json and manifest.json (class names included)
MAX_HISTORY_BYTES = 512 * MiB  # about 3 million logged steps
MAX_COLUMNS = 16  # loss columns of the step log: total, recon, KL and a variant's own terms
MAX_HEADER_BYTES = 1 * MiB  # a safetensors header beyond the tensors themselves
MAX_CLASS_NAME = 1000
CHANGE_FIELDS = ("step", "epoch", "beta", "lr")  # one hyper-parameter change of history.changes
HISTORY_STATUSES = ("new", "running", "paused", "finished", "stopped", "diverged")
# test hook: pause the save at a step (or at "each" step) until a line arrives on stdin; see _pause
SAVE_PAUSE_ENV = "VAE_STUDIO_SAVE_PAUSE"
SAVE_STEPS = ("started", "wrote config.json", "wrote model.safetensors", "wrote history.json", "wrote manifest.json",
              "synced", "moved old aside", "moved new in", "removed old")


class CheckpointError(ValueError):
    """A file or folder is not a VAE Studio run (or is damaged); the message says which and why."""


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


def _safetensors_header(raw: bytes) -> dict | None:
    """The parsed header if ``raw`` is laid out as a safetensors file, else None.

    A safetensors file starts with the header's length as a little-endian u64, then that many bytes of
    JSON object. The format is recognised by parsing this, never by a first byte: the low byte of the
    length can be anything, ``0x80`` (a pickle's first byte) included.
    """
    if len(raw) < 10:
        return None
    n = int.from_bytes(raw[:8], "little")
    if n < 2 or 8 + n > len(raw) or raw[8:9] != b"{":
        return None
    try:
        header = json.loads(raw[8:8 + n])
    except (ValueError, RecursionError):
        return None
    return header if isinstance(header, dict) else None


def _looks_pickled(path: Path, head: bytes) -> bool:
    """A raw pickle (protocol 2+), or torch.save's zip holding one. Only looks at bytes and zip names.

    Asked only of files that are not valid safetensors, so a safetensors header length ending in 0x80
    is never mistaken for a pickle.
    """
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return True
    if head[:2] == b"PK" and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            return any(n.endswith(".pkl") for n in z.namelist())
    return False


def _pickle_error(path: Path) -> CheckpointError:
    return CheckpointError(f"{path} is a pickled file (such as a torch.save .pt); VAE Studio never loads "
                           "pickles (they can run code). Open a run folder saved by VAE Studio.")


def _read_prefix(path: Path, cap: int = 100 * MiB) -> bytes:
    """Enough of a file to hold its safetensors header (8-byte length + header, at most ``cap``), no more."""
    f, _size = open_regular(path, CheckpointError)
    with f:
        head = f.read(8)
        n = int.from_bytes(head, "little") if len(head) == 8 else 0
        return head + f.read(min(n, cap))


def _refuse_pickle(path: Path) -> None:
    """Refuse a file the user named that is a pickle rather than one of a run folder's files."""
    prefix = _read_prefix(path)
    if _safetensors_header(prefix) is None and _looks_pickled(path, prefix[:2]):
        raise _pickle_error(path)


def _parse_object(raw: bytes, path: Path, what: str) -> dict:
    obj = loads_json(raw, CheckpointError, f"{path} ({what})")
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path} is damaged: its {what} is not a JSON object")
    return obj


def _read(folder: Path, name: str, limit: int, manifest: dict | None) -> bytes:
    """A run file's bytes, read once (a regular file, at most ``limit`` bytes) and checked against the manifest."""
    path = folder / name
    if not os.path.lexists(path):
        listed = " (it is listed in manifest.json)" if manifest else ""
        raise CheckpointError(f"{folder} is not complete: {name} is missing{listed}")
    if manifest is not None:
        entry = manifest[name]
        limit = min(limit, entry["bytes"])
    raw = read_regular(path, limit, CheckpointError, f"run's {name}")
    if manifest is not None and (len(raw) != entry["bytes"] or hashlib.sha256(raw).hexdigest() != entry["sha256"]):
        raise CheckpointError(f"{path} does not match {MANIFEST_FILE}: the folder mixes files of different saves "
                              "or was changed or damaged after saving")
    return raw


def _read_manifest(folder: Path) -> dict | None:
    """The manifest's file table ({name: {"bytes", "sha256"}}), or None for a version-1 folder without one."""
    path = folder / MANIFEST_FILE
    if not os.path.lexists(path):
        return None
    m = _parse_object(read_regular(path, MAX_CONFIG_BYTES, CheckpointError, "manifest"), path, "manifest")
    files = m.get("files")
    if m.get("format") != FORMAT or not isinstance(files, dict):
        raise CheckpointError(f"{path} is not a VAE Studio manifest (format tag or file table missing)")
    for name in RUN_FILES + tuple(n for n in (METRICS_FILE, PRIOR_FILE) if n in files):
        if not _manifest_entry_ok(files.get(name)):
            raise CheckpointError(f"{path} is damaged: field files.{name} must hold bytes and sha256")
    return files


def _manifest_entry_ok(e) -> bool:
    return (isinstance(e, dict) and isinstance(e.get("bytes"), int) and not isinstance(e["bytes"], bool)
            and 0 <= e["bytes"] < 1 << 62 and isinstance(e.get("sha256"), str) and len(e["sha256"]) == 64)


def _is_number(v) -> bool:
    return isinstance(v, float) or (isinstance(v, int) and not isinstance(v, bool) and abs(v) < 1 << 63)


def _check_history(h: dict, path: Path, latent_dim: int) -> History:
    """``latent_dim``: the length of the epochs' ``test_kl_per_dim`` (the variant's ``kl_size``)."""
    def bad(field_name: str, want: str):
        return CheckpointError(f"{path}: field {field_name} must be {want}")

    unknown = set(h) - {"epochs", "steps", "status", "message", "changes", "columns"}
    if unknown:
        raise bad(sorted(unknown)[0], "absent (not a history field)")
    epochs, steps = h.get("epochs", []), h.get("steps", [])
    if not isinstance(epochs, list):
        raise bad("epochs", "a list of per-epoch records")
    for i, rec in enumerate(epochs):
        if not isinstance(rec, dict):
            raise bad(f"epochs[{i}]", "an object")
        for k, v in rec.items():
            if k == "test_kl_per_dim":
                if not (isinstance(v, list) and len(v) == latent_dim and all(map(_is_number, v))):
                    raise bad(f"epochs[{i}].{k}", f"a list of {latent_dim} numbers")
            elif not _is_number(v):
                raise bad(f"epochs[{i}].{k}", "a number")
    columns = h.get("columns", list(BASE_COLUMNS))  # absent in runs saved before variants had own terms
    if not (isinstance(columns, list) and columns[:3] == list(BASE_COLUMNS) and len(columns) <= MAX_COLUMNS
            and all(isinstance(c, str) and c.isidentifier() and len(c) <= 40 for c in columns)):
        raise bad("columns", f"a list of at most {MAX_COLUMNS} loss names starting with {', '.join(BASE_COLUMNS)}")
    if not isinstance(steps, list):
        raise bad("steps", "a list of [step, total, recon, kl, ...] rows")
    width = 1 + len(columns)
    for i, row in enumerate(steps):
        if not (isinstance(row, list) and len(row) == width and all(map(_is_number, row))):
            raise bad(f"steps[{i}]", f"a row of {width} numbers [step, {', '.join(columns)}]")
    if h.get("status", "finished") not in HISTORY_STATUSES:
        raise bad("status", f"one of {', '.join(HISTORY_STATUSES)}")
    if not isinstance(h.get("message", ""), str):
        raise bad("message", "text")
    changes = h.get("changes", [])  # absent in runs saved before live changes existed
    if not isinstance(changes, list):
        raise bad("changes", "a list of hyper-parameter changes")
    last = -1
    for i, c in enumerate(changes):
        if not (isinstance(c, dict) and set(c) == set(CHANGE_FIELDS) and all(map(_is_number, c.values()))):
            raise bad(f"changes[{i}]", f"an object of numbers {', '.join(CHANGE_FIELDS)}")
        if not (float(c["step"]).is_integer() and c["step"] > last and math.isfinite(c["beta"]) and c["beta"] >= 0
                and math.isfinite(c["lr"]) and c["lr"] > 0):
            raise bad(f"changes[{i}]", "a change after the one before it, with beta >= 0 and lr > 0")
        last = c["step"]
    return History.from_dict(h)


def _check_class_names(names, path: Path, config: RunConfig) -> list[str]:
    if not (isinstance(names, list) and all(isinstance(n, str) and len(n) <= MAX_CLASS_NAME for n in names)):
        raise CheckpointError(f"{path}: field class_names must be a list of names (text, at most "
                              f"{MAX_CLASS_NAME} characters each)")
    m = config.model
    if m.is_conditional and names and len(names) != m.num_classes:
        raise CheckpointError(f"{path}: field class_names lists {len(names)} classes but the conditional model "
                              f"has {m.num_classes}")
    return list(names)


def _load_weights(raw: bytes, path: Path, model: VAE) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file, checked: VAE Studio's tag, exactly the model's names and shapes,
    float32, every value finite."""
    header = _safetensors_header(raw)
    if header is None:
        if _looks_pickled(path, raw[:2]):
            raise _pickle_error(path)
        raise CheckpointError(f"{path} is damaged or not a safetensors file (its header does not parse)")
    meta = header.get("__metadata__")
    if not (isinstance(meta, dict) and meta.get("format") == FORMAT):
        raise CheckpointError(f"{path} was not saved by VAE Studio (no '{FORMAT}' tag in its metadata)")
    expected = {k: list(v.shape) for k, v in model.state_dict().items()}
    names = set(header) - {"__metadata__"}
    if names != set(expected):
        missing, extra = sorted(set(expected) - names), sorted(names - set(expected))
        what = f"lacks {missing[0]}" if missing else f"has an unexpected tensor {extra[0]}"
        raise CheckpointError(f"{path} does not match the model in {CONFIG_FILE}: it {what}")
    for name in sorted(names):
        info = header[name]
        if not isinstance(info, dict) or info.get("dtype") != "F32":
            got = info.get("dtype") if isinstance(info, dict) else type(info).__name__
            raise CheckpointError(f"{path}: tensor {name} must be float32 (F32), not {str(got)[:20]}")
        if info.get("shape") != expected[name]:
            raise CheckpointError(f"{path}: tensor {name} has shape {str(info.get('shape'))[:40]}, but the model in "
                                  f"{CONFIG_FILE} needs {expected[name]}")
    try:
        tensors = st_load(raw)
    except (SafetensorError, ValueError, RuntimeError, OverflowError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CheckpointError(f"{path} is damaged or not a safetensors file ({first})") from None
    for name, t in tensors.items():
        if not bool(torch.isfinite(t).all()):
            raise CheckpointError(f"{path}: tensor {name} holds NaN or infinite values")
    return tensors


def _max_weights_bytes(n_params: int, n_tensors: int) -> int:
    return 8 + MAX_HEADER_BYTES + 256 * n_tensors + 4 * n_params


def load_run(path: str | Path, device: str | torch.device = "cpu") -> Run:
    """Load a run folder (or a file inside one). Never unpickles; refuses foreign, damaged or mixed folders
    with one line naming the file and the field; never reads more than the run can hold."""
    path = Path(path)
    if not os.path.lexists(path) and not side_folders(path)[1].is_dir():
        raise CheckpointError(f"{path} does not exist")
    if os.path.lexists(path) and not path.is_dir():
        _refuse_pickle(path)  # also refuses pipes, devices, symlink loops
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

    manifest = _read_manifest(folder)
    cfg_path = folder / CONFIG_FILE
    meta = _parse_object(_read(folder, CONFIG_FILE, MAX_CONFIG_BYTES, manifest), cfg_path, "configuration")
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
    class_names = _check_class_names(meta.get("class_names", []), cfg_path, config)
    name = meta.get("name", "")
    if not isinstance(name, str):
        raise CheckpointError(f"{cfg_path}: field name must be text")

    model = build_model(config.model)
    weights = folder / WEIGHTS_FILE
    raw = _read(folder, WEIGHTS_FILE, _max_weights_bytes(n_params, len(model.state_dict())), manifest)
    model.load_state_dict(_load_weights(raw, weights, model), strict=True)
    del raw
    model.to(device).eval()

    hist_path = folder / HISTORY_FILE
    history = History()
    if manifest is not None or os.path.lexists(hist_path):
        h = _parse_object(_read(folder, HISTORY_FILE, MAX_HISTORY_BYTES, manifest), hist_path, "history")
        history = _check_history(h, hist_path, get_variant(config.model.kind).kl_size(config.model))
    metrics = {}
    if manifest is not None and METRICS_FILE in manifest:
        m_path = folder / METRICS_FILE
        metrics = _check_metrics(_parse_object(_read(folder, METRICS_FILE, MAX_CONFIG_BYTES, manifest), m_path,
                                               "metrics"), m_path)
    code_prior = None
    if manifest is not None and PRIOR_FILE in manifest:
        code_prior = _load_prior(folder, manifest, model)
        model.attach_prior(code_prior)
    explorer, notes = _load_explorer(folder, manifest, config.model.latent_dim)
    return Run(config=config, model=model, history=history, class_names=class_names, folder=path,
               name=name or path.name, metrics=metrics, explorer=explorer, notes=notes,
               saved_explorer=explorer.to_dict(), code_prior=code_prior, saved_prior=code_prior)


def _load_explorer(folder: Path, manifest: dict | None, latent_dim: int) -> tuple[ExplorerState, list[str]]:
    """The bookmarks and directions of ``explorer.json`` when the manifest lists it. They are notes beside
    the model, so a bad file does not refuse the run: it is left out, with a note saying why."""
    if manifest is None or EXPLORER_FILE not in manifest:
        return ExplorerState(), []
    path = folder / EXPLORER_FILE
    try:
        if not _manifest_entry_ok(manifest[EXPLORER_FILE]):
            raise CheckpointError(f"{folder / MANIFEST_FILE} is damaged: field files.{EXPLORER_FILE} must hold "
                                  "bytes and sha256")
        obj = _parse_object(_read(folder, EXPLORER_FILE, MAX_CONFIG_BYTES, manifest), path, "explorer state")
        return state_from_dict(obj, latent_dim), []
    except ExplorerStateError as e:
        reason = f"{path}: {e}"
    except CheckpointError as e:
        reason = str(e)
    return ExplorerState(), [f"The bookmarks and directions were left out ({reason}); the model opened as saved."]


def _load_prior(folder: Path, manifest: dict, model) -> torch.nn.Module:
    """The fitted code prior of a VQ-VAE run, checked: a VQ-VAE, a shape within limits that fits its codebook
    and grid, and tensors exactly as that shape builds them (float32, finite)."""
    from .code_prior import build_code_prior

    path = folder / PRIOR_FILE
    if not hasattr(model, "attach_prior"):
        raise CheckpointError(f"{path}: only a VQ-VAE has a code prior, and this run is a {model.cfg.kind}")
    raw = _read(folder, PRIOR_FILE, 8 + MAX_HEADER_BYTES + 512 * MiB, manifest)
    header = _safetensors_header(raw)
    if header is None:
        _load_weights(raw, path, torch.nn.Module())  # refuses it, naming a pickle or damage
    meta = header.get("__metadata__")
    try:
        shape = json.loads(meta["prior"]) if isinstance(meta, dict) else None
    except (KeyError, TypeError, ValueError, RecursionError):
        shape = None
    want = {"num_codes": model.num_codes, "cells": model.grid * model.grid}
    ok = isinstance(shape, dict) and set(shape) == {*PRIOR_LIMITS, *want} and all(
        isinstance(v, int) and not isinstance(v, bool) for v in shape.values())
    ok = ok and all(lo <= shape[k] <= hi for k, (lo, hi) in PRIOR_LIMITS.items())
    if not (ok and shape["width"] % shape["heads"] == 0 and all(shape[k] == v for k, v in want.items())):
        raise CheckpointError(f"{path}: its metadata must give the prior's width, layers and heads (within "
                              f"limits) and the run's {want['num_codes']} codes and {want['cells']} cells")
    prior = build_code_prior(shape["num_codes"], shape["cells"], seed=0, **{k: shape[k] for k in PRIOR_LIMITS})
    prior.load_state_dict(_load_weights(raw, path, prior), strict=True)
    return prior.eval()


def _check_metrics(m: dict, path: Path) -> dict:
    """Metrics are names of numbers, short texts, or short lists of numbers or of short texts (such as the
    names of a data set's factors); anything else is refused."""
    def short_text(x) -> bool:
        return isinstance(x, str) and len(x) <= 1000

    for k, v in m.items():
        ok = v is None or _is_number(v) or short_text(v) or (
            isinstance(v, list) and len(v) <= 100_000
            and (all(x is None or _is_number(x) for x in v) or all(short_text(x) for x in v)))
        if not ok or isinstance(v, bool):
            raise CheckpointError(f"{path}: field {str(k)[:40]} must be a number, a text or a list of numbers "
                                  "or of texts")
    return m
