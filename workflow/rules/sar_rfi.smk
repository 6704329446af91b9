# S1 SAR RFI suppression (DIFNet): splits -> training images -> trained networks -> evaluation ->
# collected metrics -> Tables 4-5, Figures 6-9, per-SIR figure, claims C1-C5.

# ---- globals and input functions of S1 ------------------------------------------------------

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
S1_FIGURES = [
    "results/s1/figures/figure6_spectrograms_same.png",
    "results/s1/figures/figure7_images_same.png",
    "results/s1/figures/figure8_spectrograms_cross.png",
    "results/s1/figures/figure9_images_cross.png",
    "results/s1/figures/per_sir.png",
]


rule s1_split:
    group: study_group("s1")
    input:
        s1_split_inputs,
    output:
        "results/s1/data/{split}.npz",
    wildcard_constraints:
        split="train|test-same|test-cross",
    params:
        sensor=s1_sensor,
        scenes=s1_scenes,
        sir=f"--sir-min {S1CFG['sir_db'][0]} --sir-max {S1CFG['sir_db'][1]} --snr-db {S1CFG['snr_db']} "
        f"--rfi-span-mhz {S1CFG['rfi_span_mhz']}",
        kinds=",".join(S1CFG["rfi_kinds"]),
        geometry=f"--azimuth {S1['azimuth']} --range {S1['range']} --n-fft {S1['n_fft']} --hop {S1['hop']}",
        seed=config["seed"],
        images=s1_images_options,
    log:
        "results/logs/s1_split/{split}.log",
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s1-split --split {wildcards.split} --sensor {params.sensor} --scenes {params.scenes} "
        "{params.geometry} {params.sir} --kinds {params.kinds} {params.images} --seed {params.seed} "
        "--output {output} 2> {log}"


rule s1_training_images:
    group: study_group("s1")
    input:
        "results/s1/data/train.npz",
    output:
        "results/s1/data/train_images.npz",
    params:
        lines=S1["lines_per_scene"],
        multiple=s1_multiple(),
        seed=config["seed"],
    log:
        "results/logs/s1_training_images.log",
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s1-training-images --split-file {input} --lines-per-scene {params.lines} "
        "--multiple {params.multiple} --seed {params.seed} --output {output} 2> {log}"


rule s1_train:
    group: study_group("s1")
    input:
        "results/s1/data/train_images.npz",
    output:
        "results/s1/models/{model}/seed{seed}.pt",
    wildcard_constraints:
        model=wildcard_choice(S1_TRAINED),
        seed=r"\d+",
    threads: 2
    resources:
        **training_resources("s1"),
    params:
        model=s1_model_options,
        # the per-epoch checkpoint is not an output: Snakemake deletes outputs of failed jobs, and a rerun
        # (after a kill or a cluster time limit) must find it to resume
        checkpoints="results/s1/checkpoints/{model}/seed{seed}",
        optimiser=f"--epochs {S1['epochs']} --batch-size {S1['batch_size']} {training_options(S1CFG['training'])}",
        device=device_options("s1"),
    log:
        "results/logs/s1_train/{model}/seed{seed}.log",
    benchmark:
        "results/benchmarks/s1_train/{model}/seed{seed}.tsv"
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s1-train --images {input} --model {wildcards.model} --output {output} "
        "--checkpoint-dir {params.checkpoints} {params.model} {params.optimiser} "
        "{params.device} --seed {wildcards.seed} --threads {threads} 2> {log}"


# The notch's P_fa is tuned on the pulses the networks train on (methods/notch.py)
rule s1_calibrate_notch:
    group: study_group("s1")
    input:
        "results/s1/data/train.npz",
    output:
        "results/s1/models/notch-cfar.json",
    params:
        lines=S1["lines_per_scene"],
        cfar=s1_cfar_options(),
        seed=config["seed"],
    log:
        "results/logs/s1_calibrate_notch.log",
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s1-calibrate-notch --split-file {input} --lines-per-scene {params.lines} {params.cfar} "
        "--seed {params.seed} --output {output} > {log} 2>&1"


S1_EVALUATE = (
    "restorebench s1-evaluate --split-file {input.split} --method {wildcards.method} {params.checkpoint} "
    "{params.calibration} {params.cfar} {params.device} --threads {threads} --output {output.metrics} "
    "--examples {output.examples} 2> {log}"
)


rule s1_evaluate:
    group: study_group("s1")
    input:
        unpack(s1_evaluate_inputs),
    output:
        metrics="results/s1/scores/{split}/{method}.tsv",
        examples="results/s1/scores/{split}/{method}.examples.npz",
    wildcard_constraints:
        split="test-same|test-cross",
        method=wildcard_choice(S1_UNTRAINED),
    params:
        checkpoint=s1_input_option("checkpoint"),
        calibration=s1_input_option("calibration", "cfar-calibration"),
        cfar=s1_cfar_options(),
        device=device_options("s1", runs_network=lambda wc: False),
    log:
        "results/logs/s1_evaluate/{split}/{method}.log",
    benchmark:
        "results/benchmarks/s1_evaluate/{split}/{method}.tsv"
    conda:
        "../envs/restorebench.yaml"
    shell:
        S1_EVALUATE


