import os
import shutil

import pytest

# keep unit tests single-threaded and repeatable; the e2e test runs Snakemake with its own threads
os.environ.setdefault("OMP_NUM_THREADS", "1")


def need_tools(*names):
    missing = [n for n in names if shutil.which(n) is None]
    return pytest.mark.skipif(bool(missing), reason=f"system tools missing: {missing} (run make setup)")


def write_stem_file(path, streams, rate=44100):
    """Write a stem file as MUSDB18 ships them: one AAC stereo stream per (2 x samples) array, the
    mixture first, in an MP4 container (PyAV encodes it)."""
    import av
    import numpy as np

    with av.open(str(path), "w", format="mp4") as out:
        encoders = [out.add_stream("aac", rate=rate, layout="stereo") for _ in streams]
        for encoder, x in zip(encoders, streams):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(x, dtype=np.float32), format="fltp",
                                               layout="stereo")
            frame.rate = rate
            for packet in encoder.encode(frame):
                out.mux(packet)
        for encoder in encoders:
            for packet in encoder.encode(None):
                out.mux(packet)


def workflow_rules():
    """{rule name: its body text} of every rule in workflow/rules/*.smk (a rule ends where the next begins)."""
    import re
    from pathlib import Path

    blocks, name = {}, None
    for path in sorted((Path(__file__).resolve().parents[1] / "workflow" / "rules").glob("*.smk")):
        for line in path.read_text().splitlines():
            head = re.match(r"\s*rule (\w+):\s*$", line)
            if head:
                name = head.group(1)
                blocks[name] = ""
            elif name is not None:
                blocks[name] += line + "\n"
        name = None
    return blocks


def copy_workflow(dest):
    """A runnable copy of the workflow (Snakefile, config.yaml, workflow/) in `dest`, which may exist."""
    import shutil
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    dest.mkdir(parents=True, exist_ok=True)
    for item in ("Snakefile", "config.yaml", "workflow"):
        src = root / item
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dest / item)
    return dest


# bookkeeping rules, which run on the submitting host on a cluster (`localrule: True`)
LOCAL_RULE_PATTERN = r"s\d_(collect|tables|geometry|claims|report|training|figure_\w+|figure\d)|results_readme"


def host_reads(prof) -> int:
    """Device-to-host reads (``aten::_local_scalar_dense``: .item(), bool(), float() of a tensor) in a torch
    profile, leaving out Adam's reads of its step counts, which live on the CPU even for a GPU run."""
    def in_optimizer(event):
        while event is not None:
            if event.name.startswith("Optimizer.step"):
                return True
            event = event.cpu_parent
        return False
    return sum(1 for e in prof.events() if e.name == "aten::_local_scalar_dense" and not in_optimizer(e))
