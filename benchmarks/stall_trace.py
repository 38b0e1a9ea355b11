"""What the GUI thread ran during each long stall: ``gui_responsiveness.py --trace``.

A profile function on the GUI thread (``sys.setprofile``) records every Python call entered from Qt's event
loop, and the calls they make, down to ``depth`` levels, with their start and end. After the run, each stall
over ``threshold_ms`` is printed with the calls that overlap it, so that a pause can be put down to its handlers
and paints. Calls made in C++ only (Qt's own layout, painting of plain widgets) do not show: the part of a stall
that no call covers is C++ work or waiting for the interpreter lock. The profile function slows the GUI thread,
so the stalls are longer than without it; use it to find the causes, not to measure them.
"""
from __future__ import annotations

import os
import sys
import time

MIN_CALL_S = 0.002  # shorter calls are left out


class StallTrace:
    def __init__(self, depth: int = 3) -> None:
        self.depth = depth
        self.calls: list[tuple[float, float, int, str]] = []  # start, end (perf_counter), depth, name
        self._level = 0
        self._stack: list[tuple[float, int, str]] = []

    def start(self) -> None:
        """Trace the calling thread (the GUI thread) from now on: calls made below this frame count from 1."""
        self._level = 0
        sys.setprofile(self._profile)

    def stop(self) -> None:
        sys.setprofile(None)

    def _profile(self, frame, event, _arg) -> None:
        if event == "call":
            self._level += 1
            if self._level <= self.depth:
                code = frame.f_code
                name = f"{os.path.basename(code.co_filename)}:{code.co_firstlineno} {code.co_qualname}"
                self._stack.append((time.perf_counter(), self._level, name))
        elif event == "return":
            if self._level <= self.depth and self._stack:
                t0, level, name = self._stack.pop()
                t1 = time.perf_counter()
                if t1 - t0 >= MIN_CALL_S:
                    self.calls.append((t0, t1, level, name))
            self._level = max(self._level - 1, 0)

    def report(self, stalls: list[tuple[float, float]], threshold_ms: float = 40.0, origin: float = 0.0) -> None:
        """Print each stall (perf_counter start, end) longer than ``threshold_ms`` with the calls inside it;
        times are shown in seconds from ``origin``."""
        calls = sorted(self.calls)
        for s0, s1 in stalls:
            if (s1 - s0) * 1000 < threshold_ms:
                continue
            print(f"stall of {1000 * (s1 - s0):.0f} ms at {s0 - origin:.2f} s:")
            for c0, c1, level, name in calls:
                if c1 > s0 and c0 < s1:
                    print(f"  {c0 - origin:7.3f} s {1000 * (c1 - c0):6.1f} ms {'  ' * (level - 1)}{name}")
