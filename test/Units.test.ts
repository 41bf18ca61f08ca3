import { describe, expect, it } from "@effect/vitest"
import { Duration, Either, FastCheck, Schema } from "effect"
import {
  bytesIn,
  formatBytes,
  formatHM,
  formatHMS,
  Memory,
  memoryInMegabytes,
  parseMemory,
  parseWalltime,
  Walltime,
  toSeconds
} from "../src/Units.js"
import { formatSlurmTime, parseSlurmTime } from "../src/internal/slurmTime.js"

const KiB = 1024
const MiB = 1024 ** 2
const GiB = 1024 ** 3
const TiB = 1024 ** 4
const PiB = 1024 ** 5

/** The error's tag and input if the parse failed, else "Right". */
const failure = (e: Either.Either<unknown, { readonly _tag: string; readonly input: string }>) =>
  Either.isLeft(e) ? { tag: e.left._tag, input: e.left.input } : "Right"

/** The parsed walltime in seconds (exact, not rounded). */
const seconds = (input: string) => Either.map(parseWalltime(input), (d) => Duration.toMillis(d) / 1000)

describe("parseMemory", () => {
  it.each([
    ["8 GB", 8 * GiB],
    ["8GB", 8 * GiB],
    ["8 gb", 8 * GiB],
    ["8 GiB", 8 * GiB],
    ["8g", 8 * GiB],
    ["512 MB", 512 * MiB],
    ["512M", 512 * MiB],
    ["1024 KB", 1024 * KiB],
    ["1024 B", 1024],
    ["1 TB", TiB],
    ["2TiB", 2 * TiB],
    ["1 PB", PiB],
    ["1.5 GB", Math.ceil(1.5 * GiB)],
    [".5 KiB", 512],
    ["  8 GB  ", 8 * GiB],
    ["0.1 KB", 103], // 102.4 bytes, rounded up
    ["1.5 B", 2]
  ])("%j is %d bytes", (input, bytes) => {
    expect(parseMemory(input)).toStrictEqual(Either.right(bytes))
  })

  it.each([
    "",
    "   ",
    "8", // no unit
    "0 GB",
    "0.0 MB",
    "8 XB",
    "8 GBs",
    "8 iB",
    "GB",
    "-8 GB",
    "+8 GB",
    "1e3 MB",
    "8. GB",
    "8 G B",
    "lots of memory",
    "9 PB", // more than MAX_SAFE_INTEGER bytes
    `${"9".repeat(400)} B` // Infinity
  ])("%j is refused with its input", (input) => {
    expect(failure(parseMemory(input))).toStrictEqual({ tag: "InvalidMemory", input })
  })

  it("accepts the largest safe byte count and refuses one more", () => {
    expect(parseMemory(`${Number.MAX_SAFE_INTEGER} B`)).toStrictEqual(Either.right(Number.MAX_SAFE_INTEGER))
    expect(Either.isLeft(parseMemory("9007199254740992 B"))).toBe(true)
  })

  it.prop("never throws on any string", [FastCheck.string()], ([s]) => {
    expect(Either.isEither(parseMemory(s))).toBe(true)
  })

  it.prop("never throws on any unicode string", [FastCheck.fullUnicodeString()], ([s]) => {
    expect(Either.isEither(parseMemory(s))).toBe(true)
  })

  const units = [["b", 1], ["k", KiB], ["m", MiB], ["g", GiB], ["t", TiB], ["p", PiB]] as const
  const spelled = FastCheck.constantFrom(...units).chain(([letter, factor]) =>
    FastCheck.record({
      factor: FastCheck.constant(factor),
      unit: FastCheck.mixedCase(
        FastCheck.constantFrom(...(letter === "b" ? ["b"] : [letter, `${letter}b`, `${letter}ib`]))
      ),
      space: FastCheck.constantFrom("", " ", "\t", "  "),
      n: FastCheck.integer({ min: 1, max: Math.floor(Number.MAX_SAFE_INTEGER / factor) })
    })
  )

  it.prop("n <unit> is n times the unit's power of 1024, in any spelling and case", [spelled], ([x]) => {
    expect(parseMemory(`${x.n}${x.space}${x.unit}`)).toStrictEqual(Either.right(x.n * x.factor))
  })

  it.prop(
    "refuses counts above MAX_SAFE_INTEGER bytes",
    [FastCheck.constantFrom(...units.slice(1)).chain(([letter, factor]) =>
      FastCheck.tuple(
        FastCheck.constant(letter),
        FastCheck.integer({ min: Math.floor(Number.MAX_SAFE_INTEGER / factor) + 1, max: Number.MAX_SAFE_INTEGER })
      )
    )],
    ([[letter, n]]) => {
      expect(Either.isLeft(parseMemory(`${n} ${letter}`))).toBe(true)
    }
  )
})

