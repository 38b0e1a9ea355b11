"""The loss plots' axes: loss ticks that stay readable on a log scale, and step numbers written short."""
from __future__ import annotations

import math

import pyqtgraph as pg


def log_tick_label(value: float) -> str:
    """A loss as a tick label: 200, 50, 0.5, 2e+05 (never 2·10² squeezed beside 3·10², 4·10², ...)."""
    if value >= 1e5 or value < 1e-3:
        return f"{value:.0e}"
    return f"{value:.0f}" if value >= 1 else f"{value:g}"


class LossAxis(pg.AxisItem):
    """In log mode, label only the ticks at 1, 2 and 5 times a power of ten (all of them if that leaves none),
    as plain numbers: the minor ticks stay, their crowded labels go."""

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph API
        if not self.logMode:
            return super().tickStrings(values, scale, spacing)
        xs = [10.0 ** v for v in values]
        nice = [round(x / 10 ** math.floor(math.log10(x) + 1e-9), 6) in (1.0, 2.0, 5.0) for x in xs]
        if not any(nice):
            nice = [True] * len(xs)
        return [log_tick_label(x) if keep else "" for x, keep in zip(xs, nice)]


class StepAxis(pg.AxisItem):
    """Step numbers written short (2k, 1.5k, 12k, 1.2M) so that narrow plots never run them together."""

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph API
        return [step_label(v * scale) for v in values]


def step_label(v: float) -> str:
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(v) >= size:
            return f"{v / size:.3g}{suffix}"
    return f"{v:.3g}"  # whole steps as they are; the fractional ticks of a short range not rounded together
