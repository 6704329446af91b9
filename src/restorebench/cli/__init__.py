"""The ``restorebench`` console script: one subcommand per workflow step, plus user-facing tools.

Workflow steps take every input, output and parameter explicitly, so each reruns alone without
Snakemake. User tools (``score-audio``, ``restore-audio``) print JSON on stdout. Known failures (bad
audio, missing tools, checksum mismatches) print one line naming the file or key and exit with status 2.

One module per concern registers its subcommands: :mod:`.s2_audio_priors` (S2 steps), :mod:`.s1_rfi` (S1 steps
and the SAR tools), :mod:`.tools` (user tools and housekeeping steps), :mod:`.bench`; shared options live in
:mod:`.common`. Science modules are imported inside the command functions, so building the parser (and
``--help``) does not import torch.
"""
from __future__ import annotations

import argparse
import sys

from . import bench, common, s1_rfi, s2_audio_priors, s3_merlin, s4_declip, tools

COMMAND_MODULES = (s2_audio_priors, s1_rfi, s3_merlin, s4_declip, tools, bench)


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
