/**
 * What the command line reads from its standard input (`import -`): the process's stdin unless a
 * program provides another text (the command line run in-process, a test).
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { InvalidImport } from "../Errors.js"

export interface Input {
  /** All of standard input, as UTF-8 text, once it ends. */
  readonly readAll: Effect.Effect<string, InvalidImport>
}

const processStdin: Input = {
  readAll: Effect.tryPromise({
    try: async () => {
      const chunks: Array<Buffer> = []
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
      return Buffer.concat(chunks).toString("utf8")
    },
    catch: (e) => new InvalidImport({ source: "stdin", problems: [`cannot read it: ${String(e)}`] })
  })
}

export class Stdin extends Context.Reference<Stdin>()("cluster-api/cli/Stdin", {
  defaultValue: (): Input => processStdin
}) {}

/** A standard input holding `text`. */
export const fromText = (text: string): Input => ({ readAll: Effect.succeed(text) })

/** All of standard input. */
export const readAll: Effect.Effect<string, InvalidImport> = Effect.flatMap(Stdin, (input) => input.readAll)
