/**
 * The live view: follows the Monitor's events and redraws a summary in place (on a terminal),
 * prints one line per event (in a log or a pipe), or shows nothing (`--json`).
 */
import type { Scope } from "effect"
import { Clock, Duration, Effect, Fiber, Schedule, Stream, SubscriptionRef } from "effect"
import type { JobEvent, JobRecord } from "../../Domain.js"
import { applyEvent, caughtUp, emptyProgress, eventLine, frameLines, trackRecords } from "./state.js"

const ESC = "\u001b["

/**
 * Replaces the `previous` lines drawn last (the cursor is on the line below them) with `lines`:
 * cursor up, then each line cleared and written, then everything below cleared.
 */
export const redraw = (previous: number, lines: ReadonlyArray<string>): string =>
  `${previous > 0 ? `${ESC}${previous}A` : ""}\r${lines.map((l) => `${ESC}2K${l}\n`).join("")}${ESC}J`

/** Erases the `previous` lines drawn last and leaves the cursor where they began. */
export const erase = (previous: number): string => (previous > 0 ? `${ESC}${previous}A\r${ESC}J` : "")

// ---------------------------------------------------------------------------------------------
// The live view
// ---------------------------------------------------------------------------------------------

/** `tty`: redraw a summary in place; `lines`: one line per event; `off`: nothing (--json). */
export type ProgressMode = "tty" | "lines" | "off"

export interface ProgressOptions {
  readonly mode: ProgressMode
  /** Where output goes (the Terminal's display). */
  readonly write: (text: string) => Effect.Effect<void>
  /** The terminal's width, read at each redraw. */
  readonly width?: Effect.Effect<number> | undefined
  /** Jobs to show before any event about them arrives (e.g. jobs being waited for). */
  readonly initial?: ReadonlyArray<JobRecord> | undefined
  /** How often the summary is redrawn on a terminal, besides on each event. Default 200 ms. */
  readonly interval?: Duration.DurationInput | undefined
  /** How long `finish` waits for the events about the final records to arrive. Default 2 s. */
  readonly catchUpTimeout?: Duration.DurationInput | undefined
}

export interface Progress {
  /** Prints a line: above the live summary on a terminal, in order with event lines otherwise. */
  readonly log: (line: string) => Effect.Effect<void>
  /**
   * Stops following events once every final record (and each of its elements) has been shown
   * (or after a short timeout), and erases the live summary: the caller prints the results.
   */
  readonly finish: (finals: ReadonlyArray<JobRecord>) => Effect.Effect<void>
}

/**
 * Follows `events` (subscribe BEFORE submitting, so nothing is missed) until `finish` or the end
 * of the scope.
 */
export const start = (
  events: Stream.Stream<JobEvent>,
  options: ProgressOptions
): Effect.Effect<Progress, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { mode, write } = options
    const state = yield* SubscriptionRef.make(trackRecords(emptyProgress, options.initial ?? []))
    const output = yield* Effect.makeSemaphore(1)
    let drawn = 0
    let finished = false

    const now = Clock.currentTimeMillis.pipe(Effect.map((ms) => new Date(ms)))
    const draw = output.withPermits(1)(
      Effect.gen(function*() {
        if (mode !== "tty" || finished) return
        const width = options.width === undefined ? 100 : yield* options.width
        const lines = frameLines(yield* SubscriptionRef.get(state), yield* now, width)
        yield* write(redraw(drawn, lines))
        drawn = lines.length
      })
    )

    const onEvent = (event: JobEvent) =>
      Effect.gen(function*() {
        const before = yield* SubscriptionRef.get(state)
        const after = applyEvent(before, event)
        if (mode === "lines") {
          const line = eventLine(after, event)
          if (line !== undefined) yield* output.withPermits(1)(write(`${line}\n`))
        }
        yield* SubscriptionRef.set(state, after)
        if (mode === "tty") yield* draw
      })

    const follower = yield* Stream.runForEach(events, onEvent).pipe(Effect.forkScoped)
    const ticker = mode === "tty"
      ? yield* draw.pipe(Effect.repeat(Schedule.spaced(options.interval ?? Duration.millis(200))), Effect.forkScoped)
      : undefined

    const log = (line: string) =>
      output.withPermits(1)(Effect.suspend(() => {
        if (mode === "tty" && !finished) {
          const erased = erase(drawn)
          drawn = 0
          return write(`${erased}${line}\n`)
        }
        return write(`${line}\n`)
      })).pipe(Effect.zipRight(draw))

    const finish = (finals: ReadonlyArray<JobRecord>) =>
      Effect.gen(function*() {
        if (finished) return
        yield* state.changes.pipe(
          Stream.takeUntil((s) => caughtUp(s, finals)),
          Stream.runDrain,
          Effect.timeoutOption(options.catchUpTimeout ?? Duration.seconds(2))
        )
        yield* Fiber.interrupt(follower)
        if (ticker !== undefined) yield* Fiber.interrupt(ticker)
        yield* output.withPermits(1)(Effect.suspend(() => {
          const erased = mode === "tty" ? erase(drawn) : ""
          drawn = 0
          finished = true
          return erased === "" ? Effect.void : write(erased)
        }))
      })

    return { log, finish } satisfies Progress
  })
