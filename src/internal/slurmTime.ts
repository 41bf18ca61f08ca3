/**
 * Slurm's time limits (`sbatch --time`): read as sbatch reads them ("30:00" is thirty minutes,
 * not thirty hours) and written as sbatch takes them. Used by Slurm's directives and by the
 * command line's `--time`, and to show how a scheduler reads an `MM:SS` walltime.
 */
import { Duration, Either } from "effect"
import { InvalidWalltime } from "../Errors.js"
import { formatHMS, toSeconds } from "../Units.js"

type Parts = readonly [days: number, hours: number, minutes: number, seconds: number]

/** Slurm's `--time` forms, and how their numeric groups make days/h/m/s (sbatch(1), "-t"). */
const SLURM_FORMS: ReadonlyArray<readonly [RegExp, (g: ReadonlyArray<number>) => Parts | undefined]> = [
  // "MM"
  [/^(\d+)$/, ([m = 0]) => [0, 0, m, 0]],
  // "MM:SS": minutes and seconds, unlike parseWalltime's HH:MM
  [/^(\d+):(\d\d?)$/, ([m = 0, s = 0]) => (s < 60 ? [0, 0, m, s] : undefined)],
  // "HH:MM:SS"
  [/^(\d+):(\d\d?):(\d\d?)$/, ([h = 0, m = 0, s = 0]) => (m < 60 && s < 60 ? [0, h, m, s] : undefined)],
  // "D-HH", "D-HH:MM", "D-HH:MM:SS"
  [
    /^(\d+)-(\d\d?)(?::(\d\d?)(?::(\d\d?))?)?$/,
    ([d = 0, h = 0, m = 0, s = 0]) => (h < 24 && m < 60 && s < 60 ? [d, h, m, s] : undefined)
  ]
]

/**
 * Parses a time limit as Slurm's `sbatch --time` reads it: "MM", "MM:SS", "HH:MM:SS", "D-HH",
 * "D-HH:MM" or "D-HH:MM:SS" ("30:00" is thirty minutes). Zero, fields out of range and
 * anything else (Slurm's "infinite" too) are refused.
 */
export const parseSlurmTime = (input: string): Either.Either<Duration.Duration, InvalidWalltime> => {
  const text = input.trim()
  for (const [regex, toParts] of SLURM_FORMS) {
    const match = regex.exec(text)
    if (match === null) continue
    const parts = toParts(match.slice(1).map((g) => (g === undefined ? 0 : Number(g))))
    if (parts === undefined) break
    const [d, h, m, s] = parts
    const seconds = ((d * 24 + h) * 60 + m) * 60 + s
    return seconds > 0 && Number.isSafeInteger(seconds * 1000)
      ? Either.right(Duration.seconds(seconds))
      : Either.left(new InvalidWalltime({ input }))
  }
  return Either.left(new InvalidWalltime({ input }))
}

/** Slurm --time: "D-HH:MM:SS" from one day up, else "HH:MM:SS"; rounded up to the second. */
export const formatSlurmTime = (d: Duration.Duration): string => {
  const s = toSeconds(d)
  const days = Math.floor(s / 86_400)
  return days === 0 ? formatHMS(d) : `${days}-${formatHMS(Duration.seconds(s % 86_400))}`
}
