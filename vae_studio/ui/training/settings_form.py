"""The settings of the next run: model, loss and optimisation controls, read into a ModelConfig and a
TrainConfig and filled from a run's RunConfig. Imports no torch (the form shows before torch is loaded)."""
from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLineEdit, QPushButton,
                               QSlider, QVBoxLayout, QWidget)

from ...core.config import ConfigError, ModelConfig, RunConfig, TrainConfig
from ...core.variants import VARIANTS
from ..widgets.compact import ElidedComboBox, hint_label
from ..widgets.spin_boxes import dspin, spin
from .variant_settings import VariantSettings, fill_model_combo, variant_tip

BETA_MAX = 100.0
BETA_SLIDER = 1000  # slider positions: 0 is beta 0, 1..BETA_SLIDER cover 10^-3 .. 10^2 on a log scale
BETA_LOG_MIN, BETA_LOG_MAX = -3.0, 2.0


def beta_to_slider(beta: float) -> int:
    if beta <= 0:
        return 0
    t = (math.log10(max(beta, 10 ** BETA_LOG_MIN)) - BETA_LOG_MIN) / (BETA_LOG_MAX - BETA_LOG_MIN)
    return 1 + round(min(max(t, 0.0), 1.0) * (BETA_SLIDER - 1))


def slider_to_beta(pos: int) -> float:
    if pos <= 0:
        return 0.0
    t = (pos - 1) / (BETA_SLIDER - 1)
    beta = 10 ** (BETA_LOG_MIN + t * (BETA_LOG_MAX - BETA_LOG_MIN))
    return float(f"{beta:.2g}")  # two significant digits: the slider lands on 4, 0.5, 10 ...


NEXT_RUN_NOTE = "Settings apply to the next run: press Start, or Retrain to compare."
NEXT_RUN_TIP = ("A run keeps the settings it was started with; change beta here and press Retrain to train a new "
                "run beside the old one.")
LIVE_NOTE = ("Settings apply to the next run; β and the learning rate can also be applied to the running run "
             "(the change is drawn on its curves and saved with it).")
LIVE_TIP = ("Apply to running run: the running run trains with this β (the target of the KL warm-up) and "
            "learning rate from its next step. Its settings keep the starting values plus the change, so Retrain "
            "from its saved folder replays it. The other settings apply to the next run only.")


def fill_device_combo(combo: QComboBox, devices, current: str | None = None) -> None:
    """CPU and every accelerator torch finds; absent ones disabled with their reason as tooltip."""
    combo.blockSignals(True)
    combo.clear()
    for d in devices:
        combo.addItem(d.label if d.available else f"{d.label} (not available)", d.name)
        i = combo.count() - 1
        if not d.available:
            combo.model().item(i).setEnabled(False)
            combo.setItemData(i, d.reason, Qt.ItemDataRole.ToolTipRole)
        else:
            combo.setItemData(i, f"{d.label}", Qt.ItemDataRole.ToolTipRole)
    i = combo.findData(current) if current else -1
    combo.setCurrentIndex(i if i >= 0 else 0)
    combo.blockSignals(False)


