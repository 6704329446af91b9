"""The ``restorebench`` console script: one subcommand per workflow step, plus user-facing tools.

Workflow steps take every input, output and parameter explicitly, so each reruns alone without
Snakemake. User tools (``score-audio``, ``restore-audio``) print JSON on stdout. Known failures (bad
audio, missing tools, checksum mismatches) print one line naming the file or key and exit with status 2.

One module per study registers its steps and tools, named as the study (restorebench.studies):
:mod:`.audio_priors` (S2), :mod:`.sar_rfi` (S1 and the SAR RFI tools), :mod:`.merlin_multitask` (S3 and
despeckle / map-buildings), :mod:`.declipping` (S4 and declip); :mod:`.tools` has the user tools and
housekeeping steps, :mod:`.bench` the benchmarks; shared options live in :mod:`.common`. Science modules are imported inside the command functions, so building the parser (and
``--help``) does not import torch.
"""
from __future__ import annotations

import argparse
import sys

from . import audio_priors, bench, common, declipping, merlin_multitask, sar_rfi, tools

COMMAND_MODULES = (audio_priors, sar_rfi, merlin_multitask, declipping, tools, bench)


def build_parser() -> argparse.ArgumentParser:
    from .. import registry

    registry.load_plugins()
    parser = argparse.ArgumentParser(prog="restorebench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                help="one of the commands below; restorebench COMMAND --help describes its options")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ..data.tools import MissingToolError

    try:
        common.check_outputs_writable(args)
        if getattr(args, "deterministic", False):
            from ..devices import make_deterministic
            make_deterministic()             # before the command's first CUDA operation
        status = args.func(args)            # a command may return its own exit status (compare-runs: 1)
    # audio_io.AudioInputError and metrics.audio.MetricError are ValueErrors: caught here without importing
    # their modules, which would cost every workflow step scipy.signal's start-up
    # OSError: an output folder that cannot be created or written, a file that vanished (with its path)
    except (MissingToolError, OSError, ValueError) as err:
        print(f"restorebench {args.command}: error: {err}", file=sys.stderr)
        return 2
    return status if isinstance(status, int) else 0
