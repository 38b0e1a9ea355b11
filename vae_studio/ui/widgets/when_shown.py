"""Refreshes that wait while a view is out of sight.

The sampling and metrics panels are tabbed behind the latent explorer at first: at every epoch's end, at
every Retrain, they decoded grids and refilled tables nobody could see, in the same moment as the panel on
screen (10-25 ms of the GUI thread each time). :class:`WhenShown` runs a view's refresh at once while the
view is on screen, and holds it while it is not; when the view comes on screen, each refresh held runs once,
in the order first asked. Whoever places the view says when it is on screen (the main window follows its
docks' ``visibilityChanged``: a dock tabbed behind another is not on screen, though Qt calls it visible);
a view nobody tells is taken to be on screen, and refreshes at once.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Slot


class WhenShown(QObject):
    def __init__(self, view: QObject):
        super().__init__(view)  # goes with its view
        self.on_screen = True
        self._held: dict = {}  # refresh -> None: a set that keeps the order

    @property
    def holding(self) -> bool:
        """Whether refreshes wait for the view to come on screen."""
        return bool(self._held)

    def run(self, refresh) -> None:
        """Call ``refresh()`` now if the view is on screen, else once it is."""
        if self.on_screen:
            refresh()
        else:
            self._held.setdefault(refresh, None)

    @Slot(bool)
    def set_on_screen(self, on_screen: bool) -> None:
        self.on_screen = on_screen
        if on_screen and self._held:
            held, self._held = list(self._held), {}
            for refresh in held:
                refresh()
