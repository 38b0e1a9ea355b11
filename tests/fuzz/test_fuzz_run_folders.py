"""Hostile run folders: truncated at every section, bit-flipped headers, wrong dtypes and shapes, missing,
extra and mixed files, wrong field types, hostile JSON, special files. Every case ends in a CheckpointError
with one line (and `vae-studio eval` in one line on stderr with exit 1) or in a run that is exactly what
the files say; none hangs or reads unbounded input (the cases with huge files are sparse: reading them
would take minutes and gigabytes, the test only seconds).
"""
import json
import os
import shutil
import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import save as st_save

from tests.core.helpers import toy_data
from tests.fuzz.helpers import assert_clean_refusal, rebind, within
from vae_studio.cli import main
from vae_studio.core.checkpoint import CheckpointError, Run, load_run, save_run
from vae_studio.core.config import RunConfig
from vae_studio.core.training import Trainer

FILES = ("config.json", "model.safetensors", "history.json", "manifest.json")


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """One trained run (a conditional conv model with a history) and a second one with the same shapes."""
    root = tmp_path_factory.mktemp("fuzz-runs")
    runs = []
    for seed in (0, 1):
        c = RunConfig()
        c.model.kind, c.model.arch, c.model.hidden, c.model.latent_dim = "cvae", "conv", [6], 2
        c.train.epochs, c.train.batch_size, c.train.seed = 1, 32, seed
        data = toy_data(n=80, size=8)
        t = Trainer(c, data)
        t.train()
        run = Run(config=c, model=t.model, history=t.history, class_names=data.class_names, name=f"r{seed}")
        runs.append((save_run(run, root / f"run{seed}"), run))
    return runs


def _header_len(folder) -> int:
    return int.from_bytes((folder / "model.safetensors").read_bytes()[:8], "little")


def _edit_json(name, fn):
    def mutate(folder):
        p = folder / name
        obj = json.loads(p.read_text())
        fn(obj)
        p.write_text(json.dumps(obj))
    return mutate


def _write(name, data: bytes):
    def mutate(folder):
        (folder / name).write_bytes(data)
    return mutate


def _cut(name, at):
    def mutate(folder):
        raw = (folder / name).read_bytes()
        (folder / name).write_bytes(raw[: at(len(raw), folder)])
    return mutate


def _flip(name, at, bit):
    def mutate(folder):
        raw = bytearray((folder / name).read_bytes())
        i = at(len(raw), folder)
        raw[i] ^= 1 << bit
        (folder / name).write_bytes(bytes(raw))
    return mutate


def _tensors(fn, meta=True):
    """Rewrite the weights file with fn(state dict) (VAE Studio's tag kept unless meta is False)."""
    def mutate(folder):
        from safetensors.torch import load as st_load
        tensors = fn(st_load((folder / "model.safetensors").read_bytes()))
        md = {"format": "vae-studio-run", "version": "2"} if meta else None
        (folder / "model.safetensors").write_bytes(st_save(tensors, metadata=md))
    return mutate


def _set(d, path, value):
    *head, last = path.split(".")
    for k in head:
        d = d[k]
    d[last] = value


def _first_2d(t):
    return next(k for k, v in t.items() if v.ndim == 2)


# ------------------------------------------------------------------ the cases: (id, mutate, rebind manifest)

CASES = []


def case(cid, mutate, bind=True):
    CASES.append(pytest.param(mutate, bind, id=cid))


