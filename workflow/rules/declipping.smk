# S4 equivariance-based self-supervised declipping: Figure 5 cells (declipper x model dimension d x saturated
# fraction v; trained declippers train first) -> collected rows -> heatmaps and table.

rule s4_figure5_trained:
    group: study_group("s4")
    output:
        scores="results/s4/figure5/{method}/d{d}/v{v}.tsv",
        weights="results/s4/models/figure5/{method}/d{d}/v{v}.pt",
    wildcard_constraints:
        method=wildcard_choice(S4_TRAINED),
        d=r"\d+",
        v=r"[0-9.]+",
    threads: 1
    resources:
        **training_resources("s4"),
    params:
        data=s4_synthetic_options(),
        net=s4_net_options(),
        optimiser=f"--epochs {S4['epochs']} --batch-size {S4['batch_size']} {training_options(S4_SYNTHETIC_TRAINING, S4['epochs'])}",
        checkpoints="results/s4/checkpoints/figure5/{method}/d{d}/v{v}",
        device=device_options("s4"),
        seed=config["seed"],
    log:
        "results/logs/s4_figure5/{method}/d{d}/v{v}.log",
    benchmark:
        "results/benchmarks/s4_figure5/{method}/d{d}/v{v}.tsv"
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s4-synthetic --method {wildcards.method} --d {wildcards.d} --v {wildcards.v} {params.data} "
        "{params.net} {params.optimiser} --seed {params.seed} --scores {output.scores} --output {output.weights} "
        "--checkpoint-dir {params.checkpoints} {params.device} --threads {threads} 2> {log}"


rule s4_figure5_run:
    group: study_group("s4")
    output:
        scores="results/s4/figure5/{method}/d{d}/v{v}.tsv",
    wildcard_constraints:
        method=wildcard_choice([m for m in registry.names("S4", "declipper") if m not in S4_TRAINED]),
        d=r"\d+",
        v=r"[0-9.]+",
    threads: 1
    params:
        data=s4_synthetic_options(),
        checkpoints="results/s4/checkpoints/figure5/{method}/d{d}/v{v}",
    log:
        "results/logs/s4_figure5/{method}/d{d}/v{v}.log",
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s4-synthetic --method {wildcards.method} --d {wildcards.d} --v {wildcards.v} {params.data} "
        "--scores {output.scores} --checkpoint-dir {params.checkpoints} --threads {threads} 2> {log}"


# the toy's two networks, per replicate (its own signals and training seed): D3 pairs by replicate
rule s4_toy:
    group: study_group("s4")
    output:
        scores="results/s4/toy/seed{seed}.tsv",
        examples="results/s4/toy/seed{seed}.examples.npz",
    wildcard_constraints:
        seed=r"\d+",
    threads: 1
    resources:
        **training_resources("s4"),
    params:
        data=lambda wc: s4_synthetic_options(wc.seed),
        net=s4_net_options(),
        toy=f"--d {S4CFG['toy']['d']} --v {S4CFG['toy']['v']} --objective {S4CFG['toy']['objective']}",
        optimiser=f"--epochs {S4['epochs']} --batch-size {S4['batch_size']} {training_options(S4_SYNTHETIC_TRAINING, S4['epochs'])}",
        device=device_options("s4"),
    log:
        "results/logs/s4_toy/seed{seed}.log",
    benchmark:
        "results/benchmarks/s4_toy/seed{seed}.tsv"
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s4-toy {params.toy} {params.data} {params.net} {params.optimiser} --seed {wildcards.seed} "
        "--scores {output.scores} --examples {output.examples} --checkpoint-dir results/s4/checkpoints/toy/seed{wildcards.seed} "
        "{params.device} --threads {threads} 2> {log}"


if not S4_REAL:

    rule s4_corpus:
        group: study_group("s4")
        output:
            "results/s4/data/seed{seed}/{dataset}-{split}.npz",
        wildcard_constraints:
            dataset="|".join(S4_MUSIC_DATASETS),
            split="train|test",
            seed=r"\d+",
        params:
            n=lambda wc: S4M["train_clips"] if wc.split == "train" else S4M["test_clips"],
            # a different seed per split: the test recordings are never training material
            seed=lambda wc: int(wc.seed) + (0 if wc.split == "train" else 1000),
            samples=S4M["clip_samples"],
        log:
            "results/logs/s4_corpus/seed{seed}/{dataset}-{split}.log",
        benchmark:
            "results/benchmarks/s4_corpus/seed{seed}/{dataset}-{split}.tsv"
        conda:
            "../envs/restorebench.yaml"
        shell:
            "restorebench make-corpus --dataset {wildcards.dataset} --role {wildcards.dataset} --n-clips {params.n} "
            "--clip-samples {params.samples} --seed {params.seed} --output {output} 2> {log}"

