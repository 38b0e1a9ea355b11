"""Hostile data files and command-line flags: a DataError / one line and a non-zero exit, or a correct result.

Also the round trip: every model configuration of a sweep of sizes is saved and reopened to the same weights.
"""
import contextlib
import gzip
import io
import itertools
import json
import os
import sys
import zipfile

import numpy as np
import pytest
import torch

from tests.fuzz.helpers import assert_clean_refusal, within
from vae_studio.cli import main
from vae_studio.core.checkpoint import Run, load_run, save_run
from vae_studio.core.config import DataConfig, ModelConfig, RunConfig
from vae_studio.core.data import DataError, load_dataset
from vae_studio.core.models import build_model

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

# ------------------------------------------------------------------------------------------------ data files


def _npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


GOOD_X = np.random.default_rng(0).integers(0, 256, (30, 8, 8), dtype=np.uint8)
GOOD_NPZ = _npz_bytes(x=GOOD_X, y=np.arange(30) % 3)
NPZ_CASES = {f"cut at {i}": GOOD_NPZ[:i] for i in (0, 1, 4, 30, 100, len(GOOD_NPZ) // 2, len(GOOD_NPZ) - 22,
                                                   len(GOOD_NPZ) - 1)}
NPZ_CASES.update({f"flip byte {i}": bytes(b ^ (0x10 if j == i else 0) for j, b in enumerate(GOOD_NPZ))
                  for i in range(0, 400, 23)})
NPZ_CASES.update({
    "bool x": _npz_bytes(x=GOOD_X > 100), "int16 x": _npz_bytes(x=GOOD_X.astype(np.int16)),
    "complex x": _npz_bytes(x=GOOD_X.astype(np.complex64)), "float nan": _npz_bytes(x=np.full((5, 8, 8), np.nan)),
    "float 2": _npz_bytes(x=np.full((5, 8, 8), 2.0)), "1-d x": _npz_bytes(x=np.zeros(64, np.uint8)),
    "5-d x": _npz_bytes(x=np.zeros((2, 2, 8, 8, 1), np.uint8)), "0 images": _npz_bytes(x=np.zeros((0, 8, 8), np.uint8)),
    "1 image": _npz_bytes(x=np.zeros((1, 8, 8), np.uint8)), "non-square": _npz_bytes(x=np.zeros((9, 8, 6), np.uint8)),
    "2x2": _npz_bytes(x=np.zeros((9, 2, 2), np.uint8)), "4 channels": _npz_bytes(x=np.zeros((9, 8, 8, 4), np.uint8)),
    "y float": _npz_bytes(x=GOOD_X, y=np.zeros(30)), "y short": _npz_bytes(x=GOOD_X, y=np.zeros(3, int)),
    "y negative": _npz_bytes(x=GOOD_X, y=-np.ones(30, int)), "y 2^40": _npz_bytes(x=GOOD_X, y=np.arange(30) * 2**40),
    "y 2-d": _npz_bytes(x=GOOD_X, y=np.zeros((30, 2), int)), "no x": _npz_bytes(z=GOOD_X),
    "single array": GOOD_X.tobytes(), "pickle": b"\x80\x04K\x01.", "text": b"hello",
})


@pytest.mark.parametrize("name", NPZ_CASES)
def test_a_hostile_npz_is_refused_cleanly_or_read_correctly(tmp_path, name):
    path = tmp_path / "d.npz"
    path.write_bytes(NPZ_CASES[name])
    data, error = within(lambda: load_dataset(DataConfig(dataset="npz", root=str(path))))
    if error is None:
        n = len(data.train_x) + len(data.test_x)
        assert data.train_x.dtype == torch.uint8 and data.train_x.shape[1:] in [(1, 8, 8), (3, 8, 8)]
        assert data.train_y is None or int(data.train_y.max()) < len(data.class_names) <= n
        return
    assert_clean_refusal(error, DataError, must_name=(str(path),))


def _idx(dims_shape, data: bytes, magic_dims=None) -> bytes:
    nd = len(dims_shape) if magic_dims is None else magic_dims
    return bytes([0, 0, 8, nd]) + b"".join(int(n).to_bytes(4, "big") for n in dims_shape) + data


IMG = np.random.default_rng(1).integers(0, 256, (6, 28, 28), dtype=np.uint8)
LAB = np.arange(6, dtype=np.uint8) % 10
GOOD_IMG = _idx(IMG.shape, IMG.tobytes())
IDX_CASES = {f"images cut at {i}": GOOD_IMG[:i] for i in (0, 3, 4, 10, 16, 100, len(GOOD_IMG) - 1)}
IDX_CASES.update({
    "overflowing dims": _idx((2**32 - 1,) * 3, b"\0" * 64), "dims product 2^64": _idx((2**16, 2**16, 2**32 - 1), b""),
    "zero images": _idx((0, 28, 28), b""), "non-square": _idx((6, 28, 14), bytes(6 * 28 * 14)),
    "wrong magic": _idx(IMG.shape, IMG.tobytes(), magic_dims=2), "extra bytes": GOOD_IMG + b"x",
    "tiny images": _idx((6, 2, 2), bytes(24)), "gz": gzip.compress(GOOD_IMG),
    "gz cut": gzip.compress(GOOD_IMG)[:50], "gz bomb header": gzip.compress(_idx((2**31, 2**31, 1), bytes(1 << 16))),
})


