/**
 * The PBS parsers on what real PBS servers printed (test/fixtures/pbs/real; where each answer
 * comes from, and what was built from fragments, is in test/fixtures/pbs/README.md), and on the
 * texts PBS's own source prints (OpenPBS, TORQUE), not on what the emulator prints.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { cancelOutcome, parseListing, parseStatus, parseSubmit, parseTokens, statusUsableOnFailure } from "./support/parts/pbs.js"
import { byId, fixtures, right } from "./support/Dialects.js"

const fixture = fixtures("pbs")
/** ctime(3) text is local time, as the parser reads it. */
const local = (y: number, month: number, d: number, h: number, mi: number, s: number) => new Date(y, month - 1, d, h, mi, s)

describe("PBS Pro qstat -f -F json, as real servers printed it", () => {
  it("19.0.0: a running job on two hosts (exec_host host/0*2+host2/0*2, ctime with a space-padded day)", () => {
    const obs = right(parseStatus("pro")(fixture("real/pro-19.0.0-running.json")))
    expect(obs).toEqual([{
      jobId: "12860476.meta-pbs.metacentrum.cz",
      name: "swrap_01",
      status: "Running",
      execHost: "charon24",
      submitTime: local(2022, 10, 4, 21, 23, 20),
      startTime: local(2022, 10, 4, 21, 23, 33)
    }])
    // Job_Owner is user@realm here ("jan_brezina@META"), not user@host.
    const listed = right(parseListing("pro", "jan_brezina")(fixture("real/pro-19.0.0-running.json")))
    expect(listed.map((l) => [l.jobId, l.name])).toEqual([["12860476.meta-pbs.metacentrum.cz", "swrap_01"]])
  })

  it("2022.1.1: queued, held after failed attempts, and running on 160 hosts; resources_used.mem in kb", () => {
    const obs = byId(right(parseStatus("pro")(fixture("real/pro-2022.1.1-polaris.json"))))
    expect(obs.get("359322.polaris-pbs-01.hsn.cm.polaris.alcf.anl.gov")).toEqual({
      jobId: "359322.polaris-pbs-01.hsn.cm.polaris.alcf.anl.gov",
      name: "STDIN",
      status: "Pending",
      submitTime: local(2022, 12, 3, 20, 25, 38)
    })
    expect(obs.get("412020.polaris-pbs-01.hsn.cm.polaris.alcf.anl.gov")).toMatchObject({
      name: "pyannote",
      status: "Pending",
      held: true,
      startTime: local(2023, 2, 10, 17, 2, 23)
    })
    expect(obs.get("1147579.polaris-pbs-01.hsn.cm.polaris.alcf.anl.gov")).toMatchObject({
      name: "xgc1_core",
      status: "Running",
      execHost: "x3006c0s31b1n0",
      maxMem: 28999922880 * 1024,
      startTime: local(2023, 11, 9, 13, 5, 50)
    })
  })

  it("a job held after failed starts keeps its last attempt's obittime: it has not finished", () => {
    const held = byId(right(parseStatus("pro")(fixture("real/pro-2022.1.1-polaris.json"))))
      .get("412020.polaris-pbs-01.hsn.cm.polaris.alcf.anl.gov")
    expect(held).toMatchObject({ status: "Pending", held: true })
    expect(held?.finishTime).toBeUndefined()
  })

  it("2022.0.0: a finished job (F, Exit_status 0) is Done", () => {
    expect(right(parseStatus("pro")(fixture("real/pro-2022.0.0-finished-fragment.json")))).toEqual([
      { jobId: "2154.edtb-01.mcp.alcf.anl.gov", status: "Done", exitCode: 0 }
    ])
  })

  it("Variable_List lines old qstat wrote unescaped (openpbs#1255, #2049) leave the answer readable", () => {
    const text = fixture("real/pro-19.0.0-unescaped.json")
    expect(() => JSON.parse(text)).toThrow()
    expect(right(parseStatus("pro")(text)).map((o) => [o.jobId, o.status])).toEqual([
      ["12860476.meta-pbs.metacentrum.cz", "Running"]
    ])
    expect(right(parseTokens(text))).toEqual([])
  })

  it("qsub's answer (openpbs#1255) and qstat's stderr for an unknown or finished id (OpenPBS prt_job_err)", () => {
    expect(right(parseSubmit("53.testpbs.nas.nasa.gov\n"))).toBe("53.testpbs.nas.nasa.gov")
    const usable = statusUsableOnFailure("pro")
    expect(usable(153, "", "qstat: Unknown Job Id 53.testpbs.nas.nasa.gov\n")).toBe(true)
    expect(
      usable(35, "", "qstat: 53.testpbs.nas.nasa.gov Job has finished, use -x or -H to obtain historical job information\n")
    ).toBe(true)
    expect(Either.getOrThrow(cancelOutcome(["53.testpbs.nas.nasa.gov"], {
      exitCode: 35,
      stdout: "",
      stderr: "qdel: Job has finished 53.testpbs.nas.nasa.gov\n"
    }))).toEqual({ ended: ["53.testpbs.nas.nasa.gov"], refused: [] })
  })
})

