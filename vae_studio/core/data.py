"""Data sets: one in-memory record (:class:`ImageData`) and one registry of where data comes from.

Every data set is held once as uint8 tensors (N, C, H, W) on the CPU; the training engine converts batches
to float on the device. Nothing here downloads anything.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


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
