# Data: the embedded corpus (default) or the real datasets (data_source: real).

if config["data_source"] == "embedded":

    rule s2_corpus:
        output:
            "results/s2/corpus/{role}.npz",
        wildcard_constraints:
            role="speech|digits|piano|drums|living|traffic",
        params:
            dataset=lambda wc: dataset_name(wc.role),
            clip_samples=lambda wc: s2_clip_samples(wc.role),
            clips=S2["clips"],
            seed=lambda wc: config["seed"] * 100 + ["speech", "digits", "piano", "drums", "living", "traffic"].index(wc.role),
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

    def real_folder(role):
        return "resources/" + config["real_data"][role]["folder"]

    rule s2_ingest:
        input:
            lambda wc: real_folder(wc.role) + "/.complete",
        output:
            "results/s2/corpus/{role}.npz",
        wildcard_constraints:
            role="speech|digits|piano|drums|living|traffic",
        params:
            dataset=lambda wc: dataset_name(wc.role),
            folder=lambda wc: real_folder(wc.role),
            patterns=lambda wc: " ".join("--pattern " + quoted(p) for p in config["real_data"][wc.role]["patterns"]),
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

    def real_entry(folder):
        for role, entry in config["real_data"].items():
            if entry["folder"] == folder:
                return role, entry
        raise ValueError(f"no real_data entry has folder {folder!r}")

    rule fetch_archive:
        output:
            "resources/downloads/{archive}",
        params:
            url=lambda wc: next(e["url"] for e in config["real_data"].values() if e["url"] and e["url"].endswith("/" + wc.archive)),
            sha256=lambda wc: next(e.get("sha256") or "" for e in config["real_data"].values() if e["url"] and e["url"].endswith("/" + wc.archive)),
            size=lambda wc: next(("--size %d" % e["size"]) if e.get("size") else "" for e in config["real_data"].values() if e["url"] and e["url"].endswith("/" + wc.archive)),
        retries: 2
        log:
            "results/logs/fetch/{archive}.log",
        conda:
            "../envs/restorebench.yaml"
        shell:
            "restorebench fetch --url {params.url} --sha256 '{params.sha256}' {params.size} "
            "--output {output} 2> {log}"

    def archive_for(wc):
        role, entry = real_entry(wc.folder)
        if not entry["url"]:
            raise ValueError(
                f"real_data.{role}: no download exists for {entry['name']}. {entry.get('manual', '')} "
                f"Then create resources/{entry['folder']}/.complete (an empty file).")
        return "resources/downloads/" + entry["url"].rsplit("/", 1)[1]

    rule extract_archive:
        input:
            archive_for,
        output:
            touch("resources/{folder}/.complete"),
        params:
            dest=lambda wc: "resources/" + wc.folder,
        log:
            "results/logs/extract/{folder}.log",
        conda:
            "../envs/restorebench.yaml"
        shell:
            "restorebench extract --archive {input} --dest {params.dest} 2> {log}"
