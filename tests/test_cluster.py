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
# the rules that train a network or fit a prior: the ones that need a GPU at paper scale
TRAINING_RULES = {"s1_train", "s2_fit", "s3_train", "s4_figure5_trained", "s4_toy", "s4_music_train"}

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


def dry_run_jobs(tmp_path, *config):
    """(rule, threads, resources) of every job of a forced dry run with the slurm workflow profile."""
    for item in ("Snakefile", "config.yaml", "workflow"):
        src, dst = ROOT / item, tmp_path / item
        if not dst.exists():
            os.symlink(src, dst)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    proc = subprocess.run([str(Path(sys.executable).parent / "snakemake"), "-n", "--forceall",
                           "--workflow-profile", PROFILE, "--config", *config],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:\n)", proc.stdout):
        head = re.match(r"(?:local)?rule (\w+):\n", block)
        if not head:
            continue
        resources = re.search(r"^\s+resources: (.*)$", block, re.M)
        threads = re.search(r"^\s+threads: (\d+)$", block, re.M)
        pairs = (item.split("=", 1) for item in resources.group(1).split(", ")) if resources else []
        jobs.append((head.group(1), int(threads.group(1)) if threads else 1,
                     _Resources({k: _value(v) for k, v in pairs})))
    assert jobs, proc.stdout[-2000:]
    return jobs


def sbatch_command(rule, threads, resources):
    """The sbatch command line the SLURM plugin builds for one job (account and partition left out)."""
    job = SimpleNamespace(name=rule, threads=threads, resources=resources, is_group=lambda: False)
    params = {"run_uuid": "run", "slurm_logfile": "job.log", "comment_str": f"rule_{rule}", "account": "",
              "partition": "", "workdir": "."}
    return submit_string.get_submit_command(job, params) + slurm_utils.set_gres_string(job)


def test_paper_scale_training_and_fitting_jobs_ask_slurm_for_one_gpu_and_nothing_else_does(tmp_path):
    jobs = dry_run_jobs(tmp_path, "scale=paper")
    rules = {rule for rule, _, _ in jobs}
    assert TRAINING_RULES <= rules
    for rule, threads, resources in jobs:
        command = sbatch_command(rule, threads, resources)
        if rule in TRAINING_RULES:
            assert "--gpus=1" in command, (rule, command)
            # the preset's time limit and memory reach sbatch too
            assert re.search(r" -t \d+", command) and re.search(r" --mem \d+", command), command
        else:
            assert "--gpus" not in command and "--gres" not in command, (rule, command)
    s3 = next(r for rule, _, r in jobs if rule == "s3_train")
    assert (s3["runtime"], s3["mem_mb"]) == (2880, 64000)    # scales.paper.s3.train_resources


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
