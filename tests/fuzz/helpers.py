"""Shared by the fuzz tests: every hostile case must end in a clean refusal or a correct result, quickly."""
import hashlib
import json
import threading

CASE_SECONDS = 30  # a case still running after this is a hang


def within(fn, seconds=CASE_SECONDS):
    """fn() in a thread: its value, or the exception it raised; fails the test if fn blocks."""
    out = {}

    def target():
        try:
            out["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed back to the test
            out["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"still running after {seconds} s (a hang)"
    return out.get("value"), out.get("error")


def assert_clean_refusal(error, kinds, must_name=()):
    """A refusal of one of ``kinds`` with a one-line message naming one of ``must_name`` (if given)."""
    assert isinstance(error, kinds), f"{type(error).__name__}: {error}"
    msg = str(error)
    assert msg and "\n" not in msg and len(msg) < 600, msg
    if must_name:
        assert any(n in msg for n in must_name), msg


def rebind(folder):
    """Rewrite a run folder's manifest to match its files as they are now, so that a damaged file meets the
    checks beneath the manifest (as it would if the damage happened before the save computed the hashes)."""
    path = folder / "manifest.json"
    m = json.loads(path.read_text())
    for name in m["files"]:
        p = folder / name
        if p.is_file():
            raw = p.read_bytes()
            m["files"][name] = {"bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}
    path.write_text(json.dumps(m))
