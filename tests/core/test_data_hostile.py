"""Data files that are damaged, lie in their headers, or hide pipes and symlink loops: refused or read right."""
import io
import os
import threading
import zipfile

import numpy as np
import pytest
from PIL import Image

from tests.core.test_data import MNIST_FILES, tiny_set, write_idx, write_set
from vae_studio.core.config import DataConfig
from vae_studio.core.data import DataError, load_dataset, read_idx

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def load(dataset, root, **kw):
    return load_dataset(DataConfig(dataset=dataset, root=str(root), **kw))


def within(seconds, fn):
    """fn() run in a thread; fails the test (instead of hanging it) if fn blocks."""
    out = {}

    def target():
        try:
            out["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the test
            out["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"still running after {seconds} s"
    if "error" in out:
        raise out["error"]
    return out["value"]


def test_truncated_npz_is_refused(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (50, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "a.npz", x=x)
    raw = (tmp_path / "a.npz").read_bytes()
    for cut in (10, len(raw) // 2, len(raw) - 5):
        (tmp_path / "cut.npz").write_bytes(raw[:cut])
        with pytest.raises(DataError, match="cut.npz"):
            load("npz", tmp_path / "cut.npz")


def npz_with_header(path, shape, data: bytes, compress=False):
    """An .npz whose x.npy header claims ``shape`` (uint8) but holds only ``data``."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|u1", "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as z:
        z.writestr("x.npy", buf.getvalue() + data)
    return path


@pytest.mark.parametrize("compress", [False, True])
def test_npz_header_claiming_more_than_its_member_holds_is_refused_before_allocating(tmp_path, compress):
    path = npz_with_header(tmp_path / "big.npz", (99999999999, 8, 8), bytes(640), compress)
    with pytest.raises(DataError, match="claims shape"):
        within(30, lambda: load("npz", path))


def test_npz_labels_up_to_2_to_the_40_make_as_many_classes_as_occur(tmp_path):
    x = np.zeros((30, 8, 8), np.uint8)
    y = np.array([0, 2**40, 7] * 10, np.int64)
    np.savez(tmp_path / "a.npz", x=x, y=y)
    d = load("npz", tmp_path / "a.npz")
    assert d.class_names == ["0", "7", str(2**40)]
    assert set(d.train_y.tolist()) | set(d.test_y.tolist()) == {0, 1, 2}


def test_idx_header_whose_dimensions_overflow_is_refused_without_reading(tmp_path):
    folder = tmp_path / "mnist"
    write_set(folder, tiny_set())
    header = bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (2**32 - 1, 2**32 - 1, 2**32 - 1))
    (folder / MNIST_FILES[0]).write_bytes(header + bytes(100))
    with pytest.raises(DataError, match=MNIST_FILES[0]):
        load("mnist", folder)
    with pytest.raises(DataError, match="claims"):
        read_idx(str(folder / MNIST_FILES[0]), 3)


def test_idx_split_without_images_and_non_square_images_are_refused(tmp_path):
    tr_x, tr_y, te_x, te_y = tiny_set()
    write_set(tmp_path / "empty", (tr_x[:0], tr_y[:0], te_x, te_y))
    with pytest.raises(DataError, match="training split has no images"):
        load("mnist", tmp_path / "empty")
    write_set(tmp_path / "wide", (tr_x[:, :, :20], tr_y, te_x[:, :, :20], te_y))
    with pytest.raises(DataError, match="square"):
        load("mnist", tmp_path / "wide")


def _png(path, value=128):
    Image.fromarray(np.full((8, 8), value, np.uint8)).save(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_called_x_png_in_a_class_folder_does_not_block(tmp_path):
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        for i in range(3):
            _png(tmp_path / c / f"{i}.png", 40 * i)
    os.mkfifo(tmp_path / "a" / "x.png")
    d = within(30, lambda: load("folder", tmp_path, image_size=8))
    assert len(d.train_x) + len(d.test_x) == 6


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_symlink_loops_are_walked_once_and_no_image_is_in_both_splits(tmp_path):
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        _png(tmp_path / c / "one.png", 10 if c == "a" else 200)
        _png(tmp_path / c / "two.png", 90 if c == "a" else 250)
        os.symlink(tmp_path / c, tmp_path / c / "loop")  # a folder linking to itself
        os.symlink(tmp_path, tmp_path / c / "up")  # and to the root above it
    os.symlink(tmp_path / "a" / "one.png", tmp_path / "b" / "same.png")  # one file under two names
    (tmp_path / "a" / "self").symlink_to("self")  # a link to itself (ELOOP)
    d = within(30, lambda: load("folder", tmp_path, image_size=8))
    assert len(d.train_x) + len(d.test_x) == 4
    train = {bytes(x.numpy()) for x in d.train_x}
    assert not any(bytes(x.numpy()) in train for x in d.test_x)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_as_npz_or_idx_is_refused_at_once(tmp_path):
    os.mkfifo(tmp_path / "x.npz")
    with pytest.raises(DataError, match="named pipe"):
        within(30, lambda: load("npz", tmp_path / "x.npz"))
    with pytest.raises(DataError, match="named pipe"):
        within(30, lambda: read_idx(str(tmp_path / "x.npz"), 3))
