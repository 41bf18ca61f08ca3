import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Duration, Effect, Either, FastCheck } from "effect"
import { ClusterConfig } from "../src/Config.js"
import type { JobSpec } from "../src/Domain.js"
import { ArraySpec, formatArraySpec } from "../src/Domain.js"
import { InvalidJobSpec } from "../src/Errors.js"
import { prepareJob } from "../src/internal/prepare.js"
import type { JobOptions } from "../src/internal/jobOptions.js"
import { applyTemplate, decodeJobOptions, jobOptionKeys, mergeUnder, parseArraySpec, toSpec } from "../src/internal/jobOptions.js"

/** The options of the README's gpu template, as YAML would give them. */
const gpuYaml = {
  queue: "gpu",
  gpus: 1,
  memory: "32 GB",
  walltime: "04:00",
  env: { CUDA_VISIBLE_DEVICES_POLICY: "strict" },
  prologue: ["module load cuda/12"],
  max_retries: 2,
  retry_on: ["NodeFailure", "Preempted", "Timeout"],
  retry_backoff: 60,
  retry_backoff_factor: 2,
  max_retry_backoff: 600,
  escalate_memory: 2,
  escalate_walltime: 1.5,
  expected_outputs: ["results/*.csv"],
  check_logs: true
}

const decoded = (value: unknown, path = "templates.t"): JobOptions => {
  const result = decodeJobOptions(value, path)
  if (Either.isLeft(result)) throw new Error(`expected options, got ${result.left.join("; ")}`)
  return result.right.options
}

const problems = (value: unknown, path = "templates.t", opts = {}): ReadonlyArray<string> => {
  const result = decodeJobOptions(value, path, opts)
  if (Either.isRight(result)) throw new Error("expected problems")
  return result.left
}

