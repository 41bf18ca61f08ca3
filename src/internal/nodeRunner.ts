/**
 * Which CommandRunner shapes are the Node runner itself (`CommandRunner.make`): real processes on
 * this machine, with nothing in between. The local executor starts its jobs through its own
 * spawner process only under such a runner; any other (a test double, a wrapper around the Node
 * runner) sees every process start through its `spawn`.
 */
const nodeRunners = new WeakSet<object>()

/** Records `runner` as the Node runner; returns it. */
export const markNodeRunner = <A extends object>(runner: A): A => {
  nodeRunners.add(runner)
  return runner
}

/** Whether `runner` is the Node runner itself. */
export const isNodeRunner = (runner: object): boolean => nodeRunners.has(runner)
