# Shared settings derived from the validated config: the scale preset, paths, run facts.
import json
import shlex

from restorebench.experiments.audio_priors_tasks import LONG_ROLES, TASK_ROLES
from restorebench.methods.configs import NETWORK_DESPECKLERS

SCALE = config["scale"]
S2 = config["scales"][SCALE]["s2"]
S2CFG = config["s2"]
RESULTS = "results/s2"
# what a GPU run computes in (docs/paper-scale.md, "GPUs"): on the claims pages beside the device
DEVICE_FACTS = (
    f"device `{config['device']}`, precision {config['precision']}"
    + ("" if config["device"] == "cpu" else
       ", deterministic CUDA kernels without TF32" if config["deterministic"] else
       " (on CUDA: TF32 convolutions and nondeterministic kernels, torch's defaults; `deterministic: true` "
       "makes GPU runs repeatable)")
)
RUN_FACTS = (
    f"Run facts: scale `{SCALE}`, data source `{config['data_source']}`, {DEVICE_FACTS}, "
    f"seed {config['seed']}, {S2['clips']} clips per dataset, {S2['iterations']} iterations per fit, "
    f"spectrogram {S2['n_fft'] // 2 + 1}×{S2['frames']} (speech {S2['speech_frames']} frames), "
    f"U-Net widths {S2['widths']}."
)

# (task, data role) pairs of the S2 study and the priors each is fitted with
S2_TASK_ROLES = list(TASK_ROLES)


def s2_priors(task):
    return S2_TABLE2_PRIORS if task == "environmental" else S2_PRIORS


def s2_frames(role):
    return S2["speech_frames"] if role in LONG_ROLES else S2["frames"]


def s2_clip_samples(role):
    return (s2_frames(role) - 1) * S2["hop"]


def dataset_name(role):
    if config["data_source"] == "real":
        return config["real_data"][role]["name"]
    return {"speech": "tts-speech", "digits": "tts-digits", "piano": "sf-piano", "drums": "sf-drums",
            "living": "living", "traffic": "traffic"}[role]


def quoted(text):
    return shlex.quote(text)


def training_options(training):
    """CLI options of the one training loop from a study's `training` config block."""
    return (
        f"--optimizer {training['optimizer']} --lr {training['learning_rate']} "
        f"--weight-decay {training['weight_decay']} --lr-step-epochs {training['lr_step_epochs']} "
        f"--lr-gamma {training['lr_gamma']} --grad-clip-norm {training['grad_clip_norm']}"
        + (f" --lr-milestones {' '.join(map(str, training['lr_milestones']))}" if training.get("lr_milestones") else "")
        + f" --precision {config['precision']}"
    )


def gpus_per_network_job(study):
    """GPUs a job of ``study`` that runs a network reserves: none with device cpu, one with cuda or cuda:N,
    and with auto what the scale's preset gives its trainings (one at paper, none below)."""
    device = config["device"]
    if device.startswith("cuda"):
        return 1
    if device != "auto":
        return 0
    return min(1, config["scales"][SCALE][study]["train_resources"].get("gpu", 0))


def training_resources(study):
    """Cluster resources of a study's training and fitting jobs at this scale (runtime and memory from the
    preset), with the GPU a network job reserves."""
    return dict(config["scales"][SCALE][study]["train_resources"], gpu=gpus_per_network_job(study))


def network_resources(study, runs_network=lambda wc: True):
    """Resources of a job that evaluates a trained network: its GPU (a callable of the wildcards: a rule
    whose methods are partly networks, partly not, reserves one only for the networks)."""
    gpus = gpus_per_network_job(study)
    return {"gpu": lambda wc: gpus if runs_network(wc) else 0}


DEVICE_FLAGS = " --deterministic" if config["deterministic"] else ""


def device_options(study, runs_network=lambda wc: True):
    """The --device option of a job (a callable of the wildcards, for params). A network job that reserves a
    GPU asks for ``cuda`` (under auto too), so a node without one fails with that said instead of running on
    its CPU for hours; a job that runs no network never touches CUDA (it reserved no GPU)."""
    gpus = gpus_per_network_job(study)

    def options(wc):
        if not runs_network(wc):
            device = "cpu" if config["device"].startswith("cuda") else config["device"]
        else:
            device = "cuda" if config["device"] == "auto" and gpus else config["device"]
        return f"--device {device}{DEVICE_FLAGS}"
    return options


