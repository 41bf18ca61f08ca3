#!/usr/bin/env bash
# sge-setup.sh — a single-node Son of Grid Engine (Debian's 8.1.9 packages), for tests.
#
# Sets up, on this host, as root and without systemd:
#   packages (debconf pre-seeded: master = this host, cell "default") -> /etc/hosts so that the
#   loopback address resolves back to this host's name -> sge_qmaster -> configuration -> sge_execd.
# Configuration (kept idempotent: objects are only added when missing and only modified when a
# value differs):
#   - global config: min_uid/min_gid 0 (root may submit), accounting flushed every second
#     (reporting_params ... flush_time=00:00:01 accounting_flush_time=00:00:00), and
#     login_shells none: a job's shell (-S /bin/bash, the queue's /bin/bash) is never started as
#     a login shell, so jobs do not source /etc/profile or ~/.profile (which on this image runs
#     `pyenv init`: its rehash lock, left behind by a killed job, held every later job 60 s);
#   - scheduler: schedule_interval 0:0:1, flush_submit_sec/flush_finish_sec 1, no load adjustments;
#   - this host as admin, submit and execution host, with complex_values gpu=2;
#   - complex "gpu" (INT, requestable, consumable), so `-l gpu=1` works; h_vmem and h_rt are
#     default complexes (requestable) and the queue's limits are INFINITY;
#   - parallel environment "smp" (allocation_rule $pe_slots), so `-pe smp 2` works;
#   - queue all.q on this host: 8 slots (test jobs mostly sleep), shell /bin/bash, no load
#     thresholds.
#
# Usage: sge-setup.sh [up|status]
#   up (default)  install the packages if missing (apt-get), fix /etc/hosts, start whatever is
#                 not running, configure, wait until the host reports load and all.q@HOST has no
#                 alarm/unknown/error/disabled state, then run a smoke job (qsub -sync y).
#                 Idempotent: a second run changes nothing; daemons that died are restarted
#                 (after a killed qmaster, spool/jobseqnum is raised to the highest job number
#                 in the accounting file first, or SGE would reuse finished jobs' numbers).
#   status        exit 0 iff the qmaster answers `qstat` and all.q@HOST is up (no a/u/E/d state).
#
# Clients (qsub, qstat, qdel, qacct, qconf, ...) are Debian wrapper scripts in /usr/bin that set
# SGE_ROOT=/var/lib/gridengine and SGE_CELL=default themselves (from /etc/default/gridengine),
# so they need no environment; SGE_ROOT/SGE_CELL in the environment, if set, must have these
# values. Jobs submitted without -V get the execd's environment, which this script keeps minimal
# (see CLEAN_ENV below and test/fixtures/sge/job-env-without-V.txt).
#
# Stop the daemons cleanly with `qconf -ke $(hostname)` (execd) and `qconf -km` (qmaster).
# Logs: /var/log/gridengine-setup (apt.log, qmaster.log, execd.log, smoke job output);
# SGE's own: /var/spool/gridengine/qmaster/messages, /var/spool/gridengine/execd/HOST/messages.
# Environment: SGE_SETUP_TIMEOUT (seconds for each wait, default 60).
set -Eeuo pipefail

