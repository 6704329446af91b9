# S1 SAR RFI suppression (DIFNet), per replicate (seed): splits -> training images -> notch tuning and
# trained networks -> evaluation of every method -> collected metrics -> Tables 4-5, Figures 6-9, per-SIR figure, claims C1-C5.

rule s1_split:
    group: study_group("s1")
    input:
        s1_split_inputs,
    output:
        "results/s1/data/seed{seed}/{split}.npz",
    wildcard_constraints:
        split="train|test-same|test-cross",
        seed=r"\d+",
    params:
        sensor=s1_sensor,
        scenes=s1_scenes,
        sir=f"--sir-min {S1CFG['sir_db'][0]} --sir-max {S1CFG['sir_db'][1]} --snr-db {S1CFG['snr_db']} "
        f"--rfi-band-share {S1CFG['rfi_band_share']}",
        kinds=",".join(S1CFG["rfi_kinds"]),
        geometry=f"--azimuth {S1['azimuth']} --range {S1['range']} --n-fft {S1['n_fft']} --hop {S1['hop']}",
        images=s1_images_options,
    log:
        "results/logs/s1_split/seed{seed}/{split}.log",
    benchmark:
        "results/benchmarks/s1_split/seed{seed}/{split}.tsv"
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s1-split --split {wildcards.split} --sensor {params.sensor} --scenes {params.scenes} "
        "{params.geometry} {params.sir} --kinds {params.kinds} {params.images} --seed {wildcards.seed} "
        "--output {output} 2> {log}"


rule s1_training_images:
    group: study_group("s1")
    input:
        "results/s1/data/seed{seed}/train.npz",
    output:
        "results/s1/data/seed{seed}/train_images.npz",
    wildcard_constraints:
        seed=r"\d+",
    params:
        lines=S1["lines_per_scene"],
        multiple=s1_multiple(),
    log:
        "results/logs/s1_training_images/seed{seed}.log",
    benchmark:
        "results/benchmarks/s1_training_images/seed{seed}.tsv"
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s1-training-images --split-file {input} --lines-per-scene {params.lines} "
        "--multiple {params.multiple} --seed {wildcards.seed} --output {output} 2> {log}"


rule s1_train:
    group: study_group("s1")
    input:
        "results/s1/data/seed{seed}/train_images.npz",
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
        optimiser=f"--epochs {S1['epochs']} --batch-size {S1['batch_size']} {training_options(S1CFG['training'], S1['epochs'])}",
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


# The fixed rules are tuned on the replicate's training split: the pulse detector every method shares, the
# notch's P_fa on the pulses the networks train on (methods/notch.py), the position mask's bins
rule s1_calibrate_notch:
    group: study_group("s1")
    input:
        "results/s1/data/seed{seed}/train.npz",
    output:
        s1_calibration("{seed}"),
    wildcard_constraints:
        seed=r"\d+",
    params:
        lines=S1["lines_per_scene"],
        cfar=s1_cfar_options(),
    log:
        "results/logs/s1_calibrate_notch/seed{seed}.log",
    benchmark:
        "results/benchmarks/s1_calibrate_notch/seed{seed}.tsv"
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s1-calibrate-notch --split-file {input} --lines-per-scene {params.lines} {params.cfar} "
        "--seed {wildcards.seed} --output {output} > {log} 2>&1"


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
        metrics="results/s1/scores/{split}/{method}/seed{seed}.tsv",
        examples="results/s1/scores/{split}/{method}/seed{seed}.examples.npz",
    wildcard_constraints:
        split="test-same|test-cross",
        method=wildcard_choice(S1_UNTRAINED),
        seed=r"\d+",
    params:
        checkpoint=s1_input_option("checkpoint"),
        calibration=s1_input_option("calibration"),
        cfar=s1_cfar_options(),
        device=device_options("s1", runs_network=lambda wc: False),
    log:
        "results/logs/s1_evaluate/{split}/{method}/seed{seed}.log",
    benchmark:
        "results/benchmarks/s1_evaluate/{split}/{method}/seed{seed}.tsv"
    conda:
        "../envs/restorebench.yaml"
    shell:
        S1_EVALUATE


# a trained method: the replicate's network on the replicate's test scenes
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
        calibration=s1_input_option("calibration"),
        cfar=s1_cfar_options(),
        device=device_options("s1"),
    log:
        "results/logs/s1_evaluate_trained/{split}/{method}/seed{seed}.log",
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
        training="results/s1/tables/training.csv",
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
        title=lambda wc: f"{'same' if wc.which == 'same' else 'cross'}-sensor test scenes (replicate {S1_SEEDS[0]})",
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
        metrics="results/s1/metrics.csv",
        calibration=S1_CALIBRATION,
        training="results/s1/tables/training.csv",
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
        calibration=s1_input_option("calibration", "notch-calibration"),
    log:
        "results/logs/s1_claims.log",
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s1-claims --metrics {input.metrics} {params.calibration} --training {input.training} "
        "--outdir results/s1 --c4-margin-db {params.margin} {params.stats} --run-facts {params.facts} 2> {log}"


# every trained network's curves and whether it beats the unprocessed input (report/training.py): the
# claims take it, and a cell using a network without a plateau is not a verdict
rule s1_training:
    localrule: True
    input:
        metrics="results/s1/metrics.csv",
        weights=[f"results/s1/models/{m}/seed{s}.pt" for m in S1_TRAINED for s in S1_SEEDS],
    output:
        csv="results/s1/tables/training.csv",
        md="results/s1/tables/training.md",
        figure="results/s1/figures/training_curves.png",
    params:
        facts=quoted(S1_RUN_FACTS),
    log:
        "results/logs/s1_training.log",
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench training-report --study S1 --metrics {input.metrics} --weights {input.weights}"
        " --outdir results/s1 --run-facts {params.facts} 2> {log}"
