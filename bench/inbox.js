'use strict'
// S7, the inbox (issue 15, part 2): what `inbox` adds to a sendTo, and the memory one kept message
// costs. In one child process (`--expose-gc`), the built plugin twice: without and with
// `inbox: { size, clients }`, sendTo to offline client ids (no socket: what is measured is the
// keeping, not the delivery, which is S3's), 100 B of data. Three alternating passes of each;
// medians. Memory: heap after GC with every inbox full, less the heap before, per message kept.
const { execFileSync } = require('node:child_process')
const path = require('node:path')

const CLIENTS = 1000
const SIZE = 100

async function child (sends) {
  const Fastify = require('fastify')
  const { notifications } = require('../dist/lib/index.js')
  const build = async (inbox) => {
    const app = Fastify()
    await app.register(notifications, { channels: ['all'], heartbeatInterval: 0, authenticate: async () => 'x', ...(inbox && { inbox: { size: SIZE, clients: CLIENTS } }) })
    await app.ready()
    return app
  }
  const pad = 'x'.repeat(88)
  const data = { s: 0, pad } // about 100 B of data
  const send = async (app, count) => {
    const started = process.hrtime.bigint()
    for (let i = 0; i < count; i++) await app.notifications.sendTo(`c${i % CLIENTS}`, 'bench', data)
    return Number(process.hrtime.bigint() - started) / count
  }
  const off = await build(false)
  const on = await build(true)
  await send(off, sends / 10) // warm-up, not counted (the `on` one fills its inboxes meanwhile)
  await send(on, CLIENTS * SIZE)
  const samples = { off: [], on: [] }
  for (let pass = 0; pass < 3; pass++) {
    samples.off.push(await send(off, sends))
    samples.on.push(await send(on, sends))
  }
  await on.close()
  global.gc()
  const before = process.memoryUsage().heapUsed
  const filled = await build(true)
  await send(filled, CLIENTS * SIZE)
  global.gc()
  const after = process.memoryUsage().heapUsed
  const kept = filled.notifications.stats().inbox_messages
  const median = (list) => list.sort((a, b) => a - b)[1]
  const envelope = JSON.stringify({ type: 'bench', data, timestamp: new Date().toISOString(), offset: 1 }).length
  await Promise.all([off.close(), filled.close()])
  return {
    [`sendTo to ${CLIENTS} offline client ids, 100 B`]: {
      off: { nsPerSendTo: median(samples.off) },
      on: { nsPerSendTo: median(samples.on), xOff: median(samples.on.map((ns, i) => ns / samples.off[i])) }
    },
    [`${CLIENTS} inboxes x ${SIZE} messages kept`]: { on: { kept, heapBytesPerMessage: (after - before) / kept, envelopeBytes: envelope } }
  }
}

/** Runs S7 in its own process; `quick`: fewer sends. */
function inbox ({ quick }) {
  const out = execFileSync(process.execPath, ['--expose-gc', __filename, '--child', String(quick ? 20_000 : 100_000)],
    { cwd: path.join(__dirname, '..'), encoding: 'utf8', timeout: 60_000 })
  return JSON.parse(out)
}

module.exports = { inbox }

if (require.main === module && process.argv[2] === '--child') {
  child(Number(process.argv[3])).then((result) => { process.stdout.write(JSON.stringify(result)) }, (err) => {
    console.error(err)
    process.exit(1)
  })
}