# truncation of every file at every section: nothing, inside the length, at the header's edges, in the data
for name in FILES:
    for label, at in [("empty", lambda n, f: 0), ("1 byte", lambda n, f: 1), ("half", lambda n, f: n // 2),
                      ("all but 2", lambda n, f: n - 2)]:
        case(f"truncate {name} {label}", _cut(name, at), bind=name != "manifest.json")
for label, at in [("7", lambda n, f: 7), ("8", lambda n, f: 8), ("9", lambda n, f: 9),
                  ("mid-header", lambda n, f: 8 + _header_len(f) // 2), ("header end-1", lambda n, f: 7 + _header_len(f)),
                  ("header end", lambda n, f: 8 + _header_len(f)), ("header end+1", lambda n, f: 9 + _header_len(f)),
                  ("last byte", lambda n, f: n - 1)]:
    case(f"truncate weights at {label}", _cut("model.safetensors", at))
# bit flips in the safetensors header (length and JSON), rebound so that the manifest does not catch them
for i in list(range(8)) + list(range(8, 1200, 37)):
    for bit in (0, 3, 7):
        case(f"flip header byte {i} bit {bit}", _flip("model.safetensors", lambda n, f, i=i: min(i, 7 + _header_len(f)), bit))
# any flip at all, caught by the manifest
for i in (0, 100, -1):
    case(f"flip weights byte {i} unbound", _flip("model.safetensors", lambda n, f, i=i: i % n, 0), bind=False)
    case(f"flip config byte {i} unbound", _flip("config.json", lambda n, f, i=i: i % n, 1), bind=False)
# wrong dtypes, values and shapes
for dtype in (torch.float64, torch.float16, torch.bfloat16, torch.int32, torch.int64, torch.uint8, torch.bool):
    case(f"weights as {dtype}", _tensors(lambda t, d=dtype: {k: v.to(d) for k, v in t.items()}))
case("one weight NaN", _tensors(lambda t: {k: (v.fill_(float("nan")) if k == _first_2d(t) else v) for k, v in t.items()}))
case("one weight inf", _tensors(lambda t: {k: (v.fill_(float("inf")) if k == _first_2d(t) else v) for k, v in t.items()}))
case("a weight transposed", _tensors(lambda t: {k: (v.t().contiguous() if k == _first_2d(t) else v) for k, v in t.items()}))
case("a weight flattened", _tensors(lambda t: {k: (v.flatten() if k == _first_2d(t) else v) for k, v in t.items()}))
case("a tensor missing", _tensors(lambda t: {k: v for k, v in list(t.items())[1:]}))
case("a tensor extra", _tensors(lambda t: {**t, "extra": torch.zeros(3)}))
case("no VAE Studio tag", _tensors(lambda t: t, meta=False))
case("weights a zero tensor file", _tensors(lambda t: {}))
# missing, extra and mixed files
for name in FILES:
    case(f"missing {name}", lambda f, n=name: (f / n).unlink(), bind=False)
case("an extra file (kept, run loads)", _write("notes.txt", b"mine"), bind=False)
for name in ("model.safetensors", "history.json", "config.json"):
    case(f"mixed: {name} of another save", lambda f, n=name: shutil.copy(f.parent / "other" / n, f / n), bind=False)
case("mixed: config and manifest of another save",
     lambda f: [shutil.copy(f.parent / "other" / n, f / n) for n in ("config.json", "manifest.json")], bind=False)
# field types and values in config.json
WRONG = {"str": "4", "list": [], "dict": {}, "bool": True, "null": None, "float": 1.5, "neg": -1,
         "huge": 10**4000, "nested": [[[[1]]]]}
FIELDS = ["config.data.dataset", "config.data.root", "config.data.image_size", "config.data.grayscale",
          "config.data.binarize", "config.data.seed", "config.model.kind", "config.model.arch",
          "config.model.latent_dim", "config.model.hidden", "config.model.image_size", "config.model.channels",
          "config.model.num_classes", "config.train.beta", "config.train.gamma", "config.train.recon",
          "config.train.kl_warmup_epochs", "config.train.lr", "config.train.batch_size", "config.train.epochs",
          "config.train.seed", "config.train.device", "config.train.grad_clip", "format", "version", "name",
          "class_names", "config", "config.model", "config.nonsense", "config.model.nonsense"]
for fld in FIELDS:
    for label, value in WRONG.items():
        case(f"config {fld} = {label}", _edit_json("config.json", lambda d, p=fld, v=value: _set(d, p, v)))
for label, value in [("five", 5), ("mixed", ["a", 5]), ("long name", ["x" * 5000] * 3), ("too few", ["a"]),
                     ("too many", ["a"] * 4)]:
    case(f"class_names {label}", _edit_json("config.json", lambda d, v=value: _set(d, "class_names", v)))
# field types in history.json
for label, value in [("epochs 5", {"epochs": 5}), ("steps str", {"steps": "x"}), ("short row", {"steps": [[1, 2]]}),
                     ("str in row", {"steps": [[1, 2, 3, "a"]]}), ("bool in row", {"steps": [[1, 2, 3, True]]}),
                     ("status odd", {"status": "weird"}), ("status int", {"status": 5}), ("message int", {"message": 5}),
                     ("epoch str", {"epochs": [{"epoch": "1"}]}), ("epoch list", {"epochs": [[1]]}),
                     ("kl per dim short", {"epochs": [{"test_kl_per_dim": [1.0]}]}), ("unknown key", {"foo": 1}),
                     ("huge int", {"steps": [[10**4000, 1, 2, 3]]})]:
    case(f"history {label}", _edit_json("history.json", lambda d, v=value: d.update(v)))
# hostile JSON in every JSON file
for name in ("config.json", "history.json", "manifest.json"):
    for label, data in [("nested 100000", b"[" * 100_000 + b"]" * 100_000), ("nested obj", b'{"a":' * 50_000 + b"1" + b"}" * 50_000),
                        ("5000 digits", b'{"version": ' + b"9" * 5000 + b"}"), ("not utf8", b"\xff\xfe{}"),
                        ("bom", b"\xef\xbb\xbf{}"), ("empty", b""), ("null", b"null"), ("list", b"[]"), ("string", b'"x"'),
                        ("NaN", b"NaN"), ("1e999", b"1e999")]:
        case(f"{name} {label}", _write(name, data), bind=name != "manifest.json")
case("config beta NaN", _edit_json("config.json", lambda d: _set(d, "config.train.beta", float("nan"))))
case("config beta 1e999", lambda f: (f / "config.json").write_text(
    (f / "config.json").read_text().replace('"beta": 1.0', '"beta": 1e999')))
case("config duplicate keys (last wins)", lambda f: (f / "config.json").write_text(
    (f / "config.json").read_text().replace('"name": "r0"', '"name": "x", "name": "r0"')))


def _fifo(f, n):
    os.unlink(f / n)
    os.mkfifo(f / n)


def _symlink(target):
    def mutate(f, n):
        os.unlink(f / n)
        os.symlink(target if target != "loop" else f / n, f / n)
    return mutate


def _folder(f, n):
    os.unlink(f / n)
    os.mkdir(f / n)


def _sparse(size):
    def mutate(f, n):
        with open(f / n, "r+b") as fh:
            fh.truncate(size)
    return mutate


SPECIAL = {"folder": _folder, "fifo": _fifo, "symlink loop": _symlink("loop"), "link to /dev/zero": _symlink("/dev/zero"),
           "sparse 100 GB": _sparse(100 << 30)}
for name in FILES:
    for label, fn in SPECIAL.items():
        case(f"{name} is a {label}", lambda f, n=name, fn=fn: fn(f, n), bind=False)
        if name != "manifest.json":
            case(f"version 1: {name} is a {label}", lambda f, n=name, fn=fn: (_as_v1(f), fn(f, n)), bind=False)


def _as_v1(folder):
    (folder / "manifest.json").unlink(missing_ok=True)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["version"] = 1
    (folder / "config.json").write_text(json.dumps(cfg))


def _expected_config(folder):
    try:
        return json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return None


@pytest.mark.parametrize("mutate, bind", CASES)
def test_a_hostile_run_folder_is_refused_cleanly_or_read_faithfully(base, tmp_path, mutate, bind):
    (src, original), (other, _) = base
    folder = tmp_path / "run"
    shutil.copytree(src, folder)
    shutil.copytree(other, tmp_path / "other")
    mutate(folder)
    if bind and (folder / "manifest.json").is_file() and not (folder / "manifest.json").is_symlink():
        rebind(folder)
    run, error = within(lambda: load_run(folder))
    if error is None:  # a correct result: exactly what the files say
        written = _expected_config(folder)
        assert written is not None and run.config.to_dict() == written["config"]
        assert all(torch.equal(run.model.state_dict()[k], v) for k, v in original.model.state_dict().items())
        assert run.history.steps == original.history.steps
        return
    assert_clean_refusal(error, CheckpointError, must_name=(str(folder),))
    # the command line says the same in one line and exits 1, without a traceback
    import io
    import contextlib
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc, e2 = within(lambda: main(["eval", str(folder), "--iwae-k", "0"]))
    assert e2 is None and rc == 1, err.getvalue()
    assert err.getvalue().count("\n") == 1 and err.getvalue().startswith("error: "), err.getvalue()


@pytest.mark.parametrize("what", ["fifo", "loop", "dev zero", "pickle-like 0x80 file", "empty file"])
def test_the_path_given_is_itself_hostile(tmp_path, what):
    p = tmp_path / "model.safetensors"
    if what == "fifo":
        os.mkfifo(p)
    elif what == "loop":
        os.symlink(p, p)
    elif what == "dev zero":
        os.symlink("/dev/zero", p)
    elif what == "pickle-like 0x80 file":
        p.write_bytes(b"\x80\x04" + struct.pack("<Q", 2**63) + b"junk")
    else:
        p.write_bytes(b"")
    _, error = within(lambda: load_run(p))
    assert_clean_refusal(error, CheckpointError)
