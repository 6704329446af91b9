# S3 MERLIN multitask, per replicate (seed): scene -> trainings (model x labelled fraction) -> evaluation on the test area ->
# collected metrics -> Figure 3, Table 2, Figure 2-like panel, despeckling table, claims M1-M3.

if S3_REAL:

    rule s3_scene_real:
        group: study_group("s3")
        input:
            f"{real_folder('s3_urban')}/.complete",
        output:
            "results/s3/data/scene.npz",
        params:
            folder=real_folder("s3_urban"),
        log:
            "results/logs/s3_scene.log",
        conda:
            "../envs/restorebench.yaml"
        shell:
            "restorebench s3-scene-from-files --slc {params.folder}/slc.npy --mask {params.folder}/mask.npy "
            "--height {params.folder}/height.npy --output {output} 2> {log}"


rule s3_scene:
    group: study_group("s3")
    output:
        "results/s3/data/seed{seed}/scene.npz",
    wildcard_constraints:
        seed=r"\d+",
    params:
        size=f"--rows {S3['rows']} --cols {S3['cols']}",
        incidence=S3CFG["incidence_deg"],
        correlation=S3CFG["correlation"],
    log:
        "results/logs/s3_scene/seed{seed}.log",
    benchmark:
        "results/benchmarks/s3_scene/seed{seed}.tsv"
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s3-scene {params.size} --incidence {params.incidence} --correlation {params.correlation} "
        "--seed {wildcards.seed} --output {output} 2> {log}"


rule s3_train:
    group: study_group("s3")
    input:
        lambda wc: s3_scene(wc.seed),
    output:
        "results/s3/models/{model}/{pct}pct/seed{seed}.pt",
    wildcard_constraints:
        model=wildcard_choice(registry.names("S3", "model")),
        pct=r"[0-9.]+",
        seed=r"\d+",
    threads: 1
    resources:
        **training_resources("s3"),
    params:
        sizes=s3_size_options(),
        model=s3_model_options,
        share=S3CFG["labelled_share"],
        checkpoints="results/s3/checkpoints/{model}/{pct}pct/seed{seed}",
        optimiser=f"--epochs {S3['epochs']} --batch-size {S3['batch_size']} {training_options(S3CFG['training'], S3['epochs'])}",
        device=device_options("s3"),
    log:
        "results/logs/s3_train/{model}/{pct}pct/seed{seed}.log",
    benchmark:
        "results/benchmarks/s3_train/{model}/{pct}pct/seed{seed}.tsv"
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s3-train --scene {input} --model {wildcards.model} --labelled-pct {wildcards.pct} "
        "--seed {wildcards.seed} {params.sizes} {params.model} {params.optimiser} --labelled-share {params.share} --output {output} "
        "--checkpoint-dir {params.checkpoints} {params.device} --threads {threads} 2> {log}"


# the floor: a threshold segmenter and a constant height tuned on the same labelled patches as each replicate's
# networks (methods/threshold_segmenter.py)
rule s3_floor:
    group: study_group("s3")
    input:
        lambda wc: s3_scene(wc.seed),
    output:
        "results/s3/scores/threshold/{pct}pct/seed{seed}.tsv",
    wildcard_constraints:
        pct=r"[0-9.]+",
        seed=r"\d+",
    params:
        sizes=f"--patch {S3['patch']} --stride {S3['stride']}",
    log:
        "results/logs/s3_floor/{pct}pct/seed{seed}.log",
    benchmark:
        "results/benchmarks/s3_floor/{pct}pct/seed{seed}.tsv"
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s3-floor --scene {input} --labelled-pct {wildcards.pct} --seed {wildcards.seed} "
        "{params.sizes} --output {output} 2> {log}"


rule s3_evaluate:
    group: study_group("s3")
    input:
        scene=lambda wc: s3_scene(wc.seed),
        checkpoint="results/s3/models/{model}/{pct}pct/seed{seed}.pt",
    output:
        metrics="results/s3/scores/{model}/{pct}pct/seed{seed}.tsv",
        examples="results/s3/scores/{model}/{pct}pct/seed{seed}.examples.npz",
    wildcard_constraints:
        model=wildcard_choice(registry.names("S3", "model")),
        pct=r"[0-9.]+",
        seed=r"\d+",
    resources:
        **network_resources("s3"),
    params:
        tile=S3["tile"],
        device=device_options("s3"),
    log:
        "results/logs/s3_evaluate/{model}/{pct}pct/seed{seed}.log",
    benchmark:
        "results/benchmarks/s3_evaluate/{model}/{pct}pct/seed{seed}.tsv"
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s3-evaluate --scene {input.scene} --checkpoint {input.checkpoint} --model {wildcards.model} "
        "--labelled-pct {wildcards.pct} --seed {wildcards.seed} --tile {params.tile} {params.device} "
        "--threads {threads} --output {output.metrics} --examples {output.examples} 2> {log}"