export SGE_ROOT=/var/lib/gridengine
export SGE_CELL=default
readonly LOG_DIR=/var/log/gridengine-setup
readonly RUN_DIR=/var/run/gridengine
readonly QMASTER_SPOOL=/var/spool/gridengine/qmaster
readonly EXECD_SPOOL=/var/spool/gridengine/execd
readonly ACT_QMASTER=$SGE_ROOT/$SGE_CELL/common/act_qmaster
readonly QUEUE=all.q
readonly QUEUE_SLOTS=8
readonly GPUS=2
readonly TIMEOUT=${SGE_SETUP_TIMEOUT:-60}
readonly PACKAGES=(gridengine-master gridengine-exec gridengine-client)
H=$(hostname)
readonly H
# The daemons start with only these variables: a job gets the execd's environment (plus
# SGE's own variables and a PATH of /tmp/JOB.TASK.QUEUE:/usr/local/bin:/bin:/usr/bin), so
# whatever this script runs with (CI secrets, the caller's OLDPWD, ...) would leak into jobs.
readonly CLEAN_ENV=(env -i "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "LANG=C.UTF-8" "SGE_ROOT=$SGE_ROOT" "SGE_CELL=$SGE_CELL")
readonly QMASTER_MESSAGES=$QMASTER_SPOOL/messages
readonly EXECD_MESSAGES=$EXECD_SPOOL/$H/messages

CHANGES=0
WORK=""
ONLY_KEYS="" # configure_object: when set, load only these attributes

SETUP_NAME=sge-setup
# shellcheck source=setup-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/setup-lib.sh"
cleanup() { [[ -z $WORK ]] || rm -rf "$WORK"; }
trap cleanup EXIT

# ---------------------------------------------------------------- checks

# running NAME: a process NAME exists that is not a zombie (a daemon killed while its parent
# does not reap it stays listed by pgrep as <defunct>).
running() {
  local pid state
  for pid in $(pgrep -x "$1" || true); do
    state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null || true)
    [[ -n $state && $state != Z && $state != X ]] && return 0
  done
  return 1
}
qmaster_running() { running sge_qmaster; }
execd_running() { running sge_execd; }
qmaster_ok() { timeout 10 qstat >/dev/null 2>&1; }
# The LOAD column (7th) of `qhost -h HOST` is "-" until the execd has reported.
host_load() { timeout 10 qhost -h "$H" 2>/dev/null | awk -v h="$H" '$1 == h { print $7 }'; }
host_reports_load() { local l; l=$(host_load); [[ -n $l && $l != "-" ]]; }
# States of the queue instance QUEUE@HOST from `qstat -f` (empty when it is fine);
# "missing" when qstat does not list it.
queue_states() {
  timeout 10 qstat -f -q "$QUEUE@$H" 2>/dev/null | awk -v q="$QUEUE@$H" '
    $1 == q { found = 1; print ($6 == "" ? "" : $6) }
    END { if (!found) print "missing" }'
}
queue_ok() { local s; s=$(queue_states) && [[ ! $s =~ [auEdcsSCDo]|missing ]]; }

# ---------------------------------------------------------------- steps

do_install() {
  step "install packages (${PACKAGES[*]})" "$LOG_DIR/apt.log"
  if packages_installed; then
    say "already installed: $(dpkg-query -W -f='${Package} ${Version}  ' "${PACKAGES[@]}")"
    return
  fi
  if package_manager_busy; then
    say "another apt-get/dpkg is running; waiting for it to finish (up to 900s)"
    local start=$SECONDS
    while package_manager_busy; do
      ((SECONDS - start < 900)) || fail "apt-get/dpkg still running after 900s"
      sleep 2
    done
    say "package manager is free ($((SECONDS - start))s)"
  fi
  # The packages' postinst creates the cell (act_qmaster = this host, spool, manager sgeadmin)
  # from these answers; without them it asks questions or leaves the cell unconfigured.
  local p
  for p in gridengine-common gridengine-client gridengine-master; do
    printf '%s\n' "$p shared/gridenginemaster string $H" \
      "$p shared/gridenginecell string $SGE_CELL" \
      "$p shared/gridengineconfig boolean true"
  done | debconf-set-selections || fail "debconf-set-selections failed"
  say "apt-get update + install (about one minute); output in $LOG_DIR/apt.log"
  {
    apt-get update &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y "${PACKAGES[@]}"
  } >"$LOG_DIR/apt.log" 2>&1 || fail "apt-get install failed"
  packages_installed || fail "packages still not installed after apt-get"
  [[ -r $ACT_QMASTER ]] || fail "the packages did not create the cell ($ACT_QMASTER missing): the debconf answers were not used; try 'dpkg-reconfigure gridengine-master'"
  CHANGES=1
}

