#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, for tests/test_slurm.py (`make test-slurm`).
#
# Installs Debian's packages if they are missing (slurmctld, slurmd, slurm-client, munge, and
# slurmdbd + mariadb-server for accounting), writes /etc/slurm/slurm.conf for this one node
# (CPUs and memory from `slurmd -C`, proctrack/linuxproc, task/none, select/cons_tres), starts
# the daemons directly (no systemd needed: works as root in a container) and waits until the
# node is idle. Running it again on a running cluster only checks it.
#
#   tests/slurm/setup_local_slurm.sh                       # accounting through slurmdbd + MariaDB
#   SLURM_ACCOUNTING=none tests/slurm/setup_local_slurm.sh # no database: sacct cannot answer;
#                                                          # use --slurm-status-command squeue
#   tests/slurm/stop_local_slurm.sh [--purge]              # stop it again
#
# Accounting: snakemake-executor-plugin-slurm asks `sacct` for job states. With
# AccountingStorageType=accounting_storage/none, sacct only says "Slurm accounting storage is
# disabled" (a jobcomp/filetxt log only answers `sacct -c`), so the default mode runs slurmdbd on
# a local MariaDB (socket only, no TCP). If MariaDB or slurmdbd cannot start, the script falls
# back to mode `none`; squeue then reports finished jobs for MinJobAge (1 h here).
#
# Meant for throw-away machines (CI containers, VMs): it refuses to overwrite a slurm.conf it did
# not write. Exit status: 0 cluster ready; 2 not possible here (not root, no apt, packages cannot
# be installed, foreign slurm.conf); 1 the daemons did not come up (see the logs it names).
set -uo pipefail

ACCOUNTING=${SLURM_ACCOUNTING:-slurmdbd}
CLUSTER=coarsegrain
PARTITION=${SLURM_LOCAL_PARTITION:-debug}
MARKER="# written by coarse-grain tests/slurm/setup_local_slurm.sh"
CONF=/etc/slurm/slurm.conf
DBD_CONF=/etc/slurm/slurmdbd.conf
LOGDIR=/var/log/slurm
STATE=/var/lib/slurm
DB_PASS=coarsegrain-local-only

say() { printf '[local-slurm] %s\n' "$*"; }
unavailable() { say "not possible here: $*"; exit 2; }
fail() { say "FAILED: $*"; exit 1; }

# wait_for SECONDS COMMAND...: retry COMMAND every 0.5 s until it succeeds or SECONDS pass.
wait_for() {
    local deadline=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || return 1
        sleep 0.5
    done
}

# running PIDFILE: the process named in PIDFILE is alive.
running() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

if [[ $EUID -ne 0 ]]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        exec sudo -n --preserve-env=SLURM_ACCOUNTING,SLURM_LOCAL_PARTITION "$0" "$@"
    fi
    unavailable "needs root (or passwordless sudo) to install packages and start daemons"
fi
[[ $ACCOUNTING == slurmdbd || $ACCOUNTING == none ]] || fail "SLURM_ACCOUNTING must be slurmdbd or none"

# ------------------------------------------------------------------ packages
packages=(slurmctld slurmd slurm-client munge)
[[ $ACCOUNTING == slurmdbd ]] && packages+=(slurmdbd mariadb-server)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    command -v apt-get >/dev/null || unavailable "apt-get not found; install ${missing[*]} by hand"
    say "installing ${missing[*]} (apt)"
    t0=$SECONDS
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || unavailable "apt-get update failed (no network to the Debian mirror?)"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || unavailable "apt-get install ${missing[*]} failed"
    say "installed in $((SECONDS - t0)) s"
fi
t_start=$SECONDS

# ------------------------------------------------------------------ munge
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
chmod 0755 /run/munge
if [[ ! -s /etc/munge/munge.key ]]; then
    say "creating /etc/munge/munge.key"
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
fi
munge_ok() { munge -n | unmunge; }
if ! munge_ok >/dev/null 2>&1; then
    say "starting munged"
    runuser -u munge -- /usr/sbin/munged --force || fail "munged did not start (see /var/log/munge/munged.log)"
    wait_for 10 munge_ok || fail "munge does not answer (see /var/log/munge/munged.log)"
fi

# ------------------------------------------------------------------ accounting database
mkdir -p "$LOGDIR" "$STATE/slurmctld" "$STATE/slurmd"
db_ok() { mariadb-admin --protocol=socket ping; }
start_dbd() {
    if ! db_ok >/dev/null 2>&1; then
        say "starting MariaDB (socket only)"
        mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
        setsid /usr/sbin/mariadbd --user=mysql --skip-networking --socket=/run/mysqld/mysqld.sock \
            --pid-file=/run/mysqld/mysqld.pid >>"$LOGDIR/mariadb.log" 2>&1 </dev/null &
        wait_for 60 db_ok || { say "MariaDB did not start (see $LOGDIR/mariadb.log)"; return 1; }
    fi
    mariadb --protocol=socket -e "
        CREATE DATABASE IF NOT EXISTS slurm_acct_db;
        CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
        GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';" || return 1
    cat >"$DBD_CONF" <<EOF
$MARKER
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
PidFile=/run/slurmdbd.pid
LogFile=$LOGDIR/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageLoc=slurm_acct_db
StorageUser=slurm
StoragePass=$DB_PASS
EOF
    chmod 0600 "$DBD_CONF"
    if ! running /run/slurmdbd.pid; then
        say "starting slurmdbd"
        /usr/sbin/slurmdbd || { say "slurmdbd did not start (see $LOGDIR/slurmdbd.log)"; return 1; }
    fi
    # slurmdbd creates its tables on first start; sacctmgr answers once it is ready.
    wait_for 60 sacctmgr -n list cluster || { say "slurmdbd does not answer (see $LOGDIR/slurmdbd.log)"; return 1; }
    sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER" \
        || sacctmgr -i add cluster "$CLUSTER" >/dev/null || return 1
}

