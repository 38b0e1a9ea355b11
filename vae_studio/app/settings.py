"""Reading the user's settings without trusting them.

``QSettings.value()`` returns whatever was stored: a string where geometry bytes belong, a list, a rect, a
100,000-deep JSON list, 200,000 recent entries. Each reader here checks the type and the size, logs and
ignores what does not fit, so the window always opens (with defaults where needed); the window writes its
settings back clean when it closes.
"""
from __future__ import annotations

import json
import logging

from PySide6.QtCore import QByteArray, QSettings

log = logging.getLogger(__name__)

MAX_STATE_BYTES = 1 << 20  # window geometry and dock state are a few hundred bytes
MAX_RECENT_TEXT = 64 * 1024  # the recent-runs list as stored (JSON)
MAX_PATH_CHARS = 4096


def read_bytes(key: str, settings: QSettings | None = None) -> QByteArray | None:
    """Saved geometry or state: a QByteArray of sane size, else None (logged)."""
    value = (settings or QSettings()).value(key)
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        value = QByteArray(bytes(value))
    if not isinstance(value, QByteArray) or not 0 < value.size() <= MAX_STATE_BYTES:
        log.warning("ignoring setting %s: %s is not saved window state", key, type(value).__name__)
        return None
    return value


def read_recent(key: str, limit: int, settings: QSettings | None = None) -> list[str]:
    """The recent-runs list: at most ``limit`` distinct folder paths; anything malformed is dropped (logged)."""
    raw = (settings or QSettings()).value(key, "[]")
    if not isinstance(raw, str) or len(raw) > MAX_RECENT_TEXT:
        log.warning("ignoring setting %s: not a short JSON text", key)
        return []
    try:
        items = json.loads(raw)
    except (ValueError, RecursionError):
        log.warning("ignoring setting %s: not valid JSON", key)
        return []
    if not isinstance(items, list):
        return []
    paths: list[str] = []
    for p in items:
        if isinstance(p, str) and 0 < len(p) <= MAX_PATH_CHARS and "\0" not in p and p not in paths:
            paths.append(p)
            if len(paths) == limit:
                break
    return paths


def write_recent(key: str, paths: list[str], settings: QSettings | None = None) -> None:
    (settings or QSettings()).setValue(key, json.dumps(list(paths)))
