import { addEqualityTesters } from "@effect/vitest"
import { tempDirs } from "./support/TempDirs.js"

addEqualityTesters()

// The job store's default is the user's own file: no test may write there. Layers built in
// process read these variables; programs a test starts get them unless it says otherwise.
process.env.XDG_STATE_HOME = tempDirs("cluster-api-state-")()
delete process.env.CLUSTER_API_STATE
