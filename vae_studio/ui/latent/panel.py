"""The latent explorer: scatter of the test split's means, a draggable probe, and a traversal grid.

The panel is a view of a :class:`~vae_studio.app.explorer.LatentExplorer` (``panel.explorer``), which holds
the encoded split, the projection, the probe's latent vector and the anchor, and does the projection and
lift. The panel builds the widgets, forwards what the user does to the explorer and to the workspace
(``set_probe``, ``pick_point``), and redraws from the explorer. It follows the workspace: the selected run,
new weights, the data set, the decode device, user points and probe requests.

Decoding the probe runs straight on the GUI thread (well under a millisecond for an MLP); encoding the test
split (:func:`~vae_studio.workers.encoding.encode_split`) runs in a latest-wins
:class:`~vae_studio.workers.tasks.TaskRunner`.

The probe and the anchor (moving them, decoding there, undo) are :mod:`.probe`, a mixin of this panel; the
control rows are in ``controls.py``, the images in ``images.py``, the layout and its wiring in ``layout.py``.
"""
from __future__ import annotations

import copy

import torch
from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QMessageBox, QWidget

from ...app.event_loop import next_turn
from ...app.explorer import DIMS, LatentExplorer, encoding_problem, waits_for_first_epoch
from ...core.embedding import METHODS as EMBEDDINGS, missing_dependency
from ...workers.encoding import CHUNK, EncodedSplit, encode_split
from ...workers.tasks import Mode, runner_for
from ..widgets.undo import new_undo_stack
from .embedding_job import EmbeddingJob
from .layout import LatentLayoutMixin
from .probe import ProbeActionsMixin


