"""The latent explorer's probe and anchor: moving the probe (dragged, typed, clicked, sent from a tool or
the workspace), picking a point as its anchor, decoding the probe and the picked point, the traversal around
the probe, and making each gesture one undoable step (Edit ▸ Undo puts the probe and the anchor back).

A mixin of :class:`~vae_studio.ui.latent.panel.LatentPanel` (it uses the panel's explorer, workspace,
selected run, scatter, probe bar, images, traversal, tools, undo stack and ``_space``); kept apart so the
panel reads as layout, wiring and following the run.
"""
from __future__ import annotations

import numpy as np
import torch
from PySide6.QtCore import Slot

from ...core.latent import decode, to_uint8
from ..widgets.undo import ProbeCommand


class ProbeActionsMixin:
    # -- public state and actions ------------------------------------------------------------------
    @property
    def probe_vector(self) -> np.ndarray:
        return self.explorer.probe.copy()

    @property
    def anchor(self) -> np.ndarray:
        return self.explorer.anchor.copy()

    def probe_image(self) -> np.ndarray | None:
        return self.images.probe_pane.data()

    @Slot(float, float)
    def move_probe(self, x: float, y: float) -> None:
        """Put the probe's marker at plot position (x, y) and decode there, as a click on empty space does."""
        self.scatter.place_probe(x, y)
        self._on_probe_moved(x, y)
        self._probe_move_done("Move the probe")

    # -- undo: the probe and the anchor ------------------------------------------------------------
    @Slot()
    def _on_probe_released(self) -> None:
        self._probe_move_done("Drag the probe")

    def _probe_move_done(self, text: str, before=None) -> None:
        """One user gesture moved the probe (or the anchor): make it one undoable step."""
        before = before if before is not None else self._drag_start
        self._drag_start = None
        if before is None or self._run is None:
            return
        after = self.explorer.snapshot()
        if not (np.array_equal(before[0], after[0]) and np.array_equal(before[1], after[1])):
            self.undo_stack.push(ProbeCommand(self, before, after, text))

    @Slot(object, str)
    def go_to_vector(self, z, source: str) -> None:
        """Put the probe (and the anchor) at latent vector ``z`` from ``source`` (words); one move of a gesture
        that ``_probe_move_done`` makes undoable (a direction's slider, a bookmark, A − B + C)."""
        if self._run is None:
            return
        before = self._drag_start if self._drag_start is not None else self.explorer.snapshot()
        try:
            self.explorer.send_probe(z, source)
        except ValueError as e:
            self.workspace.show_message(str(e))
            return
        self._drag_start = before
        self._anchor_moved(immediate_traversal=False)

    def restore_probe_state(self, snap) -> None:
        """Put the probe and the anchor where ``snap`` (an explorer snapshot) has them (undo, redo)."""
        if self._run is not None and self.explorer.restore(snap):
            self._anchor_moved()

    # -- the probe ---------------------------------------------------------------------------------
    def _place_probe(self) -> None:
        """The marker, the coordinates and the anchor's source follow the explorer's probe."""
        self.scatter.place_probe(*self.explorer.probe_xy)
        self.probe_bar.show_explorer(self.explorer)

    @Slot(float, float)
    def _on_probe_moved(self, x: float, y: float) -> None:
        """The marker moved (dragged, typed or clicked): decode its latent vector and show it."""
        if self._run is None:
            return
        if self._drag_start is None:
            self._drag_start = self.explorer.snapshot()
        self.explorer.move_probe(x, y)
        self.probe_bar.show_coords(x, y)
        self._probe_vector_changed()

    def _probe_vector_changed(self, immediate_traversal: bool = False) -> None:
        self._decode_probe()
        self.workspace.set_probe(self.explorer.probe)
        self._update_traversal(immediate_traversal)

    def _decode_probe(self) -> None:
        model = self.workspace.decode_model(self._run)
        if model is None:
            self.images.probe_pane.set_image(None)
            return
        space = self._space(model)
        img = to_uint8(decode(model, self.explorer.probe[None], self._class(), space))[0]
        self.images.probe_pane.set_image(img)
        if space.codebook is not None:  # a code grid: the probe's code map follows it
            self.tools.codebook.show_codes(space.codes_of(torch.from_numpy(self.explorer.probe))[0].numpy())

    def _class(self) -> int | None:
        if self._run is None or not self._run.model.conditional:
            return None
        return self.probe_bar.chosen_class()

    def _update_traversal(self, immediate: bool = False) -> None:
        model = self.workspace.decode_model(self._run) if self._run is not None else None
        z = self.explorer.probe if model is not None else None
        self.traversal.set_inputs(model, z, self.explorer.kl, self._class(), immediate=immediate,
                                  space=self._space(model) if model is not None else None)

    def _anchor_moved(self, immediate_traversal: bool = True) -> None:
        """The explorer's anchor and probe were set (a point picked, a vector sent, the anchor reset)."""
        self.scatter.set_picked(self.explorer.picked_xy())
        self._show_picked()
        self._place_probe()
        self._probe_vector_changed(immediate_traversal)

    @Slot(float)
    def _on_x_typed(self, x: float) -> None:
        self.move_probe(x, self.explorer.probe_xy[1])

    @Slot(float)
    def _on_y_typed(self, y: float) -> None:
        self.move_probe(self.explorer.probe_xy[0], y)

    @Slot(int)
    def _on_point_clicked(self, index: int) -> None:
        ex = self.explorer
        before = ex.snapshot() if self._run is not None else None
        if self._run is None or not ex.pick(index):
            return
        if self._run.model.conditional:
            self.probe_bar.show_class(ex.picked_label)
        self.workspace.pick_point(index)
        self._anchor_moved()
        self._probe_move_done(f"Anchor the probe at point #{index}", before)

    def _show_picked(self) -> None:
        """The picked point's image beside its reconstruction."""
        ex, data = self.explorer, self.workspace.data
        i = ex.anchor_index
        if i is None or ex.mu is None or data is None or i >= len(data.test_x) or i >= len(ex.mu):
            self.images.show_point("Original", None, None)
            return
        label = ex.picked_label
        name = ""
        if label is not None:
            names = self._class_names()
            name = f", {names[label]}" if label < len(names) else f", class {label}"
        model = self.workspace.decode_model(self._run)
        cls = label if self._run.model.conditional else None
        self.images.show_point(f"Original #{i}{name}", data.test_x[i].permute(1, 2, 0).numpy(),
                               to_uint8(decode(model, ex.mu[i][None], cls, self._space(model)))[0])

    @Slot()
    def _on_reset_anchor(self) -> None:
        if self._run is not None:
            before = self.explorer.snapshot()
            self.explorer.reset_anchor()
            self._anchor_moved()
            self._probe_move_done("Reset the anchor", before)

    @Slot(object)
    def _on_probe_requested(self, z) -> None:
        if self._run is None:
            return
        try:
            self.explorer.send_probe(z)
        except ValueError as e:
            self.workspace.show_message(str(e))
            return
        self._anchor_moved()

    @Slot(int)
    def _on_class_changed(self, _index: int) -> None:
        if self._run is not None:
            self._probe_vector_changed(immediate_traversal=True)
