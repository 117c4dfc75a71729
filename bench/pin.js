'use strict'
// Whether benchmark processes can be pinned to cores: `taskset` exists and there are at least two
// cores (the server on core 0, its load on core 1). Shared by run.js and redis-fanout.js.
const { execFileSync } = require('node:child_process')
const os = require('node:os')

function hasTaskset () {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' })
    return os.cpus().length >= 2
  } catch {
    return false
  }
}

module.exports = { hasTaskset }