describe("PBS Pro, as its source says it prints (answers built here from real ones)", () => {
  it("a value old qstat printed as a bare number JSON does not have (inf, .5, +1, 1., 00) leaves the answer readable", () => {
    // Built from the real 19.0.0 answer: PBS Pro up to 23.06.06 prints unquoted any value strtod(3)
    // reads whole (pbs_json.c add_json_node), so a job named `inf` is printed `"Job_Name":inf`.
    const text = fixture("real/pro-19.0.0-running.json")
    for (const token of ["inf", "nan", "Infinity", "-inf", "+1", ".5", "1.", "00", "-05", "-0x1f"]) {
      const printed = text.replace(`"Job_Name":"swrap_01"`, `"Job_Name":${token}`)
      expect(printed).not.toBe(text)
      expect(right(parseStatus("pro")(printed)).map((o) => [o.name, o.status])).toEqual([[token, "Running"]])
    }
  })


  it("a job PBS Pro up to 20.x killed at its walltime (SIGTERM, Exit_status 271) is Timeout; one qdel ended is not", () => {
    // Built from the real 19.0.0 answer (walltime 00:01:00): before OpenPBS 22.05 (JOB_EXEC_KILL_WALLTIME,
    // -29) the MoM ends a job past its walltime with terminate_job, SIGTERM then SIGKILL, so its
    // Exit_status is 271 or 265, the same as qdel's; qdel's job has substate 91 (TERMINATED).
    const ended = (exit: number, substate: number, used: string) =>
      fixture("real/pro-19.0.0-running.json")
        .replace(`"job_state":"R"`, `"job_state":"F"`)
        .replace(`"substate":41,`, `"substate":${substate},\n"Exit_status":${exit},\n"resources_used":{"walltime":"${used}"},`)
    const read = (exit: number, substate: number, used: string) => right(parseStatus("pro")(ended(exit, substate, used)))[0]
    expect(read(271, 93, "00:01:01")).toMatchObject({ status: "Failed", reason: { _tag: "Timeout" } })
    expect(read(265, 93, "00:01:00")).toMatchObject({ status: "Failed", reason: { _tag: "Timeout" } })
    expect(read(271, 91, "00:01:01")).toMatchObject({ status: "Failed", reason: { _tag: "Signalled", signal: "SIGTERM" } })
    expect(read(271, 93, "00:00:59")).toMatchObject({ status: "Failed", reason: { _tag: "Signalled", signal: "SIGTERM" } })
    expect(read(1, 93, "00:01:01")).toMatchObject({ status: "Failed", reason: { _tag: "NonZeroExit", exitCode: 1 } })
  })

  it("a job PBS Pro deleted because its dependency failed: no comment says so; substate 92 and its depend do", () => {
    // Built from OpenPBS's source (req_register.c, job_abt in job_func.c, svr_setjob_histinfo in
    // svr_jobfunc.c): the server aborts the dependent job without setting its comment (the text
    // "Job deleted as result of dependency on job …" goes to the log, the accounting record and
    // mail); its history keeps `depend` (ids written id@server, as in real answers) and substate
    // 92, where qdel's ends as 91 (TERMINATED).
    const job = (substate: number) =>
      JSON.stringify({
        Jobs: {
          "1004.srv": {
            Job_Name: "dep",
            job_state: "F",
            depend: "afterok:1001.srv@srv:1002.srv@srv,beforeok:1009.srv@srv",
            substate,
            Submit_arguments: "-W depend=afterok:1001.srv:1002.srv dep.sh"
          }
        }
      })
    expect(right(parseStatus("pro")(job(92)))[0]).toMatchObject({
      status: "Failed",
      reason: { _tag: "DependencyFailed", dependencies: ["1001.srv", "1002.srv"] }
    })
    expect(right(parseStatus("pro")(job(91)))[0]).toMatchObject({ status: "Killed", reason: { _tag: "Cancelled" } })
  })
})

