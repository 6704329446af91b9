# S1's workflow globals and input functions (its rules: workflow/rules/sar_rfi.smk). Snakemake's
# lint wants functions apart from rules; the Snakefile includes this before any study's rules.

S1 = config["scales"][SCALE]["s1"]
S1CFG = config["s1"]
S1_SPLITS = ["train", "test-same", "test-cross"]
S1_TEST_SPLITS = ["test-same", "test-cross"]
# replicates: each draws its own scenes and RFI, tunes its own notch and trains its own networks (seed s);
# every method is scored on every replicate's test scenes
S1_SEEDS = replicates("s1")
S1_UNTRAINED = [m for m in S1_METHODS if m not in S1_TRAINED]
S1_RUN_FACTS = (
    f"Run facts: scale `{SCALE}`, simulated scenes ({S1['train_scenes']} training, {S1['test_scenes']} per "
    f"test set) of {S1['azimuth']}×{S1['range']} pixels, sensors {S1CFG['train_sensor']} / "
    f"{S1CFG['cross_sensor']}, STFT n_fft {S1['n_fft']} hop {S1['hop']}, {epochs_words(S1CFG['training'], S1['epochs'])}, "
    f"DIFNet C={S1['difnet']['channels']} M={S1['difnet']['window']} L={S1['difnet']['levels']}, "
    f"PISNet width {S1['pisnet']['width']}, {DEVICE_FACTS}, {len(S1_SEEDS)} replicate(s) "
    f"(seeds {', '.join(map(str, S1_SEEDS))}: each its own scenes, RFI, notch tuning and trained networks)."
)


def s1_sensor(wc):
    return S1CFG["cross_sensor"] if wc.split == "test-cross" else S1CFG["train_sensor"]


def s1_scenes(wc):
    return S1["train_scenes"] if wc.split == "train" else S1["test_scenes"]


def s1_real_role(wc):
    return "sar_cross" if wc.split == "test-cross" else "sar_same"


def s1_split_inputs(wc):
    if config["data_source"] != "real":
        return []
    return [f"{real_folder(s1_real_role(wc))}/.complete"]


def s1_images_options(wc):
    if config["data_source"] != "real":
        return ""
    role = s1_real_role(wc)
    patterns = " ".join(f"--pattern {quoted(p)}" for p in config["real_data"][role]["patterns"])
    # train and test-same cut their tiles from one folder: each is told how many the other takes
    other = {"train": S1["test_scenes"], "test-same": S1["train_scenes"]}.get(wc.split, 0)
    return f"--images-folder {real_folder(role)} {patterns} --other-split-scenes {other}"


def s1_multiple():
    """Training images are cropped to a size every trained network accepts (registry input_multiple)."""
    import math

    multiples = [registry.get("S1", "rfi", m).input_multiple for m in S1_TRAINED]
    return math.lcm(*(f(s1_method_params(m)) for f, m in zip(multiples, S1_TRAINED) if f))


def s1_method_params(method):
    """A trained S1 method's parameters: its declaration's defaults, then `s1.params.<method>`, then the
    scale preset's sizes (`scales.<scale>.s1.<method>`)."""
    return {**registry.get("S1", "rfi", method).params, **S1CFG["params"].get(method, {}), **S1.get(method, {})}


def s1_model_options(wc):
    return param_options(s1_method_params(wc.model))


def s1_cfar_options():
    c = S1CFG["cfar"]
    return f"--cfar-guard {c['guard']} --cfar-train {c['train']} --cfar-pfa {c['pfa']} --cfar-axes {c['axes']}"


def s1_evaluate_inputs(wc):
    inputs = {"split": f"results/s1/data/seed{wc.seed}/{wc.split}.npz"}
    if wc.method in S1_TRAINED:
        inputs["checkpoint"] = f"results/s1/models/{wc.method}/seed{wc.seed}.pt"
    # every method: the shared pulse detector (and, for a calibrated one, its tuned rule) lives in it
    inputs["calibration"] = s1_calibration(wc.seed)
    return inputs


def s1_calibration(seed):
    """A replicate's fixed rules tuned on its training split: the pulse detector, the notch's P_fa, the
    position mask's bins."""
    return f"results/s1/models/calibration/seed{seed}.json"


# the tuned notch's calibration, when the run has a calibrated notch (its P_fa and false alarms go in the tables)
def s1_input_option(name, option=None):
    """A params function: `--option <input.name>` when the job has that input, else nothing."""
    return lambda wc, input: f"--{option or name} {input[name]}" if name in input.keys() and input[name] else ""


# the tables and claims pages state the first replicate's tuning facts
S1_CALIBRATION = [s1_calibration(S1_SEEDS[0])]

# Figures 6-9 show the methods; the oracles' ceilings are in the tables
S1_FIGURE_METHODS = [m for m in S1_METHODS if registry.get("S1", "rfi", m).paper != "oracle"]


S1_SCORES = [f"results/s1/scores/{split}/{m}/seed{s}.tsv" for split in S1_TEST_SPLITS for m in S1_METHODS
             for s in S1_SEEDS]


def s1_examples(split):
    """The figures' example arrays: the first replicate's."""
    return {m: f"results/s1/scores/{split}/{m}/seed{S1_SEEDS[0]}.examples.npz" for m in S1_FIGURE_METHODS}


def s1_example_options(wc, input):
    return " ".join(f"--example {m}={input[m]}" for m in S1_FIGURE_METHODS)


S1_TRAIN_BENCHMARKS = [f"results/benchmarks/s1_train/{m}/seed{s}.tsv" for m in S1_TRAINED for s in S1_SEEDS]
S1_FIGURES = [
    "results/s1/figures/figure6_spectrograms_same.png",
    "results/s1/figures/figure7_images_same.png",
    "results/s1/figures/figure8_spectrograms_cross.png",
    "results/s1/figures/figure9_images_cross.png",
    "results/s1/figures/per_sir.png",
]
