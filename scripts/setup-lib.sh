# setup-lib.sh — what the scheduler set-up scripts (slurm-setup.sh, sge-setup.sh) share: steps
# that name themselves, failing with the end of the step's log, waiting with a timeout, and
# package checks. Sourced after the script sets SETUP_NAME (its name in messages) and PACKAGES.

CURRENT_STEP="start"
CURRENT_LOG=""

say() { echo "$SETUP_NAME: $*"; }

step() {
  CURRENT_STEP=$1
  CURRENT_LOG=${2:-}
  echo "==> $CURRENT_STEP"
}

# fail MESSAGE [LOG]: explain which step failed, show the end of its log, exit non-zero.
fail() {
  local log=${2:-$CURRENT_LOG}
  trap - ERR
  echo "$SETUP_NAME: FAILED in step '$CURRENT_STEP': $1" >&2
  if [[ -n $log ]]; then
    echo "$SETUP_NAME: log: $log" >&2
    if [[ -r $log ]]; then
      echo "----- last 20 lines of $log -----" >&2
      tail -n 20 "$log" >&2 || true
      echo "-----" >&2
    else
      echo "$SETUP_NAME: (log file not found)" >&2
    fi
  fi
  exit 1
}

trap 'fail "command failed (line $LINENO): $BASH_COMMAND"' ERR

# wait_until DESCRIPTION TIMEOUT COMMAND...: retry COMMAND every second until it succeeds.
wait_until() {
  local what=$1 limit=$2
  shift 2
  local start=$SECONDS
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS - start >= limit)); then
      fail "timed out after ${limit}s waiting for: $what"
    fi
    sleep 1
  done
  say "ok: $what ($((SECONDS - start))s)"
}

require_root() {
  [[ $(id -u) -eq 0 ]] || { echo "$SETUP_NAME: must run as root" >&2; exit 1; }
}

packages_installed() {
  local p
  for p in "${PACKAGES[@]}"; do
    [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true) == 'install ok installed' ]] || return 1
  done
}

package_manager_busy() { pgrep -x apt-get >/dev/null || pgrep -x apt >/dev/null || pgrep -x dpkg >/dev/null; }