describe("decodeJobOptions", () => {
  it("accepts the README's gpu template as it is", () => {
    expect(decoded(gpuYaml)).toEqual(gpuYaml)
  })

  it("lists every problem, each with its key path and what was expected", () => {
    expect(
      problems({ cpus: 0, gpus: -1, queue: 3, prologue: "module load x", inherit_env: "yes", max_retries: 1.5 }, "steps[2]")
    ).toEqual([
      "steps[2].cpus: expected a positive integer, got 0",
      "steps[2].gpus: expected a non-negative integer, got -1",
      "steps[2].queue: expected a string, got 3",
      "steps[2].prologue: expected a list of strings, got \"module load x\"",
      "steps[2].inherit_env: expected true or false, got \"yes\"",
      "steps[2].max_retries: expected a non-negative integer, got 1.5"
    ])
  })

  it("parses memory and walltime, and asks for quotes around a bare number", () => {
    const found = problems({ memory: "lots", walltime: "soon", array: 5 })
    expect(found[0]).toMatch(/^templates\.t\.memory: Cannot parse memory "lots"/)
    expect(found[1]).toMatch(/^templates\.t\.walltime: Cannot parse walltime "soon"/)
    expect(found[2]).toMatch(/^templates\.t\.array: expected a range .* got 5 \(quote it\)$/)
    expect(problems({ walltime: 90 })).toEqual([
      "templates.t.walltime: expected a walltime string such as \"04:00\" (hours:minutes) or \"90m\", got 90 (quote it)"
    ])
  })

  it("refuses unknown keys with a suggestion, or the list of options when nothing is close", () => {
    const found = problems({ memroy: "8 GB", cpu: 2, frobnicate: true })
    expect(found[0]).toBe("templates.t.memroy: unknown option; did you mean memory?")
    expect(found[1]).toBe("templates.t.cpu: unknown option; did you mean cpus?")
    expect(found[2]).toMatch(/^templates\.t\.frobnicate: unknown option; the options are command, name, template, cpus/)
    expect(found[2]).toContain("check_logs")
  })

  it("refuses null rather than dropping the option", () => {
    expect(problems({ memory: null })).toEqual([
      "templates.t.memory: expected a memory size string such as \"8 GB\" or \"512M\", got null"
    ])
  })

  it("refuses what is not a mapping", () => {
    expect(problems(["cpus: 2"])).toEqual(["templates.t: expected a mapping of job options, got a list"])
    expect(problems("gpu")).toEqual(["templates.t: expected a mapping of job options, got \"gpu\""])
  })

  it("names the env variable, failure kind, regex and nested key that is wrong", () => {
    expect(problems({ env: { "1BAD": "x", OK: { a: 1 } } })).toEqual([
      "templates.t.env.1BAD: not a shell variable name; use letters, digits and _ (not starting with a digit)",
      "templates.t.env.OK: expected a string, got {\"a\":1}"
    ])
    expect(problems({ max_retries: 1, retry_on: ["Timeout", "Timout", "Meteor"] })).toEqual([
      "templates.t.retry_on[1]: \"Timout\" is not a failure kind; did you mean Timeout?",
      expect.stringMatching(/^templates\.t\.retry_on\[2\]: "Meteor" is not a failure kind; the kinds are NonZeroExit, /)
    ])
    expect(problems({ check_logs: { patterns: ["ok", "(unclosed"], patern: [], threshold: 0 } })).toEqual([
      expect.stringMatching(/^templates\.t\.check_logs\.patterns\[1\]: "\(unclosed" is not a valid regular expression: /),
      "templates.t.check_logs.patern: unknown check_logs key; did you mean patterns?",
      "templates.t.check_logs.threshold: expected a positive integer, got 0"
    ])
    expect(problems({ check_logs: "yes" })).toEqual([
      "templates.t.check_logs: expected true, false, or a mapping of patterns, whitelist, threshold, fail, got \"yes\""
    ])
  })

  it("checks arrays written as strings and as mappings", () => {
    expect(problems({ array: "1-x" })).toEqual([
      expect.stringMatching(/^templates\.t\.array: "1-x" is not an array range: expected START-END\[:STEP\]\[%MAX\]/)
    ])
    expect(problems({ array: "5-1" })[0]).toContain("the end 1 is below the start 5")
    expect(problems({ array: { start: 1, end: 10, maxConcurrent: 2 } })).toEqual([
      "templates.t.array.maxConcurrent: unknown array key; did you mean max_concurrent?"
    ])
    expect(problems({ array: { start: 5, end: 1 } })).toEqual(["templates.t.array: the end 1 is below the start 5"])
    expect(problems({ array: { end: 3, step: 0 } })).toEqual([
      "templates.t.array.step: expected a positive integer, got 0",
      "templates.t.array.start: missing; give start (a non-negative integer)"
    ])
    expect(decoded({ array: { start: 0, end: 9, step: 3, max_concurrent: 2 } }).array).toEqual({
      start: 0,
      end: 9,
      step: 3,
      max_concurrent: 2
    })
  })

  it("wants max_retries beside the other retry keys", () => {
    expect(problems({ retry_on: ["Timeout"], escalate_memory: 2 })).toEqual([
      "templates.t.retry_on: means nothing without max_retries; add max_retries (how many times to retry)",
      "templates.t.escalate_memory: means nothing without max_retries; add max_retries (how many times to retry)"
    ])
  })

  it("makes unquoted numbers and booleans in env strings", () => {
    expect(decoded({ env: { OMP_NUM_THREADS: 8, DEBUG: false } }).env).toEqual({ OMP_NUM_THREADS: "8", DEBUG: "false" })
  })

  it("takes depends_on and dependency_type only when the caller allows them, and returns them as written", () => {
    expect(problems({ depends_on: ["align"], cpus: 2 })).toEqual([
      "templates.t.depends_on: only a pipeline step can depend on other jobs; remove it here"
    ])
    const step = decodeJobOptions(
      { command: "x", depends_on: ["align", 3], dependency_type: "afterany", cpus: 2 },
      "steps[1]",
      { allowDependsOn: true }
    )
    expect(step).toEqual(
      Either.right({ options: { command: "x", cpus: 2 }, dependsOn: ["align", 3], dependencyType: "afterany" })
    )
    expect(problems({ depend_on: ["a"] }, "steps[0]", { allowDependsOn: true })).toEqual([
      "steps[0].depend_on: unknown option; did you mean depends_on?"
    ])
  })

  it.prop("never throws, whatever it is given", [FastCheck.anything()], ([value]) => {
    const result = decodeJobOptions(value, "x")
    if (Either.isRight(result)) expect(() => toSpec(result.right.options)).not.toThrow()
  })
})

