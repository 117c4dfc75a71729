'use strict'
// The package's install step: builds the native fan-out (native/fanout.c) with node-gyp, which
// npm provides to install scripts. Optional by design: without a C compiler (or on Windows) the
// build fails, this says so, and the plugin writes through Node's streams; the install goes on.
const { spawnSync } = require('node:child_process')
const path = require('node:path')

const root = path.join(__dirname, '..')
// npm names its own node-gyp for lifecycle scripts; a node-gyp on PATH otherwise.
const gyp = process.env.npm_config_node_gyp
const command = gyp ? process.execPath : 'node-gyp'
const args = gyp ? [gyp, 'rebuild'] : ['rebuild']
const result = process.platform === 'win32'
  ? { status: 1, error: new Error('the native fan-out is for POSIX sockets') }
  : spawnSync(command, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' })
if (result.status !== 0) {
  const why = result.error?.message ?? String(result.stderr).trim().split('\n').slice(-3).join(' ')
  process.stderr.write(`fastify-ws-notify: the native fan-out was not built (${why.slice(0, 300)}); ` +
    'the plugin writes through Node\'s streams instead (docs/delivery.md, Native writes).\n')
}
