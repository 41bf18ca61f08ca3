/**
 * Memory sizes and walltimes: parsed from what a user writes, rendered in what each scheduler
 * reads. Pure functions only; parsers return `Either`.
 */
import { Duration, Either, ParseResult, Schema } from "effect"
import { InvalidMemory, InvalidWalltime } from "./Errors.js"

// ---------------------------------------------------------------------------------------------
// Memory
// ---------------------------------------------------------------------------------------------

/**
 * Power of 1024 for each unit letter. ALL units are binary, as in py-cluster-api: "K", "KB" and
 * "KiB" all mean 1024 bytes, "GB" means 1024³ bytes. Schedulers also read "GB" as 1024³.
 */
const POWERS: Readonly<Record<string, number>> = { b: 0, k: 1, m: 2, g: 3, t: 4, p: 5 }

// A non-negative decimal (no sign, no exponent), optional spaces, then B or K/M/G/T/P with an
// optional "B" or "iB".
const MEMORY = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(b|([kmgtp])(?:i?b)?)\s*$/i

/**
 * Parses "8 GB", "512M", "1.5 GiB", "2TiB" into a whole number of bytes (rounded up).
 * A bare number, zero, an unknown unit, or more than `Number.MAX_SAFE_INTEGER` bytes is refused.
 */
export const parseMemory = (input: string): Either.Either<number, InvalidMemory> => {
  const match = MEMORY.exec(input)
  const power = POWERS[(match?.[3] ?? match?.[2] ?? "").toLowerCase()]
  if (match === null || power === undefined) return Either.left(new InvalidMemory({ input }))
  // Multiplying by a power of two is exact, so a value that is a whole number of bytes is
  // never pushed up by Math.ceil.
  const bytes = Math.ceil(Number(match[1]) * 1024 ** power)
  return bytes > 0 && Number.isSafeInteger(bytes) ? Either.right(bytes) : Either.left(new InvalidMemory({ input }))
}

/**
 * Memory as a user writes it ("8 GB", "512M") decoded into whole bytes by `parseMemory`; bytes are
 * encoded back as "{n} B". A value `parseMemory` refuses fails with its message.
 */
export const Memory = Schema.transformOrFail(Schema.String, Schema.Int.pipe(Schema.positive()), {
  strict: true,
  decode: (input, _, ast) =>
    Either.match(parseMemory(input), {
      onLeft: (e) => ParseResult.fail(new ParseResult.Type(ast, input, e.message)),
      onRight: ParseResult.succeed
    }),
  encode: (bytes) => ParseResult.succeed(`${bytes} B`)
}).annotations({ identifier: "Memory" })

// ---------------------------------------------------------------------------------------------
// Walltime
// ---------------------------------------------------------------------------------------------

type Parts = readonly [days: number, hours: number, minutes: number, seconds: number]

/** Each accepted form, and how its numeric groups (absent ones are 0) make days/h/m/s. */
const FORMS: ReadonlyArray<readonly [RegExp, (g: ReadonlyArray<number>) => Parts | undefined]> = [
  // "90": minutes, as Slurm and LSF read a bare number
  [/^(\d+)$/, ([m = 0]) => [0, 0, m, 0]],
  // "04:00": FOUR HOURS (LSF -W style), not four minutes
  [/^(\d+):(\d\d)$/, ([h = 0, m = 0]) => (m < 60 ? [0, h, m, 0] : undefined)],
  // "1:30:00", "100:00:00"
  [/^(\d+):(\d\d):(\d\d)$/, ([h = 0, m = 0, s = 0]) => (m < 60 && s < 60 ? [0, h, m, s] : undefined)],
  // Slurm "D-HH", "D-HH:MM", "D-HH:MM:SS"
  [
    /^(\d+)-(\d\d?)(?::(\d\d)(?::(\d\d))?)?$/,
    ([d = 0, h = 0, m = 0, s = 0]) => (h < 24 && m < 60 && s < 60 ? [d, h, m, s] : undefined)
  ],
]

const UNITS = "dhms"

/**
 * "2d", "1h30m", "1h 30m", "45s": groups in the order d, h, m, s, each at most once, read group
 * by group (one regular expression with a `\s*` around every optional group backtracks for a
 * time that grows with the cube of the spaces). "" is all zeros and so refused by the caller.
 */
const unitParts = (text: string): Parts | undefined => {
  const parts: [number, number, number, number] = [0, 0, 0, 0]
  const group = /(\d+)\s*([dhms])\s*/iy
  let last = -1
  while (group.lastIndex < text.length) {
    const m = group.exec(text)
    if (m === null) return undefined
    const unit = UNITS.indexOf(m[2]!.toLowerCase())
    if (unit <= last) return undefined
    last = unit
    parts[unit] = Number(m[1])
  }
  return parts
}

const walltimeParts = (text: string): Parts | undefined => {
  for (const [regex, toParts] of FORMS) {
    const match = regex.exec(text)
    if (match !== null) return toParts(match.slice(1).map((g) => (g === undefined ? 0 : Number(g))))
  }
  return unitParts(text)
}

/**
 * Parses a walltime: "90" (minutes), "04:00" (HH:MM, four hours), "1:30:00", "2-00:00:00",
 * or unit groups in the order d, h, m, s such as "90m", "1h30m", "1h 30m", "2d".
 * Zero, minutes or seconds of 60 or more in colon forms, and anything else are refused.
 */
