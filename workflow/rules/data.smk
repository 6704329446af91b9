# Real datasets (data_source: real): downloads, extraction, folders placed by hand. Each study's own
# data rules (the S2 corpus, S1 splits, the S3 scene, S4 signals) live in its rule file.

if config["data_source"] != "embedded":

    rule fetch_archive:
        localrule: True
        output:
            "resources/downloads/{archive}",
        params:
            options=fetch_options,
        retries: 2
        log:
            "results/logs/fetch/{archive}.log",
        conda:
            "../envs/restorebench.yaml"
        shell:
            "restorebench fetch {params.options} --output {output} 2> {log}"

    rule extract_archive:
        localrule: True
        input:
            archive_for,
        output:
            touch("resources/{folder}/.complete"),
        wildcard_constraints:
            folder=folder_pattern(downloadable=True),
        log:
            "results/logs/extract/{folder}.log",
        conda:
            "../envs/restorebench.yaml"
        shell:
            "restorebench extract --archive {input} --dest resources/{wildcards.folder} 2> {log}"

    # Datasets without a verified download: placed by hand. Runs (and fails, saying what to do) only
    # when the folder's .complete marker is missing.
    rule manual_dataset:
        localrule: True
        output:
            "resources/{folder}/.complete",
        wildcard_constraints:
            folder=folder_pattern(downloadable=False),
        params:
            message=manual_instructions,
        shell:
            "echo {params.message} >&2; exit 1"
