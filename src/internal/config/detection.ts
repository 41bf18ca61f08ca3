/**
 * `executor: auto` once detection has answered: the config with the detected scheduler, and what
 * `config show` says of it.
 */
import type { Detection, DetectedPbsFlavor } from "../detect/types.js"

/** The options detection sets: the executor, and for PBS its flavor. */
interface Detectable {
  readonly executor: string
  readonly pbs_flavor: DetectedPbsFlavor
}

/**
 * The config with `executor: auto` resolved by `detection`: `executor` the detected one, and for
 * PBS `pbs_flavor` the detected flavor unless `keepPbsFlavor` (it was set explicitly);
 * `source.detection` records it.
 */
export const withDetection = <O extends Detectable, S extends object>(
  config: { readonly options: O; readonly source: S },
  detection: Detection,
  { keepPbsFlavor }: { readonly keepPbsFlavor: boolean }
): { readonly options: O; readonly source: S & { readonly detection: Detection } } => ({
  options: {
    ...config.options,
    executor: detection.executor,
    ...(detection.pbsFlavor !== undefined && !keepPbsFlavor
      ? { pbs_flavor: detection.pbsFlavor }
      : {})
  },
  source: { ...config.source, detection }
})

/** `config show`'s account of `executor: auto`: what was picked and why, and what else was seen. */
export const detectionLines = (detection: Detection): ReadonlyArray<string> => {
  const others = detection.found.filter((f) => f.executor !== detection.executor)
  return [
    `# executor: auto → ${detection.executor}: ${detection.reason}`,
    ...(others.length > 0
      ? [`# also found: ${others.map((f) => `${f.executor} (${f.evidence})`).join("; ")}`]
      : [])
  ]
}