class LatentPanel(LatentLayoutMixin, ProbeActionsMixin, QWidget):
    scatterUpdated = Signal()  # all new points are drawn (after an encoding or a projection change)
    built = Signal()  # a staged panel is whole (``building`` is False from then on)

    def __init__(self, workspace, parent=None, tasks=None, undo_stack=None, staged: bool = False):
        """``tasks``: the window's TaskHub (the panel makes its own runner without one); ``undo_stack``: the
        window's (Edit ▸ Undo puts the probe and the anchor back; the panel makes its own without one);
        ``staged``: the right-hand column (images, traversal, tools) and the wiring come one event-loop turn
        later (at launch the whole panel was one pause of the window of about 40 ms)."""
        super().__init__(parent)
        self.setObjectName("latentPanel")
        self.workspace = workspace
        self.explorer = LatentExplorer()
        self.undo_stack = undo_stack if undo_stack is not None else new_undo_stack(self)
        self._drag_start = None  # the probe state when the current drag began
        self._run = None
        self.encoder = runner_for(self, tasks, "encode", Mode.LATEST)  # encodes the test split
        self._requested_epoch = 0  # the epoch of the weights sent to the encoder last
        self.embedding_job = EmbeddingJob(tasks)  # t-SNE / UMAP views, fitted in the background
        self._build_scatter_column()
        self.building = staged
        if staged:
            next_turn(self, self._finish_build)
        else:
            self._finish_build()

    def _finish_build(self) -> None:
        """The right-hand column, then every connection, then the workspace as it is now."""
        self._build_tools_column()
        self._connect_views()
        self._connect_embedding_job()
        s = self.workspace
        s.selectedRunChanged.connect(self._on_selected_run_changed)
        s.runUpdated.connect(self._on_run_updated)
        s.dataChanged.connect(self._on_data_changed)
        s.decodeDeviceChanged.connect(self._on_decode_device_changed)
        s.probeRequested.connect(self._on_probe_requested)
        s.userPointsChanged.connect(self._update_user_points)
        self.encoder.done.connect(self._on_encoded)
        self.encoder.failed.connect(self._on_encode_failed)
        self.scatter.probeReleased.connect(self._on_probe_released)
        self._on_selected_run_changed(s.selected)
        self.building = False
        self.built.emit()

    # -- public state and actions ------------------------------------------------------------------
    def projection_mode(self) -> str:
        """The projection shown (PCA once it is fitted, else two latent dimensions)."""
        return self.explorer.projection

    def set_projection(self, mode: str) -> None:
        """Choose the projection as the user does, in the Axes box."""
        combo = self.axes_bar.projection
        combo.setCurrentIndex(combo.findData(mode))

    def shown_dims(self) -> tuple[int | None, int | None]:
        return self.explorer.dims

    # -- drawing the explorer's state --------------------------------------------------------------
    def _redraw(self) -> None:
        """Everything the projection decides: the axes, the points, the picked ring, the user's stars and
        the probe's marker (the probe's vector is kept)."""
        if self._run is None:
            return
        ex = self.explorer
        self.axes_bar.show_explorer(ex)
        self.scatter.set_axis_names(*ex.axis_names()[0])
        if ex.mu is not None:
            self.scatter.set_points(ex.points_xy(), ex.labels, self._class_names())
        self.scatter.set_picked(ex.picked_xy())
        self._update_user_points()
        self._place_probe()

    def _class_names(self) -> list[str]:
        names = list(self._run.class_names) if self._run is not None else []
        data = self.workspace.data
        if not names and data is not None:
            names = list(data.class_names)
        return names

    @Slot()
    def _on_points_drawn(self) -> None:
        if self.explorer.mu is not None:
            self.scatterUpdated.emit()

    @Slot()
    def _update_user_points(self) -> None:
        pts = self.explorer.project_user_points(self.workspace.user_points) if self._run is not None else []
        self.scatter.set_user_points(pts)
        if self._run is not None and self.explorer.approximate:  # placed by the method's transform, later
            self.embedding_job.place(self.explorer.embedding,
                                     self.explorer.points_to_transform(self.workspace.user_points))

    def _space(self, model=None):
        """The latent space shown (the chosen level of a model with levels) of ``model`` (default: the
        selected run's decode copy)."""
        return self.explorer.space_of(model if model is not None else self.workspace.decode_model(self._run))

    # -- axes --------------------------------------------------------------------------------------
    @Slot(str)
    def _on_projection_chosen(self, mode: str) -> None:
        problem = missing_dependency(mode) if mode in EMBEDDINGS else ""
        if problem:  # the optional extra is not installed: say how to get it, keep the view
            QMessageBox.information(self, "Projection", problem)
            self.axes_bar.show_explorer(self.explorer)
            return
        self.explorer.set_mode(mode)
        self._redraw()
        self._request_embedding()

    @Slot(int, object)
    def _on_axis_chosen(self, axis: int, d) -> None:
        self.explorer.choose_axis(axis, d)
        if self.explorer.projection == DIMS:
            self._redraw()
        else:
            self.axes_bar.show_explorer(self.explorer)

    @Slot()
    def _on_refit_pca(self) -> None:
        if self.explorer.mode in EMBEDDINGS:
            self._request_embedding(refit=True)
        elif self.explorer.refit_pca():
            self._redraw()

    # -- t-SNE and UMAP views (approximate; core/embedding.py, embedding_job.py) ------------------------
    def _connect_embedding_job(self) -> None:
        job = self.embedding_job
        job.fitted.connect(self._on_embedding_fitted)
        job.placed.connect(self._on_user_points_placed)
        job.failed.connect(self._on_embedding_failed)
        job.cancelled.connect(self._on_embedding_cancelled)

    def _request_embedding(self, refit: bool = False) -> None:
        ex = self.explorer
        if self._run is not None and (ex.needs_embedding() or (refit and ex.approximate)):
            self.embedding_job.start(ex.mode, ex.mu, seed=self._run.config.train.seed)

    @Slot(object)
    def _on_embedding_fitted(self, embedding) -> None:
        if self.explorer.set_embedding(embedding):
            self.scatter.enableAutoRange()  # its own units: show all of it
            self._redraw()

    @Slot(object, object)
    def _on_user_points_placed(self, embedding, placed) -> None:
        self.explorer.set_transformed(embedding, placed)
        self.scatter.set_user_points(self.explorer.project_user_points(self.workspace.user_points))

    @Slot(str)
    def _on_embedding_failed(self, message: str) -> None:
        self.explorer.cancel_embedding()
        self.axes_bar.show_explorer(self.explorer)
        QMessageBox.warning(self, "Projection", f"Could not compute the view: {message}")

    @Slot()
    def _on_embedding_cancelled(self) -> None:
        self.explorer.cancel_embedding()
        self._redraw()

    # -- workspace -----------------------------------------------------------------------------------
    @Slot(object)
    def _on_selected_run_changed(self, run) -> None:
        self._run = run
        self.encoder.cancel_all()  # a result still on its way belongs to the old run
        self.embedding_job.stop()
        if run is None:
            self.explorer.clear()
            self.scatter.clear_points()
            self.traversal.set_inputs(None, None, None, None)
            self.stack.setCurrentIndex(0)
            return
        self.explorer.choose_level(None, False)  # a new run starts at its top level, lower levels at means
        self.stack.setCurrentIndex(1)
        m = run.model
        self.probe_bar.set_classes(
            (list(run.class_names) or [str(i) for i in range(m.num_classes)])[: m.num_classes]
            if m.conditional else None)
        self._start_space()

    def _start_space(self) -> None:
        """Start exploring the selected run in the latent space chosen (its coordinates, KL order, levels,
        codebook), then encode the test split in it."""
        run = self._run
        last = run.history.last or {}
        space = self._space()  # the explorer's coordinates: the model's latent space says which
        self.explorer.start_run(space.dim, space.coordinate_kl(last.get("test_kl_per_dim")))
        self.level_bar.show_space(space)
        self.tools.show_codebook(None if space.codebook is None else space.codebook.cpu().numpy())
        self.scatter.clear_points()
        self.scatter.enableAutoRange()
        self._show_picked()
        self._redraw()
        waits = waits_for_first_epoch(run, self.live.isChecked())
        # the traversal grid at once only when no encoding follows: else the encoding's result draws it (in the
        # KL order), and the grid drawn now would be drawn again in a moment
        self._probe_vector_changed(immediate_traversal=waits)
        if waits:
            # a run just started: its random initial weights have nothing to show yet
            self.status.setText(f"{run.name} is training: its scatter appears when the first epoch ends "
                                "(tick Live to follow it within epochs)")
        else:
            self._request_encoding()

    @Slot(object, bool)
    def _on_level_chosen(self, level, resample_lower: bool) -> None:
        if self._run is None:
            return
        new_level = level != self._space().level
        self.explorer.choose_level(level, resample_lower)
        if new_level:  # other coordinates: a new scatter, the probe at the origin of this level
            self.encoder.cancel_all()
            self.embedding_job.stop()
            self._start_space()
        else:  # the same coordinates, decoded with the levels below resampled or at their means
            self.level_bar.show_space(self._space())
            self._probe_vector_changed(immediate_traversal=True)
            self._show_picked()

    @Slot(object)
    def _on_codes_edited(self, codes) -> None:
        """A cell of the code map took another code: the probe goes to that code grid (one undoable step)."""
        if self._run is None:
            return
        z = self._space().codes_to_latents(torch.as_tensor(codes)[None])[0].cpu().numpy()
        before = self.explorer.snapshot()
        self.go_to_vector(z, "an edited code map")
        self._probe_move_done("Swap a code", before)

    @Slot(object)
    def _on_run_updated(self, run) -> None:
        if run is not self._run:
            return
        self._decode_probe()  # new weights: the same probe decodes to a new image
        self._show_picked()
        self._update_traversal()
        space = self._space()
        if space.codebook is not None:  # new weights, new codebook
            self.tools.codebook.set_codebook(space.codebook.cpu().numpy())
        if not waits_for_first_epoch(run, self.live.isChecked()):
            self._request_encoding()  # the latest weights, re-encoded in the background (latest wins)

    @Slot(bool)
    def _on_live_toggled(self, live: bool) -> None:
        self.workspace.set_live_weights(live)  # a running run publishes its weights within epochs too
        run = self._run
        if live and run is not None and run.status.active:
            self._request_encoding()  # catch up now rather than at the next publication

    @Slot(object)
    def _on_data_changed(self, _data) -> None:
        if self._run is None:
            return
        self.explorer.clear_split()
        self.embedding_job.stop()
        self.scatter.clear_points()
        self._show_picked()
        self._redraw()
        self._request_encoding()

    @Slot(str)
    def _on_decode_device_changed(self, _device: str) -> None:
        if self._run is not None:
            self._probe_vector_changed(immediate_traversal=True)
            self._show_picked()

    # -- encoding the test split -------------------------------------------------------------------
    def _request_encoding(self) -> None:
        run, data = self._run, self.workspace.data
        problem = encoding_problem(run, data)
        if problem:
            self.status.setText(problem)
            return
        model = copy.deepcopy(self.workspace.decode_model(run))
        self._requested_epoch = len(run.history.epochs)
        self.encoder.submit(encode_split, model, data.test_x, data.test_y, CHUNK, self._space(model))  # newest wins
        self.status.setText(f"Encoding {len(data.test_x):,} test images…")

    def _status_text(self) -> str:
        ex = self.explorer
        training = self._run is not None and self._run.status.active
        if ex.weights_epoch:
            epoch = f"weights of epoch {ex.weights_epoch}" + (" (training)" if training else "")
        else:
            epoch = "weights during epoch 1 (live)" if training else "initial weights"
        return f"{ex.point_count:,} test images · {epoch}"

    @Slot(int, object)
    def _on_encoded(self, _ticket: int, result: EncodedSplit | None) -> None:
        # the runner delivers only the newest request's result (cancel_all() on a run change)
        if result is None or self._run is None:
            return
        first = self.explorer.mu is None  # the first scatter of this run (or of this data set)
        if not self.explorer.set_split(result.mu, result.logvar, result.labels, result.kl,
                                       epoch=self._requested_epoch):
            return
        self._redraw()
        if result.code_usage is not None:
            self.tools.codebook.set_usage(result.code_usage)
        if first:
            self.scatter.show_probe_with_points()
        self._show_picked()
        self._update_traversal(immediate=True)
        self.status.setText(self._status_text())
        self._request_embedding()  # a t-SNE / UMAP view chosen and not fitted yet

    @Slot(int, str)
    def _on_encode_failed(self, _ticket: int, message: str) -> None:
        self.status.setText(f"Could not encode the test split: {message}")

    # -- shutting down -----------------------------------------------------------------------------
    @Slot()
    def shutdown(self) -> None:
        """Stop the encoding thread (idempotent); the main window's TaskHub also does it when it closes."""
        self.encoder.shutdown()
        self.embedding_job.shutdown()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)
