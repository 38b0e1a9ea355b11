"""The Model list and the chosen variant's own settings, built from the declarations in
``core/variants`` (a variant merged later appears here with no edit). Imports no torch.

* :func:`fill_model_combo`: each variant's title, with its one-line description and paper as tooltip.
* :class:`VariantSettings`: a group box with one control per setting of the chosen variant (a checked spin
  box with the setting's range, or a combo of its choices), labelled with the paper's symbol, the
  setting's description as tooltip. It remembers what the user set for each variant while another is shown.
"""
from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QLabel

from ...core.variants import VARIANTS, SettingSpec, Variant
from ..widgets.compact import ElidedComboBox
from ..widgets.spin_boxes import dspin, spin

FLOAT_RANGE = 1e6  # a float setting without a declared bound stops here (a spin box needs one)
INT_RANGE = 2**31 - 1


def variant_tip(variant: type[Variant]) -> str:
    """What the Model list says of a variant: its description and paper."""
    paper = f"\n({variant.paper})" if variant.paper else ""
    return f"{variant.title}: {variant.description}{paper}"


def fill_model_combo(combo: QComboBox) -> None:
    """Every variant of the Model list, in its order: title shown, name as data, description as tooltip."""
    combo.blockSignals(True)
    combo.clear()
    for variant in VARIANTS.values():
        combo.addItem(variant.title, variant.name)
        combo.setItemData(combo.count() - 1, variant_tip(variant), Qt.ItemDataRole.ToolTipRole)
    combo.blockSignals(False)


def setting_label(spec: SettingSpec) -> str:
    """E.g. "tc weight (β)": the setting's label and the paper's symbol."""
    label = spec.label[:1].upper() + spec.label[1:]
    return f"{label} ({spec.symbol})" if spec.symbol else label


def _decimals_and_step(spec: SettingSpec) -> tuple[int, float]:
    """Enough decimals to show the default and the bounds (1e-4 needs 6), a step of the default's size."""
    values = [abs(v) for v in (spec.default, spec.minimum, spec.maximum) if v]
    smallest = min(values, default=1.0)
    decimals = min(10, max(3, 2 - math.floor(math.log10(smallest))))
    default = abs(spec.default) or 1.0
    step = 10.0 ** math.floor(math.log10(default))
    return decimals, min(step, 1.0) if default >= 1 else step


def setting_box(spec: SettingSpec):
    """The control of one setting, showing its default."""
    tip = spec.describe()
    what = setting_label(spec)
    if spec.type is str:
        box = ElidedComboBox(min_chars=6)
        for choice in spec.choices or (spec.default,):
            box.addItem(choice, choice)
        box.setCurrentIndex(max(box.findData(spec.default), 0))
        box.setToolTip(tip)
        return box
    if spec.type is int:
        lo = int(spec.minimum) if spec.minimum is not None else -INT_RANGE
        hi = int(spec.maximum) if spec.maximum is not None else INT_RANGE
        return spin(lo, hi, spec.default, tip, what=what)
    decimals, step = _decimals_and_step(spec)
    lo = spec.minimum if spec.minimum is not None else -FLOAT_RANGE
    hi = spec.maximum if spec.maximum is not None else FLOAT_RANGE
    return dspin(lo, hi, spec.default, decimals, step, tip, what=what)


def box_value(box):
    return box.currentData() if isinstance(box, QComboBox) else box.value()


def set_box_value(box, value) -> None:
    if isinstance(box, QComboBox):
        i = box.findData(value)
        if i >= 0:
            box.setCurrentIndex(i)
    else:
        box.setValue(value)


class VariantSettings(QGroupBox):
    """The chosen variant's own settings ("β-TCVAE settings"); hidden for a variant without any.
    ``changed`` on any edit; ``clamped`` with a sentence when a typed value was out of range."""

    changed = Signal()
    clamped = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.form = QFormLayout(self)
        self.variant: type[Variant] | None = None
        self.boxes: dict[str, object] = {}  # setting name -> its control
        self._kept: dict[str, dict] = {}  # variant name -> the values the user set, while another is shown

    def set_variant(self, variant: type[Variant] | None) -> None:
        """Show ``variant``'s settings (the values last set for it, else its defaults)."""
        if variant is self.variant:
            return
        if self.variant is not None:
            self._kept[self.variant.name] = self.values()
        while self.form.rowCount():
            self.form.removeRow(0)
        self.boxes = {}
        self.variant = variant
        specs = variant.settings_specs() if variant is not None else []
        for spec in specs:
            box = setting_box(spec)
            if isinstance(box, QComboBox):
                box.currentIndexChanged.connect(self.changed)
            else:
                box.valueChanged.connect(self.changed)
                box.clamped.connect(self.clamped)
            label = QLabel(setting_label(spec))
            label.setToolTip(spec.describe())
            label.setBuddy(box)
            self.form.addRow(label, box)
            self.boxes[spec.name] = box
        self.setTitle(f"{variant.title} settings" if variant is not None else "")
        self.setToolTip(f"The settings of {variant.title} ({variant.paper}); hover over one for what it does "
                        "and its default" if variant is not None and variant.paper else "")
        self.setVisible(bool(specs))
        if variant is not None and variant.name in self._kept:
            self.set_values(self._kept[variant.name])

    def values(self) -> dict:
        """The shown settings by name (every one of the variant's)."""
        return {name: box_value(box) for name, box in self.boxes.items()}

    def set_values(self, values: dict) -> None:
        """Show these settings (names the variant lacks are ignored; those missing keep their values)."""
        for name, value in values.items():
            box = self.boxes.get(name)
            if box is not None:
                set_box_value(box, value)

    def forget(self) -> None:
        """Back to every variant's defaults (New run)."""
        self._kept.clear()
        variant, self.variant = self.variant, None
        self.set_variant(variant)