def study_group(study):
    """The cluster job group of a study's jobs: at scales whose jobs take seconds (`group_studies`), each
    connected part of a study goes to the cluster as one job, run there with --cores; otherwise none, and
    every job is its own submission. The local executor ignores groups."""
    return study if config["scales"][SCALE].get("group_studies", False) else None


CLAIM_STATS = (
    f"--alpha {config['claims']['alpha']} --resamples {config['claims']['resamples']} "
    f"--exact-max-units {config['claims']['exact_max_units']} --power {config['claims']['power']} "
    f"--stats-seed {config['claims']['seed']} --scale {SCALE} --smallest-difference "
    + (",".join(f"{k}={v}" for k, v in config["claims"]["smallest_meaningful_difference"].items()) or "''")
)


# ---- data sources -------------------------------------------------------------------------------

ROLES = ["speech", "digits", "piano", "drums", "living", "traffic"]


def real_folder(role):
    folder = config["real_data"][role]["folder"]
    return f"resources/{folder}"


def embedded_seed(wc):
    return config["seed"] * 100 + ROLES.index(wc.role)


def real_marker(wc):
    return f"{real_folder(wc.role)}/.complete"


def real_patterns(wc):
    return " ".join(f"--pattern {quoted(p)}" for p in config["real_data"][wc.role]["patterns"])


def download_entry(archive):
    """The real_data entry whose URL ends in this archive name."""
    for entry in config["real_data"].values():
        if entry["url"] and entry["url"].rsplit("/", 1)[1] == archive:
            return entry
    raise ValueError(f"no real_data entry downloads {archive!r}")


def fetch_options(wc):
    entry = download_entry(wc.archive)
    size = f"--size {entry['size']}" if entry.get("size") else ""
    return f"--url {quoted(entry['url'])} --sha256 {quoted(entry.get('sha256') or '')} {size}"


def archive_for(wc):
    """The download that holds resources/<folder>."""
    for entry in config["real_data"].values():
        if entry["folder"] == wc.folder and entry["url"]:
            archive = entry["url"].rsplit("/", 1)[1]
            return f"resources/downloads/{archive}"
    raise ValueError(f"no real_data entry downloads into folder {wc.folder!r}")


def manual_instructions(wc):
    for role, entry in config["real_data"].items():
        if entry["folder"] == wc.folder:
            return quoted(
                f"real_data.{role}: {entry['name']} cannot be downloaded. {entry.get('manual', '')} "
                f"Then create the empty file resources/{entry['folder']}/.complete and rerun."
            )
    raise ValueError(f"no real_data entry has folder {wc.folder!r}")


def folder_pattern(downloadable):
    import re

    folders = [e["folder"] for e in config["real_data"].values() if bool(e["url"]) == downloadable]
    return "|".join(re.escape(f) for f in folders) or "(?!)"


# ---- S2 ------------------------------------------------------------------------------------------


def s2_observation_inputs(wc):
    inputs = {"clean": f"results/s2/corpus/{wc.role}.npz"}
    if wc.task == "environmental":
        inputs["noise"] = ["results/s2/corpus/living.npz", "results/s2/corpus/traffic.npz"]
    if wc.task == "separation":
        inputs["second"] = "results/s2/corpus/drums.npz"
    return inputs


def s2_task_options(wc, input):
    if wc.task == "gaussian":
        return f"--sigma {S2CFG['sigma']}"
    if wc.task == "environmental":
        lo, hi = S2CFG["env_snr_db"]
        noise = " ".join(f"--noise {p}" for p in input.noise)
        return f"{noise} --snr-min {lo} --snr-max {hi}"
    if wc.task == "inpainting":
        lo, hi = S2CFG["gap_seconds"]
        return f"--gap-min {lo} --gap-max {hi} --n-gaps {S2['n_gaps']}"
    return f"--second {input.second} --peak {S2CFG['peak']}"


def s2_example_role(task):
    return "piano" if task == "separation" else "speech"


