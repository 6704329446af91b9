"""The two matplotlib helpers every study's figures use: a headless pyplot and an atomic save."""
from __future__ import annotations

from pathlib import Path

from ..files import atomic_output


def pyplot():
    """matplotlib.pyplot on the Agg backend (jobs run without a display)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, output: Path, dpi: int = 110) -> None:
    """Write ``fig`` to ``output`` (format from its suffix) atomically: no half-written figure survives."""
    output = Path(output)
    with atomic_output(output, suffix=output.suffix) as tmp:
        fig.savefig(tmp, dpi=dpi, format=output.suffix.lstrip("."))
