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
