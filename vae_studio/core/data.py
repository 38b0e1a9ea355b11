"""Data sets: one in-memory record (:class:`ImageData`) and one registry of where data comes from.

Every data set is held once as uint8 tensors (N, C, H, W) on the CPU; the training engine converts batches
to float on the device. Nothing here downloads anything.
"""
from __future__ import annotations

import gzip
import hashlib
import math
import os
import zlib
from dataclasses import dataclass

import numpy as np
import torch

from .records import (MAX_DATA_BYTES, TEST_FRACTION, DataError, ImageData, data_budget,  # noqa: F401 (the
                      split_indices)  # data API is imported from here)


# ---------------------------------------------------------------------------------------------- registry


@dataclass
class DatasetInfo:
    name: str  # registry name, e.g. "sprites"
    title: str  # human title, e.g. "Sprites (built-in, 32x32, 46,080 images)"
    available: bool
    reason: str  # "" when available, else why not (which paths were searched)
    needs_path: bool  # True for "folder" and "npz": the user must give DataConfig.root


@dataclass(frozen=True)
class _Idx:
    """A data set of IDX files: where torchvision keeps it, what its files are called, its classes."""

    folder: str  # torchvision's folder under a root: ROOT/<folder>/raw
    files: tuple[str, str, str, str]  # train images, train labels, test images, test labels
    classes: tuple[str, ...]
    transposed: bool = False  # EMNIST stores images transposed
    label_offset: int = 0  # EMNIST letters count from 1
    system_dirs: tuple[str, ...] = ()  # distribution packages (Debian's dataset-fashion-mnist)


_MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
_EMNIST_FILES = tuple(f"emnist-letters-{s}-{k}" for s in ("train", "test") for k in ("images-idx3-ubyte", "labels-idx1-ubyte"))
_IDX_SETS = {
    "mnist": _Idx("MNIST", _MNIST_FILES, tuple("0123456789")),
    "fashion-mnist": _Idx(
        "FashionMNIST",
        _MNIST_FILES,
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        system_dirs=("/usr/share/datasets/fashion-mnist",),
    ),
    "kmnist": _Idx("KMNIST", _MNIST_FILES, ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")),
    "emnist-letters": _Idx("EMNIST", _EMNIST_FILES, tuple("abcdefghijklmnopqrstuvwxyz"), True, 1),
}
_CIFAR_FOLDER = "cifar-10-batches-py"
_CIFAR_META_MD5 = "5ff9c542aee3614f3951f8cda6e48888"  # as torchvision checks it
_TITLES = {
    "sprites": "Sprites (built-in, 32x32, 46,080 images)",
    "sprites-full": "Sprites, full dSprites grid (built-in, 64x64, 737,280 images, ~3 GB)",
    "mnist": "MNIST (28x28 handwritten digits)",
    "fashion-mnist": "Fashion-MNIST (28x28 clothing)",
    "kmnist": "KMNIST (28x28 cursive Japanese)",
    "emnist-letters": "EMNIST letters (28x28, 26 classes)",
    "cifar10": "CIFAR-10 (32x32 colour)",
    "folder": "Image folder (subfolders = classes)",
    "npz": "NumPy arrays (.npz with x and optional y)",
}
DATASET_NAMES: tuple[str, ...] = tuple(_TITLES)
ENV_VAR = "VAE_STUDIO_DATA"


def load_dataset(cfg) -> ImageData:
    """Load the data set a :class:`~vae_studio.core.config.DataConfig` names; never downloads.

    ``image_size`` and ``grayscale`` apply to image folders only (CIFAR-10 stays RGB, npz arrays keep their
    own size). Raises :class:`DataError` with a one-line message on any problem.
    """
    from .config import check_seed

    name = cfg.dataset
    check_seed(cfg.seed, "data.seed")
    try:
        if name in ("sprites", "sprites-full"):
            data = _load_sprites(name, cfg.seed)
        elif name in _IDX_SETS:
            data = _load_idx_set(name, cfg.root)
        elif name == "cifar10":
            data = _load_cifar10(cfg.root)
        elif name in ("folder", "npz"):
            from . import image_files

            loader = image_files.load_folder if name == "folder" else image_files.load_npz
            data = loader(cfg)
        else:
            raise DataError(f"unknown data set {name!r}; choose one of {', '.join(DATASET_NAMES)}")
    except MemoryError:
        raise DataError(f"not enough memory to load {name}") from None
    check_images(data)
    if cfg.binarize:
        data.binarize = True
        data.test_x = binarize_fixed(data.test_x)
    return data


def check_images(data: ImageData) -> None:
    """What every model needs, whatever the source: square images of 1 or 3 channels, at least 4 pixels wide,
    at least one training and one test image, one label per image when there are labels."""
    where = data.name
    for split, x, y in (("training", data.train_x, data.train_y), ("test", data.test_x, data.test_y)):
        if x.ndim != 4 or x.shape[1] not in (1, 3) or x.shape[2] != x.shape[3] or x.shape[2] < 4:
            raise DataError(f"{where}: {split} images must be square, at least 4x4, with 1 or 3 channels; "
                            f"found shape {tuple(x.shape)}")
        if len(x) == 0:
            raise DataError(f"{where}: the {split} split has no images")
        if y is not None and len(y) != len(x):
            raise DataError(f"{where}: the {split} split has {len(x)} images but {len(y)} labels")


def list_datasets(root: str | None = None) -> list[DatasetInfo]:
    """Every registry entry, whether it can be loaded here and if not why; checks file existence only."""
    infos = []
    for name in DATASET_NAMES:
        reason = ""
        if name in _IDX_SETS:
            found, searched = _find_idx_dir(_IDX_SETS[name], root)
            reason = "" if found else _missing_message(name, searched)
        elif name == "cifar10":
            found, searched = _find_cifar(root)
            reason = "" if found else _missing_message(name, searched)
        infos.append(DatasetInfo(name, _TITLES[name], not reason, reason, name in ("folder", "npz")))
    return infos


def binarize_fixed(x: torch.Tensor, seed: int = 0, chunk: int = 8192) -> torch.Tensor:
    """A new uint8 tensor of 0/255: each pixel drawn once as Bernoulli(grey / 255) with a seeded generator."""
    gen = torch.Generator().manual_seed(seed)
    out = torch.empty_like(x)
    for i in range(0, len(x), chunk):
        part = x[i : i + chunk]
        noise = torch.rand(part.shape, generator=gen)
        out[i : i + chunk] = (noise * 255 < part).to(torch.uint8) * 255
    return out


def _search_roots(root: str | None) -> list[str]:
    roots = [root, os.environ.get(ENV_VAR)]
    return [os.path.abspath(os.path.expanduser(r)) for r in roots if r]


def _missing_message(name: str, searched: list[str]) -> str:
    if not searched:
        return f"{name} not found: no folder given and {ENV_VAR} is not set"
    return f"{name} not found: searched {'; '.join(searched)}"


# ---------------------------------------------------------------------------------------------- sprites


def _load_sprites(name: str, seed: int) -> ImageData:
    from . import sprites

    spec = sprites.DEFAULT if name == "sprites" else sprites.FULL
    factors = sprites.factor_grid(spec)
    train_idx, test_idx = split_indices(spec.count, seed)
    train_x, test_x = sprites.render_split(spec, train_idx, test_idx, cache=spec == sprites.DEFAULT)
    shape_col = sprites.FACTOR_NAMES.index("shape")
    return ImageData(
        name=name,
        train_x=train_x,
        test_x=test_x,
        train_y=torch.from_numpy(factors[train_idx, shape_col].copy()),
        test_y=torch.from_numpy(factors[test_idx, shape_col].copy()),
        class_names=list(sprites.SHAPES),
        train_factors=factors[train_idx],
        test_factors=factors[test_idx],
        factor_names=list(sprites.FACTOR_NAMES),
        factor_sizes=list(spec.factor_sizes),
    )


# ---------------------------------------------------------------------------------------------- IDX files


def _idx_path(folder: str, base: str) -> str | None:
    for candidate in (base, base + ".gz"):
        path = os.path.join(folder, candidate)
        if os.path.isfile(path):
            return path
    return None


def _find_idx_dir(spec: _Idx, root: str | None) -> tuple[str | None, list[str]]:
    """The first folder holding all four files, and every folder searched (with what was missing)."""
    searched = []
    candidates = [d for r in _search_roots(root) for d in (r, os.path.join(r, spec.folder, "raw"))]
    for folder in candidates + list(spec.system_dirs):
        present = [f for f in spec.files if _idx_path(folder, f)]
        if len(present) == len(spec.files):
            return folder, searched
        searched.append(folder if not present else f"{folder} (has {len(present)} of {len(spec.files)} files)")
    return None, searched




def _read_at_most(f, n: int, chunk: int = 16 << 20) -> bytearray:
    """Up to ``n`` bytes, read in chunks: memory grows with what is really there, not with what was claimed."""
    out = bytearray()
    while len(out) < n:
        part = f.read(min(chunk, n - len(out)))
        if not part:
            break
        out += part
    return out


def read_idx(path: str, expect_dims: int) -> np.ndarray:
    """An IDX file of unsigned bytes (plain or .gz) as a numpy array; DataError names the file on any fault.

    The header's sizes are checked before the data is read: a header whose dimensions multiply past the
    file (or past memory) is refused without reading more than the header."""
    from .safe_io import open_regular

    head = 4 + 4 * expect_dims
    file, _size = open_regular(path, DataError)
    try:
        with file, (gzip.GzipFile(fileobj=file, mode="rb") if path.endswith(".gz") else file) as f:
            header = f.read(head)
            expect_magic = 0x0800 | expect_dims
            magic = int.from_bytes(header[:4], "big") if len(header) >= 4 else None
            if magic != expect_magic:
                found = "a file too short" if magic is None else f"magic 0x{magic:08x}"
                raise DataError(f"{path} is not an IDX file of {expect_dims}-d unsigned bytes (expected magic "
                                f"0x{expect_magic:08x}, found {found})")
            if len(header) < head:
                raise DataError(f"{path} is truncated: {len(header)} bytes, shorter than its header")
            shape = tuple(int.from_bytes(header[4 + 4 * i : 8 + 4 * i], "big") for i in range(expect_dims))
            size = math.prod(shape)  # Python integers: no overflow
            if size > data_budget():
                raise DataError(f"{path} claims {size:,} bytes of data (shape {shape}), more than can be loaded")
            if not path.endswith(".gz") and _size != head + size:
                raise DataError(f"{path} is {'truncated' if _size < head + size else 'longer than its header says'}: "
                                f"{_size - head} data bytes for shape {shape}, expected {size}")
            raw = _read_at_most(f, size + 1)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"cannot read {path}: {e}") from None
    if len(raw) != size:
        what = "truncated" if len(raw) < size else "longer than its header says"
        raise DataError(f"{path} is {what}: {len(raw)}{'+' if len(raw) > size else ''} data bytes for shape {shape}, "
                        f"expected {size}")
    return np.frombuffer(raw, dtype=np.uint8).reshape(shape).copy()  # a copy that owns its memory