describe("parseArraySpec", () => {
  it("reads START-END[:STEP][%MAX]", () => {
    expect(parseArraySpec("1-10")).toEqual(Either.right({ start: 1, end: 10 }))
    expect(parseArraySpec("1-10:2%4")).toEqual(Either.right({ start: 1, end: 10, step: 2, maxConcurrent: 4 }))
    expect(parseArraySpec(" 0-99:2 ")).toEqual(Either.right({ start: 0, end: 99, step: 2 }))
    expect(parseArraySpec("1-10%3")).toEqual(Either.right({ start: 1, end: 10, maxConcurrent: 3 }))
    for (const bad of ["5-1", "1-4:0", "1-4%0", "1,2,3", "", "-1-3", "1-10%"]) {
      expect(Either.isLeft(parseArraySpec(bad))).toBe(true)
    }
  })

  it.prop(
    "reads back what formatArraySpec writes",
    [Arbitrary.make(ArraySpec).filter((a) => a.end >= a.start)],
    ([array]) => {
      const back = parseArraySpec(formatArraySpec(array))
      const { step, ...rest } = array
      expect(back).toEqual(Either.right(step === undefined || step === 1 ? rest : array))
    }
  )
})

describe("toSpec", () => {
  it("gives every key its JobSpec field", () => {
    const options = decoded({
      ...gpuYaml,
      command: "python train.py",
      name: "train",
      template: "base",
      cpus: 8,
      nodes: 2,
      account: "proj",
      work_dir: "/scratch/run",
      stdout: "out.log",
      stderr: "err.log",
      extra_directives: ["--qos=high"],
      extra_args: ["--requeue"],
      epilogue: ["echo done"],
      metadata: { owner: "ana", tags: ["a"] },
      array: "1-10:2%4",
      inherit_env: false,
      login_shell: true
    })
    expect(Object.keys(options).sort()).toEqual([...jobOptionKeys].sort())
    expect(toSpec(options)).toEqual({
      command: "python train.py",
      name: "train",
      template: "base",
      resources: {
        cpus: 8,
        gpus: 1,
        nodes: 2,
        memory: "32 GB",
        walltime: "04:00",
        queue: "gpu",
        account: "proj",
        workDir: "/scratch/run",
        stdoutPath: "out.log",
        stderrPath: "err.log",
        extraDirectives: ["--qos=high"],
        extraArgs: ["--requeue"]
      },
      env: { CUDA_VISIBLE_DEVICES_POLICY: "strict" },
      prologue: ["module load cuda/12"],
      epilogue: ["echo done"],
      metadata: { owner: "ana", tags: ["a"] },
      array: { start: 1, end: 10, step: 2, maxConcurrent: 4 },
      inheritEnv: false,
      loginShell: true,
      retry: {
        maxRetries: 2,
        on: ["NodeFailure", "Preempted", "Timeout"],
        backoffSeconds: 60,
        backoffFactor: 2,
        maxBackoffSeconds: 600,
        memoryFactor: 2,
        walltimeFactor: 1.5
      },
      expectedOutputs: ["results/*.csv"],
      logCheck: {}
    })
  })

  it("leaves out what the options do not give", () => {
    expect(toSpec({})).toEqual({})
    expect(toSpec({ queue: "q" })).toEqual({ resources: { queue: "q" } })
    expect(toSpec({ max_retries: 0 })).toEqual({ retry: { maxRetries: 0 } })
  })

  it("turns check_logs into a LogCheck", () => {
    expect(toSpec(decoded({ check_logs: false })).logCheck).toEqual({ patterns: [] })
    expect(
      toSpec(decoded({ check_logs: { patterns: ["oops"], whitelist: ["harmless oops"], threshold: 2, fail: false } }))
        .logCheck
    ).toEqual({ patterns: ["oops"], whitelist: ["harmless oops"], threshold: 2, fail: false })
  })
})

