/**
 * Colour in what the command line prints. @effect/cli renders help and usage errors with ANSI
 * styles; they are kept only when stdout is a terminal and NO_COLOR is not set (no-color.org: any
 * non-empty value). Otherwise the escapes are taken out of every line printed through the Console.
 */
import * as Terminal from "@effect/platform/Terminal"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

/** ANSI control sequences (CSI: colours, cursor movement, erasing). */
const ansiPattern = /\u001b\[[0-?]*[ -/]*[@-~]/g

export const stripAnsi = (text: string): string => text.replace(ansiPattern, "")

/** Whether output may be coloured: stdout is a terminal and NO_COLOR is unset or empty. */
export const colorAllowed: Effect.Effect<boolean, never, Terminal.Terminal> = Effect.gen(function*() {
  const noColor = yield* Config.option(Config.string("NO_COLOR")).pipe(Effect.orElseSucceed(() => Option.none()))
  if (Option.isSome(noColor) && noColor.value !== "") return false
  const terminal = yield* Terminal.Terminal
  return yield* terminal.isTTY
})

const plain = (args: ReadonlyArray<unknown>): Array<unknown> =>
  args.map((a) => (typeof a === "string" ? stripAnsi(a) : a))

/** `console` with ANSI escapes taken out of the text it prints. */
export const plainConsole = (console: Console.Console): Console.Console => {
  const unsafe = console.unsafe
  return {
    ...console,
    log: (...args) => console.log(...plain(args)),
    error: (...args) => console.error(...plain(args)),
    warn: (...args) => console.warn(...plain(args)),
    info: (...args) => console.info(...plain(args)),
    debug: (...args) => console.debug(...plain(args)),
    unsafe: {
      ...unsafe,
      log: (...args) => unsafe.log(...plain(args)),
      error: (...args) => unsafe.error(...plain(args)),
      warn: (...args) => unsafe.warn(...plain(args)),
      info: (...args) => unsafe.info(...plain(args)),
      debug: (...args) => unsafe.debug(...plain(args))
    }
  }
}

/** Runs `self` printing through a Console without ANSI escapes, unless colour is allowed. */
export const withColorChoice = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R | Terminal.Terminal> =>
  Effect.flatMap(
    colorAllowed,
    (color) => color ? self : Console.consoleWith((console) => Console.withConsole(self, plainConsole(console)))
  )
