#!/usr/bin/env node
/**
 * The `cluster-api` executable. It starts the program (main.ts) from its bundle, compiled from its
 * code cache (Bundle.ts), which takes a fraction of loading the program's modules one by one;
 * without a bundle as new as main.js (sources built with tsc alone), it imports main.js.
 * `NODE_DEBUG=cluster-api` says on stderr which it started.
 */
import { debuglog } from "node:util"
import * as Bundle from "./Bundle.js"

const debug = debuglog("cluster-api")

const bundle = Bundle.load()
if (bundle === undefined) {
  debug("starting main.js: no bundle, or one older than main.js")
  await import("./main.js")
} else {
  debug(`starting the bundle; code cache: ${bundle.cache}`)
  bundle.run()
}
