"""``restorebench bench``: speed and time-to-quality benchmarks (restorebench.bench)."""
from __future__ import annotations

from . import common


def cmd_bench(a):
    # restorebench.bench (not this module) holds the benchmarks; it imports torch, so only here
    from .. import bench as bench_module

    bench_module.run_bench(a)


def register(sub) -> None:
    from .. import registry

    p = common.add_command(sub, "bench", "speed and time-to-quality benchmarks (prints figures)", cmd_bench,
                           "Options marked dip or sar apply to that benchmark only.")
    p.add_argument("what", choices=("dip", "sar", "merlin", "declip", "gpu"), nargs="?", default="dip",
                   help="dip: prior-fitting speed of the suite's loop vs a reference loop (or time to quality); "
                        "sar: focusing, echo simulation and CFAR throughput, DIFNet/PISNet training and "
                        "inference rates; merlin: MERLIN / MERLIN-multitask training steps vs the authors' step; "
                        "declip: declipper training samples/s, inference and A-SPADE seconds per minute of audio; "
                        "gpu: every network's paper-scale training step (FLOPs and activation memory counted on "
                        "the meta device; with CUDA also timed, with peak memory and the paper run's GPU-hours) "
                        "(default: %(default)s)")
    p.add_argument("--config", default="config.yaml",
                   help="gpu: the workflow config whose scales.paper preset is costed (default: %(default)s)")
    p.add_argument("--studies", default="",
                   help="gpu: only these studies, comma-separated (S1,S2,S3,S4; default: all)")
    p.add_argument("--declip-batch", type=int, default=16, help="declip: segments per training step (default: %(default)s)")
    p.add_argument("--declip-segment", type=int, default=16384,
                   help="declip: samples per training segment (default: %(default)s)")
    p.add_argument("--declip-seconds", type=float, default=10.0,
                   help="declip: seconds of generated music the inference and A-SPADE are timed on "
                        "(default: %(default)s)")
    p.add_argument("--merlin-batch", type=int, default=12,
                   help="merlin: patches per training step (default: %(default)s, the authors')")
    p.add_argument("--merlin-size", type=int, default=256,
                   help="merlin: patch side, pixels (default: %(default)s, the authors')")
    p.add_argument("--sar-size", type=int, default=4096,
                   help="sar: side of the square complex64 test scene, pixels (default: %(default)s)")
    p.add_argument("--net-size", type=int, default=512,
                   help="sar: side of the networks' square input, pixels (default: %(default)s)")
    p.add_argument("--net-batch", type=int, default=1, help="sar: images per network batch (default: %(default)s)")
    p.add_argument("--net-iterations", type=int, default=2,
                   help="sar, merlin, gpu: timed training (and inference) steps per network, after one warm-up step "
                        "(default: %(default)s)")
    p.add_argument("--iterations", type=int, default=4,
                   help="dip: timed iterations per loop, after two warm-up iterations (default: %(default)s)")
    p.add_argument("--layout-priors", default="exp-dense",
                   help="dip: priors of the default-vs-plain sweep over geometries (quick; paper STFT at 1, 4, 10 s) "
                        "(default: %(default)s)")
    p.add_argument("--layout-iterations", type=int, default=1,
                   help="dip: timed iterations per path and geometry of that sweep (default: %(default)s)")
    p.add_argument("--priors", default="conv,dilated,exp,exp-dense",
                   help=f"dip: priors to time or fit, comma-separated; registered: "
                        f"{common.listed(registry.names('S2', 'prior'))} (default: %(default)s)")
    p.add_argument("--bins", type=int, default=512,
                   help="dip: frequency bins of the speed test's spectrogram (n_fft = 2 (bins - 1), hop 64 samples) "
                        "(default: %(default)s)")
    p.add_argument("--frames", type=int, default=256,
                   help="dip: frames of the speed test's spectrogram (default: %(default)s)")
    p.add_argument("--threads", type=int, default=0,
                   help="dip: torch CPU threads; 0 = torch's default (default: %(default)s)")
    common.add_device_option(p, "fits (dip) and networks (sar)")
    p.add_argument("--metrics", help="dip: metrics.csv of a run: print its time-to-quality figures instead")
    p.add_argument("--time-to-quality", action="store_true",
                   help="dip: fit embedded clips the workflow does not use, tune the discrepancy rule on one split and "
                        "report every stopping rule's gap to the oracle and iterations used on another")
    p.add_argument("--ttq-noise", default="gaussian,environmental",
                   help="--time-to-quality: noise kinds, comma-separated: gaussian (sigma 0.1), environmental "
                        "(living/traffic at 5-9 dB) (default: %(default)s)")
    p.add_argument("--ttq-iterations", type=int, default=300,
                   help="--time-to-quality: iterations per fit (default: %(default)s)")
    p.add_argument("--ttq-clips", type=int, default=2,
                   help="--time-to-quality: clips per embedded dataset (default: %(default)s)")
    p.add_argument("--ttq-n-fft", type=int, default=254,
                   help="--time-to-quality: STFT size, samples at 16 kHz (default: %(default)s)")
    p.add_argument("--ttq-hop", type=int, default=128,
                   help="--time-to-quality: STFT hop, samples at 16 kHz (default: %(default)s)")
    p.add_argument("--ttq-frames", type=int, default=64,
                   help="--time-to-quality: STFT frames per clip; clips have (frames - 1) x hop samples "
                        "(default: %(default)s)")
    p.add_argument("--ttq-widths", default="18,35,70",
                   help="--time-to-quality: channel widths of the prior U-Net's three levels, comma-separated "
                        "(default: %(default)s)")
    p.add_argument("--es-window", type=int, default=20,
                   help="--time-to-quality: ES-WMV window of the moving variance, iterations (default: %(default)s)")
    p.add_argument("--es-patience", type=int, default=40,
                   help="--time-to-quality: ES-WMV stops after this many iterations without a lower variance "
                        "(default: %(default)s)")
    p.add_argument("--output", help="also write the printed figures as JSON here")
    p.add_argument("--markdown", help="also write the printed figures as Markdown tables here (README links these)")
