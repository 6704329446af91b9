"""S4, equivariance-based self-supervised declipping: Figure 5 cells on the synthetic signal model and the
report drawn from the collected rows.

Signals are 1-D float arrays; a clipped measurement carries its threshold mu (its peak magnitude).
"""
from __future__ import annotations

from pathlib import Path

from . import common


def _net_config(a):
    from ..methods.configs import DeclipConfig

    return DeclipConfig(widths=tuple(a.widths), kernel=a.kernel, eq_weight=a.eq_weight, alpha_max=a.alpha_max,
                        stop_gradient=not a.eq_gradient, residual=not a.no_residual, bias=a.bias)


def cmd_s4_synthetic(a):
    from ..experiments.declipping import SyntheticSizes, synthetic_job
    from ..methods.dip import resolve_device

    common.threads(a.threads)
    sizes = SyntheticSizes(length=a.length, band=a.band, train_signals=a.train_signals, test_signals=a.test_signals)
    synthetic_job(a.method, a.d, a.v, sizes, _net_config(a), common.optim_config(a), Path(a.scores),
                  Path(a.checkpoint_dir), resolve_device(a.device), seed=a.data_seed,
                  weights=Path(a.output) if a.output else None)


def cmd_s4_report(a):
    from ..experiments.declipping_report import figure5

    outdir = Path(a.outdir)
    figure5(Path(a.metrics), outdir / "figures" / "figure5.png", outdir / "tables" / "figure5.md", common.run_facts(a))


def add_net_options(p) -> None:
    """Options of the declipping network and of the self-supervised loss (methods.declipping.DeclipConfig)."""
    from ..methods.configs import DeclipConfig

    d = DeclipConfig()
    p.add_argument("--widths", type=int, nargs="+", default=list(d.widths),
                   help="channels per U-Net level; the signal length must be a multiple of 2^levels "
                        "(default: %(default)s)")
    p.add_argument("--kernel", type=int, default=d.kernel, help="convolution width, samples (odd; default: %(default)s)")
    p.add_argument("--eq-weight", type=float, default=d.eq_weight,
                   help="lambda of L_MC + lambda L_EQ (default: %(default)s)")
    p.add_argument("--alpha-max", type=float, default=d.alpha_max,
                   help="equivariance scalings alpha ~ U(1, alpha_max) (default: %(default)s)")
    p.add_argument("--eq-gradient", action="store_true",
                   help="let the gradient flow through x1 = f(y) in L_EQ (default: stopped; see "
                        "restorebench.methods.declipping)")
    p.add_argument("--no-residual", action="store_true",
                   help="the network outputs the estimate itself instead of a correction added to y")
    p.add_argument("--bias", action="store_true", help="give every convolution a bias (paper Fig. 3's biased network)")


def register(sub) -> None:
    from .. import registry

    declippers = registry.names("S4", "declipper")
    p = common.add_command(sub, "s4-synthetic", "S4: one Figure 5 cell -- train (if needed) and score a declipper "
                           "at model dimension d and saturated fraction v", cmd_s4_synthetic,
                           "Signals exactly d-sparse in the DCT (restorebench.data.clipping), each clipped at its own "
                           "threshold for the fraction v; SDR per test signal as tidy rows.")
    p.add_argument("--method", required=True, choices=declippers, help="registered S4 declipper")
    p.add_argument("--d", type=int, required=True, help="model dimension: non-zero DCT coefficients per signal")
    p.add_argument("--v", type=float, required=True, help="saturated fraction of each signal's samples, in (0, 0.5]")
    p.add_argument("--length", type=int, default=256, help="samples per signal (default: %(default)s)")
    p.add_argument("--band", type=float, default=0.125,
                   help="share of the DCT frequencies (lowest first) the d coefficients are drawn from "
                        "(default: %(default)s)")
    p.add_argument("--train-signals", type=int, default=1024, help="training signals (default: %(default)s)")
    p.add_argument("--test-signals", type=int, default=64, help="test signals (default: %(default)s)")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the signal sets (default: %(default)s)")
    p.add_argument("--scores", required=True, help="tidy TSV of SDR per test signal")
    common.add_training_options(p, epochs=20, batch_size=16, optimizer="adam", lr=2e-3, weight_decay=0.0)
    p.set_defaults(output=None)
    for action in p._actions:          # weights are optional here: the untrained declippers write none
        if action.dest == "output":
            action.required = False
            action.help = "final weights (.pt) of a trained declipper (optional)"
    add_net_options(p)

    p = common.add_command(sub, "s4-report", "S4: Figure 5 heatmaps and table from the collected rows", cmd_s4_report)
    p.add_argument("--metrics", required=True, help="collected S4 rows (results/s4/metrics.csv)")
    p.add_argument("--outdir", required=True, help="folder receiving figures/ and tables/")
    common.add_run_facts_option(p)
