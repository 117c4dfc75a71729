'use strict'
// Soak of the slow-consumer bound (issue 18): `node bench/soak.js` (after `npm run build`; CI runs
// it after `npm test`). A server of the built plugin runs in a child process on 127.0.0.1; this
// process opens 100 readers that take a steady stream of notifications, and 100 hostile slots:
// each opens a socket, subscribes to a channel with 300 kept messages, stops reading (TCP paused)
// and keeps sending resumes (on the channel it holds, and unsubscribe + resume), and pings, within
// the rate limit, until the server ends the socket; then the slot opens another. Passes when:
// - every reader received every notification, once, in order (offsets 1..N), and stayed open;
// - every hostile socket was closed by the server for reading too slowly: the server counts as
//   many slow-consumer closes (1013; the peer cannot read the close frame, so its TCP is torn down
//   after closeTimeout) as hostile sockets were opened, and no other socket;
// - the server's RSS stayed under RSS_BOUND (checked every 200 ms; over it the run stops at once).
// Bounded: SOAK_SECONDS (30) of load (no new hostile socket in its last TAIL_MS), then at most
// DRAIN_MS for the last hostile sockets to end; 127.0.0.1 only.
// Exit code 1 on any failure. One result line on stdout.
const { fork } = require('node:child_process')
const net = require('node:net')
const path = require('node:path')
const fs = require('node:fs')

const SECONDS = Number(process.env.SOAK_SECONDS || 30)
const READERS = 100
const HOSTILE = 100
const KEPT = 300
/** One kept message's payload: a full replay is some 300 x 2 KiB = 600 KiB. */
const PAD = 'h'.repeat(2048)
/** The live stream: one notification every STREAM_MS on `stream`. */
const STREAM_MS = 10
/** Each hostile socket sends one round of 4 frames every ROUND_MS: 8 frames/s, under the rate limit (20/s). */
const ROUND_MS = 500
/**
 * No hostile socket is opened in the last TAIL_MS of the load: one lives some 5-12 s (it takes that
 * long to fill the kernel's buffers and then maxBufferedBytes, plus closeTimeout), so the last ones
 * end about when the load does. DRAIN_MS bounds the wait for any still open after the load.
 */
const TAIL_MS = 8000
const DRAIN_MS = 10_000
const MiB = 1024 * 1024
/**
 * The server's RSS bound. Measured here (2 shared cores, Node 20): 231-252 MiB at the peak over
 * three runs, for some 70 MiB of process and history, up to 100 hostile sockets each holding at
 * most maxBufferedBytes (1 MiB) plus one replay (0.6 MiB), and garbage not yet collected. Before
 * issue 18's fix every hostile socket queued 1.2 MiB more each second: the run passed 700 MiB
 * after 11 s, still growing, and was stopped there.
 */
const RSS_BOUND = 400 * MiB

if (process.argv[2] === '--server') server()
else main().catch((err) => { console.error('soak: FAILED:', err); process.exit(1) })

