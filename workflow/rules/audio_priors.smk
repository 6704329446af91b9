# S2 deep audio priors: observations -> fits -> scores -> collected metrics -> tables, figures, claims.

# ---- the corpus: embedded (default) or ingested from the real datasets ----------------------
if config["data_source"] == "embedded":

    rule s2_corpus:
        group: study_group("s2")
        output:
            "results/s2/corpus/{role}.npz",
        wildcard_constraints:
            role="speech|digits|piano|drums|living|traffic",
        params:
            dataset=lambda wc: dataset_name(wc.role),
            clip_samples=lambda wc: s2_clip_samples(wc.role),
            clips=S2["clips"],
            seed=embedded_seed,
            peak=S2CFG["peak"],
        log:
            "results/logs/s2_corpus/{role}.log",
        benchmark:
            "results/benchmarks/s2_corpus/{role}.tsv"
        conda:
            "../envs/restorebench.yaml"
        shell:
            "restorebench make-corpus --dataset {params.dataset} --role {wildcards.role} "
            "--n-clips {params.clips} --clip-samples {params.clip_samples} --seed {params.seed} "
            "--peak {params.peak} --output {output} 2> {log}"

else:

    rule s2_ingest:
        group: study_group("s2")
        input:
            real_marker,
        output:
            "results/s2/corpus/{role}.npz",
        wildcard_constraints:
            role="speech|digits|piano|drums|living|traffic",
        params:
            dataset=lambda wc: dataset_name(wc.role),
            folder=lambda wc: real_folder(wc.role),
            patterns=real_patterns,
            clip_samples=lambda wc: s2_clip_samples(wc.role),
            clips=S2["clips"],
            seed=config["seed"],
            peak=S2CFG["peak"],
            normalise=lambda wc: "--no-normalise" if wc.role in ("living", "traffic") else "",
        log:
            "results/logs/s2_ingest/{role}.log",
        benchmark:
            "results/benchmarks/s2_ingest/{role}.tsv"
        conda:
            "../envs/restorebench.yaml"
        shell:
            "restorebench ingest-audio --dataset {params.dataset} --role {wildcards.role} "
            "--source {params.folder} {params.patterns} --n-clips {params.clips} "
            "--clip-samples {params.clip_samples} --seed {params.seed} --peak {params.peak} "
            "{params.normalise} --output {output} 2> {log}"


rule s2_observations:
    group: study_group("s2")
    input:
        unpack(s2_observation_inputs),
    output:
        "results/s2/observations/{task}/{role}.npz",
    wildcard_constraints:
        task="gaussian|environmental|inpainting|separation",
    params:
        frames=lambda wc: s2_frames(wc.role),
        options=s2_task_options,
        n_fft=S2["n_fft"],
        hop=S2["hop"],
        seed=config["seed"],
    log:
        "results/logs/s2_observations/{task}/{role}.log",
    benchmark:
        "results/benchmarks/s2_observations/{task}/{role}.tsv"
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench corrupt --task {wildcards.task} --clean {input.clean} {params.options} "
        "--n-fft {params.n_fft} --hop {params.hop} --frames {params.frames} --seed {params.seed} "
        "--output {output} 2> {log}"


rule s2_fit:
    group: study_group("s2")
    input:
        "results/s2/observations/{task}/{role}.npz",
    output:
        "results/s2/fits/{task}/{role}/{prior}.npz",
    wildcard_constraints:
        prior=wildcard_choice(S2_PRIORS + S2_TABLE2_PRIORS),
    threads: config["fit_threads"]
    resources:
        **training_resources("s2"),
    params:
        iterations=S2["iterations"],
        lr=S2CFG["learning_rate"],
        lr_decay=round(S2CFG["lr_decay_share"] * S2["iterations"]),
        widths=",".join(str(w) for w in S2["widths"]),
        dilations=S2.get("dilation_divisor", 1),
        es=f"--es-window {S2['es_window']} --es-patience {S2['es_patience']}",
        dp=f"--discrepancy-tau {S2CFG['stopping']['discrepancy_tau']} "
        f"--noise-estimator {S2CFG['stopping']['noise_estimator']} "
        f"--noise-quantile {S2CFG['stopping']['noise_quantile']}",
        sep=f"--exclusion-weight {S2CFG['separation']['exclusion_weight']} --mask-weight {S2CFG['separation']['mask_weight']}",
        device=device_options("s2"),
        batch=S2CFG["fits_per_batch"],
        seed=config["seed"],
    log:
        "results/logs/s2_fit/{task}/{role}/{prior}.log",
    benchmark:
        "results/benchmarks/s2_fit/{task}/{role}/{prior}.tsv"
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench fit-prior --observations {input} --prior {wildcards.prior} --output {output} "
        "--iterations {params.iterations} --lr {params.lr} --lr-decay-every {params.lr_decay} "
        "--widths {params.widths} --dilation-divisor {params.dilations} {params.es} {params.dp} {params.sep} {params.device} --seed {params.seed} "
        "--fits-per-batch {params.batch} "
        "--threads {threads} 2> {log}"


