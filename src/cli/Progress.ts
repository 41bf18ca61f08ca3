/**
 * What the CLI shows while it waits for jobs, and the tables it prints about them.
 *
 * Everything that decides what text to show is a pure function of records, events and the time
 * (tested in test/Progress.test.ts). `start` is the one effectful part: it follows the Monitor's
 * events and either redraws a compact summary in place (on a terminal), prints one line per event
 * (in a log or a pipe), or shows nothing (`--json`).
 */
export { detailElementLimit, failureText, jobDetailsText, transitionText } from "./progress/details.js"
export type { TransitionLine } from "./progress/details.js"
export { erase, redraw, start } from "./progress/live.js"
export type { Progress, ProgressMode, ProgressOptions } from "./progress/live.js"
export {
  applyEvent,
  caughtUp,
  countsLine,
  elementCounts,
  emptyProgress,
  eventLine,
  formatElementCounts,
  frameLines,
  trackRecords
} from "./progress/state.js"
export type { ElementCounts, ProgressState } from "./progress/state.js"
export { formatTable, resultTable, statusTable, truncate } from "./progress/tables.js"
export { elapsedMillis, formatClock, formatDateTime, formatDuration, formatTime } from "./progress/time.js"