describe("mergeUnder", () => {
  const base = toSpec(decoded({
    ...gpuYaml,
    cpus: 4,
    extra_directives: ["--qos=gpu"],
    extra_args: ["--requeue"],
    epilogue: ["echo end"],
    metadata: { team: "ml", cost: "gpu" },
    check_logs: { whitelist: ["harmless"], threshold: 2 },
    array: "1-4",
    login_shell: true,
    command: "ignored",
    name: "ignored"
  }))

  it("puts the template under the spec: the spec's values win, lists are joined, maps merged", () => {
    const spec: JobSpec = {
      name: "train",
      command: "python train.py",
      resources: { memory: "64 GB", extraDirectives: ["--qos=gpu", "--exclusive"] },
      env: { CUDA_VISIBLE_DEVICES_POLICY: "lax", SEED: "1" },
      prologue: ["module load cuda/12", "source venv/bin/activate"],
      metadata: { cost: "cheap" },
      retry: { maxRetries: 5, backoffSeconds: 1 },
      expectedOutputs: ["model.pt"],
      logCheck: { fail: false },
      dependsOn: [{ type: "afterok", jobId: "12" }],
      template: "gpu"
    }
    expect(mergeUnder(base, spec)).toEqual({
      name: "train",
      command: "python train.py",
      template: "gpu",
      resources: {
        cpus: 4,
        gpus: 1,
        memory: "64 GB",
        walltime: "04:00",
        queue: "gpu",
        extraDirectives: ["--qos=gpu", "--exclusive"],
        extraArgs: ["--requeue"]
      },
      env: { CUDA_VISIBLE_DEVICES_POLICY: "lax", SEED: "1" },
      prologue: ["module load cuda/12", "source venv/bin/activate"],
      epilogue: ["echo end"],
      metadata: { team: "ml", cost: "cheap" },
      array: { start: 1, end: 4 },
      loginShell: true,
      retry: {
        maxRetries: 5,
        on: ["NodeFailure", "Preempted", "Timeout"],
        backoffSeconds: 1,
        backoffFactor: 2,
        maxBackoffSeconds: 600,
        memoryFactor: 2,
        walltimeFactor: 1.5
      },
      expectedOutputs: ["results/*.csv", "model.pt"],
      logCheck: { whitelist: ["harmless"], threshold: 2, fail: false },
      dependsOn: [{ type: "afterok", jobId: "12" }]
    })
  })

  it("takes dependsOn only from the spec, and changes nothing when merged again", () => {
    const spec: JobSpec = { name: "j", command: "x", resources: { cpus: 1 } }
    const once = mergeUnder({ ...base, dependsOn: [{ type: "afterany", jobId: "9" }] }, spec)
    expect(once.dependsOn).toBeUndefined()
    expect(once.resources?.cpus).toBe(1)
    expect(mergeUnder(base, once)).toEqual(once)
  })

  it("with an empty base gives the spec back", () => {
    const spec: JobSpec = { name: "j", command: "x", env: { A: "1" }, prologue: ["p"] }
    expect(mergeUnder({}, spec)).toEqual(spec)
  })
})