else:

    # the dataset's own train/test division keeps every test recording out of training
    rule s4_ingest:
        group: study_group("s4")
        input:
            lambda wc: f"{real_folder(wc.dataset)}/.complete",
        output:
            "results/s4/data/seed{seed}/{dataset}-{split}.npz",
        wildcard_constraints:
            dataset="|".join(S4_MUSIC_DATASETS),
            split="train|test",
            seed=r"\d+",
        params:
            name=lambda wc: s4_dataset_name(wc.dataset),
            folder=lambda wc: real_folder(wc.dataset),
            patterns=s4_split_patterns,
            n=lambda wc: S4M["train_clips"] if wc.split == "train" else S4M["test_clips"],
            samples=S4M["clip_samples"],
        log:
            "results/logs/s4_ingest/seed{seed}/{dataset}-{split}.log",
        benchmark:
            "results/benchmarks/s4_ingest/seed{seed}/{dataset}-{split}.tsv"
        conda:
            "../envs/restorebench.yaml"
        shell:
            "restorebench ingest-audio --dataset {params.name} --role music --source {params.folder} "
            "{params.patterns} --n-clips {params.n} --clip-samples {params.samples} --seed {wildcards.seed} "
            "--output {output} 2> {log}"


rule s4_music_train:
    group: study_group("s4")
    input:
        s4_music_data("train"),
    output:
        "results/s4/models/music/{method}/seed{seed}.pt",
    wildcard_constraints:
        method=wildcard_choice(S4_TRAINED),
        seed=r"\d+",
    threads: 1
    resources:
        **training_resources("s4"),
    params:
        net=s4_net_options(S4M),
        segments=f"--segment {S4M['segment']} --hop {S4M['hop']} --fractions {S4_MUSIC_FRACTIONS}",
        optimiser=f"--epochs {S4M['epochs']} --batch-size {S4M['batch_size']} {training_options(S4CFG['training'], S4M['epochs'])}",
        checkpoints="results/s4/checkpoints/music/{method}/seed{seed}",
        device=device_options("s4"),
    log:
        "results/logs/s4_music_train/{method}/seed{seed}.log",
    benchmark:
        "results/benchmarks/s4_music_train/{method}/seed{seed}.tsv"
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s4-music-train --method {wildcards.method} --train {input} {params.segments} {params.net} "
        "{params.optimiser} --seed {wildcards.seed} --output {output} --checkpoint-dir {params.checkpoints} "
        "{params.device} --threads {threads} 2> {log}"


S4_MUSIC_EVAL = (
    "restorebench s4-music-eval --method {wildcards.method} --test {input.test} --fractions {params.fractions} "
    "{params.weights} --scores {output.scores} --example {output.example} --example-fraction {params.example} "
    "--replicate {wildcards.seed} {params.device} --threads {threads} 2> {log}"
)


rule s4_music_eval:
    group: study_group("s4")
    input:
        test=s4_music_data("test"),
    output:
        scores="results/s4/music/{method}/seed{seed}.tsv",
        example="results/s4/music/{method}/seed{seed}.example.npz",
    wildcard_constraints:
        method=wildcard_choice([m for m in S4_MUSIC_METHODS if m not in S4_TRAINED]),
        seed=r"\d+",
    threads: 1
    params:
        weights="",
        fractions=S4_MUSIC_FRACTIONS,
        example=S4MCFG["example_fraction"],
        device=device_options("s4", runs_network=lambda wc: False),
    log:
        "results/logs/s4_music_eval/{method}/seed{seed}.log",
    benchmark:
        "results/benchmarks/s4_music_eval/{method}/seed{seed}.tsv"
    conda:
        "../envs/restorebench.yaml"
    shell:
        S4_MUSIC_EVAL


# a trained declipper: the replicate's network on the replicate's test recordings
rule s4_music_eval_trained:
    group: study_group("s4")
    input:
        test=s4_music_data("test"),
        weights="results/s4/models/music/{method}/seed{seed}.pt",
    output:
        scores="results/s4/music/{method}/seed{seed}.tsv",
        example="results/s4/music/{method}/seed{seed}.example.npz",
    wildcard_constraints:
        method=wildcard_choice([m for m in S4_MUSIC_METHODS if m in S4_TRAINED]),
        seed=r"\d+",
    threads: 1
    resources:
        **network_resources("s4"),
    params:
        weights=lambda wc, input: f"--weights {input.weights}",
        fractions=S4_MUSIC_FRACTIONS,
        example=S4MCFG["example_fraction"],
        device=device_options("s4"),
    log:
        "results/logs/s4_music_eval_trained/{method}/seed{seed}.log",
    benchmark:
        "results/benchmarks/s4_music_eval_trained/{method}/seed{seed}.tsv"
    conda:
        "../envs/restorebench.yaml"
    shell:
        S4_MUSIC_EVAL