// The server: the built plugin, default options but the channels.
async function server () {
  const Fastify = require('fastify')
  const notifications = require('../dist/lib/index.js')
  const app = Fastify()
  await app.register(notifications, {
    channels: { kept: { history: { size: KEPT } }, stream: { history: { size: 100 } } }
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  for (let seq = 1; seq <= KEPT; seq++) await app.notify('kept', 'kept', { seq, pad: PAD })
  let published = 0
  let notifyErrors = 0
  let streaming = null
  let peakRss = 0
  const report = setInterval(() => {
    const rss = process.memoryUsage().rss
    peakRss = Math.max(peakRss, rss)
    process.send({ type: 'memory', rss, peakRss })
  }, 200)
  process.on('message', (message) => {
    if (message.type === 'start') {
      // A steady rate however late the timer fires on a busy machine: catch up, at most 20 at once.
      const since = Date.now()
      streaming = setInterval(() => {
        const due = Math.min(Math.floor((Date.now() - since) / STREAM_MS), published + 20)
        while (published < due) app.notify('stream', 'tick', { n: ++published }).catch(() => { notifyErrors++ })
      }, STREAM_MS)
    } else if (message.type === 'stop') {
      clearInterval(streaming)
      process.send({ type: 'stopped', published, notifyErrors })
    } else if (message.type === 'stats') {
      process.send({ type: 'stats', stats: app.notifications.stats(), peakRss })
    } else if (message.type === 'exit') {
      clearInterval(report)
      app.close().then(() => process.exit(0))
    }
  })
  process.send({ type: 'ready', port: app.server.address().port })
}

async function main () {
  if (!fs.existsSync(path.join(__dirname, '../dist/lib/index.js'))) throw new Error('dist/lib/index.js is missing: run `npm run build` first')
  const WebSocket = require('ws')
  const started = Date.now()
  const child = fork(__filename, ['--server'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const replies = new Map()
  const exited = new Promise((resolve) => child.once('exit', resolve))
  // One request to the server over IPC; its answer, or a failure after 10 s (a killed server never answers).
  const ask = (type, answer) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not answer ${type}`)), 10_000)
    replies.set(answer, (message) => { clearTimeout(timer); resolve(message) })
    child.send({ type })
  })
  let rss = 0
  let peakRss = 0
  let overBound = null
  const ready = new Promise((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`the server exited early (${code})`)))
    child.on('message', (message) => {
      if (message.type === 'ready') resolve(message.port)
      else if (message.type === 'memory') {
        rss = message.rss
        peakRss = Math.max(peakRss, message.peakRss)
        if (rss > RSS_BOUND && overBound === null) {
          overBound = `server RSS ${mb(rss)} MiB passed the bound (${mb(RSS_BOUND)} MiB)`
          child.kill('SIGKILL')
        }
      } else if (replies.has(message.type)) {
        replies.get(message.type)(message)
        replies.delete(message.type)
      }
    })
  })
  const port = await ready
  const url = `ws://127.0.0.1:${port}/ws`
  const failures = []
  const fail = (what) => { if (failures.length < 20) failures.push(what) }
  const abort = () => overBound !== null

  // Readers: each keeps only the offsets of `stream`.
  const readers = await Promise.all(Array.from({ length: READERS }, (_, i) => new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    const reader = { ws, offsets: [], open: true, closeCode: null }
    ws.on('error', () => {})
    ws.on('close', (code) => { reader.open = false; reader.closeCode = code })
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString())
      if (frame.type === 'connected') ws.send(JSON.stringify({ action: 'subscribe', channel: 'stream', id: i }))
      else if (frame.type === 'subscribed') resolve(reader)
      else if (frame.type === 'tick') reader.offsets.push(frame.offset)
      else fail(`reader ${i}: unexpected ${data.toString().slice(0, 120)}`)
    })
    ws.once('close', () => reject(new Error(`reader ${i} closed before it subscribed`)))
  })))

  // Hostile slots: each ends when the load is over and its last socket has been ended by the server.
  const deadline = started + SECONDS * 1000
  const hostile = { opened: 0, lifetimes: [], stuck: 0 }
  const slot = async (index) => {
    while (Date.now() < deadline - TAIL_MS && !abort()) {
      const lifetime = await hostileSocket(port, index, deadline + DRAIN_MS, hostile, fail)
      if (lifetime === null) { hostile.stuck++; return }
      hostile.lifetimes.push(lifetime)
    }
  }
  child.send({ type: 'start' })
  const slots = Promise.all(Array.from({ length: HOSTILE }, (_, i) => slot(i)))
  while (Date.now() < deadline && !abort()) await sleep(100)
  if (!abort()) {
    const { published, notifyErrors } = await ask('stop', 'stopped')
    if (notifyErrors > 0) fail(`${notifyErrors} notify calls failed`)
    await slots
    // Every reader has every notification once in order, 1..published.
    const readDeadline = Date.now() + 5000
    while (readers.some((reader) => reader.offsets.length < published) && Date.now() < readDeadline) await sleep(50)
    let complete = 0
    for (const [i, reader] of readers.entries()) {
      const ok = reader.offsets.length === published && reader.offsets.every((offset, n) => offset === n + 1)
      if (ok) complete++
      else fail(`reader ${i}: ${reader.offsets.length} of ${published} in order? ${reader.offsets.every((offset, n) => offset === n + 1)}`)
      if (!reader.open) fail(`reader ${i} was closed (${reader.closeCode})`)
    }
    const { stats } = await ask('stats', 'stats')
    if (hostile.stuck > 0) fail(`${hostile.stuck} hostile sockets were not ended by the server within ${DRAIN_MS} ms after the load`)
    if (stats.slow_consumers_closed !== hostile.opened) fail(`the server closed ${stats.slow_consumers_closed} slow consumers; ${hostile.opened} hostile sockets were opened`)
    if (stats.total_clients !== READERS) fail(`${stats.total_clients} sockets open at the end; ${READERS} readers expected`)
    if (published < SECONDS * 1000 / STREAM_MS / 2) fail(`only ${published} notifications were published in ${SECONDS} s`)
    for (const reader of readers) reader.ws.terminate()
    child.send({ type: 'exit' })
    await Promise.race([exited, sleep(5000)])
    if (peakRss > RSS_BOUND) fail(`server RSS peaked at ${mb(peakRss)} MiB, over the bound (${mb(RSS_BOUND)} MiB)`)
    const longest = hostile.lifetimes.reduce((a, b) => Math.max(a, b), 0)
    const verdict = failures.length === 0 ? 'ok' : 'FAILED'
    console.log(`soak: ${verdict}: ${((Date.now() - started) / 1000).toFixed(1)} s; ${complete}/${READERS} readers got ${published}/${published} in order; ` +
      `${hostile.opened} hostile sockets, ${stats.slow_consumers_closed} closed as slow consumers (1013), longest lived ${(longest / 1000).toFixed(1)} s; ` +
      `server RSS peak ${mb(peakRss)} MiB (bound ${mb(RSS_BOUND)})`)
  } else {
    for (const reader of readers) reader.ws.terminate()
    fail(overBound)
    console.log(`soak: FAILED: ${overBound} after ${((Date.now() - started) / 1000).toFixed(1)} s`)
  }
  for (const failure of failures) console.error(`soak: ${failure}`)
  child.kill()
  process.exit(failures.length === 0 ? 0 : 1)
}

