"""The SLURM profile: what the executor plugin asks the scheduler for, job by job.

The sbatch command lines are built by snakemake-executor-plugin-slurm's own functions from the resources
Snakemake evaluates for each job of a dry run with the slurm workflow profile (no cluster needed). The run
on a real single-node SLURM is in test_cluster_run.py.
"""
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import LOCAL_RULE_PATTERN, workflow_rules

ROOT = Path(__file__).resolve().parents[1]
PROFILE = "workflow/profiles/slurm"
# the rules that train a network or fit a prior, and those that evaluate a trained network: the ones that
# need a GPU at paper scale (s3_despeckle only for its network despecklers)
TRAINING_RULES = {"s1_train", "s2_fit", "s3_train", "s4_figure5_trained", "s4_toy", "s4_music_train"}
EVALUATION_RULES = {"s1_evaluate_trained", "s3_evaluate", "s4_music_eval_trained"}
NETWORK_DESPECKLERS = {"merlin", "multitask", "released-stripmap", "released-spotlight", "released-sentinel_tops"}


def runs_network(rule, wildcards):
    return rule in TRAINING_RULES | EVALUATION_RULES or (
        rule == "s3_despeckle" and wildcards.get("method") in NETWORK_DESPECKLERS)

submit_string = pytest.importorskip("snakemake_executor_plugin_slurm.submit_string")
slurm_utils = pytest.importorskip("snakemake_executor_plugin_slurm.utils")


class _Resources(dict):
    """Job resources with attribute access, as the plugin reads them."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError as err:
            raise AttributeError(name) from err


def _value(text):
    return int(text) if re.fullmatch(r"-?\d+", text) else text


def dry_run_jobs(tmp_path, *config, shell=False):
    """(rule, threads, resources) of every job of a forced dry run with the slurm workflow profile; with
    ``shell``, (rule, threads, resources, wildcards, shell command)."""
    for item in ("Snakefile", "config.yaml", "workflow"):
        src, dst = ROOT / item, tmp_path / item
        if not dst.exists():
            os.symlink(src, dst)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    proc = subprocess.run([str(Path(sys.executable).parent / "snakemake"), "-n", "-p", "--forceall",
                           "--workflow-profile", PROFILE, "--config", *config],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    jobs = []
    # jobs of a job group (tiny to standard) are listed indented under it
    for block in re.split(r"\n(?=[ ]*(?:local)?rule \w+:\n)", proc.stdout):
        head = re.match(r"[ ]*(?:local)?rule (\w+):\n", block)
        if not head:
            continue
        resources = re.search(r"^\s+resources: (.*)$", block, re.M)
        threads = re.search(r"^\s+threads: (\d+)$", block, re.M)
        pairs = (item.split("=", 1) for item in resources.group(1).split(", ")) if resources else []
        job = (head.group(1), int(threads.group(1)) if threads else 1, _Resources({k: _value(v) for k, v in pairs}))
        if shell:
            wildcards = re.search(r"^\s+wildcards: (.*)$", block, re.M)
            command = re.search(r"^Shell command: (.*)$", block, re.M)
            job += (dict(item.split("=", 1) for item in wildcards.group(1).split(", ")) if wildcards else {},
                    command.group(1) if command else "")
        jobs.append(job)
    assert jobs, proc.stdout[-2000:]
    return jobs


def sbatch_command(rule, threads, resources):
    """The sbatch command line the SLURM plugin builds for one job (account and partition left out)."""
    job = SimpleNamespace(name=rule, threads=threads, resources=resources, is_group=lambda: False)
    params = {"run_uuid": "run", "slurm_logfile": "job.log", "comment_str": f"rule_{rule}", "account": "",
              "partition": "", "workdir": "."}
    return submit_string.get_submit_command(job, params) + slurm_utils.set_gres_string(job)


@pytest.mark.parametrize("device", ["auto", "cuda"])
def test_at_paper_scale_every_network_job_asks_slurm_for_one_gpu_and_runs_on_it(tmp_path, device):
    """Trainings, fits and evaluations of trained networks reserve a GPU and ask for ``--device cuda`` (so a
    node without one fails saying so); jobs that run no network reserve none and never touch CUDA."""
    jobs = dry_run_jobs(tmp_path, "scale=paper", f"device={device}", shell=True)
    rules = {job[0] for job in jobs}
    assert TRAINING_RULES | EVALUATION_RULES | {"s3_despeckle"} <= rules
    for rule, threads, resources, wildcards, shell in jobs:
        command = sbatch_command(rule, threads, resources)
        if runs_network(rule, wildcards):
            assert "--gpus=1" in command, (rule, command)
            assert "--device cuda " in shell, (rule, shell)
        else:
            assert "--gpus" not in command and "--gres" not in command, (rule, command)
            assert "--device cuda" not in shell, (rule, shell)
        if rule in TRAINING_RULES:   # the preset's time limit and memory reach sbatch too
            assert re.search(r" -t \d+", command) and re.search(r" --mem \d+", command), command
    s3 = next(r for rule, _, r, _, _ in jobs if rule == "s3_train")
    assert (s3["runtime"], s3["mem_mb"]) == (2880, 64000)    # scales.paper.s3.train_resources


def test_device_cuda_reserves_a_gpu_below_paper_scale_too_and_deterministic_reaches_every_network_job(tmp_path):
    jobs = dry_run_jobs(tmp_path, "scale=standard", "device=cuda", "deterministic=True", "precision=bf16", shell=True)
    networks = [(rule, shell) for rule, _, resources, wildcards, shell in jobs if runs_network(rule, wildcards)]
    assert {rule for rule, _ in networks} >= TRAINING_RULES | EVALUATION_RULES
    for rule, threads, resources, wildcards, shell in jobs:
        assert (resources.get("gpu", 0) == 1) == runs_network(rule, wildcards), (rule, resources)
    for rule, shell in networks:
        assert "--device cuda --deterministic" in shell, (rule, shell)
        if rule in TRAINING_RULES - {"s2_fit"}:
            assert "--precision bf16" in shell, (rule, shell)


@pytest.mark.parametrize("config", [("scale=tiny",), ("scale=quick",), ("scale=paper", "device=cpu")])
def test_no_gpu_is_requested_below_paper_scale_or_on_cpu(tmp_path, config):
    for rule, threads, resources in dry_run_jobs(tmp_path, *config):
        command = sbatch_command(rule, threads, resources)
        assert "--gpus" not in command and "--gres" not in command, (rule, command)
        assert f"--cpus-per-task={threads}" in command


def test_bookkeeping_rules_run_on_the_submitting_host():
    """Tables, figures, claims pages and downloads are local rules: seconds of work, or the internet."""
    blocks = workflow_rules()
    local = {name for name, body in blocks.items() if "localrule: True" in body}
    for name in blocks:
        bookkeeping = re.fullmatch(LOCAL_RULE_PATTERN, name) or name in (
            "fetch_archive", "extract_archive", "manual_dataset")
        assert (name in local) == bool(bookkeeping), name
    assert not local & TRAINING_RULES
