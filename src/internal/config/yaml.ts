/** Reading a YAML file's text (config files, pipeline files) into its top-level mapping. */
import { Either } from "effect"
import * as YAML from "yaml"
import { isRecord, kindOf } from "../jobOptions.js"

/** Parses a config file's text: the top-level mapping, or problems (YAML syntax with line/column). */
export const parseYaml = (text: string): Either.Either<Record<string, unknown>, ReadonlyArray<string>> => {
  const lineCounter = new YAML.LineCounter()
  const doc = YAML.parseDocument(text, { lineCounter, prettyErrors: false })
  if (doc.errors.length > 0) {
    return Either.left(doc.errors.map((error) => {
      const { line, col } = lineCounter.linePos(error.pos[0])
      return `YAML syntax error at line ${line}, column ${col}: ${error.message}`
    }))
  }
  let value: unknown
  try {
    value = doc.toJS()
  } catch (error) {
    return Either.left([`cannot read the YAML: ${error instanceof Error ? error.message : String(error)}`])
  }
  if (value === null || value === undefined) return Either.right({})
  if (!isRecord(value)) {
    return Either.left([`the top level must be a mapping of option names to values, got ${kindOf(value)}`])
  }
  return Either.right(value)
}