@pytest.mark.parametrize("name", IDX_CASES)
def test_a_hostile_idx_file_is_refused_cleanly_or_read_correctly(tmp_path, name):
    files = {"train-images-idx3-ubyte": GOOD_IMG, "train-labels-idx1-ubyte": _idx(LAB.shape, LAB.tobytes()),
             "t10k-images-idx3-ubyte": GOOD_IMG, "t10k-labels-idx1-ubyte": _idx(LAB.shape, LAB.tobytes())}
    target = "train-images-idx3-ubyte" + (".gz" if name.startswith("gz") else "")
    del files["train-images-idx3-ubyte"]
    files[target] = IDX_CASES[name]
    for n, raw in files.items():
        (tmp_path / n).write_bytes(raw)
    data, error = within(lambda: load_dataset(DataConfig(dataset="mnist", root=str(tmp_path))))
    if error is None:
        assert torch.equal(data.train_x[:, 0], torch.from_numpy(IMG)), "read wrong images"
        return
    assert_clean_refusal(error, DataError, must_name=(str(tmp_path), "mnist:"))


# ------------------------------------------------------------------------------------------------ CLI flags


@pytest.fixture(scope="module")
def npz_and_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("flags")
    (root / "d.npz").write_bytes(GOOD_NPZ)
    (root / "unlabelled.npz").write_bytes(_npz_bytes(x=GOOD_X))
    with contextlib.redirect_stderr(io.StringIO()):
        assert main(["train", "--dataset", "npz", "--data-root", str(root / "d.npz"), "--hidden", "8",
                     "--latent-dim", "2", "--epochs", "1", "--out", str(root / "run")]) == 0
    (root / "a-file").write_text("x")
    (root / "unrelated").mkdir()
    (root / "unrelated" / "config.json").write_text("{}")
    if hasattr(os, "mkfifo"):
        os.mkfifo(root / "fifo.npz")
    return root


TRAIN = ["train", "--dataset", "npz", "--data-root", "{root}/d.npz", "--hidden", "8", "--latent-dim", "2",
         "--epochs", "1", "--out", "{root}/new"]
FLAG_CASES = {
    **{f"--beta {v}": ["--beta", v] for v in ("nan", "inf", "-inf", "-1", "1e999", "x", "")},
    **{f"--gamma {v}": ["--gamma", v] for v in ("nan", "inf", "-0.5")},
    **{f"--lr {v}": ["--lr", v] for v in ("inf", "nan", "0", "-1", "1e999")},
    **{f"--grad-clip {v}": ["--grad-clip", v] for v in ("nan", "-1", "inf")},
    **{f"--seed {v}": ["--seed", v] for v in ("-1", str(2**63), str(2**64), str(10**30), "1.5")},
    **{f"--hidden {v}": ["--hidden", v] for v in ("1000000000", "0", "-5", "a", ",", "8," * 20, str(10**40))},
    **{f"--latent-dim {v}": ["--latent-dim", v] for v in ("0", "-1", "100000", str(10**30))},
    **{f"--image-size {v}": ["--image-size", v] for v in ("1000000000", "0", "1e9")},
    **{f"--{k} {v}": [f"--{k}", v] for k in ("epochs", "batch-size") for v in ("0", "-1", "x")},
    "--kl-warmup -1": ["--kl-warmup", "-1"], "--device nonsense": ["--device", "tpu:9"],
    "--device cuda:99": ["--device", "cuda:99"], "--dataset nonsense": ["--dataset", "nope"],
    "--data-root missing": ["--data-root", "{root}/missing.npz"], "--data-root fifo": ["--data-root", "{root}/fifo.npz"],
    "--data-root folder": ["--data-root", "{root}"], "cvae unlabelled": ["--model", "cvae", "--data-root", "{root}/unlabelled.npz"],
    "conv on 10 px": ["--arch", "conv", "--data-root", "{root}/ten.npz"],
    **{f"--out {k}": ["--out", v] for k, v in {"empty": "", "a file": "{root}/a-file", "/dev/null": "/dev/null",
                                                "/proc": "/proc/x/run", "too long": "{root}/" + "x" * 300,
                                                "under a file": "{root}/a-file/run", "existing run": "{root}/run",
                                                "unrelated folder": "{root}/unrelated"}.items()},
}
OTHER_CASES = {
    **{f"sample --n {v}": ["sample", "{root}/run", "--out", "{root}/s.png", "--n", v] for v in ("0", "-1", str(10**12))},
    **{f"sample --temperature {v}": ["sample", "{root}/run", "--out", "{root}/s.png", "--temperature", v]
       for v in ("nan", "inf", "-1")},
    **{f"sample --seed {v}": ["sample", "{root}/run", "--out", "{root}/s.png", "--seed", v] for v in ("-1", str(2**64))},
    **{f"sample --label {v}": ["sample", "{root}/run", "--out", "{root}/s.png", "--label", v] for v in ("99", "-1")},
    "sample into /proc": ["sample", "{root}/run", "--out", "/proc/x.png"],
    "sample missing run": ["sample", "{root}/nowhere", "--out", "{root}/s.png"],
    **{f"eval --iwae-k {v}": ["eval", "{root}/run", "--iwae-k", v] for v in ("-1", str(10**9))},
    "eval a file": ["eval", "{root}/a-file"], "eval the fifo": ["eval", "{root}/fifo.npz"],
    **{f"sweep --beta {v}": ["sweep", "--dataset", "npz", "--data-root", "{root}/d.npz", "--out", "{root}/sw", "--beta", v]
       for v in ("nan", "a,b", "1,1", "", "-1")},
    "unknown command": ["frobnicate"], "unknown flag": ["train", "--frob"],
}


