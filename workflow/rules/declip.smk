# S4 equivariance-based self-supervised declipping: Figure 5 cells (declipper x model dimension d x saturated
# fraction v; trained declippers train first) -> collected rows -> heatmaps and table.


rule s4_figure5_trained:
    output:
        scores="results/s4/figure5/{method}/d{d}/v{v}.tsv",
        weights="results/s4/models/figure5/{method}/d{d}/v{v}.pt",
    wildcard_constraints:
        method=wildcard_choice(S4_TRAINED),
        d=r"\d+",
        v=r"[0-9.]+",
    threads: 1
    resources:
        gpu=lambda wc: training_resources("s4")["gpu"],
        runtime=lambda wc: training_resources("s4")["runtime"],
        mem_mb=lambda wc: training_resources("s4")["mem_mb"],
    params:
        data=s4_synthetic_options(),
        net=s4_net_options(),
        optimiser=f"--epochs {S4['epochs']} --batch-size {S4['batch_size']} {training_options(S4CFG['training'])}",
        checkpoints="results/s4/checkpoints/figure5/{method}/d{d}/v{v}",
        device=config["device"],
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
        "--checkpoint-dir {params.checkpoints} --device {params.device} --threads {threads} 2> {log}"


rule s4_figure5_run:
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


rule s4_collect:
    input:
        S4_FIGURE5_SCORES,
    output:
        "results/s4/metrics.csv",
    log:
        "results/logs/s4_collect.log",
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench collect --output {output} {input} 2> {log}"


rule s4_report:
    input:
        "results/s4/metrics.csv",
    output:
        figure=report(
            "results/s4/figures/figure5.png",
            caption="../report/s4_figure5.rst",
            category="S4 declipping",
            subcategory="Figures",
            labels={"figure": "Figure 5: SDR vs v and d"},
        ),
        md="results/s4/tables/figure5.md",
        csv="results/s4/tables/figure5.csv",
    params:
        facts=quoted(S4_RUN_FACTS),
    log:
        "results/logs/s4_report.log",
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s4-report --metrics {input} --outdir results/s4 --run-facts {params.facts} 2> {log}"
