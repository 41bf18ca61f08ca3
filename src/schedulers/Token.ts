/**
 * The token a submission carries to the scheduler (see JobStore.SubmitIntent): written into the
 * job where the scheduler shows it back (a comment, a description, a context variable), so that a
 * program that died while submitting finds the job. Pure.
 */

/** What the scheduler keeps for a submission: `cluster-api:` and the token (hex). */
export const tokenMarker = (token: string): string => `cluster-api:${token}`

const markerPattern = /cluster-api:([0-9a-f]{8,64})\b/

/** The token in a text the scheduler shows back (a comment, …); undefined when none is there. */
export const tokenIn = (text: string): string | undefined => markerPattern.exec(text)?.[1]

export type { TokenListing } from "../Scheduler.js"
