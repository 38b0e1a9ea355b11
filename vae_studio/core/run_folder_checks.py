"""What a run folder may hold, and the strict checks of each of its parts as they are read back.

The run folder's format in one place: its format tag and versions, its file names, the limits on what each
file may hold, and :class:`CheckpointError`. Each part is checked before anything trusts it: the manifest and
its entries (size and SHA-256 of every file), the configuration's class names, the history (per-epoch
metrics, the step log's columns and rows, the hyper-parameter changes), the metrics, the safetensors header
and weights (VAE Studio's tag, exactly the model's names, float32 shapes, finite values), a VQ-VAE's code
prior (its shape within limits and fitting the run's codebook and grid) and the explorer's bookmarks.
Files are recognised by parsing their safetensors header, never by a first byte; pickles are refused, never
loaded. Every refusal is one line naming the file (and the field).

Saving, and putting a run together from these parts, is :mod:`vae_studio.core.checkpoint`.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import zipfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load

from .config import RunConfig
from .explorer_state import ExplorerState, ExplorerStateError, state_from_dict
from .models import VAE
from .safe_io import MiB, loads_json, open_regular, read_regular
from .training_events import BASE_COLUMNS, History

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


class CheckpointError(ValueError):
    """A file or folder is not a VAE Studio run (or is damaged); the message says which and why."""



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


def refuse_pickle(path: Path) -> None:
    """Refuse a file the user named that is a pickle rather than one of a run folder's files."""
    prefix = _read_prefix(path)
    if _safetensors_header(prefix) is None and _looks_pickled(path, prefix[:2]):
        raise _pickle_error(path)


def parse_object(raw: bytes, path: Path, what: str) -> dict:
    obj = loads_json(raw, CheckpointError, f"{path} ({what})")
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path} is damaged: its {what} is not a JSON object")
    return obj


def read_part(folder: Path, name: str, limit: int, manifest: dict | None) -> bytes:
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


def read_manifest(folder: Path) -> dict | None:
    """The manifest's file table ({name: {"bytes", "sha256"}}), or None for a version-1 folder without one."""
    path = folder / MANIFEST_FILE
    if not os.path.lexists(path):
        return None
    m = parse_object(read_regular(path, MAX_CONFIG_BYTES, CheckpointError, "manifest"), path, "manifest")
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


def check_history(h: dict, path: Path, latent_dim: int) -> History:
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


def check_class_names(names, path: Path, config: RunConfig) -> list[str]:
    if not (isinstance(names, list) and all(isinstance(n, str) and len(n) <= MAX_CLASS_NAME for n in names)):
        raise CheckpointError(f"{path}: field class_names must be a list of names (text, at most "
                              f"{MAX_CLASS_NAME} characters each)")
    m = config.model
    if m.is_conditional and names and len(names) != m.num_classes:
        raise CheckpointError(f"{path}: field class_names lists {len(names)} classes but the conditional model "
                              f"has {m.num_classes}")
    return list(names)


def load_weights(raw: bytes, path: Path, model: VAE) -> dict[str, torch.Tensor]:
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


def max_weights_bytes(n_params: int, n_tensors: int) -> int:
    return 8 + MAX_HEADER_BYTES + 256 * n_tensors + 4 * n_params



def load_explorer(folder: Path, manifest: dict | None, latent_dim: int) -> tuple[ExplorerState, list[str]]:
    """The bookmarks and directions of ``explorer.json`` when the manifest lists it. They are notes beside
    the model, so a bad file does not refuse the run: it is left out, with a note saying why."""
    if manifest is None or EXPLORER_FILE not in manifest:
        return ExplorerState(), []
    path = folder / EXPLORER_FILE
    try:
        if not _manifest_entry_ok(manifest[EXPLORER_FILE]):
            raise CheckpointError(f"{folder / MANIFEST_FILE} is damaged: field files.{EXPLORER_FILE} must hold "
                                  "bytes and sha256")
        obj = parse_object(read_part(folder, EXPLORER_FILE, MAX_CONFIG_BYTES, manifest), path, "explorer state")
        return state_from_dict(obj, latent_dim), []
    except ExplorerStateError as e:
        reason = f"{path}: {e}"
    except CheckpointError as e:
        reason = str(e)
    return ExplorerState(), [f"The bookmarks and directions were left out ({reason}); the model opened as saved."]


def load_code_prior(folder: Path, manifest: dict, model) -> torch.nn.Module:
    """The fitted code prior of a VQ-VAE run, checked: a VQ-VAE, a shape within limits that fits its codebook
    and grid, and tensors exactly as that shape builds them (float32, finite)."""
    from .code_prior import build_code_prior

    path = folder / PRIOR_FILE
    if not hasattr(model, "attach_prior"):
        raise CheckpointError(f"{path}: only a VQ-VAE has a code prior, and this run is a {model.cfg.kind}")
    raw = read_part(folder, PRIOR_FILE, 8 + MAX_HEADER_BYTES + 512 * MiB, manifest)
    header = _safetensors_header(raw)
    if header is None:
        load_weights(raw, path, torch.nn.Module())  # refuses it, naming a pickle or damage
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
    prior.load_state_dict(load_weights(raw, path, prior), strict=True)
    return prior.eval()


def check_metrics(m: dict, path: Path) -> dict:
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