rule s3_despeckle:
    group: study_group("s3")
    input:
        unpack(
            lambda wc: {"scene": s3_scene(S3_SEEDS[0])}
            | ({"checkpoint": S3_DESPECKLE_CHECKPOINT[wc.method]} if wc.method in S3_DESPECKLE_CHECKPOINT else {})
        ),
    output:
        metrics="results/s3/despeckling/{method}.tsv",
        example="results/s3/despeckling/{method}.example.npz",
    wildcard_constraints:
        method="|".join(S3_DESPECKLERS) or "(?!)",
    resources:
        **network_resources("s3", S3_RUNS_NETWORK),
    params:
        checkpoint=lambda wc, input: f"--checkpoint {input.checkpoint}" if "checkpoint" in input.keys() else "",
        tile=S3["tile"],
        device=device_options("s3", S3_RUNS_NETWORK),
    log:
        "results/logs/s3_despeckle/{method}.log",
    benchmark:
        "results/benchmarks/s3_despeckle/{method}.tsv"
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s3-despeckle-eval --scene {input.scene} --method {wildcards.method} {params.checkpoint} "
        "--tile {params.tile} {params.device} --threads {threads} --output {output.metrics} "
        "--example {output.example} 2> {log}"


rule s3_collect:
    localrule: True
    input:
        S3_SCORES + expand("results/s3/despeckling/{method}.tsv", method=S3_DESPECKLERS),
    output:
        "results/s3/metrics.csv",
    log:
        "results/logs/s3_collect.log",
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench collect --output {output} {input} 2> {log}"


rule s3_report:
    localrule: True
    input:
        "results/s3/metrics.csv",
    output:
        figure=report(
            "results/s3/figures/figure3.png",
            caption="../report/s3_figure3.rst",
            category="S3 MERLIN multitask",
            subcategory="Figures",
            labels={"figure": "Figure 3: metrics vs labelled fraction"},
        ),
        md=["results/s3/tables/table2.md", "results/s3/tables/figure3.md", "results/s3/tables/despeckling.md"],
        csv=["results/s3/tables/table2.csv", "results/s3/tables/figure3.csv"],
        html=[
            report(
                "results/s3/tables/table2.html",
                caption="../report/s3_table2.rst",
                category="S3 MERLIN multitask",
                subcategory="Tables",
                labels={"table": "Table 2"},
            ),
            report(
                "results/s3/tables/despeckling.html",
                caption="../report/s3_despeckling.rst",
                category="S3 MERLIN multitask",
                subcategory="Tables",
                labels={"table": "despeckling (ours)"},
            ),
        ],
    params:
        facts=quoted(S3_RUN_FACTS),
        models=" ".join(S3_MODELS),
        table2=" ".join(S3_TABLE2),
    log:
        "results/logs/s3_report.log",
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s3-report --metrics {input} --outdir results/s3 --models {params.models} --table2 {params.table2} "
        "--run-facts {params.facts} 2> {log}"


rule s3_figure2:
    localrule: True
    input:
        unpack(lambda wc: {"scene": s3_scene(S3_SEEDS[0])} | s3_figure2_examples()),
    output:
        report(
            "results/s3/figures/figure2.png",
            caption="../report/s3_figure2.rst",
            category="S3 MERLIN multitask",
            subcategory="Figures",
            labels={"figure": "Figure 2: example crop"},
        ),
    params:
        examples=lambda wc, input: " ".join(f"--example {k}={input[k]}" for k in s3_figure2_examples()),
        title=quoted(f"test-area crop, replicate {S3_SEEDS[0]}"),
    log:
        "results/logs/s3_figure2.log",
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s3-figure2 --scene {input.scene} {params.examples} --title {params.title} "
        "--output {output} 2> {log}"


rule s3_claims:
    localrule: True
    input:
        metrics="results/s3/metrics.csv",
        training="results/s3/tables/training.csv",
    output:
        md="results/s3/claims.md",
        verdicts="results/s3/verdicts.csv",
        html=report(
            "results/s3/claims.html",
            caption="../report/s3_claims.rst",
            category="S3 MERLIN multitask",
            subcategory="Claims",
            labels={"page": "claims M1-M3"},
        ),
        figure=report(
            "results/s3/figures/claims_effects.png",
            caption="../report/claims_effects.rst",
            category="S3 MERLIN multitask",
            subcategory="Claims",
            labels={"page": "claims M1-M3: effects"},
        ),
    params:
        facts=quoted(S3_RUN_FACTS),
        stats=claim_options("s3"),
    log:
        "results/logs/s3_claims.log",
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s3-claims --metrics {input.metrics} --training {input.training} --outdir results/s3 "
        "{params.stats} --run-facts {params.facts} 2> {log}"


# every trained network's curves and whether it beats the unprocessed input (report/training.py): the
# claims take it, and a cell using a network without a plateau is not a verdict
rule s3_training:
    localrule: True
    input:
        metrics="results/s3/metrics.csv",
        weights=[f"results/s3/models/{m}/{p}pct/seed{s}.pt" for m, p, s in S3_RUNS],
    output:
        csv="results/s3/tables/training.csv",
        md="results/s3/tables/training.md",
        figure="results/s3/figures/training_curves.png",
    params:
        facts=quoted(S3_RUN_FACTS),
    log:
        "results/logs/s3_training.log",
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench training-report --study S3 --metrics {input.metrics} --weights {input.weights}"
        " --outdir results/s3 --run-facts {params.facts} 2> {log}"
