# S4's workflow globals and input functions (its rules: workflow/rules/declipping.smk). Snakemake's
# lint wants functions apart from rules; the Snakefile includes this before any study's rules.

S4 = config["scales"][SCALE]["s4"]
S4CFG = config["s4"]
S4_FIGURE5 = with_floors("S4", "declipper", registered("S4", "declipper", "s4.figure5", S4CFG["figure5"]))
S4_TRAINED = [m for m in registry.names("S4", "declipper") if registry.get("S4", "declipper", m).trained]
# Figure 5's and the toy's networks: the one S4 training loop at their own rate (docs/s4.md)
S4_SYNTHETIC_TRAINING = {**S4CFG["training"], "learning_rate": S4CFG["synthetic_learning_rate"]}
S4_D = [str(d) for d in S4["d"]]
# replicates of the music table and the toy: each its own recordings or signals and training seed (Figure 5
# trains one network per cell, on the run's seed)
S4_SEEDS = replicates("s4")
S4_TOY_SCORES = [f"results/s4/toy/seed{s}.tsv" for s in S4_SEEDS]
S4_V = [f"{v:g}" for v in S4["saturated_fractions"]]
S4_RUN_FACTS = (
    f"Run facts: scale `{SCALE}`, Figure 5 on {S4['train_signals']} training / {S4['test_signals']} test "
    f"sparse-dct signals of {S4['length']} samples (d among the lowest {S4CFG['band']:g} of the DCT), "
    f"U-Net widths {S4['widths']} (kernel {S4['kernel']}, bias-free), "
    f"{epochs_words(S4_SYNTHETIC_TRAINING, S4['epochs'], math.ceil(S4['train_signals'] / S4['batch_size']))}, "
    f"learning rate {S4_SYNTHETIC_TRAINING['learning_rate']:g}, batch "
    f"{S4['batch_size']}, L_EQ weight {S4CFG['eq_weight']}, alpha ~ U(1, {S4CFG['alpha_max']}), {DEVICE_FACTS}; "
    f"toy and music table: {len(S4_SEEDS)} replicate(s) (seeds {', '.join(map(str, S4_SEEDS))}: each its own "
    f"signals or recordings and training seed)."
)
S4_FIGURE5_SCORES = [f"results/s4/figure5/{m}/d{d}/v{v}.tsv" for m in S4_FIGURE5 for d in S4_D for v in S4_V]
S4_FIGURES = ["results/s4/figures/figure5.png", "results/s4/figures/figure3_toy.png", "results/s4/figures/example.png"]
S4_TABLES = ["results/s4/tables/figure5.md", "results/s4/tables/music.md"]
S4_TRAIN_BENCHMARKS = [
    f"results/benchmarks/s4_figure5/{m}/d{d}/v{v}.tsv" for m in S4_FIGURE5 if m in S4_TRAINED for d in S4_D for v in S4_V
] + [f"results/benchmarks/s4_toy/seed{s}.tsv" for s in S4_SEEDS]


def s4_net_options(sizes=None):
    """The declipper's CLI options: widths and kernel of ``sizes`` (default: the Figure 5 sizes), loss from s4."""
    sizes = sizes or S4
    return (
        f"--widths {' '.join(map(str, sizes['widths']))} --kernel {sizes['kernel']} --eq-weight {S4CFG['eq_weight']} "
        f"--alpha-max {S4CFG['alpha_max']}" + (" --eq-gradient" if S4CFG["eq_gradient"] else "")
        + ("" if S4CFG["residual"] else " --no-residual")
    )


def s4_synthetic_options(data_seed=config["seed"]):
    """The synthetic signals' options; ``data_seed`` draws them (the run's seed for Figure 5, the replicate's
    for the toy)."""
    return (
        f"--length {S4['length']} --band {S4CFG['band']} --train-signals {S4['train_signals']} "
        f"--test-signals {S4['test_signals']} --data-seed {data_seed}"
    )

S4M = S4["music"]
S4MCFG = S4CFG["music"]
S4_MUSIC_METHODS = with_floors("S4", "declipper", registered("S4", "declipper", "s4.music.methods", S4MCFG["methods"]))
S4_REAL = config["data_source"] == "real"
# the files' names: embedded corpus names, or real_data keys (whose entries give the dataset's name)
S4_MUSIC_DATASETS = list(S4MCFG["real_datasets"] if S4_REAL else S4MCFG["datasets"])
if S4_REAL:
    for _role in S4_MUSIC_DATASETS:
        if _role not in config["real_data"]:
            raise ValueError(f"s4.music.real_datasets: {_role!r} is not a real_data entry "
                             f"(entries: {', '.join(config['real_data'])})")
        if "splits" not in config["real_data"][_role]:
            raise ValueError(f"real_data.{_role}: the music table needs its own train/test division "
                             f"(splits: {{train: [globs], test: [globs]}}) so that no recording is trained on and scored")


def s4_dataset_name(dataset):
    return config["real_data"][dataset]["name"] if S4_REAL else dataset


def s4_split_patterns(wc):
    return " ".join(f"--pattern {quoted(p)}" for p in config["real_data"][wc.dataset]["splits"][wc.split])


S4_MUSIC_FRACTIONS = " ".join(f"{v:g}" for v in S4MCFG["fractions"])
S4_MUSIC_SCORES = [f"results/s4/music/{m}/seed{s}.tsv" for m in S4_MUSIC_METHODS for s in S4_SEEDS]


def s4_music_data(split):
    """A replicate's recordings of every dataset (a callable of the wildcards, for input)."""
    return lambda wc: [f"results/s4/data/seed{wc.seed}/{dataset}-{split}.npz" for dataset in S4_MUSIC_DATASETS]
# the example figure shows the paper's declipper when the table has it
S4_EXAMPLE_METHOD = "mc-eq" if "mc-eq" in S4_MUSIC_METHODS else S4_MUSIC_METHODS[-1]
def s4_music_steps_per_epoch():
    """Optimiser steps per epoch of a music network: the training recordings of every dataset less the ones
    held out for validation (methods.training.holdout's count), each cut into segments
    (data.clipping.segments), in batches."""
    recordings = S4M["train_clips"] * len(S4_MUSIC_DATASETS)
    share = S4CFG["training"]["validation_share"]
    held = min(recordings - 1, max(1, round(share * recordings))) if share > 0 and recordings > 1 else 0
    per_recording = len(range(0, S4M["clip_samples"] - S4M["segment"] + 1, S4M["hop"]))
    return math.ceil((recordings - held) * per_recording / S4M["batch_size"])


S4_MUSIC_RUN_FACTS = (
    f" Music table: {S4M['train_clips']} training and {S4M['test_clips']} test recordings of "
    f"{S4M['clip_samples'] / 16000:g} s per dataset ({', '.join(map(s4_dataset_name, S4_MUSIC_DATASETS))}), segments of {S4M['segment']} "
    f"samples, U-Net widths {S4M['widths']} (kernel {S4M['kernel']}), "
    f"{epochs_words(S4CFG['training'], S4M['epochs'], s4_music_steps_per_epoch())}, learning rate "
    f"{S4CFG['training']['learning_rate']:g}, batch {S4M['batch_size']}."
)
S4_TRAIN_BENCHMARKS += [f"results/benchmarks/s4_music_train/{m}/seed{s}.tsv" for m in S4_MUSIC_METHODS if m in S4_TRAINED
                        for s in S4_SEEDS]
