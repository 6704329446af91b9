"""The four studies, each declared once: its id, its one name, the registry slot its methods fill, its
title and what the items of its verdicts are.

A study's **id** (``S1`` ... ``S4``) keys its config block (``s1:``), its results folder (``results/s1``),
its registry entries and its rows' ``study`` column. Its **name** is the one name of its code and data:
``experiments/<name>.py`` (steps) and ``experiments/<name>_report.py`` (tables, figures, claims),
``cli/<name>.py`` (its subcommands), ``workflow/rules/<name>.smk`` (its rules and workflow globals) and, where
the paper gives numbers, ``papers/<name>.yaml``. A fifth study adds one entry here and those files.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Study:
    id: str               # "S1": config block, results folder, registry study, rows' study column
    name: str             # module, CLI module, rule file and papers file name
    slot: str             # the registry slot its compared methods fill
    title: str            # how its pages are headed
    item_noun: str        # what the items its verdicts pair on are

    @property
    def key(self) -> str:
        """The config block and results folder: ``s1``."""
        return self.id.lower()

    @property
    def claims_title(self) -> str:
        return f"{self.id} {self.title}: which of the paper's claims held on this run"

    def label(self, method: str) -> str:
        """A method's label in tables and legends (its registry declaration's; the name if unregistered)."""
        from . import registry

        return registry.label(self.id, self.slot, method)


STUDIES = {s.id: s for s in (
    Study("S1", "sar_rfi", "rfi", "SAR RFI suppression (DIFNet)", "test scenes"),
    Study("S2", "audio_priors", "prior", "deep audio priors", "clips"),
    Study("S3", "merlin_multitask", "model", "MERLIN multitask", "test area"),
    Study("S4", "declipping", "declipper", "equivariant declipping", "test items"),
)}


def study(study_id: str) -> Study:
    if study_id not in STUDIES:
        raise ValueError(f"unknown study {study_id!r}; the studies: {', '.join(STUDIES)}")
    return STUDIES[study_id]
