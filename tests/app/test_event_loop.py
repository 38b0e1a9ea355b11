"""next_turn: steps run later, in the order they were queued, one per turn of the event loop (what the event
loop has to do in between gets done), and never for a receiver deleted meanwhile."""
from PySide6.QtCore import QObject, QTimer

from vae_studio.app.event_loop import next_turn


def test_steps_run_in_order_one_per_turn_and_skip_deleted_receivers(qtbot):
    owner, gone = QObject(), QObject()
    seen = []

    def step(name):
        def run():
            seen.append(name)
            QTimer.singleShot(0, lambda: seen.append(f"after {name}"))  # work the loop does before the next step
        return run

    next_turn(owner, step("a"))
    next_turn(gone, step("never"))
    next_turn(owner, step("b"))
    next_turn(owner, step("c"))
    assert seen == []  # later, not now
    gone.deleteLater()
    qtbot.waitUntil(lambda: "after c" in seen, timeout=2000)
    assert [s for s in seen if not s.startswith("after")] == ["a", "b", "c"]
    assert seen.index("after a") < seen.index("b") and seen.index("after b") < seen.index("c")
