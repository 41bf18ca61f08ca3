import { describe, expect, it } from "@effect/vitest"
import { FastCheck } from "effect"
import { globToRegExp } from "../src/internal/glob.js"
import * as JobName from "../src/JobName.js"

/** Any prefix, set or not ("" and undefined both mean none). */
const prefix = FastCheck.option(FastCheck.string(), { nil: undefined })
/** A prefix that is set. */
const setPrefix = FastCheck.string({ minLength: 1 })
/** A name the scheduler would keep as it is: only `[A-Za-z0-9_.-]`, so no glob character either. */
const safeName = FastCheck.stringMatching(/^[\w.-]{1,20}$/)

describe("JobName", () => {
  it("names as {prefix}-{name} with unsafe characters replaced, prefix included", () => {
    expect(JobName.full("capi", "Demo App")).toBe("capi-Demo-App")
    expect(JobName.full("my lab", "x")).toBe("my-lab-x")
    expect(JobName.full(undefined, "a b")).toBe("a-b")
    expect(JobName.full("", "a b")).toBe("a-b")
  })

  it("strips the prefix's head and tells its own names apart", () => {
    expect(JobName.strip("capi", "capi-align")).toBe("align")
    expect(JobName.strip("capi", "other-align")).toBe("other-align")
    expect(JobName.strip("capi", "capialign")).toBe("capialign")
    expect(JobName.strip(undefined, "capi-align")).toBe("capi-align")
    expect(JobName.isOurs("capi", "capi-align")).toBe(true)
    expect(JobName.isOurs("capi", "capialign")).toBe(false)
    expect(JobName.isOurs("my lab", "my-lab-x")).toBe(true)
    expect(JobName.isOurs(undefined, "capi-align")).toBe(false)
    expect(JobName.isOurs("", "capi-align")).toBe(false)
  })

  it("lists by `{prefix}-*`, and by nothing without a prefix", () => {
    expect(JobName.listingPattern("capi")).toBe("capi-*")
    expect(JobName.listingPattern(undefined)).toBeUndefined()
    expect(JobName.listingPattern("")).toBeUndefined()
  })

  it("puts the prefix in front of a glob once", () => {
    expect(JobName.withPrefix("capi", "align-*")).toBe("capi-align-*")
    expect(JobName.withPrefix("capi", "capi-align-*")).toBe("capi-align-*")
    expect(JobName.withPrefix(undefined, "align-*")).toBe("align-*")
    expect(JobName.withPrefix("", "align-*")).toBe("align-*")
    expect(JobName.globs("capi", "train-*")).toEqual(["train-*", "capi-train-*"])
    expect(JobName.globs(undefined, "train-*")).toEqual(["train-*"])
  })

  it("matches a glob with or without the prefix", () => {
    const matches = JobName.matcher("capi", "align-*")
    expect(matches("capi-align-1")).toBe(true)
    expect(matches("align-1")).toBe(true)
    expect(matches("other-align-1")).toBe(false)
    expect(JobName.matcher(undefined, "align-*")("capi-align-1")).toBe(false)
  })

  it.prop("strip(p, full(p, n)) is the name made safe", [prefix, FastCheck.string()], ([p, n]) => {
    expect(JobName.strip(p, JobName.full(p, n))).toBe(JobName.sanitize(n))
  })

  it.prop("strip(p, full(p, n)) === n for a safe name", [prefix, safeName], ([p, n]) => {
    expect(JobName.strip(p, JobName.full(p, n))).toBe(n)
  })

  it.prop("every full name of a set prefix is ours and matches the listing pattern", [
    setPrefix,
    FastCheck.string()
  ], ([p, n]) => {
    const name = JobName.full(p, n)
    expect(JobName.isOurs(p, name)).toBe(true)
    expect(globToRegExp(JobName.listingPattern(p)!).test(name)).toBe(true)
  })

  it.prop("no name is ours without a prefix", [FastCheck.constantFrom(undefined, ""), FastCheck.string()], ([p, n]) => {
    expect(JobName.isOurs(p, n)).toBe(false)
    expect(JobName.full(p, n)).toBe(JobName.sanitize(n))
  })

  it.prop("a full name is safe, and sanitize is idempotent", [prefix, FastCheck.string()], ([p, n]) => {
    const name = JobName.full(p, n)
    expect(name).toMatch(/^[\w.-]*$/)
    expect(JobName.sanitize(name)).toBe(name)
  })

  it.prop("a safe name matches itself as a glob, with and without the prefix", [prefix, safeName], ([p, n]) => {
    const matches = JobName.matcher(p, n)
    expect(matches(n)).toBe(true)
    expect(matches(JobName.full(p, n))).toBe(true)
    expect(JobName.globs(p, n).some((g) => globToRegExp(g).test(JobName.full(p, n)))).toBe(true)
  })

  // A glob that already starts with the prefix's head is taken as a glob over full names.
  it.prop("withPrefix(p, n) matches full(p, n) for a safe name not starting with the head", [prefix, safeName], ([p, n]) => {
    FastCheck.pre(!JobName.isOurs(p, n))
    expect(globToRegExp(JobName.withPrefix(p, n)).test(JobName.full(p, n))).toBe(true)
  })

  it.prop("withPrefix is idempotent", [prefix, safeName], ([p, n]) => {
    const once = JobName.withPrefix(p, n)
    expect(JobName.withPrefix(p, once)).toBe(once)
  })
})
