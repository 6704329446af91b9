#!/usr/bin/env bash
# A single-node SLURM on this machine, for trying workflow/profiles/slurm by hand and for the cluster test:
# munge + MariaDB (127.0.0.1) + slurmdbd + slurmctld + slurmd, node "localhost", state in $STATE.
#
#   scripts/local-slurm.sh start     # prints the line to export (SLURM_CONF) when the cluster answers
#   scripts/local-slurm.sh stop      # stops every daemon it started and removes $STATE
#
# Needs root (daemons, munge key) and Debian's slurm-wlm slurmdbd munge mariadb-server (apt-get install).
# Facts behind the configuration: SPEC.md "Cluster" (the executor plugin checks the account with sacctmgr and
# job status with sacct, so accounting storage is required).
set -euo pipefail
STATE=${RESTOREBENCH_SLURM_STATE:-/tmp/restorebench-slurm}
CONF=$STATE/etc/slurm.conf
# SLURM's clients inside a job find the configuration only at its default path: the SLURM executor plugin's
# job step removes SLURM_CONF from the environment of the srun it starts. So /etc/slurm/slurm.conf links to
# $CONF while the cluster runs (only if no other SLURM is configured there).
SYSTEM_CONF=/etc/slurm/slurm.conf
PORTS=(6817 6818 6819)

log() { echo "local-slurm: $*" >&2; }

stop() {
  for pidfile in "$STATE"/run/*.pid; do
    [ -e "$pidfile" ] || continue
    kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  if [ -S "$STATE/mysql.sock" ]; then
    mysqladmin --socket="$STATE/mysql.sock" shutdown 2>/dev/null || true
  fi
  [ -e "$STATE/munge-key/munged.pid" ] && kill "$(cat "$STATE/munge-key/munged.pid")" 2>/dev/null || true
  sleep 1
  if [ -L "$SYSTEM_CONF" ] && [ "$(readlink "$SYSTEM_CONF")" = "$CONF" ]; then rm -f "$SYSTEM_CONF"; fi
  rm -rf "$STATE"
  log "stopped; $STATE removed"
}

start() {
  for tool in munged mysqld slurmdbd slurmctld slurmd sacctmgr; do
    command -v "$tool" >/dev/null || { log "$tool not found: apt-get install slurm-wlm slurmdbd munge mariadb-server"; exit 3; }
  done
  [ "$(id -u)" = 0 ] || { log "needs root (daemons and the munge key)"; exit 3; }
  if [ -e "$SYSTEM_CONF" ] && ! { [ -L "$SYSTEM_CONF" ] && [ "$(readlink "$SYSTEM_CONF")" = "$CONF" ]; }; then
    log "$SYSTEM_CONF exists: a SLURM is already configured on this machine; not touching it"; exit 3
  fi
  # a cluster left over from an interrupted run: stop it first
  [ -e "$STATE" ] && stop
  mkdir -p "$STATE"/{etc,run,log,spool/ctld,spool/d,munge-key,mysql}
  chmod 755 "$STATE"
  # munge: its own key (a private folder under $STATE) on the default socket, which SLURM's clients expect
  dd if=/dev/urandom bs=1 count=1024 of="$STATE/munge-key/munge.key" 2>/dev/null
  mkdir -p /run/munge
  chown -R munge:munge "$STATE/munge-key" /run/munge
  chmod 755 /run/munge; chmod 700 "$STATE/munge-key"; chmod 400 "$STATE/munge-key/munge.key"
  runuser -u munge -- munged --key-file="$STATE/munge-key/munge.key" \
    --pid-file="$STATE/munge-key/munged.pid" --log-file="$STATE/munge-key/munged.log" --seed-file="$STATE/munge-key/seed"
  # MariaDB on 127.0.0.1 with its own data directory
  mysql_install_db --user=root --datadir="$STATE/mysql" --auth-root-authentication-method=socket >"$STATE/log/mysql-install.log" 2>&1
  mysqld_safe --user=root --datadir="$STATE/mysql" --socket="$STATE/mysql.sock" --bind-address=127.0.0.1 \
    --port=3307 --pid-file="$STATE/run/mysqld.pid" --log-error="$STATE/log/mysqld.log" >/dev/null 2>&1 &
  for _ in $(seq 30); do [ -S "$STATE/mysql.sock" ] && break; sleep 1; done
  mysql --socket="$STATE/mysql.sock" -e "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
  cat >"$STATE/etc/slurmdbd.conf" <<CONF
AuthType=auth/munge
DbdHost=localhost
DbdPort=6819
# listen on localhost's address only, not on every interface
CommunicationParameters=NoInAddrAny
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=3307
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
PidFile=$STATE/run/slurmdbd.pid
LogFile=$STATE/log/slurmdbd.log
CONF
  chmod 600 "$STATE/etc/slurmdbd.conf"
  cat >"$CONF" <<CONF
ClusterName=restorebench
SlurmctldHost=localhost
SlurmctldPort=6817
SlurmdPort=6818
# daemons listen on localhost's address only, not on every interface
CommunicationParameters=NoInAddrAny
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/spool/ctld
SlurmdSpoolDir=$STATE/spool/d
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
# keep sbatch --comment (the plugin writes rule_<rule>_wildcards_<values>) in the accounting database
AccountingStoreFlags=job_comment
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MinJobAge=300
ReturnToService=2
NodeName=localhost CPUs=$(getconf _NPROCESSORS_ONLN) RealMemory=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 )) State=UNKNOWN
PartitionName=cpu Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF=$CONF
  mkdir -p "$(dirname "$SYSTEM_CONF")"
  ln -sfn "$CONF" "$SYSTEM_CONF"
  slurmdbd
  for _ in $(seq 30); do sacctmgr -n show cluster >/dev/null 2>&1 && break; sleep 1; done
  sacctmgr -i add cluster restorebench >/dev/null
  sacctmgr -i add account restorebench Cluster=restorebench Description=restorebench Organization=restorebench >/dev/null
  sacctmgr -i add user "$(id -un)" Account=restorebench >/dev/null
  slurmctld
  slurmd
  for _ in $(seq 60); do
    if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed)'; then
      log "cluster up: export SLURM_CONF=$CONF"
      echo "export SLURM_CONF=$CONF"
      return 0
    fi
    sleep 1
  done
  log "the node did not come up; logs in $STATE/log"; exit 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
