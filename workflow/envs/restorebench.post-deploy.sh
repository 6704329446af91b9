#!/usr/bin/env bash
# Snakemake runs this once inside the conda env it has just created from restorebench.yaml (--use-conda),
# from the workflow's working directory, the checkout: it installs the package from there, editable, so
# jobs run the checkout's code. This cannot live in the env file's pip section: Snakemake copies env
# files into .snakemake/conda/ (or --conda-prefix) before creating them, so a relative path there points
# elsewhere; and Snakemake clears PYTHONPATH for conda jobs.
set -euo pipefail
if ! grep -qs '^name = "restorebench"' pyproject.toml; then
  echo "restorebench post-deploy: $PWD is not the restorebench checkout; run snakemake from there" >&2
  exit 1
fi
# --no-deps: the env file already pins every dependency (tests/test_config.py checks it against pyproject.toml)
python -m pip install --no-deps -e .
# the authors' released MERLIN weights (S3) ship in this wheel; its opencv-python requirement is not needed
python -m pip install --no-deps deepdespeckling==0.8