class SettingsForm(QWidget):
    """Model, Loss and Optimisation group boxes. ``changed`` on any edit; ``clamped`` with a sentence when a
    typed value was out of range and replaced."""

    changed = Signal()
    clamped = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        m, t = ModelConfig(), TrainConfig()
        self.kind = ElidedComboBox(min_chars=8)
        fill_model_combo(self.kind)
        self.model_note = hint_label("")  # the chosen variant's one-line description
        self.conditional = QCheckBox("Conditional (sees the class label)")
        self.variant_settings = VariantSettings()
        self.variant_settings.changed.connect(self.changed)
        self.variant_settings.clamped.connect(self.clamped)
        self.arch = ElidedComboBox(min_chars=8)
        self.arch.setToolTip("MLP: fully connected layers; convolutional: conv layers, then one fully connected "
                             "layer")
        self.arch.addItem("MLP (fully connected)", "mlp")
        self.arch.addItem("Convolutional", "conv")
        self.latent = spin(1, 512, m.latent_dim, "Number of latent dimensions (z)", what="Latent size")
        self.hidden = QLineEdit(",".join(map(str, m.hidden)))
        self.hidden.setToolTip("MLP: hidden layer sizes, comma-separated (e.g. 512,256).\n"
                               "Convolutional: the size of the fully connected layer after the convolutions.")
        self.beta = dspin(0.0, BETA_MAX, t.beta, 3, 0.1, "beta: weight on the KL term (1 = the true ELBO; "
                          "larger values push towards disentangled, blurrier codes)", what="β")
        self.beta_slider = QSlider(Qt.Orientation.Horizontal)
        self.beta_slider.setRange(0, BETA_SLIDER)
        self.beta_slider.setValue(beta_to_slider(t.beta))
        self.beta_slider.setToolTip("beta on a log scale: 0, then 0.001 … 100")
        self.beta.valueChanged.connect(self._beta_from_spin)
        self.beta_slider.valueChanged.connect(self._beta_from_slider)
        self.gamma = dspin(0.0, 1000.0, t.gamma, 3, 0.1, "gamma: weight on the reconstruction term", what="γ")
        self.recon = ElidedComboBox(min_chars=8)
        self.recon.addItem("BCE (Bernoulli)", "bce")
        self.recon.addItem("MSE (Gaussian)", "mse")
        self.recon.setToolTip("Reconstruction loss, summed over pixels")
        self.warmup = spin(0, 10000, t.kl_warmup_epochs, "beta ramps up linearly from 0 over this many epochs",
                           what="KL warm-up")
        self.lr = dspin(1e-6, 1.0, t.lr, 6, 1e-4, "Adam learning rate", what="Learning rate")
        self.batch = spin(1, 65536, t.batch_size, "Images per training step", 16, what="Batch size")
        self.epochs = spin(1, 100000, t.epochs, "Passes over the training split", what="Epochs")
        self.seed = spin(0, 2**31 - 1, t.seed, "Random seed: same settings and seed give the same run",
                         what="Seed")
        self.grad_clip = dspin(0.0, 1e6, t.grad_clip, 2, 1.0, "Largest gradient norm (0 = no clipping)",
                               what="Gradient clip")
        self.device = ElidedComboBox(min_chars=8)
        self.device.addItem("CPU", "cpu")
        self.device.setToolTip("Where the model trains")
        for box in (self.latent, self.beta, self.gamma, self.warmup, self.lr, self.batch, self.epochs, self.seed,
                    self.grad_clip):
            box.clamped.connect(self.clamped)
            box.valueChanged.connect(self.changed)
        for combo in (self.arch, self.recon, self.device):
            combo.currentIndexChanged.connect(self.changed)
        self.kind.currentIndexChanged.connect(self._on_variant)
        self.conditional.toggled.connect(self._update_conditional)
        self.conditional.toggled.connect(self.changed)
        self.hidden.textChanged.connect(self.changed)

        form_model = QFormLayout()
        form_model.addRow("Model", self.kind)
        form_model.addRow(self.model_note)
        form_model.addRow(self.conditional)
        form_model.addRow("Architecture", self.arch)
        form_model.addRow("Latent size", self.latent)
        form_model.addRow("Hidden sizes", self.hidden)
        form_loss = QFormLayout()
        brow = QHBoxLayout()
        brow.addWidget(self.beta)
        brow.addWidget(self.beta_slider, 1)
        form_loss.addRow("β (KL weight)", brow)
        form_loss.addRow("γ (recon weight)", self.gamma)
        form_loss.addRow("Reconstruction", self.recon)
        form_loss.addRow("KL warm-up (epochs)", self.warmup)
        self.next_run_note = hint_label(NEXT_RUN_NOTE, NEXT_RUN_TIP)
        self.next_run_note.setWordWrap(True)
        form_loss.addRow(self.next_run_note)
        self.apply_live = QPushButton("Apply to running run")
        self.apply_live.setToolTip(LIVE_TIP)
        self.apply_live.setEnabled(False)
        self.apply_live.setVisible(False)  # shown while a run trains
        form_loss.addRow(self.apply_live)
        # changes of beta / lr at given steps that the next run replays: those of the run whose settings
        # were shown (set_config), so that opening a run folder and pressing Start or Retrain reproduces it
        self.schedule: list[list[float]] = []
        self.schedule_note = hint_label("", "An opened run's beta / learning-rate changes are replayed at the "
                                        "same steps by the next run started from its settings; New run forgets "
                                        "them.")
        self.schedule_note.setVisible(False)
        form_loss.addRow(self.schedule_note)
        form_opt = QFormLayout()
        form_opt.addRow("Learning rate", self.lr)
        form_opt.addRow("Batch size", self.batch)
        form_opt.addRow("Epochs", self.epochs)
        form_opt.addRow("Seed", self.seed)
        form_opt.addRow("Gradient clip", self.grad_clip)
        form_opt.addRow("Training device", self.device)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        for title, form in (("Model", form_model), ("Loss", form_loss), ("Optimisation", form_opt)):
            box = QGroupBox(title)
            box.setLayout(form)
            lay.addWidget(box)
            if title == "Model":
                lay.addWidget(self.variant_settings)
        self._tips = {w: w.toolTip() for w in (self.beta, self.beta_slider, self.warmup)}
        self._labels_available = True
        self._on_variant()

    # -- reading and filling -------------------------------------------------------------------------
    def model_config(self) -> ModelConfig:
        """The model the controls describe (image shape and classes are the data set's, set by the caller)."""
        try:
            hidden = [int(v) for v in self.hidden.text().replace(" ", "").split(",") if v]
        except ValueError:
            raise ConfigError("hidden sizes must be comma-separated whole numbers, e.g. 512,256") from None
        variant = self.variant
        return ModelConfig(kind=variant.name, arch=self.arch.currentData(), latent_dim=self.latent.value(),
                           hidden=hidden, settings=self.variant_settings.values(),
                           conditional=variant.conditional == "optional" and self.conditional.isChecked())

    def train_config(self) -> TrainConfig:
        return TrainConfig(beta=self.beta.value(), gamma=self.gamma.value(), recon=self.recon.currentData(),
                           kl_warmup_epochs=self.warmup.value(), lr=self.lr.value(), batch_size=self.batch.value(),
                           epochs=self.epochs.value(), seed=self.seed.value(),
                           device=self.device.currentData() or "cpu", grad_clip=self.grad_clip.value(),
                           schedule=[list(r) for r in self.schedule])

    def set_config(self, cfg: RunConfig) -> None:
        """Show a run's settings in the controls."""
        m, t = cfg.model, cfg.train
        self.kind.setCurrentIndex(max(self.kind.findData(m.kind), 0))
        self.variant_settings.set_values(m.settings)
        self.conditional.setChecked(m.conditional)
        self.arch.setCurrentIndex(max(self.arch.findData(m.arch), 0))
        self.latent.setValue(m.latent_dim)
        self.hidden.setText(",".join(map(str, m.hidden)))
        self.beta.setValue(t.beta)
        self.gamma.setValue(t.gamma)
        self.recon.setCurrentIndex(max(self.recon.findData(t.recon), 0))
        self.warmup.setValue(t.kl_warmup_epochs)
        self.lr.setValue(t.lr)
        self.batch.setValue(t.batch_size)
        self.epochs.setValue(t.epochs)
        self.seed.setValue(t.seed)
        self.grad_clip.setValue(t.grad_clip)
        self._set_schedule(t.schedule)
        i = self.device.findData(t.device)
        if i >= 0 and self.device.model().item(i).isEnabled():
            self.device.setCurrentIndex(i)

    def _set_schedule(self, schedule) -> None:
        self.schedule = [list(r) for r in schedule]
        n = len(self.schedule)
        self.schedule_note.setText(f"The next run replays {n} change{'s' if n != 1 else ''} of β / learning "
                                   "rate at the steps of the run shown." if n else "")
        self.schedule_note.setVisible(bool(n))

    def set_training(self, training: bool) -> None:
        """A run trains (or not): the note says what the settings apply to; Apply is offered while it does."""
        self.next_run_note.setText(LIVE_NOTE if training else NEXT_RUN_NOTE)
        self.next_run_note.setToolTip(LIVE_TIP if training else NEXT_RUN_TIP)
        self.apply_live.setVisible(training)

    def reset(self) -> None:
        """Default settings for a new run."""
        self.variant_settings.forget()
        self.set_config(RunConfig())
        self.device.setCurrentIndex(0)

    # -- the model variant ------------------------------------------------------------------------------
    @property
    def variant(self):
        """The declaration of the variant chosen in the Model list."""
        return VARIANTS.get(self.kind.currentData()) or next(iter(VARIANTS.values()))

    def _on_variant(self, *_) -> None:
        """Show the chosen variant: its description, its settings, whether it may be conditional, whether
        beta weights its loss."""
        v = self.variant
        before = getattr(self, "_variant_shown", None)
        if before is not None and before is not v and self.warmup.value() == before.kl_warmup_epochs:
            self.warmup.setValue(v.kl_warmup_epochs)  # its own warm-up, unless the user chose another one
        self._variant_shown = v
        self.kind.setToolTip(variant_tip(v))
        self.model_note.setText(v.description[:1].upper() + v.description[1:])
        self.model_note.setToolTip(variant_tip(v))
        self.variant_settings.set_variant(v)
        self.conditional.setVisible(v.conditional == "optional")
        self._update_conditional()
        for w, tip in self._tips.items():
            w.setEnabled(v.uses_beta)
            w.setToolTip(tip if v.uses_beta else f"{v.title} does not use β: its own settings weight its loss")
        self.changed.emit()

    def set_labels_available(self, available: bool) -> None:
        """Whether the data set has class labels (a conditional model needs them)."""
        self._labels_available = available
        self._update_conditional()

    def _update_conditional(self) -> None:
        box = self.conditional
        # without labels the box is disabled, unless it is ticked (then the user can still untick it)
        box.setEnabled(self._labels_available or box.isChecked())
        box.setToolTip("Give the class label to encoder and decoder: sample and interpolate within a class"
                       if self._labels_available else
                       "The data set has no class labels: a conditional model needs them")

    # -- beta: spin box and log slider stay in step ----------------------------------------------------
    def _beta_from_spin(self, value: float) -> None:
        self.beta_slider.blockSignals(True)
        self.beta_slider.setValue(beta_to_slider(value))
        self.beta_slider.blockSignals(False)

    def _beta_from_slider(self, pos: int) -> None:
        self.beta.blockSignals(True)  # the slider is not moved back under the user's hand
        self.beta.setValue(slider_to_beta(pos))
        self.beta.blockSignals(False)
        self.changed.emit()