/** A client-to-server text frame: FIN, opcode 1, masked with a zero key (payload unchanged). */
function clientTextFrame (text) {
  const payload = Buffer.from(text)
  if (payload.length > 125) throw new Error('only short frames here')
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length, 0, 0, 0, 0]), payload])
}

/**
 * One hostile socket, raw TCP (a `ws` client resumes a paused socket by itself when its receiver
 * drains): upgrades, subscribes to `kept` and reads the reply (for the epoch), then pauses its TCP
 * socket for good and sends rounds of resumes and pings until the server ends it. Resolves with
 * its lifetime in ms, or null when the server had not ended it by `giveUp`.
 */
function hostileSocket (port, index, giveUp, hostile, fail) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    const opened = Date.now()
    let received = ''
    let state = 'upgrading'
    let timer = null
    const stop = setTimeout(() => { clearInterval(timer); socket.destroy(); resolve(null) }, giveUp - Date.now())
    socket.on('error', () => {})
    socket.on('close', () => {
      clearInterval(timer)
      clearTimeout(stop)
      if (state !== 'paused') fail(`hostile ${index}: closed before it paused: ${JSON.stringify(received.slice(0, 200))}`)
      resolve(Date.now() - opened)
    })
    socket.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
    socket.on('data', (chunk) => {
      // Server frames are unmasked: their JSON appears as is in the byte stream.
      received += chunk.toString('latin1')
      if (state === 'upgrading' && received.includes('{"type":"connected"')) {
        state = 'subscribing'
        socket.write(clientTextFrame(JSON.stringify({ action: 'subscribe', channel: 'kept' })))
        return
      }
      const subscribed = state === 'subscribing' && /"type":"subscribed","channel":"kept"[^}]*"epoch":"([^"]+)"/.exec(received)
      if (!subscribed) return
      state = 'paused'
      hostile.opened++
      socket.pause() // from now on nothing is read: the kernel's buffers fill, then the server's queue
      socket.removeAllListeners('data')
      const since = { epoch: subscribed[1], offset: 0 }
      const round = Buffer.concat([
        { action: 'subscribe', channel: 'kept', since }, // held: answered, no replay
        { action: 'ping', id: `h${index}` },
        { action: 'unsubscribe', channel: 'kept' },
        { action: 'subscribe', channel: 'kept', since } // a full replay
      ].map((frame) => clientTextFrame(JSON.stringify(frame))))
      timer = setInterval(() => socket.write(round), ROUND_MS)
    })
  })
}

function mb (bytes) {
  return (bytes / MiB).toFixed(0)
}

function sleep (ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
