/**
 * The package's public names: what `import ... from "cluster-api"` offers, at the top and inside
 * each namespace. The list is test/fixtures/public-surface.json; a change of the surface fails here
 * until that file is changed with it, so that no name is added or dropped by accident. To see the
 * new list: `CLUSTER_API_WRITE_SURFACE=1 npx vitest run test/PublicSurface.test.ts` writes it.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import * as Api from "../src/index.js"

const file = fileURLToPath(new URL("./fixtures/public-surface.json", import.meta.url))

const isNamespace = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && Object.prototype.toString.call(value) === "[object Module]"

/** Each public name; a namespace's names as `Namespace.name`. */
const surface = (): ReadonlyArray<string> =>
  Object.entries(Api as Record<string, unknown>).flatMap(([name, value]) =>
    isNamespace(value) ? [name, ...Object.keys(value).map((inner) => `${name}.${inner}`)] : [name]
  ).sort()

describe("the public surface", () => {
  it("is the list in test/fixtures/public-surface.json", () => {
    const now = surface()
    if (process.env.CLUSTER_API_WRITE_SURFACE === "1") fs.writeFileSync(file, `${JSON.stringify(now, null, 2)}\n`)
    const recorded = JSON.parse(fs.readFileSync(file, "utf8")) as ReadonlyArray<string>
    expect({ added: now.filter((n) => !recorded.includes(n)), dropped: recorded.filter((n) => !now.includes(n)) })
      .toEqual({ added: [], dropped: [] })
  })
})
