"""Data set registry: IDX files, image folders, .npz arrays, binarisation and the availability report."""
from __future__ import annotations

import dataclasses
import gzip
import os

import numpy as np
import pytest
import torch
from PIL import Image

from vae_studio.core.config import DataConfig
from vae_studio.core.data import (
    DATASET_NAMES,
    ENV_VAR,
    binarize_fixed,
    DataError,
    list_datasets,
    load_dataset,
    read_idx,
    split_indices,
)

DEBIAN_FASHION = "/usr/share/datasets/fashion-mnist"
MNIST_FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


@pytest.fixture(autouse=True)
def no_data_env(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)


def write_idx(path, array: np.ndarray, gz: bool = False) -> str:
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    path = str(path) + (".gz" if gz else "")
    with (gzip.open if gz else open)(path, "wb") as f:
        f.write(header + array.tobytes())
    return path


def tiny_set(n_train=12, n_test=5, seed=0):
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_train, dtype=np.uint8),
        rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_test, dtype=np.uint8),
    )


def write_set(folder, arrays, names=MNIST_FILES, gz=False):
    os.makedirs(folder, exist_ok=True)
    return [write_idx(os.path.join(folder, n), a, gz) for n, a in zip(names, arrays)]


def one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg and msg
    return msg


# ---------------------------------------------------------------------------------------------- registry


def test_names_and_unknown_name():
    assert DATASET_NAMES[0] == "sprites"
    assert set(DATASET_NAMES) == {"sprites", "sprites-full", "mnist", "fashion-mnist", "kmnist", "emnist-letters", "cifar10", "folder", "npz"}
    with pytest.raises(DataError, match="unknown data set 'nope'"):
        load_dataset(DataConfig(dataset="nope"))


def test_registry_reports_missing_data_set(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv(ENV_VAR, str(empty))
    infos = {i.name: i for i in list_datasets()}
    assert list(infos) == list(DATASET_NAMES)
    mnist = infos["mnist"]
    assert not mnist.available and str(empty) in mnist.reason and os.path.join(str(empty), "MNIST", "raw") in mnist.reason
    assert not infos["cifar10"].available and str(empty) in infos["cifar10"].reason
    assert infos["sprites"].available and infos["sprites"].reason == "" and not infos["sprites"].needs_path
    assert "46,080" in infos["sprites"].title
    for name in ("folder", "npz"):
        assert infos[name].needs_path and infos[name].available and infos[name].reason == ""
    # the same root, now holding MNIST in torchvision's layout
    write_set(empty / "MNIST" / "raw", tiny_set())
    infos = {i.name: i for i in list_datasets()}
    assert infos["mnist"].available and infos["mnist"].reason == ""
    assert not infos["kmnist"].available


# ---------------------------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("gz", [False, True])
def test_idx_folder_of_four_files(tmp_path, gz):
    arrays = tiny_set()
    write_set(tmp_path, arrays, gz=gz)
    d = load_dataset(DataConfig(dataset="mnist", root=str(tmp_path)))
    assert d.train_x.shape == (12, 1, 28, 28) and d.test_x.shape == (5, 1, 28, 28)
    assert d.train_x.dtype == torch.uint8 and d.train_y.dtype == torch.int64 and d.train_x.is_contiguous()
    assert np.array_equal(d.train_x[:, 0].numpy(), arrays[0]) and np.array_equal(d.test_y.numpy(), arrays[3])
    assert d.class_names == list("0123456789") and d.num_classes == 10 and not d.has_factors


def test_idx_torchvision_root_mixed_gz_and_env_var(tmp_path, monkeypatch):
    arrays = tiny_set()
    raw = tmp_path / "KMNIST" / "raw"
    os.makedirs(raw)
    for i, (name, a) in enumerate(zip(MNIST_FILES, arrays)):
        write_idx(raw / name, a, gz=bool(i % 2))
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    d = load_dataset(DataConfig(dataset="kmnist"))  # found through the environment variable
    assert np.array_equal(d.test_x[:, 0].numpy(), arrays[2])
    assert d.class_names == ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]


