# What every study's rules share, derived from the validated config: the scale preset, device facts, job
# resources and groups, the claims' statistics options and the real-data helpers. A study's own globals and
# input functions open its rule file (workflow/rules/<study name>.smk).
import json
import math
import shlex


SCALE = config["scale"]
# what a GPU run computes in (docs/paper-scale.md, "GPUs"): on the claims pages beside the device
DEVICE_FACTS = (
    f"device `{config['device']}`, precision {config['precision']}"
    + ("" if config["device"] == "cpu" else
       ", deterministic CUDA kernels without TF32" if config["deterministic"] else
       " (on CUDA: TF32 convolutions and nondeterministic kernels, torch's defaults; `deterministic: true` "
       "makes GPU runs repeatable)")
)


def quoted(text):
    return shlex.quote(text)


def replicates(study):
    """The replicates of a study that trains networks (`scales.<scale>.<study>.replicates`): replicate r draws
    the study's data and trains its networks with seed r (the run's seed, seed + 1, ...), every method of a
    replicate scored on its test data. With two or more, they are the verdicts' unit (docs/verdicts.md)."""
    return [config["seed"] + k for k in range(config["scales"][SCALE][study]["replicates"])]


def extension_epochs(training, epochs):
    """The most epochs a training may add after the scale's ``epochs`` (`extend_to_plateau`, a share of them)."""
    return round(training.get("extend_to_plateau", 0) * (epochs or 0))


def training_options(training, epochs=None):
    """CLI options of the one training loop from a study's `training` config block (``epochs``: the scale's,
    which turn `lr_decay_at` shares into milestones and `extend_to_plateau` into epochs)."""
    milestones = list(training.get("lr_milestones") or [])
    if training.get("lr_decay_at"):
        if milestones or training["lr_step_epochs"]:
            raise ValueError("training: give one of lr_step_epochs, lr_milestones, lr_decay_at")
        milestones = sorted({max(1, round(share * epochs)) for share in training["lr_decay_at"]})
    return (
        f"--optimizer {training['optimizer']} --lr {training['learning_rate']} "
        f"--weight-decay {training['weight_decay']} --lr-step-epochs {training['lr_step_epochs']} "
        f"--lr-gamma {training['lr_gamma']} --grad-clip-norm {training['grad_clip_norm']}"
        + (f" --lr-milestones {' '.join(map(str, milestones))}" if milestones else "")
        + f" --precision {config['precision']} --validation-share {training.get('validation_share', 0.1)}"
        + (f" --extend-to-plateau {extension_epochs(training, epochs)}" if extension_epochs(training, epochs) else "")
    )


def epochs_words(training, epochs, steps_per_epoch=None):
    """The run facts' words for a training's length: the scale's epochs (and the optimiser steps they make,
    given ``steps_per_epoch``), and the plateau extension if any."""
    extra = extension_epochs(training, epochs)
    steps = f" of {steps_per_epoch} optimiser steps ({epochs * steps_per_epoch} steps)" if steps_per_epoch else ""
    return (f"{epochs} epoch{'s' if epochs != 1 else ''}{steps}"
            + (f" (then up to {extra} more while the validation loss still falls)" if extra else ""))


def gpus_per_network_job(study):
    """GPUs a job of ``study`` that runs a network reserves: none with device cpu, one with cuda or cuda:N,
    and with auto what the scale's preset gives its trainings (one at paper, none below)."""
    device = config["device"]
    if device.startswith("cuda"):
        return 1
    if device != "auto":
        return 0
    return min(1, config["scales"][SCALE][study]["train_resources"].get("gpu", 0))


def training_resources(study):
    """Cluster resources of a study's training and fitting jobs at this scale (runtime and memory from the
    preset), with the GPU a network job reserves."""
    return dict(config["scales"][SCALE][study]["train_resources"], gpu=gpus_per_network_job(study))


def network_resources(study, runs_network=lambda wc: True):
    """Resources of a job that evaluates a trained network: its GPU (a callable of the wildcards: a rule
    whose methods are partly networks, partly not, reserves one only for the networks)."""
    gpus = gpus_per_network_job(study)
    return {"gpu": lambda wc: gpus if runs_network(wc) else 0}


