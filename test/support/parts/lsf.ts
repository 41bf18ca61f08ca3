/** Every part of the lsf scheduler folder, for the tests that read its parsers and syntax. */
export * from "../../../src/schedulers/lsf/control.js"
export * from "../../../src/schedulers/lsf/dialect.js"
export * from "../../../src/schedulers/lsf/status.js"
export * from "../../../src/schedulers/lsf/syntax.js"
