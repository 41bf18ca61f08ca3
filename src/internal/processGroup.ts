/**
 * Ending process groups: the runner starts every child as the leader of its own group, so a
 * timeout, an interrupt or a cancel signals the whole group (SIGTERM, then SIGKILL after a grace
 * period) and waits for it to empty.
 */
import { Duration, Effect } from "effect"

/** Default `CommandSpec.killGrace`. */
export const defaultKillGrace: Duration.Duration = Duration.seconds(5)

/** The `code` of a Node system error (`ENOENT`, `ESRCH`, …). */
export const errnoCode = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
    ? error.code
    : undefined

/**
 * Sends `signal` to the process group led by `pid` (children are spawned detached, so the group id
 * is the leader's pid). Returns false when the group no longer exists.
 */
export const signalGroup = (pid: number, signal: NodeJS.Signals): boolean => {
  try {
    process.kill(-pid, signal)
    return true
  } catch (error) {
    if (errnoCode(error) === "ESRCH") return false
    // EPERM: some member of the group is not ours to signal; try at least the leader.
    try {
      process.kill(pid, signal)
    } catch {
      // gone or not ours either
    }
    return true
  }
}

/**
 * True while any process is left in the group led by `pid`. Zombies count: a killed grandchild
 * orphaned to init stays in the group until init reaps it (up to ~2 s in some containers).
 */
export const groupExists = (pid: number): boolean => {
  try {
    process.kill(-pid, 0)
    return true
  } catch {
    // EPERM: members exist that we could not kill anyway, so waiting for them is pointless.
    return false
  }
}

const waitGroupGone = (pid: number): Effect.Effect<void> =>
  Effect.suspend(() => groupExists(pid) ? Effect.zipRight(Effect.sleep("25 millis"), waitGroupGone(pid)) : Effect.void)

/**
 * SIGTERM to the whole group; once the leader has exited and the group is empty we are done,
 * otherwise SIGKILL to the group after `grace`, then wait for the leader to be reaped.
 *
 * Run from finalizers (uninterruptible): the waiting part is made `interruptible` so that
 * `timeoutTo` can actually stop it when the grace period is over.
 */
export const stopGroup = (
  pid: number,
  leaderExited: Effect.Effect<unknown>,
  grace: Duration.Duration
): Effect.Effect<void> =>
  Effect.gen(function*() {
    if (!signalGroup(pid, "SIGTERM")) return yield* leaderExited.pipe(Effect.asVoid)
    const ended = yield* leaderExited.pipe(
      Effect.zipRight(waitGroupGone(pid)),
      Effect.interruptible,
      Effect.timeoutTo({ duration: grace, onSuccess: () => true, onTimeout: () => false })
    )
    if (!ended) {
      yield* Effect.logDebug(`process group ${pid} still running ${Duration.format(grace)} after SIGTERM; sending SIGKILL`)
      signalGroup(pid, "SIGKILL")
      yield* leaderExited
    }
  })

/**
 * Ends a process group whose leader is not this program's child (it cannot be waited for):
 * SIGTERM to the group, SIGKILL after `grace` if anything of it is left, then waits up to `grace`
 * more for the group to empty. Whether the group is gone.
 */
export const terminateGroup = (pid: number, grace: Duration.DurationInput): Effect.Effect<boolean> =>
  Effect.gen(function*() {
    const limit = Duration.decode(grace)
    const emptied = waitGroupGone(pid).pipe(
      Effect.timeoutTo({ duration: limit, onSuccess: () => true, onTimeout: () => false })
    )
    if (!signalGroup(pid, "SIGTERM")) return true
    if (yield* emptied) return true
    yield* Effect.logDebug(`process group ${pid} still running ${Duration.format(limit)} after SIGTERM; sending SIGKILL`)
    signalGroup(pid, "SIGKILL")
    return yield* emptied
  })