describe("parseWalltime", () => {
  it("refuses a unit form followed by thousands of spaces at once (no backtracking blow-up)", () => {
    for (const input of [`1d${" ".repeat(20_000)}x`, `1h${" ".repeat(20_000)}30m${" ".repeat(20_000)}x`]) {
      const started = performance.now()
      expect(Either.isLeft(parseWalltime(input))).toBe(true)
      expect(performance.now() - started).toBeLessThan(1000)
    }
    expect(parseWalltime(`1h${" ".repeat(2_000)}30m`)).toEqual(Either.right(Duration.minutes(90)))
  })

  it.each([
    ["04:00", 4 * 3600], // four hours, not four minutes
    ["4:00", 4 * 3600],
    ["0:30", 30 * 60],
    ["1:30:00", 90 * 60],
    ["0:00:45", 45],
    ["100:00:00", 100 * 3600],
    ["2-00:00:00", 48 * 3600],
    ["1-12", 36 * 3600],
    ["1-2:30", (26 * 60 + 30) * 60],
    ["0-00:00:01", 1],
    ["90", 90 * 60],
    [" 90 ", 90 * 60],
    ["90m", 90 * 60],
    ["1h30m", 90 * 60],
    ["1h 30m", 90 * 60],
    ["1H30M", 90 * 60],
    ["2d", 48 * 3600],
    ["45s", 45],
    ["1d12h", 36 * 3600],
    ["1d 2h 3m 4s", ((26 * 60) + 3) * 60 + 4],
    ["1h90m", 150 * 60]
  ])("%j is %d seconds", (input, secs) => {
    expect(seconds(input)).toStrictEqual(Either.right(secs))
  })

  it.each([
    "",
    "  ",
    "0",
    "00:00",
    "0:00:00",
    "0m",
    "0h0m",
    "0:61",
    "1:60",
    "1:00:60",
    "1:60:00",
    "1-24:00:00",
    "1-00:60",
    "-5",
    "-1:00",
    "1.5h",
    "1:2",
    "1::00",
    "abc",
    "30m1h", // out of order
    "1h1h", // repeated
    "1h30", // trailing number without a unit
    "1 hour",
    "90 minutes",
    "P1D",
    `${"9".repeat(30)}`
  ])("%j is refused with its input", (input) => {
    expect(failure(parseWalltime(input))).toStrictEqual({ tag: "InvalidWalltime", input })
  })

  it.prop("never throws on any string", [FastCheck.string()], ([s]) => {
    expect(Either.isEither(parseWalltime(s))).toBe(true)
  })

  it.prop("never throws on any unicode string", [FastCheck.fullUnicodeString()], ([s]) => {
    expect(Either.isEither(parseWalltime(s))).toBe(true)
  })

  it("refuses a long run of digits quickly (no regex blow-up)", () => {
    const start = Date.now()
    expect(Either.isLeft(parseWalltime(`${"1".repeat(100_000)}x`))).toBe(true)
    expect(Either.isLeft(parseMemory(`${"1".repeat(100_000)}x`))).toBe(true)
    expect(Date.now() - start).toBeLessThan(1000)
  })

  it.prop(
    "XhYm is X*60+Y minutes",
    [
      FastCheck.integer({ min: 0, max: 10_000 }),
      FastCheck.integer({ min: 0, max: 10_000 }),
      FastCheck.constantFrom("", " ")
    ],
    ([x, y, space]) => {
      FastCheck.pre(x + y > 0)
      expect(seconds(`${x}h${space}${y}m`)).toStrictEqual(Either.right((x * 60 + y) * 60))
    }
  )
})

