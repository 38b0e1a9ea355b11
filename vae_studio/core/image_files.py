"""Data sets from the user's own files: a folder of images or a ``.npz`` of arrays.

A folder is either torchvision's ``ImageFolder`` layout (one subfolder per class, searched recursively) or a
flat folder of images without labels. Folders and files whose names start with a dot (``.ipynb_checkpoints``)
are ignored. Images are resized (shorter side) and centre-cropped to ``DataConfig.image_size`` and converted
to greyscale or RGB per ``DataConfig.grayscale``. Pillow's decompression-bomb guard stays on: such files are
skipped like unreadable ones.
"""
from __future__ import annotations

import math
import os
import stat
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from .records import DataError, ImageData, data_budget, split_indices
from .image_input import IMAGE_SUFFIXES, ImageInputError, read_image_array
from .safe_io import open_regular


def _visible(names: list[str]) -> list[str]:
    return sorted(n for n in names if not n.startswith("."))


def _is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES)


def _file_id(path: str, want_dir: bool) -> tuple[int, int] | None:
    """(device, inode) of a regular file (or a folder, with ``want_dir``) that ``path`` leads to, following
    symlinks; None for anything else: named pipes, devices, sockets, broken links, symlink loops."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    ok = stat.S_ISDIR(st.st_mode) if want_dir else stat.S_ISREG(st.st_mode)
    return (st.st_dev, st.st_ino) if ok else None


def _walk_images(folder: str, seen: set) -> list[str]:
    """Image files under folder, recursively, skipping dot-folders and dot-files, in a stable order.

    Only regular files (a named pipe called x.png would block the reader forever). Symlinks are followed,
    but every folder is entered once and every file taken once (``seen`` holds the (device, inode) of both,
    shared across class folders): a symlink loop ends the walk instead of multiplying it, and no image can
    land in both the training and the test split."""
    found = []
    stack = [folder]
    while stack:
        here = stack.pop()
        key = _file_id(here, want_dir=True)
        if key is None or ("dir", key) in seen:
            continue
        seen.add(("dir", key))
        try:
            names = _visible(os.listdir(here))
        except OSError:
            continue
        subdirs = []
        for name in names:
            path = os.path.join(here, name)
            if _is_image_name(name):
                fid = _file_id(path, want_dir=False)
                if fid is not None and fid not in seen:
                    seen.add(fid)
                    found.append(path)
                    continue
            if _file_id(path, want_dir=True) is not None:
                subdirs.append(path)
        stack.extend(reversed(subdirs))
    return found


def _describe_files(folder: str) -> str:
    """'found 3 files (.csv, .txt)' for the error message when a folder has no images."""
    count, kinds = 0, set()
    for _here, dirs, files in os.walk(folder):
        dirs[:] = _visible(dirs)
        for f in _visible(files):
            count += 1
            kinds.add(os.path.splitext(f)[1].lower() or "no extension")
    if not count:
        return "the folder is empty"
    shown = sorted(kinds)
    listed = ", ".join(shown[:8]) + (", ..." if len(shown) > 8 else "")
    return f"found {count} file{'s' if count != 1 else ''} ({listed})"


def _load_image(path: str, size: int, mode: str) -> np.ndarray | None:
    """(H, W) or (H, W, 3) uint8, resized (shorter side) and centre-cropped; None when unreadable."""
    try:
        return read_image_array(path, size, mode)
    except (ImageInputError, MemoryError):
        return None


def load_folder(cfg) -> ImageData:
    root = cfg.root
    if not root:
        raise DataError("choose a folder of images for the 'folder' data set")
    root = os.path.abspath(os.path.expanduser(root))
    if not os.path.exists(root):
        raise DataError(f"no such folder: {root}")
    if not os.path.isdir(root):
        raise DataError(f"{root} is a file, not a folder of images")
    size, mode = int(cfg.image_size), "L" if cfg.grayscale else "RGB"
    if size < 4:
        raise DataError(f"image size {size} is too small")
    try:
        entries = _visible(os.listdir(root))
    except OSError as e:
        raise DataError(f"cannot read {root}: {e.strerror or e}") from None
    classes, paths, labels = [], [], []
    seen = {("dir", _file_id(root, want_dir=True))}  # a class folder linking back to the root is not entered
    for name in entries:
        sub = os.path.join(root, name)
        if _file_id(sub, want_dir=True) is not None:
            files = _walk_images(sub, seen)
            if files:
                labels += [len(classes)] * len(files)
                classes.append(name)
                paths += files
    if not paths:  # no class folders with images: a flat folder
        seen = set()
        for n in entries:
            fid = _file_id(os.path.join(root, n), want_dir=False)
            if _is_image_name(n) and fid is not None and fid not in seen:
                seen.add(fid)
                paths.append(os.path.join(root, n))
        labels = []
    if not paths:
        raise DataError(f"no images in {root}: {_describe_files(root)}")

    channels = 1 if mode == "L" else 3
    out = np.empty((len(paths), channels, size, size), np.uint8)
    ok = np.zeros(len(paths), bool)
    workers = max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(workers) as pool:  # Pillow decodes and resizes with the GIL released
        for i, arr in enumerate(pool.map(lambda p: _load_image(p, size, mode), paths)):
            if arr is not None:
                out[i] = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
                ok[i] = True
    bad = int((~ok).sum())
    if bad:
        first = os.path.relpath(paths[int(np.argmin(ok))], root)
        warnings.warn(f"skipped {bad} unreadable file{'s' if bad != 1 else ''} of {len(paths)} in {root} (first: {first})", stacklevel=3)
    if ok.sum() < 2:
        raise DataError(f"need at least 2 readable images in {root}, found {int(ok.sum())} of {len(paths)}")
    keep = np.flatnonzero(ok)
    train_pos, test_pos = split_indices(len(keep), cfg.seed)
    train_idx, test_idx = keep[train_pos], keep[test_pos]
    y = torch.as_tensor(labels, dtype=torch.int64) if labels else None
    return ImageData(
        name="folder",
        train_x=torch.from_numpy(out[train_idx]),
        test_x=torch.from_numpy(out[test_idx]),
        train_y=None if y is None else y[train_idx],
        test_y=None if y is None else y[test_idx],
        class_names=classes if labels else [],
    )


def load_npz(cfg) -> ImageData:
    path = cfg.root
    if not path:
        raise DataError("choose a .npz file for the 'npz' data set")
    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.lexists(path):
        raise DataError(f"no such file: {path}")
    file, _size = open_regular(path, DataError)  # a pipe, device or folder is refused, not read
    with file:
        try:
            arrays = np.load(file, allow_pickle=False)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:  # not NumPy, pickled, truncated zip
            raise DataError(f"cannot read {path} as .npz: {_first_line(e)}") from None
        if not isinstance(arrays, np.lib.npyio.NpzFile):
            raise DataError(f"{path} holds a single array, not a .npz with x (and optional y)")
        try:
            with arrays:
                keys = list(arrays.files)
                if "x" not in keys:
                    raise DataError(f"{path} needs an array 'x' of images; found keys {keys or 'none'}")
                for key in ("x", "y"):
                    if key in keys:
                        _check_member_size(arrays, key, path)
                x = arrays["x"]
                y = arrays["y"] if "y" in keys else None
        except DataError:
            raise
        except Exception as e:  # a corrupt member (zipfile.BadZipFile, ValueError), object arrays (pickle is off)
            raise DataError(f"cannot read {path} as .npz: {_first_line(e)}") from None

    layout = f"found keys {keys}, x {x.dtype} {tuple(x.shape)}"
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] in (1, 3):
        x = x.transpose(0, 3, 1, 2)
    else:
        raise DataError(f"{path}: x must have shape (N, H, W) or (N, H, W, C) with C 1 or 3; {layout}")
    n, _, h, w = x.shape
    if h != w or h < 4:
        raise DataError(f"{path}: images must be square and at least 4 pixels; {layout}")
    if n < 2:
        raise DataError(f"{path}: need at least 2 images; {layout}")
    if x.dtype == np.uint8:
        images = np.ascontiguousarray(x)
    elif np.issubdtype(x.dtype, np.floating):
        lo, hi = x.min(), x.max()
        if not (lo >= 0 and hi <= 1):  # also catches NaN
            raise DataError(f"{path}: float images must lie in [0, 1], found values from {lo} to {hi}")
        images = np.empty(x.shape, np.uint8)
        for i in range(0, n, 4096):  # chunks: never a float copy of the whole set
            images[i : i + 4096] = np.rint(x[i : i + 4096] * 255)
    else:
        raise DataError(f"{path}: x must be uint8, or float in [0, 1]; {layout}")

    labels, class_names = None, []
    if y is not None:
        if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
            raise DataError(f"{path}: y must be {n} integer labels, shape ({n},); found y {y.dtype} {tuple(y.shape)}")
        if y.min() < 0:
            raise DataError(f"{path}: labels in y must be 0 or more, found {y.min()}")
        if int(y.max()) < n:  # labels 0..K-1, K no more than the images: class k is label k
            labels = torch.from_numpy(y.astype(np.int64))
            class_names = [str(k) for k in range(int(y.max()) + 1)]
        else:  # sparse labels (up to 2^40, say): the K labels that occur, numbered 0..K-1, named by value
            values, dense = np.unique(y, return_inverse=True)
            labels = torch.from_numpy(dense.reshape(-1).astype(np.int64))
            class_names = [str(v) for v in values.tolist()]

    train_idx, test_idx = split_indices(n, cfg.seed)
    return ImageData(
        name="npz",
        train_x=torch.from_numpy(images[train_idx]),
        test_x=torch.from_numpy(images[test_idx]),
        train_y=None if labels is None else labels[train_idx],
        test_y=None if labels is None else labels[test_idx],
        class_names=class_names,
    )


def _check_member_size(arrays, key: str, path: str) -> None:
    """Refuse an array whose header claims more data than its zip member holds or memory can take, before
    NumPy allocates it (NumPy allocates what the header claims, then reads)."""

    try:
        info = arrays.zip.getinfo(f"{key}.npy")
        with arrays.zip.open(info) as member:
            version = np.lib.format.read_magic(member)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, _fortran, dtype = read_header(member)
    except KeyError:
        return  # stored under another member name: NumPy's own checks apply
    claimed = math.prod(shape) * dtype.itemsize
    if claimed > info.file_size or claimed > data_budget():
        raise DataError(f"{path}: array {key} claims shape {shape} of {dtype} ({claimed:,} bytes) but its file "
                        f"holds {info.file_size:,} bytes")


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