# a trained method: one evaluation per training seed's network (its rows carry the seed)
rule s1_evaluate_trained:
    group: study_group("s1")
    input:
        unpack(s1_evaluate_inputs),
    output:
        metrics="results/s1/scores/{split}/{method}/seed{seed}.tsv",
        examples="results/s1/scores/{split}/{method}/seed{seed}.examples.npz",
    wildcard_constraints:
        split="test-same|test-cross",
        method=wildcard_choice(S1_TRAINED),
        seed=r"\d+",
    resources:
        **network_resources("s1"),
    params:
        checkpoint=s1_input_option("checkpoint"),
        calibration=s1_input_option("calibration", "cfar-calibration"),
        cfar=s1_cfar_options(),
        device=device_options("s1"),
    log:
        "results/logs/s1_evaluate/{split}/{method}/seed{seed}.log",
    benchmark:
        "results/benchmarks/s1_evaluate_trained/{split}/{method}/seed{seed}.tsv"
    conda:
        "../envs/restorebench.yaml"
    shell:
        S1_EVALUATE


rule s1_collect:
    localrule: True
    input:
        S1_SCORES,
    output:
        "results/s1/metrics.csv",
    log:
        "results/logs/s1_collect.log",
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench collect --output {output} {input} 2> {log}"


rule s1_tables:
    localrule: True
    input:
        metrics="results/s1/metrics.csv",
        calibration=S1_CALIBRATION,
    output:
        md=expand("results/s1/tables/table{n}.md", n=[4, 5]),
        csv=expand("results/s1/tables/table{n}.csv", n=[4, 5]),
        html=[
            report(
                f"results/s1/tables/table{n}.html",
                caption=f"../report/s1_table{n}.rst",
                category="S1 SAR RFI suppression",
                subcategory="Tables",
                labels={"table": f"Table {n}"},
            )
            for n in [4, 5]
        ],
    params:
        facts=quoted(S1_RUN_FACTS),
        calibration=s1_input_option("calibration", "cfar-calibration"),
    log:
        "results/logs/s1_tables.log",
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s1-tables --metrics {input.metrics} {params.calibration} --outdir results/s1/tables "
        "--run-facts {params.facts} 2> {log}"


rule s1_figure_examples:
    localrule: True
    input:
        unpack(lambda wc: s1_examples("test-same" if wc.which == "same" else "test-cross")),
    output:
        report(
            "results/s1/figures/figure{number}_{kind}_{which}.png",
            caption="../report/s1_examples.rst",
            category="S1 SAR RFI suppression",
            subcategory="Figures",
            labels={"figure": "Figure {number}: {kind}, {which} sensor"},
        ),
    wildcard_constraints:
        number="6|7|8|9",
        kind="spectrograms|images",
        which="same|cross",
    params:
        examples=s1_example_options,
        title=lambda wc: f"{'same' if wc.which == 'same' else 'cross'}-sensor test scene 0",
    log:
        "results/logs/s1_figure/figure{number}_{kind}_{which}.log",
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s1-figure {wildcards.kind} {params.examples} --title '{params.title}' --output {output} 2> {log}"


rule s1_figure_sir:
    localrule: True
    input:
        "results/s1/metrics.csv",
    output:
        report(
            "results/s1/figures/per_sir.png",
            caption="../report/s1_per_sir.rst",
            category="S1 SAR RFI suppression",
            subcategory="Figures",
            labels={"figure": "per-SIR breakdown"},
        ),
    log:
        "results/logs/s1_figure/per_sir.log",
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s1-figure sir --metrics {input} --output {output} 2> {log}"


rule s1_claims:
    localrule: True
    input:
        "results/s1/metrics.csv",
    output:
        md="results/s1/claims.md",
        verdicts="results/s1/verdicts.csv",
        html=report(
            "results/s1/claims.html",
            caption="../report/s1_claims.rst",
            category="S1 SAR RFI suppression",
            subcategory="Claims",
            labels={"page": "claims C1-C5"},
        ),
        figure=report(
            "results/s1/figures/claims_effects.png",
            caption="../report/claims_effects.rst",
            category="S1 SAR RFI suppression",
            subcategory="Claims",
            labels={"page": "claims C1-C5: effects"},
        ),
    params:
        facts=quoted(S1_RUN_FACTS),
        stats=claim_options("s1"),
        margin=S1CFG["claims"]["c4_margin_db"],
    log:
        "results/logs/s1_claims.log",
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s1-claims --metrics {input} --outdir results/s1 --c4-margin-db {params.margin} "
        "{params.stats} --run-facts {params.facts} 2> {log}"