def _load_idx_set(name: str, root: str | None) -> ImageData:
    spec = _IDX_SETS[name]
    folder, searched = _find_idx_dir(spec, root)
    if folder is None:
        raise DataError(_missing_message(name, searched) + f" for {', '.join(spec.files)} (each optionally .gz)")
    paths = [_idx_path(folder, f) for f in spec.files]
    parts = []
    for images_path, labels_path in (paths[:2], paths[2:]):
        images = read_idx(images_path, 3)
        if images.shape[1] != images.shape[2]:
            raise DataError(f"{images_path} holds {images.shape[1]}x{images.shape[2]} images; VAE Studio needs "
                            "square images")
        labels = read_idx(labels_path, 1).astype(np.int64) - spec.label_offset
        if len(images) != len(labels):
            raise DataError(f"{images_path} has {len(images)} images but {labels_path} has {len(labels)} labels")
        if len(labels) and (labels.min() < 0 or labels.max() >= len(spec.classes)):
            raise DataError(f"{labels_path} has labels outside 0..{len(spec.classes) - 1 + spec.label_offset}")
        if spec.transposed:
            images = images.transpose(0, 2, 1)
        parts.append((torch.from_numpy(np.ascontiguousarray(images[:, None])), torch.from_numpy(labels)))
    (train_x, train_y), (test_x, test_y) = parts
    return ImageData(name, train_x, test_x, train_y, test_y, list(spec.classes))


# ---------------------------------------------------------------------------------------------- CIFAR-10


def _find_cifar(root: str | None) -> tuple[str | None, list[str]]:
    """A torchvision root holding cifar-10-batches-py (the batch folder itself is accepted too)."""
    searched = []
    for r in _search_roots(root):
        base = os.path.dirname(r) if os.path.basename(r) == _CIFAR_FOLDER else r
        folder = os.path.join(base, _CIFAR_FOLDER)
        if os.path.isfile(os.path.join(folder, "batches.meta")):
            return base, searched
        searched.append(folder)
    return None, searched


def _load_cifar10(root: str | None) -> ImageData:
    base, searched = _find_cifar(root)
    if base is None:
        raise DataError(_missing_message("cifar10", searched))
    folder = os.path.join(base, _CIFAR_FOLDER)
    try:  # a quick look at the small meta file first: spares importing torchvision for a wrong folder
        with open(os.path.join(folder, "batches.meta"), "rb") as f:
            genuine = hashlib.md5(f.read(), usedforsecurity=False).hexdigest() == _CIFAR_META_MD5
    except OSError as e:
        raise DataError(f"cannot read {folder}: {e}") from None
    if not genuine:
        raise DataError(f"cannot load CIFAR-10 from {folder}: batches.meta is not the original file (checksum differs)")
    from torchvision.datasets import CIFAR10

    parts = []
    for train in (True, False):
        try:  # torchvision checks every file's MD5 before unpickling it, so only the genuine files load
            ds = CIFAR10(base, train=train, download=False)
        except Exception as e:  # RuntimeError "Dataset not found or corrupted", unpickling errors, OSError
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise DataError(f"cannot load CIFAR-10 from {folder}: {msg}") from None
        x = torch.from_numpy(np.ascontiguousarray(ds.data.transpose(0, 3, 1, 2)))
        parts.append((x, torch.as_tensor(ds.targets, dtype=torch.int64), list(ds.classes)))
    (train_x, train_y, classes), (test_x, test_y, _) = parts
    return ImageData("cifar10", train_x, test_x, train_y, test_y, classes)