# SGE refuses a client whose address resolves back to another name than the host's own
# ("denied: host resolves to a different name"). On machines where the host's name is an
# alias of 127.0.0.1 after "localhost", put the host's name first on that address's line
# (all other names of the line are kept, and all other lines are kept as they are).
do_hosts() {
  step "/etc/hosts: $H must be the first name of its address" ""
  local addr back
  addr=$(getent ahostsv4 "$H" 2>/dev/null | awk 'NR == 1 { print $1 }' || true)
  if [[ -z $addr ]]; then
    addr=127.0.0.1
    say "$H does not resolve: adding it to the $addr line"
  else
    back=$(getent hosts "$addr" 2>/dev/null | awk 'NR == 1 { print $2 }' || true)
    if [[ $back == "$H" ]]; then
      say "ok: $H -> $addr -> $back"
      return
    fi
    say "$H -> $addr resolves back to '${back:-nothing}': rewriting the $addr line(s) of /etc/hosts"
  fi
  local new
  new=$(awk -v a="$addr" -v h="$H" '
    { line = $0; sub(/#.*/, "", line); n = split(line, f, /[ \t]+/) }
    {
      first = (f[1] == "" ? 2 : 1)
      if (f[first] == a) {
        for (i = first + 1; i <= n; i++) if (f[i] != "" && f[i] != h && !(f[i] in seen)) { seen[f[i]] = 1; names = names " " f[i] }
        next
      }
      rest[++r] = $0
    }
    END {
      print a " " h names
      for (i = 1; i <= r; i++) print rest[i]
    }' /etc/hosts)
  cp /etc/hosts "$LOG_DIR/hosts.before-sge-setup.$(date +%s)"
  # Written in place (not replaced): /etc/hosts is often a bind mount in containers.
  printf '%s\n' "$new" >/etc/hosts || fail "cannot write /etc/hosts"
  back=$(getent hosts "$addr" | awk 'NR == 1 { print $2 }' || true)
  [[ $back == "$H" ]] || fail "$addr still resolves to '$back' after rewriting /etc/hosts (is 'hosts' in /etc/nsswitch.conf 'files' first?)"
  say "now $H -> $addr -> $back"
  CHANGES=1
}

do_cell() {
  step "cell $SGE_CELL: act_qmaster is $H" "$ACT_QMASTER"
  local act
  act=$(cat "$ACT_QMASTER" 2>/dev/null || true)
  if [[ $act != "$H" ]]; then
    if [[ -z $act ]]; then
      fail "$ACT_QMASTER is missing or empty: the cell was never created; run: dpkg-reconfigure gridengine-master"
    fi
    say "act_qmaster says '$act' but this host is '$H' (image built elsewhere?): rewriting it"
    printf '%s\n' "$H" >"$ACT_QMASTER"
    CHANGES=1
  else
    say "ok"
  fi
}

# The qmaster saves its next job number (spool/jobseqnum) on a clean shutdown only; after it
# was killed it "guesses" from the jobs it still has, and reuses the numbers of finished jobs,
# so that qacct then has two jobs with one number. Raise jobseqnum to the highest number in
# the accounting file before starting it.
keep_job_numbers() {
  local acct=$SGE_ROOT/$SGE_CELL/common/accounting seq=$QMASTER_SPOOL/jobseqnum last saved
  [[ -r $acct ]] || return 0
  last=$(awk -F: '!/^#/ && $6 ~ /^[0-9]+$/ && $6 > m { m = $6 } END { print m + 0 }' "$acct")
  saved=$(cat "$seq" 2>/dev/null || echo 0)
  [[ $saved =~ ^[0-9]+$ ]] || saved=0
  if ((last > saved)); then
    say "jobseqnum is $saved but the accounting file has job $last (qmaster was killed?): setting it to $last"
    printf '%s\n' "$last" >"$seq"
    chown sgeadmin:sgeadmin "$seq"
  fi
}

start_qmaster() {
  step "sge_qmaster" "$QMASTER_MESSAGES"
  if qmaster_running; then
    say "sge_qmaster already running"
  else
    mkdir -p "$RUN_DIR"
    chown sgeadmin:sgeadmin "$RUN_DIR"
    keep_job_numbers
    say "starting sge_qmaster (it daemonises; startup output in $LOG_DIR/qmaster.log)"
    # It forks into the background itself; run it in its own session so it outlives this script.
    (cd / && "${CLEAN_ENV[@]}" SGE_MASTER_PIDFILE="$RUN_DIR/qmaster.pid" setsid /usr/sbin/sge_qmaster </dev/null >>"$LOG_DIR/qmaster.log" 2>&1) ||
      fail "sge_qmaster did not start (see also $LOG_DIR/qmaster.log and /tmp/qmaster_messages)"
    CHANGES=1
  fi
  wait_until "qmaster answers qstat" "$TIMEOUT" qmaster_ok
}

# Configuration objects are edited as files: dump, set keys, compare, load only if different.

# normalize < DUMP: one "key value" per line, continuation lines joined, blanks collapsed.
normalize() {
  awk '
    /^#/ { next }
    { line = line $0 }
    /\\$/ { sub(/\\$/, "", line); next }
    { gsub(/[ \t]+/, " ", line); sub(/^ /, "", line); sub(/ $/, "", line); if (line != "") print line; line = "" }'
}

# set_keys FILE "key value"...: FILE (normalized) with those keys set (appended if missing).
set_keys() {
  local file=$1
  shift
  printf '%s\n' "$@" | awk '
    NR == FNR { k = $1; v = $0; sub(/^[^ ]+ +/, "", v); want[k] = v; order[++n] = k; next }
    { k = $1; if (k in want) { print k " " want[k]; done[k] = 1 } else print }
    END { for (i = 1; i <= n; i++) if (!(order[i] in done)) print order[i] " " want[order[i]] }' - "$file"
}

# configure_object WHAT SHOW_CMD LOAD_CMD_PREFIX FILE_NAME "key value"...
#   Dump with SHOW_CMD, set the keys; if anything differs, write $WORK/FILE_NAME and run
#   LOAD_CMD_PREFIX $WORK/FILE_NAME. Returns 0 either way; fails on qconf errors.
configure_object() {
  local what=$1 show=$2 load=$3 name=$4
  shift 4
  local cur=$WORK/$name.current want=$WORK/$name
  # shellcheck disable=SC2086
  timeout 30 $show 2>"$WORK/err" | normalize >"$cur" || fail "'$show' failed: $(cat "$WORK/err")"
  [[ -s $cur ]] || fail "'$show' printed nothing: $(cat "$WORK/err")"
  set_keys "$cur" "$@" >"$want"
  if cmp -s "$cur" "$want"; then
    say "$what: unchanged"
    return 0
  fi
  say "$what: setting $({ diff "$cur" "$want" || true; } | sed -n 's/^> //p' | awk '{ print $1 }' | paste -sd, -)"
  if [[ -n $ONLY_KEYS ]]; then
    # The dump also has read-only attributes that the loader refuses.
    awk -v keys="$ONLY_KEYS" 'BEGIN { n = split(keys, k, " "); for (i = 1; i <= n; i++) ok[k[i]] = 1 } $1 in ok' "$want" >"$want.only"
    mv "$want.only" "$want"
  fi
  # shellcheck disable=SC2086
  timeout 30 $load "$want" >"$WORK/out" 2>&1 || fail "'$load' failed: $(cat "$WORK/out")"
  cat "$WORK/out"
  CHANGES=1
}

configure() {
  step "configure SGE (qconf)" "$QMASTER_MESSAGES"
  WORK=$(mktemp -d /tmp/sge-setup.XXXXXX)

  # Global configuration. -Mconf takes the configuration's name from the file's name.
  configure_object "global configuration" "qconf -sconf global" "qconf -Mconf" global \
    "min_uid 0" \
    "min_gid 0" \
    "load_report_time 00:00:10" \
    "login_shells none" \
    "reporting_params accounting=true reporting=false flush_time=00:00:01 joblog=false sharelog=00:00:00 accounting_flush_time=00:00:00"

  configure_object "scheduler configuration" "qconf -ssconf" "qconf -Msconf" sched \
    "schedule_interval 0:0:1" \
    "flush_submit_sec 1" \
    "flush_finish_sec 1" \
    "job_load_adjustments NONE" \
    "load_adjustment_decay_time 0:0:0"

  # Hosts.
  if timeout 10 qconf -sh 2>/dev/null | grep -qx "$H"; then
    say "admin host $H: already"
  else
    timeout 10 qconf -ah "$H" || fail "qconf -ah $H failed: qconf must run on an admin host (the qmaster host is one after install)"
    CHANGES=1
  fi
  if timeout 10 qconf -ss 2>/dev/null | grep -qx "$H"; then
    say "submit host $H: already"
  else
    timeout 10 qconf -as "$H" || fail "qconf -as $H failed"
    CHANGES=1
  fi

  # Complex "gpu": INT, requestable, consumable, default 0.
  if timeout 10 qconf -sc | awk '$1 == "gpu" { f = 1 } END { exit !f }'; then
    say "complex gpu: already"
  else
    { timeout 10 qconf -sc | grep -v '^#'; echo "gpu gpu INT <= YES YES 0 0"; } >"$WORK/complexes"
    timeout 30 qconf -Mc "$WORK/complexes" || fail "qconf -Mc (adding complex gpu) failed"
    CHANGES=1
  fi

  # Execution host, with its gpu capacity.
  if timeout 10 qconf -sel 2>/dev/null | grep -qx "$H"; then
    # Only the settable attributes (the dump also has load_values, processors, ...).
    ONLY_KEYS="hostname load_scaling complex_values user_lists xuser_lists projects xprojects usage_scaling report_variables"
    configure_object "exec host $H" "qconf -se $H" "qconf -Me" "exechost-$H" "complex_values gpu=$GPUS"
    ONLY_KEYS=""
  else
    printf '%s\n' "hostname $H" "load_scaling NONE" "complex_values gpu=$GPUS" "user_lists NONE" \
      "xuser_lists NONE" "projects NONE" "xprojects NONE" "usage_scaling NONE" "report_variables NONE" \
      >"$WORK/exechost"
    timeout 30 qconf -Ae "$WORK/exechost" || fail "qconf -Ae (exec host $H) failed"
    CHANGES=1
  fi

  # Parallel environment smp: all slots on one host.
  local pe_keys=("pe_name smp" "slots 999" "user_lists NONE" "xuser_lists NONE" "start_proc_args NONE"
    "stop_proc_args NONE" "allocation_rule \$pe_slots" "control_slaves FALSE" "job_is_first_task TRUE"
    "urgency_slots min" "accounting_summary FALSE")
  if timeout 10 qconf -spl 2>/dev/null | grep -qx smp; then
    configure_object "parallel environment smp" "qconf -sp smp" "qconf -Mp" pe-smp "${pe_keys[@]}"
  else
    printf '%s\n' "${pe_keys[@]}" "qsort_args NONE" >"$WORK/pe-smp"
    timeout 30 qconf -Ap "$WORK/pe-smp" || fail "qconf -Ap (parallel environment smp) failed"
    CHANGES=1
  fi

  # Queue: from SGE's template (qconf -sq without a name) when missing.
  local q_keys=("qname $QUEUE" "hostlist $H" "load_thresholds NONE" "suspend_thresholds NONE"
    "pe_list smp" "slots $QUEUE_SLOTS" "tmpdir /tmp" "shell /bin/bash" "rerun FALSE"
    "h_rt INFINITY" "h_vmem INFINITY")
  if timeout 10 qconf -sql 2>/dev/null | grep -qx "$QUEUE"; then
    configure_object "queue $QUEUE" "qconf -sq $QUEUE" "qconf -Mq" "queue-$QUEUE" "${q_keys[@]}"
  else
    timeout 10 qconf -sq | normalize >"$WORK/queue-template"
    set_keys "$WORK/queue-template" "${q_keys[@]}" >"$WORK/queue-$QUEUE"
    timeout 30 qconf -Aq "$WORK/queue-$QUEUE" || fail "qconf -Aq (queue $QUEUE) failed"
    CHANGES=1
  fi
}

start_execd() {
  step "sge_execd" "$EXECD_MESSAGES"
  if execd_running; then
    say "sge_execd already running"
  else
    mkdir -p "$EXECD_SPOOL"
    chown sgeadmin:sgeadmin "$EXECD_SPOOL"
    say "starting sge_execd (it daemonises; startup output in $LOG_DIR/execd.log)"
    (cd / && "${CLEAN_ENV[@]}" setsid /usr/sbin/sge_execd </dev/null >>"$LOG_DIR/execd.log" 2>&1) ||
      fail "sge_execd did not start (see also $LOG_DIR/execd.log and /tmp/execd_messages.*)"
    CHANGES=1
  fi
  wait_until "qhost shows $H with a load value" "$TIMEOUT" host_reports_load
}

wait_queue() {
  step "queue $QUEUE@$H usable" "$QMASTER_MESSAGES"
  local start=$SECONDS states cleared=0
  while :; do
    states=$(queue_states || true)
    if [[ $states != *missing* && ! $states =~ [auEdcsSCDo] ]]; then break; fi
    if ((!cleared)) && [[ $states =~ [Ed] ]]; then
      # E: a job's shepherd failed earlier (e.g. a test job with a bad path); d: disabled.
      say "queue $QUEUE@$H is in state '$states': clearing error (qmod -c) and enabling (qmod -e)"
      timeout 10 qmod -c "$QUEUE@$H" || true
      timeout 10 qmod -e "$QUEUE@$H" || true
      cleared=1
      CHANGES=1
    fi
    if ((SECONDS - start >= TIMEOUT)); then
      fail "queue instance $QUEUE@$H not usable after ${TIMEOUT}s (qstat -f state: '${states:-none}'; a = load alarm, u = execd unknown, E = error, d = disabled)" "$EXECD_MESSAGES"
    fi
    sleep 1
  done
  say "ok: $QUEUE@$H has no alarm/unknown/error state ($((SECONDS - start))s)"
}

smoke_job() {
  step "smoke job (qsub -sync y)" "$LOG_DIR/smoke.log"
  local start=$SECONDS out
  out=$(cd /tmp && timeout "$TIMEOUT" qsub -sync y -b y -N sge-setup-smoke -o "$LOG_DIR/smoke.out" -j y /bin/true 2>&1) ||
    { printf '%s\n' "$out" >"$LOG_DIR/smoke.log"; fail "the smoke job did not run within ${TIMEOUT}s or failed"; }
  printf '%s\n' "$out" >"$LOG_DIR/smoke.log"
  say "ok: smoke job ran ($((SECONDS - start))s): $(tr '\n' ' ' <<<"$out")"
}

cmd_up() {
  require_root
  mkdir -p "$LOG_DIR"
  local start=$SECONDS
  do_install
  do_hosts
  do_cell
  start_qmaster
  configure
  start_execd
  wait_queue
  smoke_job
  step "done" ""
  qstat -f -q "$QUEUE@$H"
  if ((CHANGES)); then say "made changes"; else say "nothing to change"; fi
  say "SGE is up (cell $SGE_CELL, host $H, queue $QUEUE, $((SECONDS - start))s, logs in $LOG_DIR)"
}

cmd_status() {
  trap - ERR
  local ok=0 states
  if qmaster_ok; then echo "sge_qmaster: answers qstat ($(cat "$ACT_QMASTER" 2>/dev/null))"; else echo "sge_qmaster: NOT answering qstat"; ok=1; fi
  if ((ok == 0)); then
    states=$(queue_states || true)
    if queue_ok; then echo "$QUEUE@$H: up (states '${states}')"; else echo "$QUEUE@$H: NOT usable (states '${states:-unknown}')"; ok=1; fi
    if host_reports_load; then echo "exec host $H: load $(host_load)"; else echo "exec host $H: NOT reporting"; ok=1; fi
  fi
  exit $ok
}

case ${1:-up} in
  up) cmd_up ;;
  status) cmd_status ;;
  -h | --help | help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" ;;
  *)
    echo "usage: $0 [up|status]" >&2
    exit 2
    ;;
esac
