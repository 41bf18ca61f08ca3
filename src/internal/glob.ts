/**
 * Job-name globs: `*` (any run), `?` (one character), `[abc]`, `[a-z]` and `[!abc]` (one of, or
 * none of, a set). The same pattern filters jobs in memory (as a RegExp) and in SQLite (as GLOB).
 */

interface Part {
  readonly kind: "any" | "one" | "set" | "char"
  readonly text: string
  readonly negated?: boolean
}

const parse = (glob: string): ReadonlyArray<Part> => {
  const parts: Array<Part> = []
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!
    if (c === "*") parts.push({ kind: "any", text: c })
    else if (c === "?") parts.push({ kind: "one", text: c })
    else if (c === "[" && glob.indexOf("]", i + 2) !== -1) {
      const close = glob.indexOf("]", i + 2)
      const body = glob.slice(i + 1, close)
      const negated = body.startsWith("!")
      parts.push({ kind: "set", text: negated ? body.slice(1) : body, negated })
      i = close
    } else parts.push({ kind: "char", text: c })
  }
  return parts
}

/** A glob as an anchored RegExp. */
export const globToRegExp = (glob: string): RegExp => {
  let out = ""
  for (const p of parse(glob)) {
    if (p.kind === "any") out += ".*"
    else if (p.kind === "one") out += "."
    else if (p.kind === "set") out += `[${p.negated === true ? "^" : ""}${p.text.replace(/\\/g, "\\\\")}]`
    else out += p.text.replace(/[.+^${}()|\\/[\]]/g, "\\$&")
  }
  return new RegExp(`^${out}$`)
}

/** A glob as an SQLite GLOB pattern (which writes negated sets `[^...]` and has no escape). */
export const globToSqlite = (glob: string): string => {
  let out = ""
  for (const p of parse(glob)) {
    if (p.kind === "set") out += `[${p.negated === true ? "^" : ""}${p.text}]`
    else if (p.kind === "char" && (p.text === "[" || p.text === "]")) out += `[${p.text}]`
    else out += p.text
  }
  return out
}
