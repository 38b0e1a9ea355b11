"""`vae-studio datasets`: the data sets and whether they are available here."""
from __future__ import annotations


def add_parser(sub) -> None:
    d = sub.add_parser("datasets", help="list data sets and whether they are available here")
    d.add_argument("--data-root", default=None)
    d.set_defaults(func=run)


def run(a) -> int:
    from ..core.data import list_datasets

    for info in list_datasets(a.data_root):
        state = "available" if info.available else f"unavailable: {info.reason}"
        if info.needs_path:
            state = "needs --data-root PATH"
        print(f"{info.name:16s} {info.title}  [{state}]")
    return 0
