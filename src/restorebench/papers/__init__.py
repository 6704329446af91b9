"""The papers' reference numbers, one data file per paper, shown only beside ours and marked as the paper's.

``reference(study)`` loads ``<study>.yaml`` from this folder, named by the study's one name
(restorebench.studies: ``sar_rfi`` holds DIFNet's numbers, ``audio_priors`` the deep audio priors paper's,
``merlin_multitask`` MERLIN-multitask's; the declipping paper publishes no table we reproduce). Each file says where every number comes from
(table, rows, columns); tests/test_papers.py checks that each file lines up with the rows and columns of the
table the suite draws it into.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

import yaml

PAPERS = ("sar_rfi", "audio_priors", "merlin_multitask")


@lru_cache(maxsize=None)
def reference(paper: str) -> dict:
    """The numbers of the paper a study reproduces (``paper``: the study's name)."""
    if paper not in PAPERS:
        raise ValueError(f"no reference numbers for paper {paper!r}; known studies: {', '.join(PAPERS)}")
    return yaml.safe_load(resources.files(__package__).joinpath(f"{paper}.yaml").read_text())