rule s2_score:
    group: study_group("s2")
    input:
        observations="results/s2/observations/{task}/{role}.npz",
        fits=s2_fit_files,
    output:
        metrics="results/s2/scores/{task}/{role}.tsv",
        trajectory="results/s2/scores/{task}/{role}.trajectory.tsv",
    params:
        fits=lambda wc, input: " ".join(f"--fit {p}" for p in input.fits),
    log:
        "results/logs/s2_score/{task}/{role}.log",
    benchmark:
        "results/benchmarks/s2_score/{task}/{role}.tsv"
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench score-fits --observations {input.observations} {params.fits} "
        "--output {output.metrics} --trajectory-output {output.trajectory} 2> {log}"


rule s2_collect:
    localrule: True
    input:
        metrics=S2_METRIC_FILES,
        trajectories=S2_TRAJECTORY_FILES,
    output:
        metrics="results/s2/metrics.csv",
        trajectories="results/s2/trajectories.csv",
    log:
        "results/logs/s2_collect.log",
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench collect --output {output.metrics} {input.metrics} 2> {log} && "
        "restorebench collect --schema trajectories --output {output.trajectories} {input.trajectories} 2>> {log}"


rule s2_tables:
    localrule: True
    input:
        "results/s2/metrics.csv",
    output:
        md=expand("results/s2/tables/table{n}.md", n=[1, 2, 3, 4]),
        csv=expand("results/s2/tables/table{n}.csv", n=[1, 2, 3, 4]),
        html=[
            report(
                f"results/s2/tables/table{n}.html",
                caption=f"../report/s2_table{n}.rst",
                category="S2 deep audio priors",
                subcategory="Tables",
                labels={"table": f"Table {n}"},
            )
            for n in [1, 2, 3, 4]
        ],
    params:
        facts=quoted(S2_RUN_FACTS),
    log:
        "results/logs/s2_tables.log",
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s2-tables --metrics {input} --outdir results/s2/tables --run-facts {params.facts} 2> {log}"


rule s2_figure_convergence:
    localrule: True
    input:
        trajectories="results/s2/trajectories.csv",
        metrics="results/s2/metrics.csv",
    output:
        report(
            "results/s2/figures/figure2_convergence.png",
            caption="../report/s2_figure2.rst",
            category="S2 deep audio priors",
            subcategory="Figures",
            labels={"figure": "Figure 2: convergence"},
        ),
    log:
        "results/logs/s2_figure_convergence.log",
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s2-figure-convergence --trajectories {input.trajectories} --metrics {input.metrics} "
        "--output {output} 2> {log}"


rule s2_figure_example:
    localrule: True
    input:
        unpack(s2_example_inputs),
    output:
        report(
            "results/s2/figures/example_{task}.png",
            caption="../report/s2_example.rst",
            category="S2 deep audio priors",
            subcategory="Figures",
            labels={"figure": "example spectrograms: {task}"},
        ),
    params:
        fits=s2_example_fit_options,
    log:
        "results/logs/s2_figure_example/{task}.log",
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s2-figure-example --observations {input.observations} {params.fits} "
        "--output {output} 2> {log}"


rule s2_geometry:
    localrule: True
    output:
        csv="results/s2/tables/geometry.csv",
        md="results/s2/tables/geometry.md",
    params:
        priors=" ".join(dict.fromkeys(S2_PRIORS + S2_TABLE2_PRIORS)),
        facts=quoted(S2_RUN_FACTS),
        divisor=S2.get("dilation_divisor", 1),
        shape=f"--bins {S2_BINS} --frames {S2['frames']} --speech-frames {S2['speech_frames']}",
    log:
        "results/logs/s2_geometry.log",
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s2-geometry {params.shape} "
        "--dilation-divisor {params.divisor} --priors {params.priors} --outdir results/s2/tables "
        "--run-facts {params.facts} > /dev/null 2> {log}"


rule s2_claims:
    localrule: True
    input:
        metrics="results/s2/metrics.csv",
        trajectories="results/s2/trajectories.csv",
        geometry="results/s2/tables/geometry.csv",
    output:
        md="results/s2/claims.md",
        verdicts="results/s2/verdicts.csv",
        peaks="results/s2/tables/peaks.md",
        peaks_csv="results/s2/tables/peaks.csv",
        html=report(
            "results/s2/claims.html",
            caption="../report/s2_claims.rst",
            category="S2 deep audio priors",
            subcategory="Claims",
            labels={"page": "claims A1-A4"},
        ),
        figure=report(
            "results/s2/figures/claims_effects.png",
            caption="../report/claims_effects.rst",
            category="S2 deep audio priors",
            subcategory="Claims",
            labels={"page": "claims A1-A4: effects"},
        ),
    params:
        facts=quoted(S2_RUN_FACTS),
        stats=claim_options("s2"),
        a4=f"--a4-iteration-ratio {S2CFG['claims']['a4_iteration_ratio']} "
        f"--a4-tolerance-db {S2CFG['claims']['a4_tolerance_db']} "
        f"--unsupervised-rule {S2CFG['claims']['unsupervised_rule']}",
    log:
        "results/logs/s2_claims.log",
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s2-claims --metrics {input.metrics} --trajectories {input.trajectories} "
        "--geometry {input.geometry} --outdir results/s2 {params.a4} {params.stats} --run-facts {params.facts} 2> {log}"
