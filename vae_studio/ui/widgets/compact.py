"""Small layout helpers that let the panels shrink to a laptop screen and grow on a large one.

* :class:`FlowLayout` lays its items out left to right and wraps onto the next line when the row is too
  narrow (Qt's flow-layout example, with height-for-width), so a row of controls needs only the width of its
  widest item.
* :class:`ElidedComboBox` draws a long current text shortened with "…" instead of cutting it off, and keeps
  the whole text in its tooltip; :func:`compact_combo` turns that on with a size in characters.
* :class:`ElidedLabel` is a one-line label that shortens its text to the width it gets (full text as tooltip).
* :class:`StatusLines` is a status text that is always the same number of lines tall, so that a new message
  never moves (and repaints) what lies below it.
* :func:`labelled` keeps a caption and its control together on one line of a flow layout.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QLayout, QSizePolicy, QStyle,
                               QStyleOptionComboBox, QStylePainter, QWidget)
from superqt import QElidingLabel


class FlowLayout(QLayout):
    """Items left to right, wrapping onto new lines; the minimum width is that of the widest item."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 6, vspacing: int = 4):
        super().__init__(parent)
        self._items = []
        self._hspace, self._vspace = spacing, vspacing
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item) -> None:  # noqa: N802 - Qt API
        self._items.append(item)
        self.invalidate()

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int):  # noqa: N802
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int):  # noqa: N802
        if not 0 <= index < len(self._items):
            return None
        item = self._items.pop(index)
        self.invalidate()
        return item

    def expandingDirections(self):  # noqa: N802
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 - asked hundreds of times per relayout: cached
        cache = self.__dict__.setdefault("_heights", {})
        if width not in cache:
            cache[width] = self._do_layout(QRect(0, 0, width, 0), apply=False)
        return cache[width]

    def invalidate(self) -> None:  # an item was added or changed its size hint
        self.__dict__.pop("_heights", None)
        super().invalidate()

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802
        super().setGeometry(rect)
        self._do_layout(rect, apply=True)

    def sizeHint(self) -> QSize:  # noqa: N802 - everything on one line
        m = self.contentsMargins()
        items = [i for i in self._items if not i.isEmpty()]
        w = sum(i.sizeHint().width() for i in items) + self._hspace * max(0, len(items) - 1)
        h = max([i.sizeHint().height() for i in items] + [0])
        return QSize(w + m.left() + m.right(), h + m.top() + m.bottom())

    def minimumSize(self) -> QSize:  # noqa: N802 - the widest item
        size = QSize()
        for item in self._items:
            if not item.isEmpty():
                size = size.expandedTo(item.minimumSize())
        m = self.contentsMargins()
        return size + QSize(m.left() + m.right(), m.top() + m.bottom())

    def _do_layout(self, rect: QRect, apply: bool) -> int:
        m = self.contentsMargins()
        area = rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom())
        x, y, line_h = area.x(), area.y(), 0
        line: list = []

        def place(items, top, height):
            for item, px, size in items:
                # centre each item vertically on its line
                item.setGeometry(QRect(QPoint(px, top + (height - size.height()) // 2), size))

        for item in self._items:
            if item.isEmpty():
                continue
            size = item.sizeHint().boundedTo(QSize(area.width(), 1 << 20)).expandedTo(item.minimumSize())
            if line and x + size.width() > area.right() + 1:
                if apply:
                    place(line, y, line_h)
                x, y, line_h, line = area.x(), y + line_h + self._vspace, 0, []
            line.append((item, x, size))
            x += size.width() + self._hspace
            line_h = max(line_h, size.height())
        if apply and line:
            place(line, y, line_h)
        return y + line_h - rect.y() + m.bottom()


def hint_label(text: str, tooltip: str = "") -> QLabel:
    """A grey, wrapping line that explains the controls next to it (the whole story in its tooltip)."""
    label = QLabel(text)
    label.setToolTip(tooltip)
    label.setStyleSheet("color: gray")
    label.setWordWrap(True)
    return label


def labelled(text: str, widget: QWidget, tooltip: str | None = None) -> QWidget:
    """``text`` and ``widget`` side by side in one widget (so that a flow layout keeps them together)."""
    box = QWidget()
    lay = QHBoxLayout(box)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(4)
    label = QLabel(text)
    label.setBuddy(widget)
    tip = tooltip or (widget.base_tool_tip() if isinstance(widget, ElidedComboBox) else widget.toolTip())
    if tip:
        label.setToolTip(tip)
    lay.addWidget(label)
    lay.addWidget(widget)
    return box


def row_widget(*widgets: QWidget, stretch: bool = False) -> QWidget:
    """Widgets side by side in one widget (kept together on a line of a flow layout)."""
    box = QWidget()
    lay = QHBoxLayout(box)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(4)
    for w in widgets:
        lay.addWidget(w)
    if stretch:
        lay.addStretch(1)
    return box


class ElidedComboBox(QComboBox):
    """A combo box that asks for the width of its longest item but can shrink to ``min_chars`` characters;
    then its current text is shortened with "…", and the tooltip shows it whole (followed by the tooltip set
    with :meth:`setToolTip`)."""

    def __init__(self, parent=None, min_chars: int = 12):
        super().__init__(parent)
        self._base_tip = ""
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(min_chars)
        self.currentIndexChanged.connect(self._update_tip)

    def setToolTip(self, text: str) -> None:  # noqa: N802 - Qt API
        self._base_tip = text
        self._update_tip()

    def sizeHint(self) -> QSize:  # noqa: N802 - wide enough for the longest item; the minimum stays compact
        hint = super().sizeHint()
        fm = self.fontMetrics()
        chrome = hint.width() - self.minimumContentsLength() * fm.horizontalAdvance("x")
        widest = max([fm.horizontalAdvance(self.itemText(i)) for i in range(self.count())] + [0])
        return QSize(max(hint.width(), chrome + widest), hint.height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return super().sizeHint()

    def base_tool_tip(self) -> str:
        return self._base_tip

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ToolTip:  # the current text may have changed with signals blocked
            self._update_tip()
        return super().event(event)

    def _update_tip(self, *_):
        text = self.currentText()
        tip = "\n\n".join(t for t in (text, self._base_tip) if t)
        super().setToolTip(tip)

    def paintEvent(self, _event) -> None:  # noqa: N802
        painter = QStylePainter(self)
        opt = QStyleOptionComboBox()
        self.initStyleOption(opt)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, opt)
        field = self.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, opt,
                                            QStyle.SubControl.SC_ComboBoxEditField, self)
        room = field.width() - 4
        if not opt.currentIcon.isNull():
            room -= opt.iconSize.width() + 4
        opt.currentText = self.fontMetrics().elidedText(opt.currentText, Qt.TextElideMode.ElideRight, max(room, 8))
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, opt)


class ElidedLabel(QElidingLabel):
    """superqt's one-line eliding label (``text()`` is the full text; it shortens with "…" to the width it
    gets), plus: the full text is the tooltip while it is shortened (unless a tooltip is set), and it can
    shrink to ``min_chars`` characters."""

    def __init__(self, text: str = "", parent=None, min_chars: int = 6):
        super().__init__(parent)
        self._base_tip = ""
        self._min_chars = min_chars
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt API
        if (text or "") == self.text() and self.isVisible():
            return  # no relayout of the window for the same text (the explorer sets it on every probe move)
        super().setText(text or "")
        self.updateGeometry()
        self._sync_tooltip()

    def setToolTip(self, text: str) -> None:  # noqa: N802 - shown instead of the full text
        self._base_tip = text or ""
        self._sync_tooltip()

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(self.fontMetrics().horizontalAdvance(self.text()) + 4, super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(min(self.fontMetrics().averageCharWidth() * self._min_chars, self.sizeHint().width()),
                     super().minimumSizeHint().height())

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._sync_tooltip()

    def _sync_tooltip(self) -> None:
        shortened = QLabel.text(self) != self.text()
        QLabel.setToolTip(self, getattr(self, "_base_tip", "") or (self.text() if shortened else ""))


def compact_combo(combo: QComboBox, min_chars: int) -> QComboBox:
    """Let ``combo`` be as narrow as ``min_chars`` characters (its popup still shows whole items)."""
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(min_chars)
    return combo


class StatusLines(QElidingLabel):
    """A grey status text, always ``lines`` lines tall and as wide as the layout makes it: a text that needs more
    lines is shortened with "…" (whole in the tooltip). A label that grew and shrank with its message moved the
    plot below it, which then repainted in full, at every epoch of a run."""

    def __init__(self, lines: int = 2, parent=None):
        super().__init__(parent)
        self._lines = lines
        self.setWordWrap(True)
        self.setStyleSheet("color: gray")
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self._fit_height()

    def setText(self, text: str) -> None:  # noqa: N802 - Qt API
        super().setText(text or "")
        self._sync_tooltip()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._sync_tooltip()

    def changeEvent(self, event) -> None:  # noqa: N802
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self._fit_height()

    def _fit_height(self) -> None:
        self.setFixedHeight(self.fontMetrics().lineSpacing() * self._lines + 2)

    def _sync_tooltip(self) -> None:
        QLabel.setToolTip(self, self.text() if QLabel.text(self) != self.text() else "")
