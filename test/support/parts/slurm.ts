/** Every part of the slurm scheduler folder, for the tests that read its parsers and syntax. */
export * from "../../../src/schedulers/slurm/accounting.js"
export * from "../../../src/schedulers/slurm/control.js"
export * from "../../../src/schedulers/slurm/dialect.js"
export * from "../../../src/schedulers/slurm/status.js"
export * from "../../../src/schedulers/slurm/syntax.js"
