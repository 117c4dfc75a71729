'use strict'
// Development (bench/floors.js): the reader of floor.c and floor-node.js in Node, reading as the
// load process (clients.js) does: every socket reads into one buffer (net's `onread`), and each
// frame is stamped as it is read. Connects `sockets` sockets to `port`, reads fanouts x sockets
// frames of `bytes` bytes, each with its fan-out's start (CLOCK_MONOTONIC ns, int64 LE) at byte 2,
// and prints "p50 p99 max" in ms on one line.
//   node bench/floor-reader.js port sockets fanouts bytes
const net = require('node:net')

const [port, sockets, fanouts, bytes] = process.argv.slice(2).map(Number)
const total = sockets * fanouts
const latency = new Float64Array(total)
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024)
let got = 0

function onRead (nread, buffer) {
  // A frame never spans reads here: one 102-byte write per socket per fan-out, read long before the next.
  for (let off = 0; off + bytes <= nread && got < total; off += bytes) {
    latency[got++] = Number(process.hrtime.bigint() - buffer.readBigInt64LE(off + 2))
  }
  if (got === total) {
    latency.sort()
    const ms = (i) => (latency[i] / 1e6).toFixed(3)
    process.stdout.write(`${ms(total >> 1)} ${ms(Math.floor(total * 99 / 100))} ${ms(total - 1)}\n`, () => process.exit(0))
  }
  return true
}

for (let i = 0; i < sockets; i++) {
  net.connect({ port, host: '127.0.0.1', onread: { buffer: READ_BUFFER, callback: onRead } }).on('error', (err) => {
    console.error(`floor-reader: ${err.message}`)
    process.exit(1)
  })
}
setTimeout(() => { console.error(`floor-reader: timed out at ${got} of ${total} frames`); process.exit(1) }, 120_000).unref()
