"""The main window's menu bar (File, Edit, Training, View, Help) with its shortcuts, and the decoding toolbar.

A mixin of :class:`~vae_studio.ui.main_window.MainWindow` (the actions call the window's own slots, its
training panel and its undo stack); kept apart so the window's file reads as layout and wiring.
"""
from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QComboBox, QLabel


class MenusMixin:
    def _action(self, menu, text, slot, shortcut=None, tip="") -> QAction:
        a = QAction(text, self)
        if shortcut is not None:
            a.setShortcut(shortcut)
        a.setStatusTip(tip)
        a.triggered.connect(slot)
        menu.addAction(a)
        return a

    def _build_actions(self) -> None:
        mb = self.menuBar()
        f = mb.addMenu("&File")
        K = QKeySequence.StandardKey
        self.new_action = self._action(f, "&New run", self.new_run, K.New, "Default settings for a new run")
        self.open_action = self._action(f, "&Open run folder…", self.open_run_dialog, K.Open,
                                        "Open a run saved by VAE Studio")
        # sweeps (ui/run_files.py): every run of a sweep folder, and those of a running sweep as they finish
        self.open_sweep_action = self._action(f, "Open s&weep folder…", self.open_sweep_dialog, None,
                                              "Open every run of a sweep (vae-studio sweep); a sweep still "
                                              "running adds its runs as they finish")
        self.save_action = self._action(f, "&Save run", self.save_run, K.Save,
                                        "Save the current run into its own folder (or choose one)")
        self.save_as_action = self._action(f, "Save run &as…", self.save_run_as, QKeySequence("Ctrl+Shift+S"),
                                           "Save the current run as a new run folder")
        self.export_action = self._action(f, "&Export curves as PNG…", self.export_curves, QKeySequence("Ctrl+E"),
                                          "Save the loss curves shown as a PNG image")
        # -- File > Export model (ui/model_export.py) --
        from .model_export import ModelExporter

        self.model_exporter = ModelExporter(self, self.tasks)
        self.export_model_action = self._action(f, "Export &model…", self.model_exporter.export_selected, None,
                                                "Write the selected run's encoder mean and decoder as ONNX, "
                                                "with a JSON description of its latent space")
        self.recent_menu = f.addMenu("Recent runs")
        f.addSeparator()
        self._action(f, "&Quit", self.close, K.Quit, "Close VAE Studio (a running run is stopped)")
        e = mb.addMenu("&Edit")
        self.undo_action = self.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(K.Undo)
        self.redo_action = self.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence(K.Redo)])
        e.addAction(self.undo_action)
        e.addAction(self.redo_action)
        t = mb.addMenu("&Training")
        tp = self.training
        self.start_action = self._action(t, "&Start", tp.start, QKeySequence("Ctrl+Return"),
                                         "Train a new run with the settings shown")
        self.pause_action = self._action(t, "&Pause / Resume", tp.toggle_pause, QKeySequence("Ctrl+P"),
                                         "Pause the running run, or resume it")
        self.stop_action = self._action(t, "S&top", tp.stop, QKeySequence("Ctrl+."),
                                        "Stop training; the run keeps what it has learnt")
        self.retrain_action = self._action(t, "&Retrain", tp.retrain, QKeySequence("Ctrl+R"),
                                           "A new run with the current settings (e.g. after changing beta)")
        v = mb.addMenu("&View")
        self._action(v, "&Reset layout", self.reset_layout, QKeySequence("Ctrl+Shift+R"),
                     "Put every panel back where it was at first start")
        # -- View > Compare two runs (ui/latent/compare.py) --
        self.compare_action = self._action(v, "&Compare two runs…", self.compare_runs, None,
                                           "Two runs' scatters side by side, aligned, and one image decoded by both")
        v.addSeparator()
        for dock in self.docks.values():
            v.addAction(dock.toggleViewAction())
        h = mb.addMenu("&Help")
        self.help_action = self._action(h, "VAE Studio &Help", self.show_help, K.HelpContents,
                                        "What each panel shows, the objective, where runs are kept")
        self._action(h, "&About VAE Studio", self.about, None, "Versions and devices")
        self._rebuild_recent()

        tb = self.addToolBar("Decoding")
        tb.setObjectName("decodeToolbar")
        tb.addWidget(QLabel(" Decode on: "))
        self.decode_combo = QComboBox()
        self.decode_combo.setObjectName("decodeDevice")
        self.decode_combo.addItem("CPU", "cpu")
        self.decode_combo.setToolTip("Where the latent explorer and sampling decode images (independent of "
                                     "the training device)")
        self.decode_combo.setEnabled(False)
        self.decode_combo.activated.connect(self._on_decode_chosen)
        tb.addWidget(self.decode_combo)
