# The run's summary page, results/README.md, linking every table, figure and claims page, and the HTML
# report's landing page with every study's verdict table.

rule results_readme:
    localrule: True
    input:
        metrics="results/s2/metrics.csv",
        claims=["results/s1/claims.md", "results/s2/claims.md", "results/s3/claims.md", "results/s4/claims.md"],
        verdicts=["results/s1/verdicts.csv", "results/s2/verdicts.csv", "results/s3/verdicts.csv",
                  "results/s4/verdicts.csv"],
        tables=rules.s1_tables.output.md + rules.s2_tables.output.md + [rules.s2_geometry.output.md, rules.s2_claims.output.peaks] + S3_TABLES + S4_TABLES
        + [f"results/s{n}/tables/training.md" for n in (1, 3, 4)],
        figures=S1_FIGURES
        + S2_FIGURES
        + S3_FIGURES
        + S4_FIGURES
        + [f"results/s{n}/figures/training_curves.png" for n in (1, 3, 4)]
        + [f"results/s{n}/figures/claims_effects.png" for n in (1, 2, 3, 4)],
        benchmarks=S1_TRAIN_BENCHMARKS + S2_FIT_BENCHMARKS + S3_TRAIN_BENCHMARKS + S4_TRAIN_BENCHMARKS,
        prose="workflow/report/workflow.rst",
    output:
        readme="results/README.md",
        # the HTML report's landing page: the prose above plus every study's verdict table (Snakefile, `report:`)
        report_landing=REPORT_LANDING,
    params:
        facts=quoted(f"S1: {S1_RUN_FACTS}\n\nS2: {S2_RUN_FACTS}\n\nS3: {S3_RUN_FACTS}\n\nS4: {S4_RUN_FACTS}{S4_MUSIC_RUN_FACTS}"),
    log:
        "results/logs/results_readme.log",
    conda:
        "../envs/restorebench.yaml"
    shell:
        "restorebench results-readme --output {output.readme} --report-landing {output.report_landing} "
        "--report-prose {input.prose} --metrics {input.metrics} --claims {input.claims} "
        "--verdicts {input.verdicts} --benchmarks {input.benchmarks} --tables {input.tables} --figures {input.figures} --run-facts {params.facts} 2> {log}"
