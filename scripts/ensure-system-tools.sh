#!/usr/bin/env bash
# Make sure the system programs the embedded corpus needs are installed: espeak-ng, festival (text2wave
# with the kal diphone voice) and fluidsynth. With --cluster: Debian's SLURM with accounting instead
# (slurm-wlm, slurmdbd, munge, mariadb-server), for scripts/local-slurm.sh and `make test-cluster`.
# Installs them with apt-get when missing and permitted (root, or passwordless sudo); otherwise prints the
# exact install command and fails.
set -euo pipefail

missing=()
if [ "${1:-}" = "--cluster" ]; then
  packages="slurm-wlm slurmdbd munge mariadb-server"
  for tool in slurmctld slurmd sbatch sacct; do command -v $tool >/dev/null 2>&1 || missing+=(slurm-wlm); done
  command -v slurmdbd >/dev/null 2>&1 || missing+=(slurmdbd)
  command -v munged >/dev/null 2>&1 || missing+=(munge)
  command -v mysqld >/dev/null 2>&1 || missing+=(mariadb-server)
  hint="(on other systems: SLURM with slurmdbd, munge and a MySQL-compatible server)"
else
  packages="espeak-ng festival festvox-kallpc16k fluidsynth"
  command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
  command -v text2wave >/dev/null 2>&1 || missing+=(festival)
  [ -d /usr/share/festival/voices/english/kal_diphone ] || missing+=(festvox-kallpc16k)
  command -v fluidsynth >/dev/null 2>&1 || missing+=(fluidsynth)
  hint="(on other systems: install espeak-ng, festival with the kal diphone voice, and fluidsynth)"
fi
[ ${#missing[@]} -eq 0 ] && exit 0

command_line="apt-get update && apt-get install -y $packages"
if command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "Installing system tools: ${missing[*]}" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null
    exit 0
  elif sudo -n true 2>/dev/null; then
    echo "Installing system tools with sudo: ${missing[*]}" >&2
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null
    exit 0
  fi
fi
echo "error: missing system tools: ${missing[*]}" >&2
echo "Install them with:  sudo sh -c '$command_line'" >&2
echo "$hint" >&2
exit 1
