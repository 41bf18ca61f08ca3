/**
 * The spawner: one small long-lived bash process per local executor that starts job processes for
 * it. A fork costs the forking process time that grows with the memory it maps (tens of ms for a
 * program of a few hundred MB, on its main thread); the spawner is a few MB, so a job's start
 * costs this program one line written to a pipe. Its pure parts: the bash text, the requests it
 * reads and the lines it answers.
 *
 * Each job process is a forked subshell of the spawner (no program started for it) that does what
 * the `/bin/sh` wrapper does (files.ts): it leads its own process group (the spawner runs with job
 * control, `set -m`), writes its pid file, runs the job script, writes the script's exit status to
 * the exit file. So one program is started per job, the script itself. Its arguments are those of
 * the spawner, named `spawnerName` (see `isSpawnerWrapper`).
 *
 * User values never become shell code: every value arrives as one line of data read with
 * `IFS= read -r` and is only ever expanded quoted. A request holding a value with a line break or
 * NUL, or an environment variable the spawner cannot set, is not sent (`spawnRequest` gives
 * undefined): the executor starts that process itself.
 */

/** The spawner's `$0`, which its wrapper subshells show in their arguments too. */
export const spawnerName = "cluster-api-local-spawner"

/**
 * The spawner's bash text. It reads requests on stdin (see `spawnRequest`) and writes answers on
 * stdout: `s TOKEN PID` once a wrapper runs and has written its pid file, `x TOKEN WHAT` when it
 * could not start (`cwd`, `stdout`, `stderr`: what could not be used), `e TOKEN STATUS` once it has
 * ended: the wrapper says so itself once it has written its exit file; one killed (with its group)
 * is reported when the spawner reaps it, which bash does only between two requests, so the
 * executor watches the processes it kills itself (128+N: killed by signal N). It ends at the end
 * of its input; the job
 * processes it started run on. Its own variables are named `__capi_*` (a job's environment
 * cannot use those names) and none is exported, so a job sees none of them.
 */
export const spawnerScript = `exec 3>&1 2>/dev/null
set -m
declare -A __capi_run
__capi_busy= __capi_missed=
__capi_reap() {
  local p s
  for p in "\${!__capi_run[@]}"; do
    if ! kill -0 "$p" 2>/dev/null; then
      wait "$p"; s=$?
      printf 'e %s %d\\n' "\${__capi_run[$p]}" "$s"
      unset "__capi_run[$p]"
    fi
  done
}
trap 'if [ -n "$__capi_busy" ]; then __capi_missed=1; else __capi_busy=1; __capi_reap; __capi_busy=; fi' CHLD
while IFS= read -r __capi_t && IFS= read -r __capi_cwd && IFS= read -r __capi_out && IFS= read -r __capi_err &&
  IFS= read -r __capi_pid && IFS= read -r __capi_exit && IFS= read -r __capi_script &&
  IFS= read -r __capi_clean && IFS= read -r __capi_n; do
  __capi_vars=()
  while [ "$__capi_n" -gt 0 ] && IFS= read -r __capi_kv; do __capi_vars+=("$__capi_kv"); __capi_n=$((__capi_n - 1)); done
  __capi_busy=1
  (
    trap - CHLD
    exec </dev/null
    cd -- "$__capi_cwd" || { printf 'x %s cwd\\n' "$__capi_t" >&3; exit 126; }
    exec >"$__capi_out" || { printf 'x %s stdout\\n' "$__capi_t" >&3; exit 126; }
    if [ "$__capi_err" -ef "$__capi_out" ]; then exec 2>&1
    else exec 2>"$__capi_err" || { exec 2>/dev/null; printf 'x %s stderr\\n' "$__capi_t" >&3; exit 126; }; fi
    if [ "$__capi_clean" = 1 ]; then for __capi_v in $(compgen -e); do unset "$__capi_v"; done; fi
    for __capi_kv in "\${__capi_vars[@]}"; do
      case $__capi_kv in -*) unset "\${__capi_kv#-}" ;; *) export "$__capi_kv" ;; esac
    done
    printf '%d\\n' "$BASHPID" > "$__capi_pid"
    printf 's %s %d\\n' "$__capi_t" "$BASHPID" >&3
    "$__capi_script" 3>&-
    __capi_s=$?
    printf '%d\\n' "$__capi_s" > "$__capi_exit"
    printf 'e %s %d\\n' "$__capi_t" "$__capi_s" >&3
    exit "$__capi_s"
  ) &
  __capi_run[$!]=$__capi_t
  __capi_reap
  __capi_busy=
  while [ -n "$__capi_missed" ]; do __capi_missed=; __capi_busy=1; __capi_reap; __capi_busy=; done
done
`

/**
 * Environment variables the spawner is started without: ones bash reads at its start (a file to
 * source, options to set). A job that inherits them gets them back through its request.
 */
export const spawnerUnsetVariables: ReadonlyArray<string> = ["BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS"]

/** One process for the spawner to start. */
export interface SpawnRequest {
  readonly token: string
  readonly cwd: string
  readonly stdoutFile: string
  readonly stderrFile: string
  readonly pidFile: string
  readonly exitFile: string
  readonly script: string
  /** Start from no environment: only `env` (a job that inherits none). */
  readonly clean: boolean
  /** Variables to set (a string) or to unset (undefined) over the spawner's own environment. */
  readonly env: ReadonlyArray<readonly [string, string | undefined]>
}

const settable = /^[A-Za-z_][A-Za-z0-9_]*$/
// Read-only in bash, or its own: not to be set through `export`.
const reserved = /^(?:__capi_|BASH|SHELLOPTS$|EUID$|UID$|PPID$|GROUPS$)/

const isLine = (value: string): boolean => !value.includes("\n") && !value.includes("\0")

/**
 * The lines the spawner reads for one process, or undefined when it cannot take it: a value
 * with a line break or NUL, or a variable name bash cannot export or keeps for itself.
 */
export const spawnRequest = (request: SpawnRequest): string | undefined => {
  const fields = [
    request.token,
    request.cwd,
    request.stdoutFile,
    request.stderrFile,
    request.pidFile,
    request.exitFile,
    request.script
  ]
  if (!fields.every(isLine)) return undefined
  const vars: Array<string> = []
  for (const [name, value] of request.env) {
    if (!settable.test(name) || reserved.test(name)) return undefined
    if (value === undefined) vars.push(`-${name}`)
    else if (isLine(value)) vars.push(`${name}=${value}`)
    else return undefined
  }
  return `${fields.join("\n")}\n${request.clean ? 1 : 0}\n${vars.length}\n${vars.map((v) => `${v}\n`).join("")}`
}

/** One answer of the spawner (see `spawnerScript`). */
export type SpawnAnswer =
  | { readonly _tag: "Started"; readonly token: string; readonly pid: number }
  | { readonly _tag: "Refused"; readonly token: string; readonly what: string }
  | { readonly _tag: "Ended"; readonly token: string; readonly status: number }

/** Reads one line the spawner wrote; undefined for anything else. */
export const parseSpawnAnswer = (line: string): SpawnAnswer | undefined => {
  const [kind, token, value] = line.split(" ")
  if (token === undefined || value === undefined) return undefined
  switch (kind) {
    case "s":
    case "e": {
      if (!/^\d{1,10}$/.test(value)) return undefined
      const n = Number(value)
      return kind === "s" ? { _tag: "Started", token, pid: n } : { _tag: "Ended", token, status: n }
    }
    case "x":
      return { _tag: "Refused", token, what: value }
    default:
      return undefined
  }
}