describe("TORQUE qstat -f -x, as real servers printed it", () => {
  it("a queued job: Pending, submitted at its epoch ctime", () => {
    expect(right(parseStatus("torque")(fixture("real/torque-queued.xml")))).toEqual([{
      jobId: "4499334.pbsserver",
      name: "r180328_183957634_pid_4_starAlignment",
      status: "Pending",
      submitTime: new Date(1522255162 * 1000)
    }])
  })

  it("a completed job (C, exit_status 0; a sched_hint spanning lines) is Done with its host, memory and times", () => {
    expect(right(parseStatus("torque")(fixture("real/torque-finished.xml")))).toEqual([{
      jobId: "4564045.pbsserver",
      name: "r180405_163953553_stds_snvJoinVcfFiles",
      status: "Done",
      exitCode: 0,
      execHost: "denbi5-int",
      maxMem: 6064 * 1024,
      submitTime: new Date(1522939158 * 1000),
      startTime: new Date(1522939183 * 1000),
      finishTime: new Date(1522939194 * 1000)
    }])
  })

  it("qdel of an id TORQUE no longer knows: 5.x/6.x say `nonexistent job id`, 4.2 only exits 153; the job had ended", () => {
    // TORQUE's qdel.c: for PBSE_UNKJOBID it prints no server message; 5.0 and later (6.1.3 here)
    // print "qdel: nonexistent job id: <id as given>", 4.2.10 prints nothing; both exit 15001 & 0xff.
    const ids = ["3685292.mgt.meerkat.mcri.edu.au", "3685293.mgt.meerkat.mcri.edu.au"]
    const answer = (stderr: string) => Either.getOrThrow(cancelOutcome(ids, { exitCode: 153, stdout: "", stderr }))
    expect(answer(`qdel: nonexistent job id: ${ids[0]}\n`)).toEqual({ ended: [ids[0]], refused: [] })
    expect(answer("")).toEqual({ ended: ids, refused: [] })
    // Any other silent failure is still an error.
    expect(Either.isLeft(cancelOutcome(ids, { exitCode: 1, stdout: "", stderr: "" }))).toBe(true)
  })

  it("qstat's and qdel's stderr for an unknown id (TORQUE's PBSE_UNKJOBID text)", () => {
    const err = "qstat: Unknown Job Id Error 3685292.mgt.meerkat.mcri.edu.au\n"
    expect(statusUsableOnFailure("torque")(153, "", err)).toBe(true)
    expect(Either.getOrThrow(cancelOutcome(["3685292.mgt.meerkat.mcri.edu.au"], {
      exitCode: 153,
      stdout: "",
      stderr: err.replace("qstat", "qdel")
    }))).toEqual({ ended: ["3685292.mgt.meerkat.mcri.edu.au"], refused: [] })
  })
})
