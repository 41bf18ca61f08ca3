/**
 * Small helpers for problem reports, shared with the config and pipeline files: how a value is
 * shown, what kind of YAML node it is, the closest known key, and why a regular expression fails.
 */

export const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** A value as a problem report shows it: JSON-ish, and short. */
export const showValue = (value: unknown): string => {
  let text: string
  if (typeof value === "number" || typeof value === "bigint") text = String(value)
  else if (value instanceof Uint8Array) text = "binary data"
  else {
    try {
      text = JSON.stringify(value) ?? String(value)
    } catch {
      text = String(value)
    }
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}

/** What kind of YAML node a value came from, for structural problems. */
export const kindOf = (value: unknown): string => (Array.isArray(value) ? "a list" : isRecord(value) ? "a mapping" : showValue(value))

const editDistance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost)
    }
    previous = current
  }
  return previous[b.length] ?? 0
}

/** The closest of `candidates` within edit distance 2 (case-insensitive), if any, as written in `candidates`. */
export const suggest = (key: string, candidates: ReadonlyArray<string>): string | undefined => {
  let best: string | undefined
  let bestDistance = 3
  for (const candidate of candidates) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase())
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return best
}

/** The error a regular expression (compiled case-insensitive, as log checks do) fails with, if any. */
export const regexProblem = (pattern: string): string | undefined => {
  try {
    new RegExp(pattern, "i")
    return undefined
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  }
}
