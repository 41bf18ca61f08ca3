#!/usr/bin/env bash
# slurm-setup.sh — a single-node Slurm (Debian's 22.05 packages) with accounting, for tests.
#
# Sets up, on this host, as root and without systemd:
#   munge -> MariaDB -> accounting database and user -> slurmdbd -> cluster "localcluster"
#   -> slurmctld + slurmd, with one partition "debug" holding this host as the only node.
# The node claims 8 CPUs and 8000 MB (SlurmdParameters=config_overrides) whatever the
# machine has, so that many small test jobs (mostly `sleep`) run at once; the scheduler runs
# every 2 s; OverMemoryKill enforces --mem; finished jobs stay in the controller 300 s.
#
# Usage: slurm-setup.sh [up|status|stop-controller|start-controller]
#   up (default)      install the packages if missing (apt-get), write the configuration,
#                     start whatever is not running, wait until the node is idle. Idempotent:
#                     healthy daemons are left alone, existing DB/user/cluster are kept.
#   status            exit 0 iff `scontrol ping` answers, `sinfo` shows the node
#                     idle/mixed/allocated, and `sacct` works.
#   stop-controller   stop slurmctld only and wait until its process is gone.
#   start-controller  start slurmctld again, wait until `scontrol ping` answers and the
#                     node is back (slurmd re-registers within a few seconds).
#
# Logs: /var/log/slurm (slurmctld.log, slurmd.log, slurmdbd.log, mariadb.log, apt.log).
# Environment: SLURM_SETUP_TIMEOUT (seconds for each wait, default 60).
set -Eeuo pipefail

readonly CLUSTER=localcluster
readonly DB_NAME=slurm_acct_db
readonly DB_USER=slurm
# Local-only test database, reachable only through localhost: a fixed password is fine.
readonly DB_PASS=slurm-local-test-only
readonly LOG_DIR=/var/log/slurm
readonly RUN_DIR=/run/slurm
readonly CONF_DIR=/etc/slurm
readonly SLURM_CONF_FILE=$CONF_DIR/slurm.conf
readonly DBD_CONF_FILE=$CONF_DIR/slurmdbd.conf
readonly CTLD_PID=$RUN_DIR/slurmctld.pid
readonly SLURMD_PID=$RUN_DIR/slurmd.pid
readonly DBD_PID=$RUN_DIR/slurmdbd.pid
readonly TIMEOUT=${SLURM_SETUP_TIMEOUT:-60}
readonly PACKAGES=(slurm-wlm slurmdbd mariadb-server munge)
H=$(hostname)
readonly H

SETUP_NAME=slurm-setup
# shellcheck source=setup-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/setup-lib.sh"

# ---------------------------------------------------------------- checks

pid_alive() { # pid_alive PIDFILE NAME
  local pid
  [[ -r $1 ]] || return 1
  pid=$(cat "$1" 2>/dev/null) || return 1
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$2" ]]
}

munge_ok() { munge -n 2>/dev/null | unmunge 2>/dev/null | grep 'STATUS: *Success' >/dev/null; }
mysql_ok() { mysqladmin --connect-timeout=2 ping 2>/dev/null | grep 'alive' >/dev/null; }
dbd_ok() { timeout 10 sacctmgr -n -P list cluster format=cluster >/dev/null 2>&1; }
ctld_ok() { timeout 10 scontrol ping 2>/dev/null | grep 'is UP' >/dev/null; }
node_state() { timeout 10 sinfo -h -n "$H" -o %t 2>/dev/null | head -n 1; }
node_usable() { [[ $(node_state) =~ ^(idle|mix|mixed|alloc|allocated)$ ]]; }
sacct_ok() { timeout 10 sacct -n -X -P --starttime now-1hour -o JobID >/dev/null 2>&1; }
ctld_running() { pid_alive "$CTLD_PID" slurmctld || pgrep -x slurmctld >/dev/null; }
slurmd_running() { pid_alive "$SLURMD_PID" slurmd || pgrep -x slurmd >/dev/null; }
dbd_running() { pid_alive "$DBD_PID" slurmdbd || pgrep -x slurmdbd >/dev/null; }

# ---------------------------------------------------------------- steps

do_install() {
  step "install packages (${PACKAGES[*]})" "$LOG_DIR/apt.log"
  mkdir -p "$LOG_DIR"
  if package_manager_busy; then
    say "another apt-get/dpkg is running; waiting for it to finish (up to 900s)"
    local start=$SECONDS
    while package_manager_busy; do
      ((SECONDS - start < 900)) || fail "apt-get/dpkg still running after 900s"
      sleep 2
    done
    say "package manager is free ($((SECONDS - start))s)"
  fi
  if packages_installed; then
    say "already installed: $(dpkg-query -W -f='${Package} ${Version}  ' "${PACKAGES[@]}")"
    return
  fi
  say "apt-get update + install (about two minutes)"
  {
    apt-get update &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y "${PACKAGES[@]}"
  } >"$LOG_DIR/apt.log" 2>&1 || fail "apt-get install failed"
  packages_installed || fail "packages still not installed after apt-get"
}

