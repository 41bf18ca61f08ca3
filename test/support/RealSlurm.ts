/**
 * Whether a real Slurm answers on this host, for the real-Slurm tests and the Slurm bench.
 */
import { spawnSync } from "node:child_process"

/** How to get one, for messages. */
export const howToStartSlurm =
  "start it with: sudo bash scripts/slurm-setup.sh (installs and starts munge, MariaDB, slurmdbd, slurmctld and slurmd on this host)"

/** `scontrol ping` answers that the controller is UP. */
export const slurmIsUp = (): boolean => {
  const ping = spawnSync("scontrol", ["ping"], { encoding: "utf8", timeout: 15_000 })
  return ping.status === 0 && /\bUP\b/.test(ping.stdout)
}