def test_emnist_letters_transposed_and_shifted(tmp_path):
    rng = np.random.default_rng(1)
    train = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)
    test = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    names = [f"emnist-letters-{s}-{k}" for s in ("train", "test") for k in ("images-idx3-ubyte", "labels-idx1-ubyte")]
    write_set(tmp_path / "EMNIST" / "raw", [train, [1, 26, 2, 3, 4, 5], test, [26, 1, 13]], names, gz=True)
    d = load_dataset(DataConfig(dataset="emnist-letters", root=str(tmp_path)))
    assert np.array_equal(d.train_x[:, 0].numpy(), train.transpose(0, 2, 1))
    assert d.train_x.is_contiguous()
    assert d.test_y.tolist() == [25, 0, 12] and d.class_names[0] == "a" and d.class_names[25] == "z"


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_idx_names_the_file(tmp_path, gz):
    paths = write_set(tmp_path, tiny_set())
    images = paths[0]
    data = open(images, "rb").read()[:-100]
    if gz:
        os.remove(images)
        images += ".gz"
        blob = gzip.compress(data)
        data = blob[: len(blob) // 2]  # a gzip stream cut short
    with open(images, "wb") as f:
        f.write(data)
    with pytest.raises(DataError) as e:
        load_dataset(DataConfig(dataset="mnist", root=str(tmp_path)))
    assert images in one_line(e)


def test_wrong_magic_and_label_count(tmp_path):
    arrays = tiny_set()
    paths = write_set(tmp_path, arrays)
    write_idx(paths[1], arrays[0])  # images where labels belong
    with pytest.raises(DataError, match="not an IDX file") as e:
        load_dataset(DataConfig(dataset="mnist", root=str(tmp_path)))
    assert paths[1] in one_line(e)
    write_idx(paths[1], arrays[1][:-1])
    with pytest.raises(DataError, match="11 labels"):
        load_dataset(DataConfig(dataset="mnist", root=str(tmp_path)))
    with pytest.raises(DataError, match="magic"):
        read_idx(write_idx(tmp_path / "short", np.zeros(3)), 3)


def test_missing_idx_lists_every_place_searched(tmp_path, monkeypatch):
    root, env = tmp_path / "root", tmp_path / "env"
    root.mkdir()
    env.mkdir()
    write_idx(root / MNIST_FILES[0], tiny_set()[0])  # one file of four
    monkeypatch.setenv(ENV_VAR, str(env))
    with pytest.raises(DataError) as e:
        load_dataset(DataConfig(dataset="mnist", root=str(root)))
    msg = one_line(e)
    for place in (root, root / "MNIST" / "raw", env, env / "MNIST" / "raw"):
        assert str(place) in msg
    assert "has 1 of 4 files" in msg and "t10k-labels-idx1-ubyte" in msg
    with pytest.raises(DataError) as e:
        load_dataset(DataConfig(dataset="kmnist", root=str(env / "nothing")))
    assert str(env / "nothing") in one_line(e) and str(env / "KMNIST" / "raw") in str(e.value)


def test_fashion_mnist_also_searches_the_system_folder(tmp_path, monkeypatch):
    from vae_studio.core import data as data_module

    fake = str(tmp_path / "usr-share-datasets-fashion-mnist")
    spec = dataclasses.replace(data_module._IDX_SETS["fashion-mnist"], system_dirs=(fake,))
    monkeypatch.setitem(data_module._IDX_SETS, "fashion-mnist", spec)
    with pytest.raises(DataError) as e:
        load_dataset(DataConfig(dataset="fashion-mnist", root=str(tmp_path / "r")))
    assert fake in one_line(e) and str(tmp_path / "r" / "FashionMNIST" / "raw") in str(e.value)
    assert data_module._IDX_SETS["mnist"].system_dirs == ()
    write_set(fake, tiny_set(), gz=True)
    assert len(load_dataset(DataConfig(dataset="fashion-mnist")).train_x) == 12


def test_real_fashion_mnist_from_debian():
    if not all(os.path.exists(os.path.join(DEBIAN_FASHION, f + ".gz")) for f in MNIST_FILES):
        pytest.skip(f"{DEBIAN_FASHION} is absent (apt-get install dataset-fashion-mnist)")
    d = load_dataset(DataConfig(dataset="fashion-mnist"))
    assert d.train_x.shape == (60000, 1, 28, 28) and d.test_x.shape == (10000, 1, 28, 28)
    assert d.train_y.shape == (60000,) and d.test_y.shape == (10000,)
    assert torch.bincount(d.test_y).tolist() == [1000] * 10
    assert d.class_names[0] == "T-shirt/top" and d.class_names[9] == "Ankle boot"
    assert d.train_y[0].item() == 9  # the first training image is an ankle boot


def test_cifar10_missing(tmp_path):
    with pytest.raises(DataError) as e:
        load_dataset(DataConfig(dataset="cifar10", root=str(tmp_path)))
    assert str(tmp_path / "cifar-10-batches-py") in one_line(e)
    with pytest.raises(DataError, match="not set"):
        load_dataset(DataConfig(dataset="cifar10"))


def test_cifar10_corrupt_files_are_refused(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in ["batches.meta", "test_batch"] + [f"data_batch_{i}" for i in range(1, 6)]:
        (folder / name).write_bytes(b"not the real file")
    assert {i.name: i for i in list_datasets(str(tmp_path))}["cifar10"].available  # existence only
    with pytest.raises(DataError, match="cannot load CIFAR-10") as e:
        load_dataset(DataConfig(dataset="cifar10", root=str(folder)))  # the batch folder itself is accepted
    assert str(folder) in one_line(e)


# ---------------------------------------------------------------------------------------------- image folders


def save_image(path, size=(20, 12), value=128, mode="L"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new(mode, size, value if mode == "L" else (value, 0, 255 - value)).save(path)


def test_folder_with_class_subfolders(tmp_path):
    for i in range(4):
        save_image(tmp_path / "cats" / f"c{i}.png", value=10 * i)
    for i in range(6):
        save_image(tmp_path / "dogs" / "nested" / f"d{i}.jpg", size=(30, 50), value=200)
    save_image(tmp_path / ".ipynb_checkpoints" / "x.png")  # a hidden folder is not a class
    (tmp_path / "notes.txt").write_text("ignored")
    d = load_dataset(DataConfig(dataset="folder", root=str(tmp_path), image_size=16))
    assert d.class_names == ["cats", "dogs"] and d.num_classes == 2
    assert len(d.train_x) + len(d.test_x) == 10 and len(d.test_x) == 1
    assert d.train_x.shape[1:] == (1, 16, 16) and d.train_x.dtype == torch.uint8
    labels = torch.cat([d.train_y, d.test_y])
    assert torch.bincount(labels).tolist() == [4, 6]
    dogs = torch.cat([d.train_x, d.test_x])[labels == 1]
    assert (dogs.float() - 200).abs().max() <= 2  # jpeg of a flat grey stays grey
    rgb = load_dataset(DataConfig(dataset="folder", root=str(tmp_path), image_size=8, grayscale=False))
    assert rgb.train_x.shape[1:] == (3, 8, 8) and rgb.channels == 3


def test_flat_folder_without_labels(tmp_path):
    save_image(tmp_path / "a.png", mode="RGB", value=0)
    save_image(tmp_path / "b.png", mode="RGB", value=255)
    d = load_dataset(DataConfig(dataset="folder", root=str(tmp_path), image_size=12, grayscale=False, seed=5))
    assert d.train_y is None and d.test_y is None and d.class_names == [] and d.num_classes == 0
    assert d.train_x.shape == (1, 3, 12, 12) and d.test_x.shape == (1, 3, 12, 12)  # at least one test image


def test_corrupt_image_is_skipped_with_a_warning(tmp_path):
    for i in range(5):
        save_image(tmp_path / f"{i}.png")
    (tmp_path / "broken.png").write_bytes(b"not a png at all")
    with pytest.warns(UserWarning, match="skipped 1 unreadable file of 6"):
        d = load_dataset(DataConfig(dataset="folder", root=str(tmp_path), image_size=8))
    assert len(d.train_x) + len(d.test_x) == 5


def test_folder_errors(tmp_path):
    with pytest.raises(DataError, match="no such folder") as e:
        load_dataset(DataConfig(dataset="folder", root=str(tmp_path / "missing")))
    one_line(e)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no images in .*empty: the folder is empty"):
        load_dataset(DataConfig(dataset="folder", root=str(empty)))
    other = tmp_path / "other"
    other.mkdir()
    for name in ("a.txt", "b.csv", "c.txt"):
        (other / name).write_text("x")
    with pytest.raises(DataError, match=r"no images in .*other: found 3 files \(\.csv, \.txt\)"):
        load_dataset(DataConfig(dataset="folder", root=str(other)))
    with pytest.raises(DataError, match="choose a folder"):
        load_dataset(DataConfig(dataset="folder", root=None))


# ---------------------------------------------------------------------------------------------- npz


def test_npz_uint8_without_labels(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (20, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "a.npz", x=x)
    d = load_dataset(DataConfig(dataset="npz", root=str(tmp_path / "a.npz"), seed=2))
    train, test = split_indices(20, 2)
    assert len(test) == 2 and d.train_x.shape == (18, 1, 8, 8) and d.train_y is None
    assert np.array_equal(d.train_x[:, 0].numpy(), x[train]) and np.array_equal(d.test_x[:, 0].numpy(), x[test])


def test_npz_float_rgb_with_labels(tmp_path):
    rng = np.random.default_rng(0)
    u = rng.integers(0, 256, (10, 6, 6, 3), dtype=np.uint8)
    y = rng.integers(0, 4, 10)
    y[0] = 3
    np.savez_compressed(tmp_path / "b.npz", x=(u / 255).astype(np.float32), y=y)
    d = load_dataset(DataConfig(dataset="npz", root=str(tmp_path / "b.npz")))
    train, test = split_indices(10, 0)
    assert d.train_x.shape == (9, 3, 6, 6) and d.train_x.is_contiguous()
    assert np.array_equal(d.test_x.numpy(), u[test].transpose(0, 3, 1, 2))
    assert d.train_y.tolist() == y[train].tolist() and d.class_names == ["0", "1", "2", "3"]


@pytest.mark.parametrize(
    "arrays, expect",
    [
        ({"x": np.zeros((4, 5, 6), np.uint8)}, r"square.*\(4, 5, 6\)"),
        ({"x": np.zeros((4, 6, 6), np.int32)}, r"uint8.*int32"),
        ({"x": np.zeros((4, 6, 6, 2), np.uint8)}, r"\(N, H, W, C\).*\(4, 6, 6, 2\)"),
        ({"x": np.full((4, 6, 6), 2.0)}, r"\[0, 1\]"),
        ({"images": np.zeros((4, 6, 6), np.uint8)}, r"needs an array 'x'.*images"),
        ({"x": np.zeros((4, 6, 6), np.uint8), "y": np.zeros(3, int)}, r"y must be 4 integer labels.*\(3,\)"),
    ],
)
def test_npz_bad_layout(tmp_path, arrays, expect):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match=expect) as e:
        load_dataset(DataConfig(dataset="npz", root=str(tmp_path / "bad.npz")))
    one_line(e)


def test_npz_not_a_npz(tmp_path):
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(DataError, match="cannot read"):
        load_dataset(DataConfig(dataset="npz", root=str(tmp_path / "text.npz")))
    with pytest.raises(DataError, match="no such file"):
        load_dataset(DataConfig(dataset="npz", root=str(tmp_path / "none.npz")))


# ---------------------------------------------------------------------------------------------- binarisation


def test_binarized_test_split_is_fixed(tmp_path):
    write_set(tmp_path, tiny_set(n_test=40))
    cfg = DataConfig(dataset="mnist", root=str(tmp_path), binarize=True)
    a, b = load_dataset(cfg), load_dataset(cfg)
    assert a.binarize and set(a.test_x.unique().tolist()) <= {0, 255}
    assert torch.equal(a.test_x, b.test_x)
    assert len(a.train_x.unique()) > 2  # train stays grey: the trainer draws its own each batch
    grey = load_dataset(DataConfig(dataset="mnist", root=str(tmp_path)))
    assert not grey.binarize
    # Bernoulli(grey / 255): brighter pixels come out white more often
    p = grey.test_x.float() / 255
    assert abs((a.test_x == 255).float().mean() - p.mean()) < 0.02


def test_binarize_fixed_keeps_black_and_white():
    x = torch.tensor([0, 255, 128], dtype=torch.uint8).repeat(20000).reshape(-1, 1, 3, 4)
    out = binarize_fixed(x, chunk=1000)
    assert out.dtype == torch.uint8 and out.shape == x.shape and x[0, 0, 0, 1] == 255  # input untouched
    assert (out[x == 0] == 0).all() and (out[x == 255] == 255).all()
    assert (out[x == 128] == 255).float().mean() == pytest.approx(128 / 255, abs=0.01)
    assert torch.equal(out, binarize_fixed(x, chunk=1000))


def test_binarized_sprites_leave_the_cache_grey():
    a = load_dataset(DataConfig(dataset="sprites", binarize=True))
    b = load_dataset(DataConfig(dataset="sprites", binarize=True))
    assert torch.equal(a.test_x, b.test_x) and set(a.test_x.unique().tolist()) == {0, 255}
    assert len(load_dataset(DataConfig(dataset="sprites")).test_x.unique()) > 2