describe("applyTemplate", () => {
  const templates: Record<string, JobOptions> = { gpu: decoded(gpuYaml), cpu: { cpus: 2 } }

  it("leaves a spec that names no template as it is", () => {
    const spec: JobSpec = { name: "j", command: "x" }
    expect(applyTemplate(spec, templates)).toEqual(Either.right(spec))
  })

  it("merges the named template under the spec and keeps the name", () => {
    const result = applyTemplate({ name: "j", command: "x", template: "gpu", resources: { gpus: 2 } }, templates)
    expect(Either.isRight(result)).toBe(true)
    if (Either.isLeft(result)) return
    expect(result.right.template).toBe("gpu")
    expect(result.right.resources).toEqual({ gpus: 2, memory: "32 GB", walltime: "04:00", queue: "gpu" })
    expect(result.right.retry?.maxRetries).toBe(2)
  })

  it("refuses an unknown name, listing the templates there are", () => {
    const result = applyTemplate({ name: "j", command: "x", template: "gpux" }, templates)
    expect(result).toEqual(Either.left({
      field: "template",
      problem: "\"gpux\" is not a template; did you mean gpu? the config defines gpu, cpu"
    }))
  })

  it("says so when the config defines no templates, and how to add one", () => {
    const result = applyTemplate({ name: "j", command: "x", template: "gpu" }, {})
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isRight(result)) return
    expect(result.left.field).toBe("template")
    expect(result.left.problem).toContain("the config defines none")
    expect(result.left.problem).toContain("templates:")
  })
})

describe("prepareJob with templates", () => {
  const options = ClusterConfig.make({
    job_name_prefix: "capi",
    cpus: 1,
    templates: { gpu: decoded(gpuYaml), broken: { cpus: -3 } as JobOptions }
  }).options

  it("resolves the template's resources and keeps the merged spec", () => {
    const job = Effect.runSync(
      prepareJob({ name: "train", command: "python train.py", template: "gpu", resources: { walltime: "1:00:00" } }, options)
    )
    expect(job.resources.queue).toBe("gpu")
    expect(job.resources.gpus).toBe(1)
    expect(job.resources.cpus).toBe(1) // the config's default: the template does not set it
    expect(job.resources.memoryBytes).toBe(32 * 1024 ** 3)
    expect(job.resources.walltime).toEqual(Duration.hours(1)) // the job's own wins
    expect(job.spec.env).toEqual({ CUDA_VISIBLE_DEVICES_POLICY: "strict" })
    expect(job.spec.prologue).toEqual(["module load cuda/12"])
    expect(job.spec.retry?.maxRetries).toBe(2)
    expect(job.spec.template).toBe("gpu")
    // what a retry submits again (the record's spec) prepares to the same job
    expect(Effect.runSync(prepareJob(job.spec, options))).toEqual(job)
  })

  it("fails with InvalidJobSpec(template) for an unknown template", () => {
    const error = Effect.runSync(Effect.flip(prepareJob({ name: "train", command: "x", template: "gpus" }, options)))
    expect(error).toBeInstanceOf(InvalidJobSpec)
    expect(error).toMatchObject({ name: "capi-train", field: "template" })
    expect(error.message).toContain("did you mean gpu?")
  })

  it("checks a template made in code once it is merged", () => {
    const error = Effect.runSync(Effect.flip(prepareJob({ name: "j", command: "x", template: "broken" }, options)))
    expect(error).toBeInstanceOf(InvalidJobSpec)
    expect(error).toMatchObject({ field: "resources.cpus" })
  })

  it("fails with InvalidJobSpec(logCheck.patterns) for a pattern that is not a regular expression", () => {
    const error = Effect.runSync(
      Effect.flip(prepareJob({ name: "j", command: "x", logCheck: { patterns: ["fine", "[unclosed"] } }, options))
    )
    expect(error).toBeInstanceOf(InvalidJobSpec)
    expect(error).toMatchObject({ field: "logCheck.patterns" })
    expect(error.message).toContain("\"[unclosed\"")
  })

  it("works with options that have no templates key (from plain JavaScript)", () => {
    const { templates: _, ...withoutTemplates } = options
    const job = Effect.runSync(prepareJob({ name: "j", command: "x" }, withoutTemplates as typeof options))
    expect(job.spec).toEqual({ name: "j", command: "x" })
  })
})
