/** Every part of the pbs scheduler folder, for the tests that read its parsers and syntax. */
export * from "../../../src/schedulers/pbs/control.js"
export * from "../../../src/schedulers/pbs/dialect.js"
export * from "../../../src/schedulers/pbs/status.js"
export * from "../../../src/schedulers/pbs/syntax.js"