do_munge() {
  step "munge" "/var/log/munge/munged.log"
  if munge_ok; then
    say "munged already running"
    return
  fi
  [[ -r /etc/munge/munge.key ]] || fail "/etc/munge/munge.key is missing (should come with the munge package)"
  mkdir -p /run/munge
  chown munge:munge /run/munge
  say "starting munged"
  # munged warns about the ownership of its log directory; that is harmless.
  munged --force 2>>"$LOG_DIR/munged-start.log" || fail "munged did not start" "$LOG_DIR/munged-start.log"
  wait_until "munge -n | unmunge" "$TIMEOUT" munge_ok
}

do_mariadb() {
  step "MariaDB" "$LOG_DIR/mariadb.log"
  if mysql_ok; then
    say "MariaDB already running"
  else
    mkdir -p /run/mysqld
    chown mysql:mysql /run/mysqld
    touch "$LOG_DIR/mariadb.log"
    chown mysql:mysql "$LOG_DIR/mariadb.log"
    say "starting mysqld_safe (detached)"
    # Detached (own session, no terminal, output to the log) so it outlives this script.
    setsid nohup mysqld_safe --user=mysql --skip-syslog --log-error="$LOG_DIR/mariadb.log" \
      </dev/null >>"$LOG_DIR/mariadb.log" 2>&1 &
    wait_until "mysqladmin ping" "$TIMEOUT" mysql_ok
  fi

  step "accounting database '$DB_NAME' and user '$DB_USER'@'localhost'" "$LOG_DIR/mariadb.log"
  mysql -u root <<SQL || fail "SQL set-up of the accounting database failed"
CREATE DATABASE IF NOT EXISTS $DB_NAME;
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
ALTER USER '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
GRANT ALL ON $DB_NAME.* TO '$DB_USER'@'localhost';
FLUSH PRIVILEGES;
SQL
  say "database and user are in place"
}

# install_file TARGET MODE CONTENT: write only if different; returns 0 if changed, 1 if not.
install_file() {
  local target=$1 mode=$2 content=$3 tmp
  tmp=$(mktemp)
  printf '%s\n' "$content" >"$tmp"
  if [[ -f $target ]] && cmp -s "$tmp" "$target"; then
    chmod "$mode" "$target"
    chown root:root "$target"
    rm -f "$tmp"
    say "$target unchanged"
    return 1
  fi
  install -o root -g root -m "$mode" "$tmp" "$target"
  rm -f "$tmp"
  say "wrote $target"
  return 0
}

DBD_CONF_CHANGED=0
SLURM_CONF_CHANGED=0

do_configure() {
  step "configuration files in $CONF_DIR" ""
  mkdir -p "$CONF_DIR" "$LOG_DIR" "$RUN_DIR" /var/spool/slurmctld /var/spool/slurmd
  if install_file "$DBD_CONF_FILE" 600 "# Written by slurm-setup.sh
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=$DB_USER
StoragePass=$DB_PASS
StorageLoc=$DB_NAME
LogFile=$LOG_DIR/slurmdbd.log
PidFile=$DBD_PID"; then DBD_CONF_CHANGED=1; fi

  if install_file "$SLURM_CONF_FILE" 644 "# Written by slurm-setup.sh: single-node test cluster on $H
ClusterName=$CLUSTER
SlurmctldHost=$H
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmUser=root
ReturnToService=2
MailProg=/bin/true
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherParams=OverMemoryKill
JobAcctGatherFrequency=1
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
# Fast, concurrent tests: schedule every 2 s, finished jobs stay visible 300 s,
# a job without --mem takes 100 MB per CPU instead of the whole node.
SchedulerParameters=sched_interval=2,bf_interval=2
MinJobAge=300
KillWait=5
OverTimeLimit=0
MessageTimeout=5
MaxArraySize=100001
DefMemPerCPU=100
# The node claims more CPUs than the machine has: test jobs mostly sleep.
SlurmdParameters=config_overrides
NodeName=$H CPUs=8 RealMemory=8000 State=UNKNOWN
PartitionName=debug Nodes=$H Default=YES MaxTime=INFINITE State=UP"; then SLURM_CONF_CHANGED=1; fi
}

stop_daemon() { # stop_daemon NAME PIDFILE
  local name=$1 pidfile=$2 pid start=$SECONDS
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if [[ -z $pid ]] || ! kill -0 "$pid" 2>/dev/null; then
    pid=$(pgrep -x "$name" | head -n 1 || true)
  fi
  if [[ -z $pid ]]; then
    say "$name is not running"
    return
  fi
  say "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS - start >= TIMEOUT)); then
      fail "$name (pid $pid) still running ${TIMEOUT}s after SIGTERM"
    fi
    sleep 0.5
  done
  say "$name stopped ($((SECONDS - start))s)"
}

