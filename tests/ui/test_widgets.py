"""Small shared widgets: the eliding label keeps the whole text and says it in its tooltip when shortened."""
import pytest

from vae_studio.ui.widgets.compact import ElidedLabel


@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")
def test_a_shortened_label_keeps_its_text_and_shows_it_as_tooltip(qtbot):
    label = ElidedLabel("a rather long file name that will not fit.png")
    qtbot.addWidget(label)
    label.show()
    label.resize(400, 20)
    assert label.toolTip() == "" and label.text().endswith("fit.png")
    label.resize(60, 20)
    assert label.text() == "a rather long file name that will not fit.png"  # the whole text, not the shown one
    assert label.toolTip() == label.text()  # hover shows it whole
    label.setToolTip("what this label means")
    assert label.toolTip() == "what this label means"  # an explicit tooltip wins


@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")
def test_a_flow_of_buttons_wraps_to_the_width_and_follows_new_and_longer_buttons(qtbot):
    """The explorer's button rows wrap onto new lines when narrow; the heights they ask for are cached, so a
    new button, or one whose text grows, must still make the row taller."""
    from PySide6.QtWidgets import QPushButton, QWidget

    from vae_studio.ui.widgets.compact import FlowLayout

    box = QWidget()
    qtbot.addWidget(box)
    flow = FlowLayout(box)
    buttons = [QPushButton(f"Button {i}") for i in range(4)]
    for b in buttons:
        flow.addWidget(b)
    box.show()
    one_line = flow.heightForWidth(2000)
    assert flow.heightForWidth(150) > one_line  # narrow: several lines
    width = sum(b.sizeHint().width() for b in buttons) + 3 * 6 + 10  # just wide enough for one line
    assert flow.heightForWidth(width) == one_line
    more = QPushButton("one more button")
    flow.addWidget(more)
    qtbot.waitUntil(more.isVisible)
    assert flow.heightForWidth(width) > one_line
    flow.removeWidget(more)
    more.hide()
    assert flow.heightForWidth(width) == one_line
    buttons[0].setText("a first button whose text has grown")
    assert flow.heightForWidth(width) > one_line
