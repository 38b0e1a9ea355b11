"""The latent explorer's images: the probe decoded, beside the picked test image and its reconstruction."""
from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from ..widgets.image_pane import ImagePane


class ExplorerImages(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.probe_pane = ImagePane("Probe decoded", min_size=150)
        self.original_pane = ImagePane("Original", "click a point", min_size=64)
        self.recon_pane = ImagePane("Reconstruction", "", min_size=64)
        pair = QVBoxLayout()
        pair.addWidget(self.original_pane)
        pair.addWidget(self.recon_pane)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.probe_pane, 2)
        row.addLayout(pair, 1)

    def show_point(self, title: str, original: np.ndarray | None, reconstruction: np.ndarray | None) -> None:
        """The picked test image (HWC) and its reconstruction (None and None: no point picked)."""
        self.original_pane.set_title(title)
        self.original_pane.set_image(original)
        self.recon_pane.set_image(reconstruction)
