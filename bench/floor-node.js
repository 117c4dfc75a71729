'use strict'
// Development (bench/floors.js): floor.c's writer in Node. The same fan-outs (one 102-byte frame
// to each of `sockets` loopback sockets, every stride-th of sockets x stride, `fanouts` times,
// `periodMs` apart), each socket written with one socket.write() and nothing else: no WebSocket
// library, no registry, no JSON. What is left over the C floor is Node's own write path. With
// FLOOR_NATIVE=1 the same sockets are written by the plugin's addon (build/Release/fanout.node,
// one writeEach call a fan-out): the addon's own distance to the floor. Read by
// bench/floor-reader.js (pinned to core 1 when taskset exists); prints floor.c's JSON line.
//   node bench/floor-node.js [sockets=5000] [fanouts=8] [bytes=102] [periodMs=250] [stride=1]
const net = require('node:net')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { setTimeout: sleep } = require('node:timers/promises')
const { hasTaskset } = require('./pin')

const [sockets = 5000, fanouts = 8, bytes = 102, periodMs = 250, stride = 1] = process.argv.slice(2).map(Number)
const connections = sockets * stride

async function main () {
  const accepted = []
  const server = net.createServer((socket) => {
    socket.setNoDelay(true)
    accepted.push(socket)
  })
  // A backlog as large as the fan-out: under net's default (511), Linux drops connections the
  // reader thinks are open.
  await new Promise((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: connections }, resolve))
  const readerArgs = [path.join(__dirname, 'floor-reader.js'), server.address().port, sockets, fanouts, bytes, stride].map(String)
  const reader = hasTaskset()
    ? spawn('taskset', ['-c', '1', process.execPath, ...readerArgs], { stdio: ['ignore', 'pipe', 'inherit'] })
    : spawn(process.execPath, readerArgs, { stdio: ['ignore', 'pipe', 'inherit'] })
  let output = ''
  reader.stdout.on('data', (chunk) => { output += chunk })
  const exited = new Promise((resolve) => reader.once('exit', resolve))
  while (accepted.length < connections) await sleep(10)
  const written = accepted.filter((_, i) => i % stride === 0)
  const native = process.env.FLOOR_NATIVE ? require('../build/Release/fanout.node') : null
  const fds = Int32Array.from(written, (socket) => socket._handle.fd)
  const results = new Int32Array(sockets)
  const frame = Buffer.alloc(bytes)
  frame[0] = 0x81 // FIN + text
  frame[1] = bytes - 2
  let cpuNs = 0
  let wallNs = 0
  // Fan-out -1 is a warm-up, stamped 0 and not counted, as floor.c's.
  for (let f = -1; f < fanouts; f++) {
    await sleep(periodMs)
    const cpu = process.cpuUsage()
    const t0 = process.hrtime.bigint()
    frame.writeBigInt64LE(f < 0 ? 0n : t0, 2)
    if (native !== null) native.writeEach(fds, sockets, frame, results)
    else for (let i = 0; i < sockets; i++) written[i].write(frame)
    const wall = Number(process.hrtime.bigint() - t0)
    if (native !== null && results.some((taken) => taken !== bytes)) throw new Error('a native write fell short')
    if (f < 0) continue
    wallNs += wall
    await new Promise((resolve) => setImmediate(resolve)) // the writes' callbacks (nextTick) counted too
    const used = process.cpuUsage(cpu)
    cpuNs += (used.user + used.system) * 1000
  }
  const code = await exited
  if (code !== 0) throw new Error(`floor-reader exited with ${code}`)
  const [p50Ms, p99Ms, maxMs] = output.trim().split(' ').map(Number)
  const writes = sockets * fanouts
  console.log(JSON.stringify({ sockets, stride, fanouts, bytes, nsCpuPerWrite: Math.round(cpuNs / writes), nsWallPerWrite: Math.round(wallNs / writes), fanoutMs: wallNs / fanouts / 1e6, p50Ms, p99Ms, maxMs }))
  for (const socket of accepted) socket.destroy()
  server.close()
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