rule s4_collect:
    localrule: True
    input:
        S4_FIGURE5_SCORES + S4_TOY_SCORES + S4_MUSIC_SCORES,
    output:
        "results/s4/metrics.csv",
    log:
        "results/logs/s4_collect.log",
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench collect --output {output} {input} 2> {log}"


rule s4_report:
    localrule: True
    input:
        metrics="results/s4/metrics.csv",
        toy=f"results/s4/toy/seed{S4_SEEDS[0]}.examples.npz",
        music=f"results/s4/music/{S4_EXAMPLE_METHOD}/seed{S4_SEEDS[0]}.example.npz",
    output:
        figure=report(
            "results/s4/figures/figure5.png",
            caption="../report/s4_figure5.rst",
            category="S4 declipping",
            subcategory="Figures",
            labels={"figure": "Figure 5: SDR vs v and d"},
        ),
        toy=report(
            "results/s4/figures/figure3_toy.png",
            caption="../report/s4_toy.rst",
            category="S4 declipping",
            subcategory="Figures",
            labels={"figure": "Figure 3 toy: biases vs amplitude"},
        ),
        md="results/s4/tables/figure5.md",
        csv="results/s4/tables/figure5.csv",
        music=report(
            "results/s4/tables/music.md",
            caption="../report/s4_music.rst",
            category="S4 declipping",
            subcategory="Tables",
            labels={"table": "music table"},
        ),
        example=report(
            "results/s4/figures/example.png",
            caption="../report/s4_example.rst",
            category="S4 declipping",
            subcategory="Figures",
            labels={"figure": "example: clean / clipped / restored"},
        ),
    params:
        facts=quoted(S4_RUN_FACTS + S4_MUSIC_RUN_FACTS),
        example=S4_EXAMPLE_METHOD,
    log:
        "results/logs/s4_report.log",
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s4-report --metrics {input.metrics} --toy-examples {input.toy} --music-example {input.music} "
        "--example-method {params.example} --outdir results/s4 --run-facts {params.facts} 2> {log}"


rule s4_claims:
    localrule: True
    input:
        metrics="results/s4/metrics.csv",
        training="results/s4/tables/training.csv",
    output:
        md="results/s4/claims.md",
        verdicts="results/s4/verdicts.csv",
        html=report(
            "results/s4/claims.html",
            caption="../report/s4_claims.rst",
            category="S4 declipping",
            subcategory="Claims",
            labels={"page": "claims D1-D3"},
        ),
        figure=report(
            "results/s4/figures/claims_effects.png",
            caption="../report/claims_effects.rst",
            category="S4 declipping",
            subcategory="Claims",
            labels={"page": "claims: effects"},
        ),
    params:
        facts=quoted(S4_RUN_FACTS + S4_MUSIC_RUN_FACTS),
        stats=claim_options("s4"),
        margin=S4MCFG["d1_margin_db"],
    log:
        "results/logs/s4_claims.log",
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s4-claims --metrics {input.metrics} --training {input.training} --outdir results/s4 "
        "{params.stats} --d1-margin-db {params.margin} "
        "--run-facts {params.facts} 2> {log}"


# every trained network's curves and whether it beats the unprocessed input (report/training.py): the
# claims take it, and a cell using a network without a plateau is not a verdict
rule s4_training:
    localrule: True
    input:
        metrics="results/s4/metrics.csv",
        weights=[f"results/s4/models/music/{m}/seed{s}.pt" for m in S4_MUSIC_METHODS if m in S4_TRAINED
                 for s in S4_SEEDS]
        + [f"results/s4/models/figure5/{m}/d{d}/v{v}.pt" for m in S4_FIGURE5 if m in S4_TRAINED
           for d in S4_D for v in S4_V],
        toy=[f"results/s4/toy/seed{s}.examples.npz" for s in S4_SEEDS],
    output:
        csv="results/s4/tables/training.csv",
        md="results/s4/tables/training.md",
        figure="results/s4/figures/training_curves.png",
    params:
        facts=quoted(S4_RUN_FACTS + S4_MUSIC_RUN_FACTS),
    log:
        "results/logs/s4_training.log",
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench training-report --study S4 --metrics {input.metrics} --weights {input.weights}"
        " --toy-examples {input.toy} --outdir results/s4 --run-facts {params.facts} 2> {log}"
