"""Live hyper-parameter changes of a run, in words: what was in force before a change, and how to say it.
Plain Python (no torch), so the views can import it before torch is loaded."""
from __future__ import annotations


def previous_values(changes: list[dict], change: dict, beta: float, lr: float) -> dict:
    """The beta and lr in force before ``change`` (a row of ``changes``): the row before it, else the
    starting ``beta`` and ``lr``."""
    earlier = [c for c in changes if c["step"] < change["step"]]
    return earlier[-1] if earlier else {"beta": beta, "lr": lr}


def describe_change(before: dict, after: dict, short: bool = False) -> str:
    """'β 1 → 4', 'learning rate 0.001 → 0.0005' or both ('β 1→4' and 'lr …' when ``short``)."""
    arrow, lr_name = ("→", "lr") if short else (" → ", "learning rate")
    parts = []
    if after["beta"] != before["beta"]:
        parts.append(f"β {before['beta']:g}{arrow}{after['beta']:g}")
    if after["lr"] != before["lr"]:
        parts.append(f"{lr_name} {before['lr']:g}{arrow}{after['lr']:g}")
    return ", ".join(parts) or "no change"
