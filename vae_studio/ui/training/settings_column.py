"""The training panel's left column: the settings (data picker and form) in a scroll area, and under them
:class:`RunButtons`: why Start is disabled, Start / Pause / Stop / Retrain, the progress bar and the last
message. The panel connects the buttons and tells them what to show."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QScrollArea, QVBoxLayout, QWidget

from ...app.states import format_seconds

START_TIP = "Train a new run with these settings"


class SettingsColumn(QWidget):
    """``settings`` (widgets, top to bottom) in a scroll area as wide as they need, ``buttons`` below."""

    def __init__(self, settings: list[QWidget], buttons: QWidget, parent=None):
        super().__init__(parent)
        inner = QWidget()
        sl = QVBoxLayout(inner)
        sl.setContentsMargins(0, 0, 4, 0)
        for w in settings:
            sl.addWidget(w)
        sl.addStretch(1)
        self.scroll = scroll = QScrollArea()
        scroll.setWidget(inner)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        bar = scroll.verticalScrollBar().sizeHint().width() + 2 * scroll.frameWidth()
        scroll.setMinimumWidth(inner.minimumSizeHint().width() + bar)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(scroll, 1)
        lay.addWidget(buttons)


class RunButtons(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.validation = QLabel()
        self.validation.setWordWrap(True)
        self.validation.setStyleSheet("color: #b00020")
        self.start_button = QPushButton("Start")
        self.start_button.setToolTip(START_TIP)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setToolTip("Pause or resume the running run")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop training; the run keeps what it has learnt so far")
        self.retrain_button = QPushButton("Retrain")
        self.retrain_button.setToolTip("Train a new run with the current settings (e.g. after changing beta); "
                                       "earlier runs stay in the list. Stops a running run first.")
        buttons = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.stop_button, self.retrain_button):
            b.setMinimumWidth(b.fontMetrics().horizontalAdvance("Resume") + 16)  # the style's least is 80 px
            buttons.addWidget(b)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.validation)
        lay.addLayout(buttons)
        lay.addWidget(self.progress)
        lay.addWidget(self.message)

    def show_buttons(self, why: str, training: bool, stoppable: bool, paused: bool, can_retrain: bool) -> None:
        """``why``: why Start is disabled ('' when it is not)."""
        self.validation.setText(why)
        self.validation.setVisible(bool(why))
        self.start_button.setEnabled(not why and not training)
        self.start_button.setToolTip(why or START_TIP)
        self.retrain_button.setEnabled(not why and (training or can_retrain))
        self.pause_button.setEnabled(stoppable)
        self.pause_button.setText("Resume" if training and paused else "Pause")
        self.stop_button.setEnabled(stoppable)

    def starting(self, epochs: int) -> None:
        self.message.setText("")
        self.progress.setRange(0, max(1, epochs))
        self.progress.setValue(0)
        self.progress.setFormat("building the model…")

    def show_progress(self, p) -> None:
        self.progress.setRange(0, p.total_steps)
        self.progress.setValue(p.step)
        self.progress.setFormat(f"epoch {p.epoch}/{p.epochs} · step {p.step_in_epoch}/{p.steps_per_epoch} · "
                                f"{format_seconds(p.seconds_left)} left")

    def show_message(self, text: str, error: bool = False) -> None:
        self.message.setStyleSheet("color: #b00020; font-weight: bold" if error else "color: #2e7d32")
        self.message.setText(text)