def _run_cli(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc, error = within(lambda: main(argv))
    return rc, error, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("name", list(FLAG_CASES) + list(OTHER_CASES))
def test_a_bad_flag_ends_in_one_line_and_a_non_zero_exit(npz_and_run, name):
    root = npz_and_run
    (root / "ten.npz").write_bytes(_npz_bytes(x=np.zeros((9, 10, 10), np.uint8)))
    if name in FLAG_CASES:
        argv = TRAIN + FLAG_CASES[name]
    else:
        argv = OTHER_CASES[name]
    argv = [a.replace("{root}", str(root)) for a in argv]
    rc, error, out, err = _run_cli(argv)
    assert error is None, f"{type(error).__name__} escaped: {error}"
    assert rc not in (0, None), (rc, out, err)
    assert err.count("\n") == 1 and "Traceback" not in err and err.strip(), err
    assert not (root / "new").exists(), "nothing is saved when a flag is refused"


def test_eval_json_is_always_valid_json_even_when_the_model_overflows(npz_and_run, tmp_path, capsys):
    run = load_run(npz_and_run / "run")
    with torch.no_grad():
        for name, p in run.model.named_parameters():
            if name.startswith("decoder"):
                p.fill_(1e30)  # finite weights whose outputs overflow: losses become inf / NaN
    save_run(run, tmp_path / "huge")
    assert main(["eval", str(tmp_path / "huge"), "--json", "--iwae-k", "2"]) == 0
    text = capsys.readouterr().out

    def refuse(c):
        raise ValueError(f"{c} is not JSON")

    res = json.loads(text, parse_constant=refuse)
    assert res["neg_elbo"] is None or isinstance(res["neg_elbo"], float)


def test_a_path_that_is_not_utf8_is_printed_under_a_strict_utf8_output(npz_and_run, tmp_path, monkeypatch):
    if sys.platform == "darwin" or os.name != "posix":
        pytest.skip("needs a file system that takes any bytes as names")
    out_path = os.fsdecode(os.path.join(os.fsencode(str(tmp_path)), b"run-\xff"))
    strict = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    strict_err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    monkeypatch.setattr(sys, "stdout", strict)
    monkeypatch.setattr(sys, "stderr", strict_err)
    argv = TRAIN[:-1] + [out_path]
    assert main([a.replace("{root}", str(npz_and_run)) for a in argv]) == 0
    assert main(["sample", out_path, "--out", os.path.join(out_path, "s.png"), "--n", "4"]) == 0
    strict.flush()
    strict_err.flush()
    assert b"run-\\udcff" in strict.buffer.getvalue() and b"run-\\udcff" in strict_err.buffer.getvalue()


# ------------------------------------------------------------------------------------------------ round trip

SWEEP = [dict(arch=a, kind=k, channels=c, image_size=s, hidden=h, latent_dim=lat)
         for a, k, c, s, h, lat in itertools.product(("mlp", "conv"), ("vae", "cvae"), (1, 3), (8, 32),
                                                     ([4], [48], [64, 8]), (3,))]


def test_every_model_configuration_in_a_sweep_of_sizes_saves_and_reopens_to_the_same_weights(tmp_path):
    low_bytes = set()
    for i, kw in enumerate(SWEEP):
        c = RunConfig()
        for k, v in kw.items():
            setattr(c.model, k, v)
        c.model.num_classes = 5 if kw["kind"] == "cvae" else 0
        torch.manual_seed(i)
        run = Run(config=c, model=build_model(c.model), class_names=[f"c{j}" for j in range(c.model.num_classes)])
        folder = save_run(run, tmp_path / f"r{i}")
        low_bytes.add((folder / "model.safetensors").read_bytes()[0])
        loaded = load_run(folder)
        assert loaded.config.to_dict() == c.to_dict()
        for k, v in run.model.state_dict().items():
            assert torch.equal(loaded.model.state_dict()[k], v), (kw, k)
    assert 0x80 in low_bytes, "the sweep no longer meets a header length whose low byte is a pickle's 0x80"
