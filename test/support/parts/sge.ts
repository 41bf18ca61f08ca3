/** Every part of the sge scheduler folder, for the tests that read its parsers and syntax. */
export * from "../../../src/schedulers/sge/accounting.js"
export * from "../../../src/schedulers/sge/control.js"
export * from "../../../src/schedulers/sge/dialect.js"
export * from "../../../src/schedulers/sge/status.js"
export * from "../../../src/schedulers/sge/syntax.js"
