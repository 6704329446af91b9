"""The papers' reference numbers, one data file per paper, shown only beside ours and marked as the paper's.

``reference(paper)`` loads ``<paper>.yaml`` from this folder. Each file says where every number comes from
(table, rows, columns); tests/test_papers.py checks that each file lines up with the rows and columns of the
table the suite draws it into.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

import yaml

PAPERS = ("deep_audio_priors", "difnet", "merlin_multitask")


@lru_cache(maxsize=None)
def reference(paper: str) -> dict:
    if paper not in PAPERS:
        raise ValueError(f"no reference numbers for paper {paper!r}; known: {', '.join(PAPERS)}")
    return yaml.safe_load(resources.files(__package__).joinpath(f"{paper}.yaml").read_text())
