/**
 * The one naming rule: the name a scheduler knows a job by is `{job_name_prefix}-{name}`, with
 * every character outside `[A-Za-z0-9_.-]` replaced by `-` (or the name alone, made safe, when no
 * prefix is configured). Everything that builds such a name, takes the prefix off again, tells
 * whether a name is one of ours, or turns a user's name glob into one over full names is here.
 *
 * The prefix is made safe like the rest of the name, so the head of every full name is
 * `{safe prefix}-` and a name is recognised by the same head it was given.
 */
import { globToRegExp } from "./internal/glob.js"

/** Replaces every character outside `[A-Za-z0-9_.-]` with `-`. */
export const sanitize = (name: string): string => name.replace(/[^\w.-]/g, "-")

/** Whether a prefix is configured: unset and "" both leave names as given. */
const isSet = (prefix: string | undefined): prefix is string => prefix !== undefined && prefix.length > 0

/** `{safe prefix}-`, the head of every full name; undefined without a prefix. */
const head = (prefix: string | undefined): string | undefined => (isSet(prefix) ? `${sanitize(prefix)}-` : undefined)

/** `{prefix}-{name}` (or the name alone without a prefix), made safe for every scheduler. */
export const full = (prefix: string | undefined, name: string): string => sanitize((head(prefix) ?? "") + name)

/**
 * Whether a full name carries the prefix, i.e. names a job this configuration submitted.
 * Without a prefix no name can be told apart, so none is.
 */
export const isOurs = (prefix: string | undefined, name: string): boolean => {
  const h = head(prefix)
  return h !== undefined && name.startsWith(h)
}

/** The name without the prefix's head; a name that does not carry it is returned as it is. */
export const strip = (prefix: string | undefined, name: string): string => {
  const h = head(prefix)
  return h !== undefined && name.startsWith(h) ? name.slice(h.length) : name
}

/** The glob every full name of this prefix matches (`capi-*`); undefined without a prefix. */
export const listingPattern = (prefix: string | undefined): string | undefined => {
  const h = head(prefix)
  return h === undefined ? undefined : `${h}*`
}

/**
 * A name glob as the scheduler should match it against full names: with the prefix's head put
 * in front (`align-*` → `capi-align-*`) unless it already starts with it.
 */
export const withPrefix = (prefix: string | undefined, glob: string): string => {
  const h = head(prefix)
  return h === undefined || glob.startsWith(h) ? glob : `${h}${glob}`
}

/**
 * The globs a user's name glob stands for over stored (full) names: as written, and with the
 * prefix's head in front.
 */
export const globs = (prefix: string | undefined, glob: string): ReadonlyArray<string> => {
  const h = head(prefix)
  return h === undefined ? [glob] : [glob, `${h}${glob}`]
}

/** Whether a full name matches a user's glob, with or without the prefix. */
export const matcher = (prefix: string | undefined, glob: string): (name: string) => boolean => {
  const re = globToRegExp(glob)
  return (name) => re.test(name) || (isOurs(prefix, name) && re.test(strip(prefix, name)))
}