export const parseWalltime = (input: string): Either.Either<Duration.Duration, InvalidWalltime> => {
  const parts = walltimeParts(input.trim())
  if (parts === undefined) return Either.left(new InvalidWalltime({ input }))
  const [d, h, m, s] = parts
  const seconds = ((d * 24 + h) * 60 + m) * 60 + s
  return seconds > 0 && Number.isSafeInteger(seconds * 1000)
    ? Either.right(Duration.seconds(seconds))
    : Either.left(new InvalidWalltime({ input }))
}

/**
 * A walltime as a user writes it ("04:00", "1:30:00", "90m") decoded into whole seconds by
 * `parseWalltime`; seconds are encoded back as "HH:MM:SS". A value `parseWalltime` refuses fails
 * with its message.
 */
export const Walltime = Schema.transformOrFail(Schema.String, Schema.Int.pipe(Schema.positive()), {
  strict: true,
  decode: (input, _, ast) =>
    Either.match(parseWalltime(input), {
      onLeft: (e) => ParseResult.fail(new ParseResult.Type(ast, input, e.message)),
      onRight: (d) => ParseResult.succeed(toSeconds(d))
    }),
  encode: (seconds) => ParseResult.succeed(formatHMS(Duration.seconds(seconds)))
}).annotations({ identifier: "Walltime" })

// ---------------------------------------------------------------------------------------------
// Renderers (for finite durations; each rounds UP to the unit it prints)
// ---------------------------------------------------------------------------------------------

const DURATION_UNITS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }
const UNIT_GROUPS = /^(?:\d+(?:\.\d+)?\s*[smhdw]\s*)+$/
const UNIT_GROUP = /(\d+(?:\.\d+)?)\s*([smhdw])/g
const CLOCK = /^(\d+):([0-5]\d):([0-5]\d)$/

/** The forms `parseDuration` reads, for messages. */
export const durationForms =
  `seconds (600), words ("10 minutes", "2 hours", "1.5 days"), units (90s, 30m, 1h30m, 1d12h, 1w) or a clock (1:30:00)`

/**
 * A length of time as a user writes it: the one grammar of every time option of the command line
 * (`--timeout`, `--since`, `--older-than`, …). Seconds ("600"), words as Effect's Duration reads
 * them ("10 minutes", "2 hours", "1.5 days"), unit groups ("90s", "30m", "1h30m", "1d12h", "1w",
 * case and spaces ignored) or a clock `H:MM:SS` ("1:30:00"). Left: what is wrong, naming the forms.
 * (A walltime has its own grammar: `parseWalltime` reads a scheduler's `HH:MM` and bare minutes.)
 */
export const parseDuration = (input: string): Either.Either<Duration.Duration, string> => {
  const text = input.trim().toLowerCase()
  const fail = Either.left(`cannot read ${JSON.stringify(input)} as a length of time: write ${durationForms}`)
  let millis: number | undefined
  if (/^\d+(?:\.\d+)?$/.test(text)) millis = Number(text) * 1000
  else if (UNIT_GROUPS.test(text)) {
    millis = 0
    for (const m of text.matchAll(UNIT_GROUP)) millis += Number(m[1]) * (DURATION_UNITS[m[2]!] ?? 0)
  } else {
    const clock = CLOCK.exec(text)
    if (clock !== null) millis = ((Number(clock[1]) * 60 + Number(clock[2])) * 60 + Number(clock[3])) * 1000
    else {
      const words = Duration.decodeUnknown(text)
      if (words._tag === "Some" && Duration.isFinite(words.value)) millis = Duration.toMillis(words.value)
    }
  }
  return millis === undefined || !Number.isFinite(millis) ? fail : Either.right(Duration.millis(millis))
}

const pad2 = (n: number): string => String(n).padStart(2, "0")

/** Whole seconds, rounded up. */
export const toSeconds = (d: Duration.Duration): number => Math.ceil(Duration.toMillis(d) / 1000)

/** "HH:MM:SS", hours unbounded ("49:00:00"), rounded up to the second. */
export const formatHMS = (d: Duration.Duration): string => {
  const s = toSeconds(d)
  return `${pad2(Math.floor(s / 3600))}:${pad2(Math.floor(s / 60) % 60)}:${pad2(s % 60)}`
}

/** "HH:MM", hours unbounded, rounded up to the minute (LSF -W). */
export const formatHM = (d: Duration.Duration): string => {
  const m = Math.ceil(Duration.toMillis(d) / 60_000)
  return `${pad2(Math.floor(m / 60))}:${pad2(m % 60)}`
}

const BINARY_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"] as const

const round2 = (n: number): number => Math.round(n * 100) / 100

/** For people: "100 B", "512 MiB", "1.5 GiB" (binary units, at most 2 decimals, rounded). */
export const formatBytes = (bytes: number): string => {
  let k = 0
  while (k < BINARY_UNITS.length - 1 && round2(bytes / 1024 ** k) >= 1024) k++
  return `${round2(bytes / 1024 ** k)} ${BINARY_UNITS[k]}`
}

const BYTES_IN = { KB: 1, MB: 2, GB: 3, TB: 4 } as const

/** Whole (binary) units, rounded up: LSF memory in its lsf_units, Slurm --mem in MB. */
export const bytesIn = (bytes: number, unit: "KB" | "MB" | "GB" | "TB"): number =>
  Math.ceil(bytes / 1024 ** BYTES_IN[unit])

/** Whole MiB, rounded up (Slurm --mem=<N>M). */
export const memoryInMegabytes = (bytes: number): number => bytesIn(bytes, "MB")
