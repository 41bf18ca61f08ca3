/**
 * Options several commands share: timeouts, dependencies, and the job filters of list, export and cleanup.
 */
import { HelpDoc, Options, ValidationError } from "@effect/cli"
import { Clock, Effect, Either, Option } from "effect"
import type { JobStatus } from "../Domain.js"
import type { JobFilter } from "../JobStore.js"
import { builtin, namesOf } from "../schedulers/builtin.js"
import { nameGlobs, nonEmptyIds, parseStatuses, parseTimeout } from "./Input.js"
import { parseWhen, whenForms } from "../internal/queries/when.js"

export const invalid = (message: string) => ValidationError.invalidValue(HelpDoc.p(message))

export const fromEither = <A>(e: Either.Either<A, string>) => Either.match(e, { onLeft: (m) => Effect.fail(invalid(m)), onRight: Effect.succeed })

export const atLeast = (name: string, min: number) => (n: number) =>
  n >= min ? Effect.succeed(n) : Effect.fail(invalid(`--${name} must be a whole number of at least ${min}, got ${n}`))

export const optionalText = (name: string, pseudo: string, description: string) =>
  Options.text(name).pipe(Options.withPseudoName(pseudo), Options.withDescription(description), Options.optional)

export const timeoutOption = Options.text("timeout").pipe(
  Options.withPseudoName("DURATION"),
  Options.withDescription(
    `Stop waiting after this long and exit with code 3: seconds ("600"), words ("10 minutes") or units ("1h30m")`
  ),
  Options.mapEffect((s) => fromEither(parseTimeout(s))),
  Options.optional
)

/** `--after-ok ID` and its kin: repeatable, each naming one job id. */
export const dependencyOption = (name: string, meaning: string) =>
  Options.text(name).pipe(
    Options.withPseudoName("ID"),
    Options.withDescription(`Start only after job ID ${meaning} (repeatable)`),
    Options.repeated,
    Options.mapEffect((ids) => fromEither(nonEmptyIds(`--${name}`, ids)))
  )

/** `--since WHEN` and its kin: an age ("2h", "3d") or an ISO date/time, read against the clock. */
export const whenOption = (name: string, description: string) =>
  Options.text(name).pipe(
    Options.withPseudoName("WHEN"),
    Options.withDescription(`${description}: ${whenForms}`),
    Options.mapEffect((s) =>
      Effect.flatMap(
        Clock.currentTimeMillis,
        (ms) => fromEither(Either.mapLeft(parseWhen(s, new Date(ms)), (m) => `Invalid --${name}: ${m}`))
      )
    ),
    Options.optional
  )

export const statusOption = (description: string) =>
  Options.text("status").pipe(
    Options.withPseudoName("STATUS"),
    Options.withDescription(
      `${description}: Pending, Running, Done, Failed, Killed or Unknown (repeatable, or comma-separated)`
    ),
    Options.repeated,
    Options.mapEffect((inputs) => fromEither(parseStatuses(inputs)))
  )

/** The filters `list` and `export` share. */
export const filterOptions = {
  status: statusOption("Only jobs in this state"),
  name: optionalText("name", "GLOB", `Only jobs whose name matches a glob ("train-*"), with or without the job_name_prefix`),
  executor: optionalText("executor", "NAME", `Only jobs of this executor (${namesOf(builtin).join(", ")})`),
  since: whenOption("since", "Only jobs submitted at or after WHEN"),
  until: whenOption("until", "Only jobs submitted before WHEN")
}

export interface FilterOptions {
  readonly status: ReadonlyArray<JobStatus>
  readonly name: Option.Option<string>
  readonly executor: Option.Option<string>
  readonly since: Option.Option<Date>
  readonly until: Option.Option<Date>
}

export const jobFilter = (o: FilterOptions, prefix: string | undefined): JobFilter => ({
  ...(o.status.length > 0 ? { status: o.status } : {}),
  ...(Option.isSome(o.name) ? { names: nameGlobs(o.name.value, prefix) } : {}),
  ...(Option.isSome(o.executor) ? { executor: o.executor.value } : {}),
  ...(Option.isSome(o.since) ? { submittedAfter: o.since.value } : {}),
  ...(Option.isSome(o.until) ? { submittedBefore: o.until.value } : {})
})

export const isFiltered = (o: FilterOptions): boolean =>
  o.status.length > 0 || Option.isSome(o.name) || Option.isSome(o.executor) || Option.isSome(o.since) ||
  Option.isSome(o.until)
