import os
import shutil

import pytest

# keep unit tests single-threaded and repeatable; the e2e test runs Snakemake with its own threads
os.environ.setdefault("OMP_NUM_THREADS", "1")


def need_tools(*names):
    missing = [n for n in names if shutil.which(n) is None]
    return pytest.mark.skipif(bool(missing), reason=f"system tools missing: {missing} (run make setup)")
