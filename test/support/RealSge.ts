/**
 * Whether a real Son of Grid Engine answers on this host, for the real-SGE tests.
 *
 * Debian's SGE clients (/usr/bin/qsub, qstat, qdel, qacct, ...) are wrapper scripts that set
 * SGE_ROOT and SGE_CELL themselves, so they work with the plain `process.env`. `sgeEnv` is
 * for spawning them with those two variables filled in anyway (an install that is not
 * Debian's needs them); values already in the environment win.
 */
import { spawnSync } from "node:child_process"

/** How to get one, for messages. */
export const howToStartSge =
  "start it with: sudo bash scripts/sge-setup.sh (installs Debian's gridengine packages and starts sge_qmaster and sge_execd on this host, queue all.q)"

/** Where scripts/sge-setup.sh puts SGE (Debian's defaults). */
export const sgeRoot = "/var/lib/gridengine"
export const sgeCell = "default"

/** `process.env` with SGE_ROOT and SGE_CELL set when they are not. */
export const sgeEnv = (): NodeJS.ProcessEnv => ({
  ...process.env,
  SGE_ROOT: process.env["SGE_ROOT"] ?? sgeRoot,
  SGE_CELL: process.env["SGE_CELL"] ?? sgeCell
})

/** `qstat` answers (the qmaster is up) and `qhost` lists an execution host with a load value. */
export const sgeIsUp = (): boolean => {
  const env = sgeEnv()
  const qstat = spawnSync("qstat", [], { encoding: "utf8", timeout: 15_000, env })
  if (qstat.status !== 0) return false
  const qhost = spawnSync("qhost", [], { encoding: "utf8", timeout: 15_000, env })
  if (qhost.status !== 0) return false
  // qhost prints a "global" line and one line per execution host: NAME ARCH NCPU NSOC NCOR NTHR LOAD ...
  return qhost.stdout.split("\n").some((line) => {
    const fields = line.trim().split(/\s+/)
    return fields.length > 6 && fields[0] !== "global" && fields[0] !== "HOSTNAME" &&
      !line.startsWith("-") && fields[6] !== "-"
  })
}
