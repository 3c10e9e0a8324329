#!/usr/bin/env bash
# Stop the single-node SLURM cluster started by tests/slurm/setup_local_slurm.sh.
#
#   tests/slurm/stop_local_slurm.sh           # stop slurmd, slurmctld, slurmdbd, MariaDB, munged
#   tests/slurm/stop_local_slurm.sh --purge   # also delete job state, the accounting database
#                                             # and the config files the setup script wrote
#
# Only daemons named in their pid files are stopped; packages stay installed. Refuses to touch a
# slurm.conf that the setup script did not write.
set -uo pipefail

MARKER="# written by coarse-grain tests/slurm/setup_local_slurm.sh"
CONF=/etc/slurm/slurm.conf
DBD_CONF=/etc/slurm/slurmdbd.conf
PURGE=0
[[ ${1:-} == --purge ]] && PURGE=1

say() { printf '[local-slurm] %s\n' "$*"; }

if [[ $EUID -ne 0 ]]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        exec sudo -n "$0" "$@"
    fi
    say "needs root (or passwordless sudo)"; exit 2
fi
if [[ -e $CONF ]] && ! grep -qF "$MARKER" "$CONF"; then
    say "$CONF was not written by setup_local_slurm.sh; not stopping a real cluster"; exit 2
fi

# stop NAME PIDFILE: SIGTERM the process in PIDFILE and wait up to 30 s for it to exit.
stop() {
    local name=$1 pidfile=$2 pid
    [[ -s $pidfile ]] || return 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        say "stopping $name (pid $pid)"
        kill "$pid"
        for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -0 "$pid" 2>/dev/null && { say "$name (pid $pid) ignores SIGTERM; sending SIGKILL"; kill -9 "$pid"; }
    fi
    rm -f "$pidfile"
}

if ((PURGE)) && mariadb-admin --protocol=socket ping >/dev/null 2>&1; then
    mariadb --protocol=socket -e "DROP DATABASE IF EXISTS slurm_acct_db" && say "dropped slurm_acct_db"
fi
stop slurmd /run/slurmd.pid
stop slurmctld /run/slurmctld.pid
stop slurmdbd /run/slurmdbd.pid
stop mariadb /run/mysqld/mysqld.pid
stop munged /run/munge/munged.pid

if ((PURGE)); then
    say "purging job state, accounting database and configs"
    rm -rf /var/lib/slurm/slurmctld/* /var/lib/slurm/slurmd/*
    rm -f "$CONF"
    [[ -e $DBD_CONF ]] && grep -qF "$MARKER" "$DBD_CONF" && rm -f "$DBD_CONF"
fi
say "stopped"
