'use strict'
// The reader of S2's floor (run.js sets floor.c's FLOOR_READER to it) and of bench/floors.js: it
// reads as the load process (clients.js) does: every socket reads into one buffer (net's
// `onread`), each frame is stamped as it is read, with performance.now() set against
// process.hrtime's clock, and nothing is allocated per frame. Connects sockets x stride sockets to
// `port`, reads fanouts x sockets frames of `bytes` bytes, each with its fan-out's start
// (CLOCK_MONOTONIC ns, int64 LE) at byte 2 (0: floor.c's warm-up fan-out, read and not counted),
// and prints "p50 p99 max" in ms on one line.
//   node bench/floor-reader.js port sockets fanouts bytes [stride=1]
const net = require('node:net')

const [port, sockets, fanouts, bytes, stride = 1] = process.argv.slice(2).map(Number)
const total = sockets * fanouts
const latency = new Float64Array(total)
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024)
let got = 0

// ns on the writer's clock (see clients.js, nowMicros): set once every socket is connected, past
// the first 100 ms of the process, where performance.now() moves against hrtime.
let originNs = 0
function calibrate () {
  const [s, ns] = process.hrtime()
  originNs = s * 1e9 + ns - performance.now() * 1e6
}

function onRead (nread, buffer) {
  const now = originNs + performance.now() * 1e6
  // A frame never spans reads here: one 102-byte write per socket per fan-out, read long before the next.
  for (let off = 0; off + bytes <= nread && got < total; off += bytes) {
    const sent = buffer.readUInt32LE(off + 6) * 2 ** 32 + buffer.readUInt32LE(off + 2)
    if (sent !== 0) latency[got++] = now - sent
  }
  if (got === total) {
    latency.sort()
    const ms = (i) => (latency[i] / 1e6).toFixed(3)
    process.stdout.write(`${ms(total >> 1)} ${ms(Math.floor(total * 99 / 100))} ${ms(total - 1)}\n`, () => process.exit(0))
  }
  return true
}

let connected = 0
for (let i = 0; i < sockets * stride; i++) {
  net.connect({ port, host: '127.0.0.1', onread: { buffer: READ_BUFFER, callback: onRead } })
    .on('connect', () => { if (++connected === sockets * stride) calibrate() })
    .on('error', (err) => {
      console.error(`floor-reader: ${err.message}`)
      process.exit(1)
    })
}
setTimeout(() => { console.error(`floor-reader: timed out at ${got} of ${total} frames`); process.exit(1) }, 120_000).unref()