# ------------------------------------------------------------------ slurm.conf
if [[ -e $CONF ]] && ! grep -qF "$MARKER" "$CONF"; then
    unavailable "$CONF exists and was not written by this script; not touching a real cluster's config"
fi
old_conf=$([[ -e $CONF ]] && cat "$CONF")
node=$(hostname -s)
# slurmd -C prints this machine's node line, e.g.
# NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24105
hw=$(slurmd -C | head -n 1 | sed -E 's/^NodeName=[^ ]+ //; s/ *UpTime=.*//')
[[ $hw == *CPUs=* && $hw == *RealMemory=* ]] || fail "could not read the node's hardware from 'slurmd -C': $hw"

# write_conf MODE: write slurm.conf for accounting MODE (slurmdbd or none).
write_conf() {
    local accounting
    if [[ $1 == slurmdbd ]]; then
        accounting="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoreFlags=job_comment
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30"
    else
        accounting="AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none"
    fi
    cat >"$CONF" <<EOF
$MARKER
# One node ($node), one partition ($PARTITION); accounting: $1.
ClusterName=$CLUSTER
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
StateSaveLocation=$STATE/slurmctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOGDIR/slurmctld.log
SlurmdLogFile=$LOGDIR/slurmd.log
$accounting
# Job history also goes to a text file: 'sacct -c' reads it even without slurmdbd.
JobCompType=jobcomp/filetxt
JobCompLoc=$LOGDIR/jobcomp.log
# Finished jobs stay visible to squeue for an hour (the plugin's squeue status mode needs >= 120 s).
MinJobAge=3600
ReturnToService=2
DefMemPerCPU=1000
NodeName=$node NodeAddr=127.0.0.1 $hw State=UNKNOWN
PartitionName=$PARTITION Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
}

if [[ $ACCOUNTING == slurmdbd ]]; then
    # sacctmgr finds slurmdbd through slurm.conf, so write it before starting the database side.
    write_conf slurmdbd
    if [[ -e $DBD_CONF ]] && ! grep -qF "$MARKER" "$DBD_CONF"; then
        say "$DBD_CONF was not written by this script; using SLURM_ACCOUNTING=none"; ACCOUNTING=none
    elif ! start_dbd; then
        say "falling back to SLURM_ACCOUNTING=none (sacct will not answer; use --slurm-status-command squeue)"
        ACCOUNTING=none
        running /run/slurmdbd.pid && kill "$(cat /run/slurmdbd.pid)"
    fi
fi
[[ $ACCOUNTING == none ]] && write_conf none
restart=0
if [[ $(cat "$CONF") != "$old_conf" ]]; then
    say "wrote $CONF ($hw; accounting: $ACCOUNTING)"
    restart=1
fi
# State saved under another cluster name makes slurmctld refuse to start; this is a scratch cluster.
if [[ -e $STATE/slurmctld/clustername && $(cat "$STATE/slurmctld/clustername") != "$CLUSTER" ]]; then
    say "clearing job state of cluster '$(cat "$STATE/slurmctld/clustername")' in $STATE/slurmctld"
    rm -rf "${STATE:?}"/slurmctld/*
fi

# ------------------------------------------------------------------ slurmctld, slurmd
if ((restart)); then
    for pidfile in /run/slurmd.pid /run/slurmctld.pid; do
        if running "$pidfile"; then
            say "stopping $(basename "$pidfile" .pid) for the new config"
            pid=$(cat "$pidfile"); kill "$pid"
            wait_for 30 bash -c "! kill -0 $pid" || fail "$(basename "$pidfile" .pid) (pid $pid) does not stop"
        fi
    done
fi
if ! running /run/slurmctld.pid; then
    say "starting slurmctld"
    /usr/sbin/slurmctld || fail "slurmctld did not start (see $LOGDIR/slurmctld.log)"
fi
wait_for 30 scontrol ping || fail "slurmctld does not answer (see $LOGDIR/slurmctld.log)"
if ! running /run/slurmd.pid; then
    say "starting slurmd"
    /usr/sbin/slurmd || fail "slurmd did not start (see $LOGDIR/slurmd.log)"
fi

node_state() { sinfo -h -N -n "$node" -o %T 2>/dev/null | head -n 1; }
node_usable() { [[ $(node_state) =~ ^(idle|mixed|allocated|completing)$ ]]; }
if ! wait_for 20 node_usable; then
    # A node left down or drained by an earlier run comes back with 'resume'.
    say "node $node is '$(node_state)'; resuming it"
    scontrol update nodename="$node" state=resume >/dev/null 2>&1
    wait_for 30 node_usable || fail "node $node stays '$(node_state)' (see $LOGDIR/slurmd.log, $LOGDIR/slurmctld.log)"
fi

say "ready in $((SECONDS - t_start)) s (daemons); accounting: $ACCOUNTING"
sinfo
