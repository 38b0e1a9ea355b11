"""What the latent explorer keeps with a run: named bookmarks (probe positions) and named directions.

Saved in the run folder as the optional ``explorer.json`` (see :mod:`.checkpoint`), read back strictly by
:func:`state_from_dict`: a format tag and version, only known fields, names that are short text and unique in
their list, vectors of exactly the run's latent size of finite numbers; anything else is an
:class:`ExplorerStateError` whose one-line message names the field.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

FORMAT = "vae-studio-explorer"
VERSION = 1
MAX_ITEMS = 1000  # bookmarks, and directions, per run
MAX_NAME = 200  # characters of a name (and of a direction's origin)
MAX_ABS = 1e6  # the largest coordinate a saved vector may hold


class ExplorerStateError(ValueError):
    """``explorer.json`` is not what VAE Studio writes; the message names the field."""


def _vector(v) -> tuple[float, ...]:
    return tuple(float(x) for x in np.asarray(v, np.float64).reshape(-1))


@dataclass(frozen=True)
class Bookmark:
    name: str
    z: tuple[float, ...]  # the probe's full latent vector

    @classmethod
    def of(cls, name: str, z) -> "Bookmark":
        return cls(name, _vector(z))

    @property
    def array(self) -> np.ndarray:
        return np.asarray(self.z, np.float32)


@dataclass(frozen=True)
class Direction:
    name: str
    vector: tuple[float, ...]  # the probe moves along base + t * vector
    origin: str = ""  # how it was made, in words ("mean of class a - mean of class b", ...)

    @classmethod
    def of(cls, name: str, vector, origin: str = "") -> "Direction":
        return cls(name, _vector(vector), origin)

    @property
    def array(self) -> np.ndarray:
        return np.asarray(self.vector, np.float32)


@dataclass
class ExplorerState:
    bookmarks: list[Bookmark] = field(default_factory=list)
    directions: list[Direction] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not self.bookmarks and not self.directions

    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": VERSION,
                "bookmarks": [{"name": b.name, "z": list(b.z)} for b in self.bookmarks],
                "directions": [{"name": d.name, "vector": list(d.vector), "origin": d.origin}
                               for d in self.directions]}


def state_from_dict(obj, latent_dim: int) -> ExplorerState:
    """The explorer state in ``obj`` (parsed JSON), checked field by field for a run of ``latent_dim``."""
    if not isinstance(obj, dict):
        raise ExplorerStateError("it is not a JSON object")
    if obj.get("format") != FORMAT:
        raise ExplorerStateError(f"field format must be {FORMAT!r}")
    version = obj.get("version")
    if version != VERSION or isinstance(version, bool):
        raise ExplorerStateError(f"field version is {str(version)[:20]}; this VAE Studio reads version {VERSION}")
    unknown = set(obj) - {"format", "version", "bookmarks", "directions"}
    if unknown:
        raise ExplorerStateError(f"field {sorted(unknown)[0][:40]} is not an explorer field")
    bookmarks = [Bookmark(*_item(e, f"bookmarks[{i}]", ("name", "z"), latent_dim))
                 for i, e in enumerate(_items(obj, "bookmarks"))]
    directions = [Direction(*_item(e, f"directions[{i}]", ("name", "vector", "origin"), latent_dim))
                  for i, e in enumerate(_items(obj, "directions"))]
    for kind, items in (("bookmarks", bookmarks), ("directions", directions)):
        names = [x.name for x in items]
        if len(set(names)) != len(names):
            raise ExplorerStateError(f"field {kind} names {_first_repeat(names)[:40]!r} twice")
    return ExplorerState(bookmarks, directions)


def _items(obj: dict, key: str) -> list:
    items = obj.get(key, [])
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        raise ExplorerStateError(f"field {key} must be a list of at most {MAX_ITEMS} entries")
    return items


def _item(e, where: str, keys: tuple[str, ...], latent_dim: int) -> tuple:
    if not isinstance(e, dict) or set(e) - set(keys) or not {"name", keys[1]} <= set(e):
        raise ExplorerStateError(f"field {where} must be an object with the fields {', '.join(keys)}")
    out = []
    for key in keys:
        v = e.get(key, "")
        if key in ("name", "origin"):
            if not isinstance(v, str) or len(v) > MAX_NAME or (key == "name" and not v.strip()):
                raise ExplorerStateError(f"field {where}.{key} must be text of 1 to {MAX_NAME} characters")
            out.append(v)
        else:
            ok = isinstance(v, list) and len(v) == latent_dim and all(
                isinstance(x, (int, float)) and not isinstance(x, bool) and abs(x) <= MAX_ABS and math.isfinite(x)
                for x in v)
            if not ok:
                raise ExplorerStateError(f"field {where}.{key} must be a list of {latent_dim} finite numbers "
                                         f"(at most {MAX_ABS:g} in size)")
            out.append(tuple(float(x) for x in v))
    return tuple(out)


def _first_repeat(names: list[str]) -> str:
    seen = set()
    for n in names:
        if n in seen:
            return n
        seen.add(n)
    return ""


def unique_name(base: str, taken) -> str:
    """``base`` if it is free, else ``base 2``, ``base 3``... (cut to :data:`MAX_NAME` characters)."""
    base = base.strip()[:MAX_NAME - 6] or "item"
    taken = set(taken)
    if base not in taken:
        return base
    k = 2
    while f"{base} {k}" in taken:
        k += 1
    return f"{base} {k}"
