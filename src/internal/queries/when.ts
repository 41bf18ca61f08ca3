/**
 * Times users type: an age ("2h", "1d12h") or an ISO date or date-time, for the CLI's
 * `--since`/`--until` options.
 */
import { Duration, Either } from "effect"
import { durationForms, parseDuration } from "../../Units.js"

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i

/** The accepted forms, for error messages. */
export const whenForms =
  `an age (that long ago) as ${durationForms}, or a date/time like 2026-05-01, 2026-05-01T14:30 or 2026-05-01T14:30:00Z (local time unless a zone is given)`

/** An age (a length of time, `Units.parseDuration`) in milliseconds, if it is one a date can go back. */
export const parseAge = (input: string): number | undefined => {
  const age = parseDuration(input)
  if (Either.isLeft(age)) return undefined
  const total = Duration.toMillis(age.right)
  // Ages past what a date can hold (about 273,790 years) are not ages.
  return total <= maxDateMillis ? total : undefined
}

/** The largest distance from 1970 a Date holds (ECMAScript's time value range). */
const maxDateMillis = 8.64e15

/**
 * A point in time as users write it: an age before `now` ("2h", "3d", "1w", "1d12h") or an ISO
 * date ("2026-05-01": local midnight) or date-time ("2026-05-01T14:30", "2026-05-01 14:30:00",
 * local unless it ends in `Z` or an offset). Left: a message naming the accepted forms.
 */
export const parseWhen = (input: string, now: Date): Either.Either<Date, string> => {
  const fail = Either.left(`cannot read ${JSON.stringify(input)} as a time: write ${whenForms}`)
  const age = parseAge(input)
  if (age !== undefined) {
    const then = new Date(now.getTime() - age)
    return Number.isNaN(then.getTime()) ? Either.left(`${JSON.stringify(input)} is further back than a date can go: write ${whenForms}`) : Either.right(then)
  }
  const m = DATE_TIME.exec(input.trim())
  if (m === null) return fail
  const [year, month, day, hour, minute, second, milli] = [1, 2, 3, 4, 5, 6, 7].map((i) => Number(m[i] ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number
  ]
  const zone = m[8]
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return fail
  const ms = milli * 10 ** (3 - (m[7]?.length ?? 3))
  let date: Date
  if (zone === undefined) date = new Date(year, month - 1, day, hour, minute, second, ms)
  else {
    const offset = zone.toUpperCase() === "Z"
      ? 0
      : (zone.startsWith("-") ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(-2)))
    date = new Date(Date.UTC(year, month - 1, day, hour, minute, second, ms) - offset * 60_000)
  }
  // A day past the end of its month (2026-02-30) rolls over: refuse it.
  const check = zone === undefined ? date : new Date(Date.UTC(year, month - 1, day))
  const dayOk = zone === undefined ? check.getDate() === day : check.getUTCDate() === day
  return Number.isNaN(date.getTime()) || !dayOk ? fail : Either.right(date)
}
