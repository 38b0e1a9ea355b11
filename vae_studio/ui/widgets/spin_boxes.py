"""Spin boxes that never change what the user typed without saying so.

Qt's spin boxes drop a keystroke that would leave their range, so typing ``9999`` in a box that ends at 512
gives ``999`` → ``512`` silently, and ``1e6`` in a double box gives ``16``. These accept any number while it
is typed (scientific notation too), and when editing ends clamp it to the range and emit
:attr:`clamped` with a sentence the owner shows.
"""
from __future__ import annotations

import math
import re

from PySide6.QtCore import Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QDoubleSpinBox, QSpinBox


_PARTIAL_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d*)?([eE][+-]?\d*)?")  # what a number looks like while typed


def _number(text: str) -> float | None:
    try:
        v = float(text.strip().replace(",", ""))
    except ValueError:
        return None
    return v if math.isfinite(v) else None


class _Checked:
    """What both boxes share; each declares ``clamped = Signal(str)``, e.g. "β 1e6 is above the largest
    allowed value, 100: it was set to 100."."""

    def __init__(self, what: str = "value", parent=None):
        super().__init__(parent)
        self.what = what  # how the message names the setting ("Latent size", "β")

    def fixup(self, text: str) -> str:
        return self._clamp_text(text)

    def _check(self, text: str, state):
        if state == QValidator.State.Acceptable:
            return state
        body = text.strip()
        for affix in (self.prefix(), self.suffix()):
            body = body.replace(affix, "") if affix else body
        if _number(body) is not None or _PARTIAL_NUMBER.fullmatch(body.replace(",", "")):
            return QValidator.State.Intermediate  # keep the keystroke; fixup() clamps and says so
        return state

    def _clamp_text(self, text: str) -> str:
        v = _number(text)
        if v is None:
            return text
        lo, hi = self.minimum(), self.maximum()
        c = min(max(v, lo), hi)
        if c != v:
            side = "above the largest" if v > hi else "below the smallest"
            shown = self.textFromValue(c)
            self.clamped.emit(f"{self.what} {text.strip()} is {side} allowed value, {shown}: it was set to {shown}.")
        return self.textFromValue(c)


class CheckedSpinBox(_Checked, QSpinBox):
    clamped = Signal(str)

    def validate(self, text: str, pos: int):
        state, text, pos = super().validate(text, pos)
        return self._check(text, state), text, pos

    def valueFromText(self, text: str) -> int:  # noqa: N802 - Qt API
        v = _number(text)
        return int(round(v)) if v is not None else super().valueFromText(text)


class CheckedDoubleSpinBox(_Checked, QDoubleSpinBox):
    clamped = Signal(str)

    def validate(self, text: str, pos: int):
        state, text, pos = super().validate(text, pos)
        v = _number(text)
        if state != QValidator.State.Acceptable and v is not None and self.minimum() <= v <= self.maximum():
            return QValidator.State.Acceptable, text, pos  # 1e-3, 2.5e1: scientific notation is a number too
        return self._check(text, state), text, pos

    def valueFromText(self, text: str) -> float:  # noqa: N802 - Qt API
        v = _number(text)
        return v if v is not None else super().valueFromText(text)


def spin(lo, hi, value, tip, step=1, what="value") -> CheckedSpinBox:
    """A whole-number box set up as the settings forms use it: range, value, tooltip, and a typed value
    counting when editing ends (not at every keystroke)."""
    return _setup(CheckedSpinBox(what), lo, hi, value, step, tip)


def dspin(lo, hi, value, decimals, step, tip, what="value") -> CheckedDoubleSpinBox:
    box = CheckedDoubleSpinBox(what)
    box.setDecimals(decimals)  # before the value: it rounds to the decimals
    return _setup(box, lo, hi, value, step, tip)


def _setup(box, lo, hi, value, step, tip):
    box.setRange(lo, hi)
    box.setSingleStep(step)
    box.setValue(value)
    box.setToolTip(tip)
    box.setKeyboardTracking(False)
    return box
