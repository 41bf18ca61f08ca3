/** Every part of the local scheduler folder, for the tests that read its parsers and syntax. */
export * from "../../../src/schedulers/local/files.js"
export * from "../../../src/schedulers/local/script.js"
export * from "../../../src/schedulers/local/status.js"
