"""What a loaded data set is (:class:`ImageData`), how loading fails (:class:`DataError`), and the pieces every
loader shares (the seeded train/test split, the memory budget). Imports nothing else of the project, so the
loaders (``data``, ``image_files``) can all use it without importing each other.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

TEST_FRACTION = 0.1
MAX_DATA_BYTES = 64 << 30  # one data file's pixels; also never more than this machine's memory


class DataError(ValueError):
    """Data cannot be loaded; the message (one line) says what was looked for and where."""


@dataclass
class ImageData:
    name: str
    train_x: torch.Tensor  # uint8 (N, C, H, W), CPU, contiguous
    test_x: torch.Tensor  # uint8 (M, C, H, W)
    train_y: torch.Tensor | None = None  # int64 (N,), class labels, or None when unlabelled
    test_y: torch.Tensor | None = None
    class_names: list[str] = field(default_factory=list)
    binarize: bool = False  # train batches are drawn as Bernoulli(pixel) each time; test_x is already 0/255
    # known generative factors (built-in sprites): integer index of each factor's value per image
    train_factors: np.ndarray | None = None  # (N, F) int
    test_factors: np.ndarray | None = None  # (M, F) int
    factor_names: list[str] = field(default_factory=list)
    factor_sizes: list[int] = field(default_factory=list)

    @property
    def channels(self) -> int:
        return int(self.train_x.shape[1])

    @property
    def image_size(self) -> int:
        return int(self.train_x.shape[-1])

    @property
    def num_classes(self) -> int:
        return len(self.class_names) if self.train_y is not None else 0

    @property
    def has_factors(self) -> bool:
        return self.train_factors is not None


def split_indices(n: int, seed: int, test_fraction: float = TEST_FRACTION) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random (train, test) split of range(n), each in shuffled order; >= 1 test image when n >= 2.

    Shuffled rather than sorted so that any leading slice (a quick preview, a scatter of the first thousand
    test images) is a fair sample of the classes and factors.
    """
    n_test = int(round(n * test_fraction))
    n_test = min(max(n_test, 1 if n >= 2 else 0), max(n - 1, 0))
    perm = np.random.default_rng(seed).permutation(n)
    return perm[n_test:], perm[:n_test]


def data_budget() -> int:
    """The most bytes one data file may unpack to: what fits in memory (and at most 64 GiB)."""
    from .safe_io import physical_memory

    ram = physical_memory()
    return min(MAX_DATA_BYTES, ram) if ram else MAX_DATA_BYTES