def s2_example_inputs(wc):
    role = s2_example_role(wc.task)
    inputs = {"observations": f"results/s2/observations/{wc.task}/{role}.npz"}
    inputs.update({p: f"results/s2/fits/{wc.task}/{role}/{p}.npz" for p in s2_priors(wc.task)})
    return inputs


def s2_example_fit_options(wc, input):
    return " ".join(f"--fit {p}={input[p]}" for p in s2_priors(wc.task))


def s2_fit_files(wc):
    return [f"results/s2/fits/{wc.task}/{wc.role}/{p}.npz" for p in s2_priors(wc.task)]


S2_METRIC_FILES = [f"results/s2/scores/{t}/{r}.tsv" for t, r in S2_TASK_ROLES]
S2_TRAJECTORY_FILES = [f"results/s2/scores/{t}/{r}.trajectory.tsv" for t, r in S2_TASK_ROLES]
S2_FIGURES = ["results/s2/figures/figure2_convergence.png"] + [
    f"results/s2/figures/example_{t}.png" for t in ("gaussian", "environmental", "inpainting", "separation")
]


# ---- S1 ------------------------------------------------------------------------------------------

S1 = config["scales"][SCALE]["s1"]
S1CFG = config["s1"]
S1_SPLITS = ["train", "test-same", "test-cross"]
S1_TEST_SPLITS = ["test-same", "test-cross"]
# every trained network is trained once per seed: with several, the verdicts pair by seed (docs/verdicts.md)
S1_SEEDS = [config["seed"] + k for k in range(S1["seeds"])]
S1_UNTRAINED = [m for m in S1_METHODS if m not in S1_TRAINED]
S1_RUN_FACTS = (
    f"Run facts: scale `{SCALE}`, simulated scenes ({S1['train_scenes']} training, {S1['test_scenes']} per "
    f"test set) of {S1['azimuth']}×{S1['range']} pixels, sensors {S1CFG['train_sensor']} / "
    f"{S1CFG['cross_sensor']}, STFT n_fft {S1['n_fft']} hop {S1['hop']}, {S1['epochs']} epochs, "
    f"DIFNet C={S1['difnet']['channels']} M={S1['difnet']['window']} L={S1['difnet']['levels']}, "
    f"PISNet width {S1['pisnet']['width']}, {DEVICE_FACTS}, seed {config['seed']}, "
    f"{len(S1_SEEDS)} training seed(s) per network ({', '.join(map(str, S1_SEEDS))})."
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


def param_options(values):
    """``--param KEY=VALUE`` options of a trained method's parameters (values as JSON)."""
    return " ".join(f"--param {shlex.quote(f'{k}={json.dumps(v)}')}" for k, v in values.items())


def s1_model_options(wc):
    return param_options(s1_method_params(wc.model))


def s1_cfar_options():
    c = S1CFG["cfar"]
    return f"--cfar-guard {c['guard']} --cfar-train {c['train']} --cfar-pfa {c['pfa']} --cfar-axes {c['axes']}"


def s1_evaluate_inputs(wc):
    inputs = {"split": f"results/s1/data/{wc.split}.npz"}
    if wc.method in S1_TRAINED:
        inputs["checkpoint"] = f"results/s1/models/{wc.method}/seed{wc.seed}.pt"
    if registry.get("S1", "rfi", wc.method).params.get("calibrated"):
        inputs["calibration"] = "results/s1/models/notch-cfar.json"
    return inputs


# the tuned notch's calibration, when the run has a calibrated notch (its P_fa and false alarms go in the tables)
def s1_input_option(name, option=None):
    """A params function: `--option <input.name>` when the job has that input, else nothing."""
    return lambda wc, input: f"--{option or name} {input[name]}" if name in input.keys() and input[name] else ""


S1_CALIBRATION = ["results/s1/models/notch-cfar.json"] if any(
    registry.get("S1", "rfi", m).params.get("calibrated") for m in S1_METHODS) else []

# Figures 6-9 show the methods; the oracles' ceilings are in the tables
S1_FIGURE_METHODS = [m for m in S1_METHODS if registry.get("S1", "rfi", m).paper != "oracle"]


def s1_run(method, seed=None):
    """The path stem of one method's evaluation: per training seed for a trained method."""
    return f"{method}/seed{S1_SEEDS[0] if seed is None else seed}" if method in S1_TRAINED else method


S1_SCORES = [f"results/s1/scores/{split}/{m}.tsv" for split in S1_TEST_SPLITS for m in S1_UNTRAINED] + [
    f"results/s1/scores/{split}/{m}/seed{s}.tsv" for split in S1_TEST_SPLITS for m in S1_TRAINED for s in S1_SEEDS]


def s1_examples(split):
    """The figures' example arrays: the first training seed's network for a trained method."""
    return {m: f"results/s1/scores/{split}/{s1_run(m)}.examples.npz" for m in S1_FIGURE_METHODS}


def s1_example_options(wc, input):
    return " ".join(f"--example {m}={input[m]}" for m in S1_FIGURE_METHODS)


S1_TRAIN_BENCHMARKS = [f"results/benchmarks/s1_train/{m}/seed{s}.tsv" for m in S1_TRAINED for s in S1_SEEDS]
S2_FIT_BENCHMARKS = [
    f"results/benchmarks/s2_fit/{t}/{r}/{p}.tsv" for t, r in S2_TASK_ROLES for p in s2_priors(t)
]
S1_FIGURES = [
    "results/s1/figures/figure6_spectrograms_same.png",
    "results/s1/figures/figure7_images_same.png",
    "results/s1/figures/figure8_spectrograms_cross.png",
    "results/s1/figures/figure9_images_cross.png",
    "results/s1/figures/per_sir.png",
]


# ---- S3 ------------------------------------------------------------------------------------------

S3 = config["scales"][SCALE]["s3"]
S3CFG = config["s3"]
S3_MODELS = registered("S3", "model", "s3.models", S3CFG["models"])
S3_TABLE2 = registered("S3", "model", "s3.table2", S3CFG["table2"])
S3_SEEDS = [config["seed"] + k for k in range(S3["seeds"])]   # training seeds: the unit of S3's verdicts
S3_PCTS = [f"{p:g}" for p in S3["labelled_pct"]]
S3_LOW = S3_PCTS[-1] if S3_PCTS else "1"
S3_RUN_FACTS = (
    f"Run facts: scale `{SCALE}`, simulated urban scene (sim-urban) of {S3['rows']}×{S3['cols']} pixels, "
    f"incidence {S3CFG['incidence_deg']}°, training patches {S3['patch']} px (stride {S3['stride']}), backbone "
    f"{S3['encoder_width']}/{S3['decoder_width']} channels × {S3['levels']} levels, {S3['epochs']} epochs, "
    f"batch {S3['batch_size']}, labelled {', '.join(S3_PCTS)} %, seeds {len(S3_SEEDS)}, {DEVICE_FACTS}."
)


S3_RUNS = sorted(
    {(m, p, s) for m in S3_MODELS for p in S3_PCTS for s in S3_SEEDS}
    | {(m, S3_LOW, s) for m in S3_TABLE2 for s in S3_SEEDS}
)
S3_SCORES = [f"results/s3/scores/{m}/{p}pct/seed{s}.tsv" for m, p, s in S3_RUNS]
S3_REAL = config["data_source"] == "real"
# real data has no true reflectivity: the despeckling table needs the simulation
S3_DESPECKLERS = [] if S3_REAL else list(S3CFG["despecklers"])
S3_RUNS_NETWORK = lambda wc: wc.method in NETWORK_DESPECKLERS
S3_DESPECKLE_CHECKPOINT = {
    "merlin": f"results/s3/models/merlin/0pct/seed{S3_SEEDS[0]}.pt",
    "multitask": f"results/s3/models/multitask/{S3_PCTS[0]}pct/seed{S3_SEEDS[0]}.pt",
}
S3_FIGURES = ["results/s3/figures/figure3.png", "results/s3/figures/figure2.png"]
S3_TABLES = ["results/s3/tables/table2.md", "results/s3/tables/figure3.md", "results/s3/tables/despeckling.md"]
S3_TRAIN_BENCHMARKS = [f"results/benchmarks/s3_train/{m}/{p}pct/seed{s}.tsv" for m, p, s in S3_RUNS]


def s3_model_options(wc):
    """`s3.params.<model>`: the parameters of a model declaring its own network, over its declaration's."""
    return param_options(S3CFG["params"].get(wc.model, {}))


def s3_size_options():
    from restorebench.methods.configs import SIZE_FIELDS

    network = " ".join(f"--{name.replace('_', '-')} " + " ".join(map(str, S3[name] if isinstance(S3[name], list) else [S3[name]]))
                       for name in SIZE_FIELDS)
    return f"--patch {S3['patch']} --stride {S3['stride']} --tile {S3['tile']} {network}"


def s3_figure2_examples():
    runs = [(m, p) for m in ("unet", "im2height", "multitask") if m in S3_MODELS for p in (S3_PCTS[0], S3_LOW)]
    return {f"{m}@{p}": f"results/s3/scores/{m}/{p}pct/seed{S3_SEEDS[0]}.examples.npz" for m, p in dict.fromkeys(runs)}


# ---- S4 ------------------------------------------------------------------------------------------

S4 = config["scales"][SCALE]["s4"]
S4CFG = config["s4"]
S4_FIGURE5 = registered("S4", "declipper", "s4.figure5", S4CFG["figure5"])
S4_TRAINED = [m for m in registry.names("S4", "declipper") if registry.get("S4", "declipper", m).trained]
S4_D = [str(d) for d in S4["d"]]
# the music declippers and the toy's networks are trained once per seed (Figure 5 trains one per cell)
S4_SEEDS = [config["seed"] + k for k in range(S4["seeds"])]
S4_TOY_SCORES = [f"results/s4/toy/seed{s}.tsv" for s in S4_SEEDS]
S4_V = [f"{v:g}" for v in S4["saturated_fractions"]]
S4_RUN_FACTS = (
    f"Run facts: scale `{SCALE}`, Figure 5 on {S4['train_signals']} training / {S4['test_signals']} test "
    f"sparse-dct signals of {S4['length']} samples (d among the lowest {S4CFG['band']:g} of the DCT), "
    f"U-Net widths {S4['widths']} (kernel {S4['kernel']}, bias-free), {S4['epochs']} epochs, batch "
    f"{S4['batch_size']}, L_EQ weight {S4CFG['eq_weight']}, alpha ~ U(1, {S4CFG['alpha_max']}), {DEVICE_FACTS}; "
    f"toy and music networks trained with {len(S4_SEEDS)} seed(s) ({', '.join(map(str, S4_SEEDS))})."
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


def s4_synthetic_options():
    return (
        f"--length {S4['length']} --band {S4CFG['band']} --train-signals {S4['train_signals']} "
        f"--test-signals {S4['test_signals']} --data-seed {config['seed']}"
    )

S4M = S4["music"]
S4MCFG = S4CFG["music"]
S4_MUSIC_METHODS = registered("S4", "declipper", "s4.music.methods", S4MCFG["methods"])
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
def s4_music_run(method, seed=None):
    """The path stem of one declipper's music evaluation: per training seed for a trained declipper."""
    return f"{method}/seed{S4_SEEDS[0] if seed is None else seed}" if method in S4_TRAINED else method


S4_MUSIC_SCORES = [f"results/s4/music/{s4_music_run(m, s)}.tsv" for m in S4_MUSIC_METHODS
                   for s in (S4_SEEDS if m in S4_TRAINED else [None])]
# the example figure shows the paper's declipper when the table has it
S4_EXAMPLE_METHOD = "mc-eq" if "mc-eq" in S4_MUSIC_METHODS else S4_MUSIC_METHODS[-1]
S4_MUSIC_RUN_FACTS = (
    f" Music table: {S4M['train_clips']} training and {S4M['test_clips']} test recordings of "
    f"{S4M['clip_samples'] / 16000:g} s per dataset ({', '.join(map(s4_dataset_name, S4_MUSIC_DATASETS))}), segments of {S4M['segment']} "
    f"samples, U-Net widths {S4M['widths']} (kernel {S4M['kernel']}), {S4M['epochs']} epochs, batch {S4M['batch_size']}."
)
S4_TRAIN_BENCHMARKS += [f"results/benchmarks/s4_music_train/{m}/seed{s}.tsv" for m in S4_MUSIC_METHODS if m in S4_TRAINED
                        for s in S4_SEEDS]

