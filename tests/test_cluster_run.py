"""The tiny workflow on a real single-node SLURM (scripts/local-slurm.sh), through the slurm workflow profile
and snakemake-executor-plugin-slurm, against the same run with the local executor.

Run with `make test-cluster` (root and apt-get, or the packages slurm-wlm slurmdbd munge mariadb-server
already installed). Skipped with the reason when the cluster cannot be started, unless
RESTOREBENCH_REQUIRE_CLUSTER=1 (CI on the project's machine), where that is a failure.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import LOCAL_RULE_PATTERN, copy_workflow

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "local-slurm.sh"
BIN = Path(sys.executable).parent
ENV = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}")
# the test cluster answers at once: poll sacct 2 s after a job ends instead of the plugin's 40 s default
FAST_POLL = ["--slurm-init-seconds-before-status-checks", "2", "--slurm-keep-successful-logs"]
pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def cluster():
    if not all(shutil.which(t) for t in ("espeak-ng", "text2wave", "fluidsynth")):
        pytest.skip("system tools missing (make setup)")
    started = subprocess.run([str(SCRIPT), "start"], capture_output=True, text=True, timeout=300)
    try:
        if started.returncode != 0:
            lines = started.stderr.strip().splitlines() or ["(no message)"]
            reason = f"local SLURM could not be started: {lines[-1]}"
            if os.environ.get("RESTOREBENCH_REQUIRE_CLUSTER") == "1":
                pytest.fail(reason + "\n" + started.stderr[-3000:])
            pytest.skip(reason)
        yield
    finally:
        # whatever happened: no daemon and no state left behind
        subprocess.run([str(SCRIPT), "stop"], capture_output=True, text=True, timeout=120)


def _snakemake(cwd, *args, timeout=2400):
    start = time.monotonic()
    proc = subprocess.run([str(BIN / "snakemake"), *args], cwd=cwd, env=ENV, capture_output=True, text=True,
                          timeout=timeout)
    seconds = time.monotonic() - start
    (cwd / "snakemake.out").write_text(proc.stdout + proc.stderr)
    assert proc.returncode == 0, f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc.stdout + proc.stderr, seconds


def _job_outputs(text):
    """{output path: rule} of every job block ('rule X:' or 'localrule X:') in a Snakemake log."""
    outputs = {}
    for rule, body in re.findall(r"^\s*(?:local)?rule (\w+):\n((?:\s+\w+: .*\n)+)", text, re.M):
        found = re.search(r"^\s+output: (.*)$", body, re.M)
        for path in found.group(1).split(", ") if found else []:
            outputs[path] = rule
    return outputs


def _sacct(*fields):
    out = subprocess.run(["sacct", "-n", "-X", "-P", "-a", "-S", "now-1days", f"--format={','.join(fields)}"],
                         capture_output=True, text=True, check=True).stdout
    return [line.split("|") for line in out.splitlines() if line]


def _results_equal(local, remote):
    """Every tidy metric (all columns but wall-clock time), table, claims page and verdict of two runs."""
    compared = 0
    for path in sorted((local / "results").rglob("*")):
        rel = path.relative_to(local)
        if path.name == "metrics.csv":
            a, b = pd.read_csv(path), pd.read_csv(remote / rel)
            pd.testing.assert_frame_equal(a.drop(columns="wall_seconds"), b.drop(columns="wall_seconds"))
            compared += 1
        elif path.suffix in (".md", ".csv") and rel != Path("results/README.md") and "benchmarks" not in rel.parts:
            assert path.read_text() == (remote / rel).read_text(), f"{rel} differs between the two runs"
            compared += 1
    return compared


def test_tiny_workflow_on_slurm_submits_every_job_with_sbatch_and_equals_the_local_run(cluster, tmp_path):
    local = copy_workflow(tmp_path / "local")
    _, local_seconds = _snakemake(local, "--cores", "2", "--config", "scale=tiny")

    remote = copy_workflow(tmp_path / "slurm")
    dry, _ = _snakemake(remote, "-n", "--workflow-profile", "workflow/profiles/slurm", "--config", "scale=tiny")
    planned = _job_outputs(dry)
    log, slurm_seconds = _snakemake(remote, "--workflow-profile", "workflow/profiles/slurm", "--cores", "2",
                                    "--config", "scale=tiny", *FAST_POLL)
    run_id = re.search(r"SLURM run ID: (\S+)", log).group(1)

    # (a) every job of the run's SLURM jobs is in the accounting database, completed; each non-local job's
    # outputs were written inside one of them, and only the local rules ran on the submitting host
    records = {job_id: state for job_id, name, state in _sacct("JobID", "JobName", "State") if name == run_id}
    assert records and set(records.values()) == {"COMPLETED"}, records
    inside = {}
    for job_log in (remote / ".snakemake" / "slurm_logs").rglob("*.log"):
        job_id = job_log.stem
        assert job_id in records, f"{job_log} belongs to no accounted job of run {run_id}"
        inside.update(_job_outputs(job_log.read_text()))
    local_rules = {m for m in re.findall(r"^localrule (\w+):", log, re.M)}
    assert local_rules and all(re.fullmatch(LOCAL_RULE_PATTERN, r)
                               for r in local_rules - {"all"}), local_rules
    for path, rule in planned.items():
        if rule in local_rules:
            assert path not in inside, f"local rule {rule} ran on the cluster"
        elif rule != "all":
            assert path in inside, f"{path} ({rule}) was not written by a SLURM job"
    jobs = re.findall(r"^\s*(?:local)?rule (\w+):", dry, re.M)
    submitted = sum(1 for rule in jobs if rule not in local_rules | {"all"})

    # (b) the same numbers as the local executor
    compared = _results_equal(local, remote)
    assert compared >= 20

    print(f"\ntiny workflow, {len(jobs)} jobs ({submitted} through SLURM in {len(records)} submissions): "
          f"local executor {local_seconds / 60:.1f} min, single-node SLURM {slurm_seconds / 60:.1f} min "
          f"({slurm_seconds / local_seconds:.2f}x); {compared} result files identical")


def _running_job(comment):
    """The SLURM id of the running job whose --comment is `comment` (sacct stores comments only at the end)."""
    out = subprocess.run(["squeue", "-h", "-t", "RUNNING", "-o", "%i|%k"], capture_output=True, text=True).stdout
    return next((line.split("|")[0] for line in out.splitlines() if line.split("|")[1:] == [comment]), None)


def _epoch(checkpoint):
    """The epoch of the trainer's last checkpoint (0 before the first, or while it is being replaced)."""
    import torch

    try:
        return torch.load(checkpoint, weights_only=True)["epoch"] if checkpoint.exists() else 0
    except Exception:  # read between the atomic rename and the write: try again
        return 0


