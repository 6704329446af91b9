# Data: the embedded corpus (default) or the real datasets (data_source: real).

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
        conda:
            "../envs/restorebench.yaml"
        shell:
            "restorebench ingest-audio --dataset {params.dataset} --role {wildcards.role} "
            "--source {params.folder} {params.patterns} --n-clips {params.clips} "
            "--clip-samples {params.clip_samples} --seed {params.seed} --peak {params.peak} "
            "{params.normalise} --output {output} 2> {log}"

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
