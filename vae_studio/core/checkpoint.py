"""Run folders: the files a user keeps. Written atomically, read without ever unpickling.

A run folder holds ``config.json`` (format tag, version, the RunConfig, class names), ``model.safetensors``
(the weights; the format tag is repeated in its metadata) and ``history.json`` (per-epoch metrics and
per-step losses). :func:`load_run` checks all of it and refuses anything else with :class:`CheckpointError`.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load, save as st_save

from .config import ConfigError, RunConfig
from .models import VAE, build_model
from .training import History

FORMAT = "vae-studio-run"
VERSION = 1
CONFIG_FILE, WEIGHTS_FILE, HISTORY_FILE = "config.json", "model.safetensors", "history.json"


class CheckpointError(ValueError):
    """A file or folder is not a VAE Studio run (or is damaged); the message says which and why."""


@dataclass
class Run:
    """A model with its configuration and history: what the CLI and the GUI pass around."""

    config: RunConfig
    model: VAE
    history: History = field(default_factory=History)
    class_names: list[str] = field(default_factory=list)
    folder: Path | None = None
    name: str = ""


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one, never half."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _json_bytes(obj) -> bytes:
    return (json.dumps(obj, indent=1, allow_nan=True) + "\n").encode()


def save_run(run: Run, folder: str | Path) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in run.model.state_dict().items()}
    meta = {"format": FORMAT, "version": str(VERSION)}
    write_atomic(folder / WEIGHTS_FILE, st_save(tensors, metadata=meta))
    write_atomic(folder / HISTORY_FILE, _json_bytes(run.history.to_dict()))
    # config last: a folder with a config.json is complete
    write_atomic(folder / CONFIG_FILE, _json_bytes({"format": FORMAT, "version": VERSION, "name": run.name,
                                                   "config": run.config.to_dict(),
                                                   "class_names": run.class_names}))
    run.folder = folder
    return folder


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


def _read_prefix(path: Path, cap: int = 100 << 20) -> bytes:
    """Enough of a file to hold its safetensors header (8-byte length + header, at most ``cap``), no more."""
    with open(path, "rb") as f:
        head = f.read(8)
        n = int.from_bytes(head, "little") if len(head) == 8 else 0
        return head + f.read(min(n, cap))


def _refuse_pickle(path: Path) -> None:
    """Refuse a file the user named that is a pickle rather than one of a run folder's files."""
    if not path.is_file():
        return
    prefix = _read_prefix(path)
    if _safetensors_header(prefix) is None and _looks_pickled(path, prefix[:2]):
        raise _pickle_error(path)


def _read_json(path: Path, what: str) -> dict:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path.parent} is not a VAE Studio run folder: {path.name} is missing") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path} is damaged: its {what} is not valid JSON ({e})") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path} is damaged: its {what} is not a JSON object")
    return obj


def _safetensors_metadata(raw: bytes) -> dict:
    meta = (_safetensors_header(raw) or {}).get("__metadata__") or {}
    return meta if isinstance(meta, dict) else {}


def load_run(path: str | Path, device: str | torch.device = "cpu") -> Run:
    """Load a run folder (or a file inside one). Never unpickles; refuses foreign or damaged files."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path} does not exist")
    if path.is_file():
        _refuse_pickle(path)
        if path.name not in (CONFIG_FILE, WEIGHTS_FILE, HISTORY_FILE):
            raise CheckpointError(f"{path} is not a VAE Studio run: open the run folder that holds "
                                  f"{CONFIG_FILE} and {WEIGHTS_FILE}")
        path = path.parent
    meta = _read_json(path / CONFIG_FILE, "configuration")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path / CONFIG_FILE} is not a VAE Studio run configuration")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"{path} was saved by format version {meta.get('version')}; "
                              f"this VAE Studio reads version {VERSION}")
    try:
        config = RunConfig.from_dict(meta.get("config")).validate()
    except ConfigError as e:
        raise CheckpointError(f"{path / CONFIG_FILE}: {e}") from None

    weights = path / WEIGHTS_FILE
    if not weights.is_file():
        raise CheckpointError(f"{path} is not complete: {WEIGHTS_FILE} is missing")
    raw = weights.read_bytes()
    if _safetensors_header(raw) is None:
        if _looks_pickled(weights, raw[:2]):
            raise _pickle_error(weights)
        raise CheckpointError(f"{weights} is damaged or not a safetensors file (its header does not parse)")
    try:
        tensors = st_load(raw)
    except (SafetensorError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{weights} is damaged or not a safetensors file ({e})") from None
    if _safetensors_metadata(raw).get("format") != FORMAT:
        raise CheckpointError(f"{weights} was not saved by VAE Studio (no '{FORMAT}' tag in its metadata)")
    model = build_model(config.model)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0:2]
        raise CheckpointError(f"{weights} does not match the model in {CONFIG_FILE}: {' '.join(first)}") from None
    model.to(device).eval()

    hist_path = path / HISTORY_FILE
    history = History.from_dict(_read_json(hist_path, "history")) if hist_path.exists() else History()
    return Run(config=config, model=model, history=history, class_names=list(meta.get("class_names", [])),
               folder=path, name=str(meta.get("name") or path.name))
