"""Which two runs can be put side by side (the comparison window, ui/latent/compare.py)."""
from __future__ import annotations

from .explorer import encoding_problem


def comparison_problem(run_a, run_b, data) -> str:
    """Why runs ``run_a`` and ``run_b`` cannot be compared on the loaded ``data`` ("" when they can): both
    must have been trained on the same data set (by its registry name), and the loaded data set must fit
    both models (the test split of the loaded data is what they encode)."""
    if run_a is None or run_b is None:
        return "Choose two runs to compare."
    if run_a is run_b:
        return "Choose two different runs."
    if run_a.config.data.dataset != run_b.config.data.dataset:
        return (f"{run_a.name} and {run_b.name} were trained on different data sets "
                f"({run_a.config.data.dataset}, {run_b.config.data.dataset}): compare runs of the same data.")
    for run in (run_a, run_b):
        problem = encoding_problem(run, data)
        if problem:
            return f"{run.name}: {problem}"
    return ""
