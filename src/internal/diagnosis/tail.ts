/**
 * Reading files from their end, through `@effect/platform`'s FileSystem: a big log costs only
 * the lines asked for.
 */
import { FileSystem } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Effect, Option, Stream } from "effect"
import { splitLines } from "./scan.js"

const isNotFound = (e: PlatformError) => e._tag === "SystemError" && e.reason === "NotFound"

/** A file's size in bytes, or none when it does not exist. */
export const fileSize = (file: string): Effect.Effect<Option.Option<number>, PlatformError, FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) =>
    fs.stat(file).pipe(
      Effect.map((info) => Option.some(Number(info.size))),
      Effect.catchIf(isNotFound, () => Effect.succeed(Option.none<number>()))
    ))

/** Bytes `from` to `to` of a file, chunk by chunk, to `emit`. */
export const copyRange = <E = never, R = never>(
  file: string,
  from: number,
  to: number,
  emit: (chunk: Uint8Array) => Effect.Effect<void, E, R>
): Effect.Effect<void, PlatformError | E, FileSystem.FileSystem | R> =>
  to <= from
    ? Effect.void
    : Effect.flatMap(FileSystem.FileSystem, (fs) =>
      fs.stream(file, { offset: from, bytesToRead: to - from }).pipe(Stream.runForEach(emit)))

const concatBytes = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  if (parts.length === 1) return parts[0]!
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/**
 * Where the last `lines` lines of a file of `size` bytes start (a final newline ends the last
 * line). Reads backwards from the end in 64 KiB chunks, so a big log costs only its tail.
 */
export const tailStart = (
  file: string,
  size: number,
  lines: number
): Effect.Effect<number, PlatformError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    if (lines <= 0) return size
    const chunkSize = 64 * 1024
    let found = 0
    let end = size
    while (end > 0) {
      const from = Math.max(0, end - chunkSize)
      const parts: Array<Uint8Array> = []
      yield* copyRange(file, from, end, (chunk) => Effect.sync(() => void parts.push(chunk)))
      const bytes = concatBytes(parts)
      for (let i = bytes.length - 1; i >= 0; i--) {
        if (bytes[i] !== 10 || from + i === size - 1) continue
        found += 1
        if (found === lines) return from + i + 1
      }
      end = from
    }
    return 0
  })

/** A whole byte range of a file as text (UTF-8). */
export const readRange = (file: string, from: number, to: number) =>
  Effect.suspend(() => {
    const parts: Array<Uint8Array> = []
    return copyRange(file, from, to, (chunk) => Effect.sync(() => void parts.push(chunk))).pipe(
      Effect.map(() => new TextDecoder().decode(concatBytes(parts)))
    )
  })

/**
 * The last `lines` lines of a file (with their newlines, as in the file), or none when the file
 * does not exist. 0 lines gives "", more lines than the file has gives the whole file.
 */
export const readTail = (
  file: string,
  lines: number
): Effect.Effect<Option.Option<string>, PlatformError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const size = yield* fileSize(file)
    if (Option.isNone(size)) return Option.none()
    const start = yield* tailStart(file, size.value, lines)
    return Option.some(yield* readRange(file, start, size.value))
  })

/** A file's last `lines` lines as lines; a missing or unreadable file has none. */
export const tailLines = (file: string, lines: number) =>
  readTail(file, lines).pipe(
    Effect.map(Option.match({ onNone: (): ReadonlyArray<string> => [], onSome: splitLines })),
    Effect.orElseSucceed((): ReadonlyArray<string> => [])
  )
