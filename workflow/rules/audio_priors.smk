# S2 deep audio priors: observations -> fits -> scores -> collected metrics -> tables, figures, claims.


def s2_observation_inputs(wc):
    corpus = "results/s2/corpus/{}.npz"
    inputs = {"clean": corpus.format(wc.role)}
    if wc.task == "environmental":
        inputs["noise"] = [corpus.format("living"), corpus.format("traffic")]
    if wc.task == "separation":
        inputs["second"] = corpus.format("drums")
    return inputs


def s2_task_options(wc, input):
    if wc.task == "gaussian":
        return f"--sigma {S2CFG['sigma']}"
    if wc.task == "environmental":
        lo, hi = S2CFG["env_snr_db"]
        return " ".join(f"--noise {p}" for p in input.noise) + f" --snr-min {lo} --snr-max {hi}"
    if wc.task == "inpainting":
        lo, hi = S2CFG["gap_seconds"]
        return f"--gap-min {lo} --gap-max {hi} --n-gaps {S2['n_gaps']}"
    return f"--second {input.second} --peak {S2CFG['peak']}"


rule s2_observations:
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
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench corrupt --task {wildcards.task} --clean {input.clean} {params.options} "
        "--n-fft {params.n_fft} --hop {params.hop} --frames {params.frames} --seed {params.seed} "
        "--output {output} 2> {log}"


rule s2_fit:
    input:
        "results/s2/observations/{task}/{role}.npz",
    output:
        "results/s2/fits/{task}/{role}/{prior}.npz",
    wildcard_constraints:
        prior="conv|dilated|exp|exp-dense",
    threads: config["fit_threads"]
    resources:
        gpu=1 if SCALE == "paper" and config["device"] != "cpu" else 0,
    params:
        iterations=S2["iterations"],
        lr=S2CFG["learning_rate"],
        lr_decay=S2CFG["lr_decay_every"],
        widths=",".join(str(w) for w in S2["widths"]),
        es=f"--es-window {S2['es_window']} --es-patience {S2['es_patience']}",
        sep=f"--exclusion-weight {S2CFG['separation']['exclusion_weight']} --mask-weight {S2CFG['separation']['mask_weight']}",
        device=config["device"],
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
        "--widths {params.widths} {params.es} {params.sep} --device {params.device} --seed {params.seed} "
        "--threads {threads} 2> {log}"


rule s2_score_fit:
    input:
        observations="results/s2/observations/{task}/{role}.npz",
        fit="results/s2/fits/{task}/{role}/{prior}.npz",
    output:
        metrics="results/s2/scores/{task}/{role}/{prior}.tsv",
        trajectory="results/s2/scores/{task}/{role}/{prior}.trajectory.tsv",
    log:
        "results/logs/s2_score/{task}/{role}/{prior}.log",
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench score-fit --observations {input.observations} --fit {input.fit} "
        "--output {output.metrics} --trajectory-output {output.trajectory} 2> {log}"


rule s2_score_input:
    input:
        "results/s2/observations/{task}/{role}.npz",
    output:
        "results/s2/scores/{task}/{role}/input.tsv",
    log:
        "results/logs/s2_score/{task}/{role}/input.log",
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench score-input --observations {input} --output {output} 2> {log}"


S2_METRIC_FILES = [f"results/s2/scores/{t}/{r}/{p}.tsv" for t, r in S2_TASK_ROLES for p in s2_priors(t)] + [
    f"results/s2/scores/{t}/{r}/input.tsv" for t, r in S2_TASK_ROLES
]
S2_TRAJECTORY_FILES = [
    f"results/s2/scores/{t}/{r}/{p}.trajectory.tsv" for t, r in S2_TASK_ROLES for p in s2_priors(t)
]


rule s2_collect:
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
        "restorebench collect --output {output.trajectories} {input.trajectories} 2>> {log}"


rule s2_tables:
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
        facts=quoted(RUN_FACTS),
    log:
        "results/logs/s2_tables.log",
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s2-tables --metrics {input} --outdir results/s2/tables --run-facts {params.facts} 2> {log}"


rule s2_figure_convergence:
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


def s2_example_fits(wc):
    role = {"gaussian": "speech", "environmental": "speech", "inpainting": "speech", "separation": "piano"}[wc.task]
    return {p: f"results/s2/fits/{wc.task}/{role}/{p}.npz" for p in s2_priors(wc.task)}


rule s2_figure_example:
    input:
        unpack(lambda wc: {"observations": "results/s2/observations/{task}/%s.npz" % (
            "piano" if wc.task == "separation" else "speech"), **s2_example_fits(wc)}),
    output:
        report(
            "results/s2/figures/example_{task}.png",
            caption="../report/s2_example.rst",
            category="S2 deep audio priors",
            subcategory="Figures",
            labels={"figure": "example spectrograms: {task}"},
        ),
    params:
        fits=lambda wc, input: " ".join(f"--fit {p}={input[p]}" for p in s2_priors(wc.task)),
    log:
        "results/logs/s2_figure_example/{task}.log",
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s2-figure-example --observations {input.observations} {params.fits} "
        "--output {output} 2> {log}"


rule s2_claims:
    input:
        metrics="results/s2/metrics.csv",
        trajectories="results/s2/trajectories.csv",
    output:
        report(
            "results/s2/claims.md",
            caption="../report/s2_claims.rst",
            category="S2 deep audio priors",
            subcategory="Claims",
            labels={"page": "claims A1-A4"},
        ),
    params:
        facts=quoted(RUN_FACTS),
    log:
        "results/logs/s2_claims.log",
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench s2-claims --metrics {input.metrics} --trajectories {input.trajectories} "
        "--run-facts {params.facts} --output {output} 2> {log}"