describe("parseSlurmTime (sbatch --time)", () => {
  const slurm = (input: string) => Either.map(parseSlurmTime(input), (d) => Duration.toMillis(d) / 1000)

  it.each([
    ["30", 30 * 60],
    ["30:00", 30 * 60],
    ["1:30", 90],
    ["90:15", 90 * 60 + 15],
    ["1:00:00", 3600],
    ["100:00:00", 100 * 3600],
    ["2-12", (2 * 24 + 12) * 3600],
    ["2-12:30", (2 * 24 + 12) * 3600 + 1800],
    ["1-00:00:01", 86_400 + 1],
    [" 45 ", 45 * 60]
  ])("%s is %i seconds", (input, expected) => {
    expect(slurm(input)).toStrictEqual(Either.right(expected))
  })

  it("reads MM:SS where parseWalltime reads HH:MM", () => {
    expect(slurm("30:00")).toStrictEqual(Either.right(1800))
    expect(seconds("30:00")).toStrictEqual(Either.right(30 * 3600))
  })

  it.each(["", "0", "0:00", "1:60", "1:60:00", "1:00:60", "1-24", "1-00:60", "infinite", "UNLIMITED", "1h", "-1", "1:2:3:4"])(
    "refuses %j",
    (input) => {
      expect(failure(parseSlurmTime(input))).toStrictEqual({ tag: "InvalidWalltime", input })
    }
  )

  it.prop("never throws on any string", [FastCheck.string()], ([s]) => {
    expect(Either.isEither(parseSlurmTime(s))).toBe(true)
  })

  it.prop(
    "D-HH:MM:SS is what it says, and formatSlurmTime writes it back",
    [
      FastCheck.integer({ min: 0, max: 365 }),
      FastCheck.integer({ min: 0, max: 23 }),
      FastCheck.integer({ min: 0, max: 59 }),
      FastCheck.integer({ min: 0, max: 59 })
    ],
    ([d, h, m, s]) => {
      FastCheck.pre(d + h + m + s > 0)
      const pad = (n: number) => String(n).padStart(2, "0")
      const parsed = parseSlurmTime(`${d}-${pad(h)}:${pad(m)}:${pad(s)}`)
      expect(Either.map(parsed, toSeconds)).toStrictEqual(Either.right(((d * 24 + h) * 60 + m) * 60 + s))
      const again = Either.flatMap(Either.map(parsed, formatSlurmTime), parseWalltime)
      expect(Either.map(again, toSeconds)).toStrictEqual(Either.map(parsed, toSeconds))
    }
  )
})