def _cancel_when(job_comment, ready, skip=(), deadline=900):
    """scancel the running job whose comment is `job_comment` (other than the ids in `skip`) once `ready()` is
    true; its SLURM id."""
    end = time.time() + deadline
    while time.time() < end:
        job_id = _running_job(job_comment)
        if job_id and job_id not in skip and ready():
            subprocess.run(["scancel", job_id], check=True)
            return job_id
        time.sleep(0.2)
    raise AssertionError(f"no running job {job_comment} became ready to cancel within {deadline} s")


def test_a_cancelled_job_is_resubmitted_then_fails_the_workflow_and_a_rerun_resumes_from_its_checkpoint(cluster, tmp_path):
    """A user's scancel, as the profile handles it (status from squeue, retries: 1): the first cancel is
    noticed and the job is submitted again, resuming from its last checkpoint; a second cancel exhausts the
    retries and Snakemake stops on its own with an error naming the rule and the SLURM job; rerunning the same
    command resumes from the checkpoint and finishes.

    With the plugin's default status command (sacct) Snakemake would wait forever: sacct reports a user's
    scancel as "CANCELLED by <uid>", which snakemake-executor-plugin-slurm 2.8.0 does not take for a failure
    (docs/paper-scale.md, "Running on a cluster")."""
    import torch

    work = copy_workflow(tmp_path / "resume")
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    tiny = config["scales"]["tiny"]
    tiny["group_studies"] = False        # the training job on its own, as at paper scale
    tiny["s1"].update(epochs=60, train_scenes=4, lines_per_scene=16)
    (work / "resume.yaml").write_text(yaml.safe_dump({"scale": "tiny", "scales": config["scales"]}))
    command = [str(BIN / "snakemake"), "--workflow-profile", "workflow/profiles/slurm", "--configfile", "resume.yaml",
               *FAST_POLL, "--", "results/s1/models/difnet/seed0.pt"]
    comment = "rule_s1_train_wildcards_difnet_0"
    checkpoint = work / "results" / "s1" / "checkpoints" / "difnet" / "seed0" / "last.pt"
    train_log = work / "results" / "logs" / "s1_train" / "difnet" / "seed0.log"
    weights = work / "results" / "s1" / "models" / "difnet" / "seed0.pt"
    out = (work / "first-run.out").open("w")
    proc = subprocess.Popen(command, cwd=work, env=ENV, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        first = _cancel_when(comment, lambda: _epoch(checkpoint) >= 2)
        first_epoch = _epoch(checkpoint)
        # the retry: a new job of the same rule, resuming where the cancelled one stopped
        second = _cancel_when(comment, lambda: "resumed from epoch" in (train_log.read_text() if train_log.exists()
                                                                         else "") and _epoch(checkpoint) >= first_epoch + 2,
                              skip={first})
        resumed_line = next(line for line in train_log.read_text().splitlines() if "resumed from epoch" in line)
        returncode = proc.wait(timeout=300)    # no Ctrl-C: Snakemake notices the cancel and stops by itself
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        out.close()
    text = (work / "first-run.out").read_text()
    assert returncode != 0, text[-3000:]
    assert "Error in rule s1_train" in text and f"SLURM-job '{second}' failed" in text and "CANCELLED" in text, \
        text[-3000:]
    assert int(resumed_line.split("resumed from epoch ")[1].split()[0]) >= 2
    assert not weights.exists() and checkpoint.exists()
    interrupted_epoch = _epoch(checkpoint)
    assert first_epoch + 2 <= interrupted_epoch < 60

    _snakemake(work, *command[1:])
    states = {job_id: state for job_id, comment_, state in _sacct("JobID", "Comment", "State") if comment_ == comment}
    assert states[first].startswith("CANCELLED") and states[second].startswith("CANCELLED")
    assert list(states.values()).count("COMPLETED") == 1       # the rerun's job
    log = train_log.read_text()
    assert f"resumed from epoch {interrupted_epoch} of 60" in log, log[-2000:]
    assert torch.load(weights, weights_only=True)["epoch"] == 60
