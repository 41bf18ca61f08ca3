/** Array ranges as written: `START-END[:STEP][%MAX]`. */
import { Either } from "effect"
import type { ArraySpec } from "../../Domain.js"

const ARRAY_SPEC = /^(\d+)-(\d+)(?::(\d+))?(?:%(\d+))?$/

const arrayExpected =
  `expected START-END[:STEP][%MAX] in whole numbers, e.g. 1-10 (elements 1 to 10), 0-99:2 (every second), 1-10%2 (at most 2 at once)`

/**
 * Parses `START-END[:STEP][%MAX]`, e.g. `1-10`, `0-99:2`, `1-10%2`, `1-10:2%4`. The problem, when
 * there is one, names the input and reads after a prefix such as `--array: ` or a key path.
 */
export const parseArraySpec = (input: string): Either.Either<ArraySpec, string> => {
  const m = ARRAY_SPEC.exec(input.trim())
  if (m === null) return Either.left(`${JSON.stringify(input)} is not an array range: ${arrayExpected}`)
  const [start, end] = [Number(m[1]), Number(m[2])]
  const step = m[3] === undefined ? undefined : Number(m[3])
  const max = m[4] === undefined ? undefined : Number(m[4])
  if (end < start) {
    return Either.left(`${JSON.stringify(input)}: the end ${end} is below the start ${start}; ${arrayExpected}`)
  }
  if (step === 0 || max === 0) {
    return Either.left(`${JSON.stringify(input)}: STEP and MAX must be at least 1; ${arrayExpected}`)
  }
  return Either.right({
    start,
    end,
    ...(step === undefined ? {} : { step }),
    ...(max === undefined ? {} : { maxConcurrent: max })
  })
}
