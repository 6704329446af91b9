#!/usr/bin/env bash
# The suite's reference run: `standard` in a clone outside this checkout, then its text results published to
# docs/results/standard of this checkout.  Usage:  scripts/reference-run.sh [RUN_DIR]
#   RUN_DIR defaults to ../restorebench-standard.  Interrupted (killed, logged out)?  Run the same command
#   again: Snakemake keeps every finished job, trainings resume from their last checkpoint, and each segment's
#   wall time is added to RUN_DIR/results/wall_segments.tsv, so RUN_FACTS.md reports the total.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
run=${1:-$here/../restorebench-standard}
cores=${CORES:-all}
commit=$(git -C "$here" rev-parse HEAD)
if [ -n "$(git -C "$here" status --porcelain --untracked-files=no)" ]; then
    echo "reference-run: $here has uncommitted changes; a reference run is made from a commit" >&2; exit 2
fi
if [ ! -d "$run/.git" ]; then
    git clone -q "$here" "$run"
fi
git -C "$run" fetch -q "$here" "$commit" && git -C "$run" checkout -q --detach "$commit"
cd "$run"
make setup
snake() { PATH="$run/.venv/bin:$PATH" snakemake "$@"; }
# a killed run leaves Snakemake's lock behind; this script is the only one that runs in $run
snake --unlock --config scale=standard -q >/dev/null 2>&1 || true
mkdir -p results
start=$(date +%s)
record_segment() { echo "$start $(date +%s)" >> results/wall_segments.tsv; }
trap record_segment EXIT          # an interrupted segment counts too (not after kill -9 or a power cut)
snake --cores "$cores" --config scale=standard --rerun-incomplete
trap - EXIT
record_segment
snake --report results/report.html --config scale=standard
"$run/.venv/bin/restorebench" publish-reference results "$here/docs/results/standard" --commit "$commit" \
    --scale standard --cores "$cores" --wall-segments results/wall_segments.tsv --readme "$here/README.md"