DEVICE_FLAGS = " --deterministic" if config["deterministic"] else ""


def device_options(study, runs_network=lambda wc: True):
    """The --device option of a job (a callable of the wildcards, for params). A network job that reserves a
    GPU asks for ``cuda`` (under auto too), so a node without one fails with that said instead of running on
    its CPU for hours; a job that runs no network never touches CUDA (it reserved no GPU)."""
    gpus = gpus_per_network_job(study)

    def options(wc):
        if not runs_network(wc):
            device = "cpu" if config["device"].startswith("cuda") else config["device"]
        else:
            device = "cuda" if config["device"] == "auto" and gpus else config["device"]
        return f"--device {device}{DEVICE_FLAGS}"
    return options


def study_group(study):
    """The cluster job group of a study's jobs: at scales whose jobs take seconds (`group_studies`), each
    connected part of a study goes to the cluster as one job, run there with --cores; otherwise none, and
    every job is its own submission. The local executor ignores groups."""
    return study if config["scales"][SCALE].get("group_studies", False) else None


CLAIM_STATS = (
    f"--alpha {config['claims']['alpha']} --resamples {config['claims']['resamples']} "
    f"--exact-max-units {config['claims']['exact_max_units']} --power {config['claims']['power']} "
    f"--stats-seed {config['claims']['seed']} --scale {SCALE} --smallest-difference "
    + (",".join(f"{k}={v}" for k, v in config["claims"]["smallest_meaningful_difference"].items()) or "''")
)


def claim_options(study):
    """CLAIM_STATS and `claims.in_place_of.<study>`: methods judged in the place of those the claims name."""
    swaps = config["claims"]["in_place_of"].get(study, {})
    swapped = "".join(f" --in-place-of {shlex.quote(f'{k}={v}')}" for k, v in swaps.items())
    return f"{CLAIM_STATS}{swapped}"


# ---- data sources -------------------------------------------------------------------------------


def real_folder(role):
    folder = config["real_data"][role]["folder"]
    return f"resources/{folder}"



def real_marker(wc):
    return f"{real_folder(wc.role)}/.complete"


def real_patterns(wc):
    return " ".join(f"--pattern {quoted(p)}" for p in config["real_data"][wc.role]["patterns"])


def download_entry(archive):
    """The real_data entry whose URL ends in this archive name."""
    for entry in config["real_data"].values():
        if entry["url"] and entry["url"].rsplit("/", 1)[1] == archive:
            return entry
    raise ValueError(f"no real_data entry downloads {archive!r}")


def fetch_options(wc):
    entry = download_entry(wc.archive)
    size = f"--size {entry['size']}" if entry.get("size") else ""
    return f"--url {quoted(entry['url'])} --sha256 {quoted(entry.get('sha256') or '')} {size}"


def archive_for(wc):
    """The download that holds resources/<folder>."""
    for entry in config["real_data"].values():
        if entry["folder"] == wc.folder and entry["url"]:
            archive = entry["url"].rsplit("/", 1)[1]
            return f"resources/downloads/{archive}"
    raise ValueError(f"no real_data entry downloads into folder {wc.folder!r}")


def manual_instructions(wc):
    for role, entry in config["real_data"].items():
        if entry["folder"] == wc.folder:
            return quoted(
                f"real_data.{role}: {entry['name']} cannot be downloaded. {entry.get('manual', '')} "
                f"Then create the empty file resources/{entry['folder']}/.complete and rerun."
            )
    raise ValueError(f"no real_data entry has folder {wc.folder!r}")


def folder_pattern(downloadable):
    import re

    folders = [e["folder"] for e in config["real_data"].values() if bool(e["url"]) == downloadable]
    return "|".join(re.escape(f) for f in folders) or "(?!)"


def param_options(values):
    """``--param KEY=VALUE`` options of a trained method's parameters (values as JSON)."""
    return " ".join(f"--param {shlex.quote(f'{k}={json.dumps(v)}')}" for k, v in values.items())