do_slurmdbd() {
  step "slurmdbd" "$LOG_DIR/slurmdbd.log"
  if dbd_running && ((DBD_CONF_CHANGED)); then
    say "slurmdbd.conf changed: restarting slurmdbd"
    stop_daemon slurmdbd "$DBD_PID"
  fi
  if dbd_running; then
    say "slurmdbd already running"
  else
    say "starting slurmdbd"
    slurmdbd || fail "slurmdbd did not start"
  fi
  wait_until "slurmdbd answers (sacctmgr list cluster)" "$TIMEOUT" dbd_ok

  step "cluster '$CLUSTER' in the accounting database" "$LOG_DIR/slurmdbd.log"
  if timeout 10 sacctmgr -n -P list cluster format=cluster | grep -x "$CLUSTER" >/dev/null; then
    say "cluster $CLUSTER already registered"
  else
    timeout 30 sacctmgr -i add cluster "$CLUSTER" || fail "sacctmgr add cluster $CLUSTER failed"
  fi
}

# ensure_slurm_daemon NAME PIDFILE IS_RUNNING SPOOL_DIR [NOTE]: restarts it when slurm.conf
# changed, starts it when it is not running, leaves it alone otherwise.
ensure_slurm_daemon() {
  local name=$1 pidfile=$2 running=$3 spool=$4 note=${5:-}
  if $running && ((SLURM_CONF_CHANGED)); then
    say "slurm.conf changed: restarting $name"
    stop_daemon "$name" "$pidfile"
  fi
  if $running; then
    say "$name already running"
  else
    mkdir -p "$RUN_DIR" "$spool" "$LOG_DIR"
    say "starting $name$note"
    "$name" || fail "$name did not start"
  fi
}

start_slurmctld() {
  step "slurmctld" "$LOG_DIR/slurmctld.log"
  ensure_slurm_daemon slurmctld "$CTLD_PID" ctld_running /var/spool/slurmctld
  wait_until "scontrol ping" "$TIMEOUT" ctld_ok
  if tail -n 300 "$LOG_DIR/slurmctld.log" 2>/dev/null | grep -E -i 'error:.*(SchedulerParameters|sched_interval|bf_interval|invalid.*param)' >&2; then
    say "WARNING: slurmctld rejected a parameter (above); see $LOG_DIR/slurmctld.log"
  fi
}

start_slurmd() {
  step "slurmd" "$LOG_DIR/slurmd.log"
  ensure_slurm_daemon slurmd "$SLURMD_PID" slurmd_running /var/spool/slurmd " (it logs a harmless PMIx error)"

  wait_node_ready
}

# The node is ready when sinfo shows it idle (or mixed/allocated when jobs already run);
# a node left down/drained by an earlier run is resumed once.
wait_node_ready() {
  step "node $H ready" "$LOG_DIR/slurmctld.log"
  local start=$SECONDS state resumed=0
  while :; do
    state=$(node_state || true)
    case $state in
      idle | mix | alloc) break ;;
      down* | drain* | drng* | fail*)
        if ((!resumed)); then
          say "node $H is '$state': scontrol update nodename=$H state=resume"
          scontrol update nodename="$H" state=resume || true
          resumed=1
        fi
        ;;
    esac
    if ((SECONDS - start >= TIMEOUT)); then
      fail "node $H not idle after ${TIMEOUT}s (sinfo state: '${state:-none}'; reason: $(sinfo -h -n "$H" -o %E 2>/dev/null || true))" "$LOG_DIR/slurmd.log"
    fi
    sleep 1
  done
  say "ok: node $H is $state ($((SECONDS - start))s)"
}

cmd_up() {
  require_root
  mkdir -p "$LOG_DIR"
  do_install
  do_munge
  do_mariadb
  do_configure
  do_slurmdbd
  start_slurmctld
  start_slurmd
  step "final check" ""
  wait_until "sacct works" "$TIMEOUT" sacct_ok
  sinfo
  say "Slurm is up (cluster $CLUSTER, node $H, logs in $LOG_DIR)"
}

cmd_status() {
  trap - ERR
  local ok=0
  if ctld_ok; then echo "slurmctld: $(scontrol ping 2>&1 | head -n 1)"; else echo "slurmctld: NOT answering scontrol ping"; ok=1; fi
  local state
  state=$(node_state || true)
  if node_usable; then echo "node $H: $state"; else echo "node $H: NOT usable (state '${state:-unknown}')"; ok=1; fi
  if sacct_ok; then echo "sacct: works"; else echo "sacct: NOT working"; ok=1; fi
  exit $ok
}

cmd_stop_controller() {
  require_root
  step "stop slurmctld" "$LOG_DIR/slurmctld.log"
  stop_daemon slurmctld "$CTLD_PID"
}

cmd_start_controller() {
  require_root
  start_slurmctld
  # slurmd re-registers with the restarted controller a few seconds later.
  wait_node_ready
}

case ${1:-up} in
  up) cmd_up ;;
  status) cmd_status ;;
  stop-controller) cmd_stop_controller ;;
  start-controller) cmd_start_controller ;;
  -h | --help | help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" ;;
  *)
    echo "usage: $0 [up|status|stop-controller|start-controller]" >&2
    exit 2
    ;;
esac
