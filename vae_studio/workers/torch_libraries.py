"""Open torch's shared libraries without holding Python's interpreter lock, before ``import torch``.

``import torch`` spends a few hundred milliseconds in the dynamic loader (the static initialisers of
``libtorch_cpu`` register thousands of operators) inside one call that holds the interpreter lock, so every
other Python thread, the GUI thread included, stops for that long: the window froze for 180-350 ms at launch
while the data loader imported torch in the background. A foreign function called through ctypes runs with
the lock released, so calling libc's ``dlopen`` on the same libraries first does that work beside the GUI;
the import then finds them loaded and only initialises its Python side.

The libraries are opened with the flags torch uses itself (``libtorch_global_deps`` global, the rest local),
so the process ends up as after a plain import. Best effort: on other systems, or when anything is missing,
nothing happens and ``import torch`` does all the work as usual.
"""
from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from pathlib import Path

GLOBAL_DEPS = "libtorch_global_deps.so"  # torch's __init__ opens it with RTLD_GLOBAL before its extension
PYTHON_BINDINGS = "libtorch_python.so"  # what torch._C links: pulls libtorch, libtorch_cpu, libc10


def torch_library_folder() -> Path | None:
    """The folder of torch's shared libraries, found without importing torch (None if torch is absent)."""
    try:
        spec = importlib.util.find_spec("torch")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    folder = Path(spec.origin).parent / "lib"
    return folder if folder.is_dir() else None


def open_torch_libraries(folder: Path | None = None) -> bool:
    """Load torch's libraries with the interpreter lock released (Linux); True if they are now loaded.

    Call it in a background thread before ``import torch``; a no-op once torch is imported. Never raises."""
    if not sys.platform.startswith("linux") or "torch._C" in sys.modules:
        return False
    folder = folder if folder is not None else torch_library_folder()
    if folder is None:
        return False
    try:
        libc = ctypes.CDLL(None)
        dlopen = libc.dlopen
        dlopen.restype = ctypes.c_void_p
        dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
    except (OSError, AttributeError):
        return False
    loaded = True
    for name, scope in ((GLOBAL_DEPS, os.RTLD_GLOBAL), (PYTHON_BINDINGS, os.RTLD_LOCAL)):
        path = folder / name
        if path.is_file():
            # a handle is never closed: the import opens the same files again and keeps them
            loaded = bool(dlopen(os.fsencode(path), scope | os.RTLD_NOW)) and loaded
        elif name == PYTHON_BINDINGS:
            return False
    return loaded