describe("renderers", () => {
  it("toSeconds rounds up", () => {
    expect(toSeconds(Duration.seconds(90))).toBe(90)
    expect(toSeconds(Duration.millis(90_001))).toBe(91)
    expect(toSeconds(Duration.nanos(1n))).toBe(1)
  })

  it("formatHMS pads, does not wrap hours, and rounds up", () => {
    expect(formatHMS(Duration.seconds(45))).toBe("00:00:45")
    expect(formatHMS(Duration.minutes(90))).toBe("01:30:00")
    expect(formatHMS(Duration.hours(49))).toBe("49:00:00")
    expect(formatHMS(Duration.hours(123))).toBe("123:00:00")
    expect(formatHMS(Duration.millis(59_500))).toBe("00:01:00")
  })

  it("formatHM rounds up to the minute", () => {
    expect(formatHM(Duration.hours(4))).toBe("04:00")
    expect(formatHM(Duration.minutes(90))).toBe("01:30")
    expect(formatHM(Duration.seconds(61))).toBe("00:02")
    expect(formatHM(Duration.seconds(1))).toBe("00:01")
    expect(formatHM(Duration.hours(100))).toBe("100:00")
  })

  it("formatSlurmTime uses a day part from one day up", () => {
    expect(formatSlurmTime(Duration.hours(23))).toBe("23:00:00")
    expect(formatSlurmTime(Duration.seconds(86_399))).toBe("23:59:59")
    expect(formatSlurmTime(Duration.millis(86_399_001))).toBe("1-00:00:00")
    expect(formatSlurmTime(Duration.hours(24))).toBe("1-00:00:00")
    expect(formatSlurmTime(Duration.hours(49))).toBe("2-01:00:00")
    expect(formatSlurmTime(Duration.seconds(10 * 86_400 + 3661))).toBe("10-01:01:01")
  })

  it("formatBytes uses binary units with at most two decimals", () => {
    expect(formatBytes(100)).toBe("100 B")
    expect(formatBytes(1023)).toBe("1023 B")
    expect(formatBytes(1024)).toBe("1 KiB")
    expect(formatBytes(512 * MiB)).toBe("512 MiB")
    expect(formatBytes(1.5 * GiB)).toBe("1.5 GiB")
    expect(formatBytes(8 * GiB)).toBe("8 GiB")
    expect(formatBytes(GiB + GiB / 3)).toBe("1.33 GiB")
    expect(formatBytes(MiB - 1)).toBe("1 MiB") // not "1024 KiB"
    expect(formatBytes(2048 * PiB)).toBe("2048 PiB")
  })

  it("bytesIn and memoryInMegabytes round up", () => {
    expect(bytesIn(512 * MiB, "MB")).toBe(512)
    expect(bytesIn(512 * MiB + 1, "MB")).toBe(513)
    expect(bytesIn(1, "KB")).toBe(1)
    expect(bytesIn(8 * GiB, "GB")).toBe(8)
    expect(bytesIn(8 * GiB + 1, "GB")).toBe(9)
    expect(bytesIn(TiB, "TB")).toBe(1)
    expect(bytesIn(TiB, "KB")).toBe(1024 ** 3)
    expect(memoryInMegabytes(512 * MiB)).toBe(512)
    expect(memoryInMegabytes(512 * MiB + 1)).toBe(513)
  })

  const wholeSeconds = FastCheck.integer({ min: 1, max: 1000 * 86_400 })

  it.prop("formatHMS parses back to the same seconds", [wholeSeconds], ([s]) => {
    expect(seconds(formatHMS(Duration.seconds(s)))).toStrictEqual(Either.right(s))
  })

  it.prop("formatSlurmTime parses back to the same seconds", [wholeSeconds], ([s]) => {
    expect(seconds(formatSlurmTime(Duration.seconds(s)))).toStrictEqual(Either.right(s))
  })

  it.prop("formatHM parses back to the seconds rounded up to a minute", [wholeSeconds], ([s]) => {
    expect(seconds(formatHM(Duration.seconds(s)))).toStrictEqual(Either.right(Math.ceil(s / 60) * 60))
  })
})

describe("the Memory and Walltime schemas", () => {
  const memory = Schema.decodeEither(Memory)
  const walltime = Schema.decodeEither(Walltime)

  it("decode to whole bytes and seconds, as the parsers read them", () => {
    expect(memory("8 GB")).toEqual(Either.right(8 * 1024 ** 3))
    expect(memory("1.5 GiB")).toEqual(Either.right(1.5 * 1024 ** 3))
    expect(walltime("04:00")).toEqual(Either.right(4 * 3600))
    expect(walltime("1h30m")).toEqual(Either.right(5400))
    expect(walltime("2-00:00:00")).toEqual(Either.right(2 * 86_400))
  })

  it("refuse what the parsers refuse, with their message", () => {
    const badMemory = memory("8")
    expect(Either.isLeft(badMemory) && badMemory.left.message).toContain(parseMemory("8").pipe(Either.flip, Either.getOrThrow).message)
    const badWall = walltime("0")
    expect(Either.isLeft(badWall) && badWall.left.message).toContain(parseWalltime("0").pipe(Either.flip, Either.getOrThrow).message)
  })

  it.prop("Memory decodes exactly when parseMemory reads, to the same bytes", [FastCheck.string()], ([s]) => {
    expect(Either.getRight(memory(s))).toEqual(Either.getRight(parseMemory(s)))
  })

  it.prop("Walltime decodes exactly when parseWalltime reads, to its whole seconds", [FastCheck.string()], ([s]) => {
    expect(Either.getRight(walltime(s))).toEqual(Either.getRight(Either.map(parseWalltime(s), toSeconds)))
  })

  it.prop("encoding gives back a string that decodes to the same number", [
    FastCheck.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })
  ], ([n]) => {
    expect(memory(Schema.encodeSync(Memory)(n))).toEqual(Either.right(n))
    const seconds = n % (10_000 * 86_400) + 1
    expect(walltime(Schema.encodeSync(Walltime)(seconds))).toEqual(Either.right(seconds))
  })
})
