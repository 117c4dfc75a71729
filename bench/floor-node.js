'use strict'
// Development (bench/floors.js): floor.c's writer in Node. The same fan-outs (one 102-byte frame
// to each of `sockets` loopback sockets, `fanouts` times, `periodMs` apart), each socket written
// with one socket.write() and nothing else: no WebSocket library, no registry, no JSON. What is
// left over the C floor is Node's own write path. Read by bench/floor-reader.js (pinned to core 1
// when taskset exists); prints floor.c's JSON line.
//   node bench/floor-node.js [sockets=5000] [fanouts=8] [bytes=102] [periodMs=250]
const net = require('node:net')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { setTimeout: sleep } = require('node:timers/promises')
const { hasTaskset } = require('./pin')

const [sockets = 5000, fanouts = 8, bytes = 102, periodMs = 250] = process.argv.slice(2).map(Number)

async function main () {
  const accepted = []
  const server = net.createServer((socket) => {
    socket.setNoDelay(true)
    accepted.push(socket)
  })
  // A backlog as large as the fan-out: under net's default (511), Linux drops connections the
  // reader thinks are open.
  await new Promise((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: sockets }, resolve))
  const readerArgs = [path.join(__dirname, 'floor-reader.js'), server.address().port, sockets, fanouts, bytes].map(String)
  const reader = hasTaskset()
    ? spawn('taskset', ['-c', '1', process.execPath, ...readerArgs], { stdio: ['ignore', 'pipe', 'inherit'] })
    : spawn(process.execPath, readerArgs, { stdio: ['ignore', 'pipe', 'inherit'] })
  let output = ''
  reader.stdout.on('data', (chunk) => { output += chunk })
  const exited = new Promise((resolve) => reader.once('exit', resolve))
  while (accepted.length < sockets) await sleep(10)
  const frame = Buffer.alloc(bytes)
  frame[0] = 0x81 // FIN + text
  frame[1] = bytes - 2
  let cpuNs = 0
  let wallNs = 0
  for (let f = 0; f < fanouts; f++) {
    await sleep(periodMs)
    const cpu = process.cpuUsage()
    const t0 = process.hrtime.bigint()
    frame.writeBigInt64LE(t0, 2)
    for (let i = 0; i < sockets; i++) accepted[i].write(frame)
    wallNs += Number(process.hrtime.bigint() - t0)
    await new Promise((resolve) => setImmediate(resolve)) // the writes' callbacks (nextTick) counted too
    const used = process.cpuUsage(cpu)
    cpuNs += (used.user + used.system) * 1000
  }
  const code = await exited
  if (code !== 0) throw new Error(`floor-reader exited with ${code}`)
  const [p50Ms, p99Ms, maxMs] = output.trim().split(' ').map(Number)
  const writes = sockets * fanouts
  console.log(JSON.stringify({ sockets, fanouts, bytes, nsCpuPerWrite: Math.round(cpuNs / writes), nsWallPerWrite: Math.round(wallNs / writes), fanoutMs: wallNs / fanouts / 1e6, p50Ms, p99Ms, maxMs }))
  for (const socket of accepted) socket.destroy()
  server.close()
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
