"""A t-SNE or UMAP layout computed in the background, with its progress and a Cancel button.

The widget owns two latest-wins task runners: one fits layouts (:func:`~vae_studio.core.embedding.fit_embedding`),
one places the user's own images with the fitted method's transform
(:func:`~vae_studio.core.embedding.transform_points`). It shows itself only while a layout is being fitted.
"""
from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QPushButton, QWidget

from ...core.embedding import fit_embedding, method_name, transform_points
from ...workers.tasks import Mode, runner_for
from ..widgets.compact import ElidedLabel


class EmbeddingJob(QWidget):
    fitted = Signal(object)  # Embedding
    placed = Signal(object, object)  # Embedding, [(label, latent vector, plot position)]
    failed = Signal(str)  # a one-line message
    cancelled = Signal()  # the user cancelled a fit

    def __init__(self, tasks=None, parent=None):
        super().__init__(parent)
        self.fitter = runner_for(self, tasks, "projection", Mode.LATEST)
        self.placer = runner_for(self, tasks, "projection-transform", Mode.LATEST)
        self.text = ElidedLabel("")  # long status lines must not widen the panel
        self.text.setStyleSheet("color: gray")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(12)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop computing this view; the axes go back to the exact view shown "
                                      "(a UMAP layout already optimising finishes unseen in the background)")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.text, 1)
        row.addWidget(self.bar, 1)
        row.addWidget(self.cancel_button)
        self.setVisible(False)
        self._ticket = 0
        self._method = ""
        self._placing_for = None
        self.fitter.done.connect(self._on_done)
        self.fitter.failed.connect(self._on_failed)
        self.fitter.progress.connect(self._on_progress)
        self.fitter.status.connect(self._on_status)
        self.placer.done.connect(self._on_placed)
        self.cancel_button.clicked.connect(self.cancel)

    @property
    def busy(self) -> bool:
        return self.fitter.busy

    def start(self, method: str, latents, seed: int = 0) -> None:
        """Fit a ``method`` layout of ``latents`` (N, D) (a newer start replaces a running one)."""
        self._method = method
        self.text.setText(f"Computing the {method_name(method)} view of {len(latents):,} points…")
        self.bar.setValue(0)
        self.setVisible(True)
        self._ticket = self.fitter.submit(fit_embedding, latents.copy(), method, seed)

    def place(self, embedding, points) -> None:
        """Place the user's (label, latent vector) points with ``embedding``'s transform; ``placed`` follows."""
        if points:
            self._placing_for = embedding  # the runner delivers only the newest request's result
            self.placer.submit(transform_points, embedding, list(points))

    def stop(self) -> None:
        """Forget a running fit without reporting it (another run or data set)."""
        self.fitter.cancel_all()
        self.placer.cancel_all()
        self.setVisible(False)

    @Slot()
    def cancel(self) -> None:
        """The user's Cancel: the fit stops at its next check."""
        if self.fitter.busy:
            self.stop()
            self.cancelled.emit()

    @Slot(int, object)
    def _on_done(self, ticket: int, embedding) -> None:
        if ticket == self._ticket:
            self.setVisible(False)
            if embedding is not None:
                self.fitted.emit(embedding)

    @Slot(int, str)
    def _on_failed(self, ticket: int, message: str) -> None:
        if ticket == self._ticket:
            self.setVisible(False)
            self.failed.emit(message)

    @Slot(int, float)
    def _on_progress(self, ticket: int, fraction: float) -> None:
        if ticket == self._ticket:
            self.bar.setValue(int(1000 * fraction))

    @Slot(int, str)
    def _on_status(self, ticket: int, text: str) -> None:
        if ticket == self._ticket:
            self.text.setText(text)

    @Slot(int, object)
    def _on_placed(self, _ticket: int, placed) -> None:
        if placed:
            self.placed.emit(self._placing_for, placed)

    def shutdown(self) -> None:
        self.fitter.shutdown()
        self.placer.shutdown()
