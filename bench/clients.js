'use strict'
// Load clients: raw TCP sockets speaking just enough WebSocket (and engine.io v4 for socket.io;
// chunked HTTP and Server-Sent Events for fastify-ws-notify-sse) to subscribe, then count raw frames. No ws parser on this side: the client core must not be
// the bottleneck. A sample of clients reads the send timestamp of each frame for latency.
const net = require('node:net')
const http = require('node:http')

// Microseconds on the sender's clock (process.hrtime: CLOCK_MONOTONIC, shared by processes),
// read through performance.now(): a number, where hrtime() allocates an array per frame. Nothing
// is allocated per frame on the read path, so that reading 10 000 sockets makes no garbage whose
// collection could stop the reads mid-fan-out (S2). performance.now()'s distance to hrtime is set
// again at every reset: in the first 100 ms of a process it moved by 0.6 ms.
let originMicros = 0
function calibrate () {
  const [s, ns] = process.hrtime()
  originMicros = s * 1e6 + ns / 1e3 - performance.now() * 1e3
}
function nowMicros () {
  return originMicros + performance.now() * 1e3
}

/** A masked client frame (mask key 0: the payload bytes stay as they are). */
function clientFrame (opcode, payload) {
  const body = Buffer.from(payload)
  const header = body.length < 126
    ? Buffer.from([0x80 | opcode, 0x80 | body.length, 0, 0, 0, 0])
    : Buffer.from([0x80 | opcode, 0x80 | 126, body.length >> 8, body.length & 255, 0, 0, 0, 0])
  return Buffer.concat([header, body])
}

// Every socket reads into this one buffer (net's `onread`): no Buffer and no stream 'data' event
// per read, so that the load process keeps ahead of the server it measures. The callback runs
// synchronously, before the next read reuses the buffer; bytes kept for later are copied.
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024)

const B = 0x62 // 'b' of "bench"
const S_KEY = Buffer.from('"s":')

const state = {
  received: 0,
  expected: 0,
  recording: false,
  latencies: [],
  lastAt: 0,
  waiter: null,
  closedByServer: 0,
  errors: []
}

function onBench (client, buf, start, end) {
  if (client.staller) return
  state.received++
  client.count++
  state.lastAt = nowMicros()
  if (state.recording && client.sampled) {
    const at = buf.indexOf(S_KEY, start)
    if (at !== -1 && at < end) {
      let value = 0
      for (let i = at + 4; i < end; i++) {
        const c = buf[i]
        if (c < 0x30 || c > 0x39) break
        value = value * 10 + (c - 0x30)
      }
      if (value !== 0) state.latencies.push(state.lastAt - value) // 0: a warm-up notification (server.js, paced)
    }
  }
  if (state.waiter !== null && state.received >= state.expected) {
    const resolve = state.waiter
    state.waiter = null
    resolve()
  }
}

class Client {
  constructor (options, index, id = index) {
    this.index = index
    this.contender = options.contender
    this.channels = options.channels
    this.sampled = index % options.sampleEvery === 0
    this.staller = false
    this.count = 0
    this.rest = null
    this.upgraded = false
    // fastify-ws-notify-sse: a Server-Sent Events stream (channels in its URL), not a WebSocket.
    this.sse = this.contender === 'fastify-ws-notify-sse'
    this.pendingReplies = 0
    this.ready = null
    const readyPromise = new Promise((resolve, reject) => { this.ready = { resolve, reject } })
    this.whenReady = readyPromise
    const clientId = `c${id}`
    const query = `client_id=${clientId}&channels=${this.channels.join(',')}`
    // The dashboard page's socket (S6) connects as the page does: no client_id.
    const path = this.contender === 'socket.io'
      ? `/socket.io/?EIO=4&transport=websocket&${query}`
      : this.sse
        ? `/ws/sse?${options.anonymous ? '' : `client_id=${clientId}&`}events=message&${this.channels.map((c) => `channel=${c}`).join('&')}`
        : this.contender.startsWith('fastify-ws-notify') ? (options.anonymous ? '/ws' : `/ws?client_id=${clientId}`) : `/ws?${query}`
    const socket = this.socket = net.connect({
      port: options.port,
      host: '127.0.0.1',
      onread: { buffer: READ_BUFFER, callback: (nread, buffer) => { this.onData(buffer, nread) } }
    })
    socket.setNoDelay(true)
    socket.on('connect', () => {
      if (this.sse) return socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${options.port}\r\nAccept: text/event-stream\r\n\r\n`)
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${options.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
    })
    socket.on('error', (err) => { this.ready.reject(err) })
    socket.on('close', () => {
      this.closed = true
      this.ready.reject(new Error(`client ${index} closed before it was ready`))
    })
  }

  send (text) {
    this.socket.write(clientFrame(1, text))
  }

  /** `nread` bytes read into `chunk` (READ_BUFFER: reused by the next read). */
  onData (chunk, nread) {
    let buf = chunk
    let length = nread
    if (this.rest !== null) {
      buf = Buffer.concat([this.rest, chunk.subarray(0, nread)])
      length = buf.length
      this.rest = null
    }
    let off = 0
    if (!this.upgraded) {
      buf = buf.subarray(0, length)
      const end = buf.indexOf('\r\n\r\n')
      if (end === -1) { this.rest = Buffer.from(buf); return }
      const status = buf.toString('latin1', 0, 12)
      if (status !== (this.sse ? 'HTTP/1.1 200' : 'HTTP/1.1 101')) {
        this.ready.reject(new Error(`client ${this.index}: upgrade refused: ${buf.toString('latin1', 0, Math.min(end, 200))}`))
        this.socket.destroy()
        return
      }
      this.upgraded = true
      off = end + 4
    }
    if (this.sse) return this.onChunks(buf.subarray(0, length), off)
    while (length - off >= 2) {
      let size = buf[off + 1] & 127
      let header = 2
      if (size === 126) {
        if (length - off < 4) break
        size = buf.readUInt16BE(off + 2)
        header = 4
      } else if (size === 127) {
        if (length - off < 10) break
        size = Number(buf.readBigUInt64BE(off + 2))
        header = 10
      }
      if (length - off < header + size) break
      const opcode = buf[off] & 15
      const start = off + header
      off = start + size
      if (opcode === 1) this.onText(buf, start, off)
      else if (opcode === 9) this.socket.write(clientFrame(10, buf.subarray(start, off)))
      else if (opcode === 8) {
        this.closeCode = size >= 2 ? buf.readUInt16BE(start) : 1005
        state.closedByServer++
      }
    }
    if (off < length) this.rest = Buffer.from(buf.subarray(off, length))
  }

  /** SSE: the response's chunks (chunked encoding); the server writes whole events in each. */
  onChunks (buf, off) {
    const length = buf.length
    while (off < length) {
      const lineEnd = buf.indexOf('\r\n', off)
      if (lineEnd === -1) break
      const size = parseInt(buf.toString('latin1', off, lineEnd), 16)
      if (size === 0) { off = lineEnd + 2; break }
      const start = lineEnd + 2
      if (length < start + size + 2) break
      this.onEvents(buf, start, start + size)
      off = start + size + 2
    }
    if (off < length) this.rest = Buffer.from(buf.subarray(off, length))
  }

  /** SSE events (`data: <json>\n\n`, or a `: ping` comment) between start and end. */
  onEvents (buf, start, end) {
    let at = start
    while (at < end) {
      const eventEnd = buf.indexOf('\n\n', at)
      const stop = eventEnd === -1 || eventEnd > end ? end : eventEnd
      // 'd' of `data: `: its JSON starts 6 bytes in.
      if (buf[at] === 0x64) this.onText(buf, at + 6, stop)
      at = stop + 2
    }
  }

  onText (buf, start, end) {
    if (this.contender === 'socket.io') {
      // engine.io v4: 0 open, 2 ping, 40 namespace connected, 42 event.
      const first = buf[start]
      if (first === 0x34 && buf[start + 1] === 0x32) {
        if (buf[start + 4] === B) onBench(this, buf, start, end)
        else if (buf.toString('latin1', start, end) === '42["ready"]') this.ready.resolve()
      } else if (first === 0x32 && end - start === 1) this.send('3')
      else if (first === 0x30) this.send('40')
      return
    }
    // {"type":"bench"... : the 10th byte tells the frame type apart.
    const kind = buf[start + 9]
    if (kind === B) onBench(this, buf, start, end)
    else if (this.contender.startsWith('fastify-ws-notify')) {
      const text = buf.toString('utf8', start, end)
      if (kind === 0x63 && text.startsWith('{"type":"connected"')) { // subscribe to every channel of this client
        this.pendingReplies = this.channels.length
        // A stream's URL subscribed them: their `subscribed` events follow.
        if (!this.sse) for (const channel of this.channels) this.send(JSON.stringify({ action: 'subscribe', channel }))
      } else if (kind === 0x73 && text.startsWith('{"type":"subscribed"')) {
        if (--this.pendingReplies === 0) this.ready.resolve()
      } else if (this.sse && text.startsWith('{"type":"close"')) {
        state.closedByServer++
      } else state.errors.push(`client ${this.index}: unexpected frame ${text.slice(0, 200)}`)
    } else if (kind === 0x72) this.ready.resolve() // {"type":"ready"}
  }
}

let clients = []

/**
 * S6: what an open dashboard page (or a Prometheus scraper) asks of the server over HTTP: one GET
 * of `path` a second on a kept-alive connection, the body read and (for JSON) parsed, as the
 * page's fetch() does. Failures are errors of the run.
 */
const poller = {
  agent: null,
  timer: null,
  requests: 0,
  port: 0,
  path: '',
  get () {
    this.requests++
    const request = http.get({ host: '127.0.0.1', port: this.port, path: this.path, agent: this.agent }, (response) => {
      const chunks = []
      response.on('data', (chunk) => chunks.push(chunk))
      response.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8')
        if (response.statusCode !== 200) state.errors.push(`GET ${this.path}: HTTP ${response.statusCode}`)
        else if (this.path.endsWith('/stats')) {
          try { JSON.parse(body) } catch (err) { state.errors.push(`GET ${this.path}: ${err.message}`) }
        }
      })
    })
    request.on('error', (err) => state.errors.push(`GET ${this.path}: ${err.message}`))
  },
  /** (Re)starts the once-a-second reads, the first one now: every measured window holds at least one. */
  start (port, path) {
    this.stop()
    this.agent ??= new http.Agent({ keepAlive: true, maxSockets: 1 })
    this.port = port
    this.path = path
    this.get()
    this.timer = setInterval(() => this.get(), 1000)
  },
  stop () {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }
}

function percentile (sorted, p) {
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

const handlers = {
  /**
   * Opens n sockets (plus one staller when asked), at most `concurrency` handshakes at a time.
   * idFrom: the first client id's number (run.js's warm-up sockets take ids no measured one has).
   */
  async connect ({ port, contender, n, channels, staller, dashboard, concurrency = 200, idFrom = 0 }) {
    const total = n + (staller ? 1 : 0)
    const options = { port, contender, sampleEvery: Math.max(1, Math.floor(n / 200)) }
    let next = 0
    const worker = async () => {
      while (next < total) {
        const index = next++
        const client = new Client({ ...options, channels: channels(index) }, index, idFrom + index)
        clients[index] = client
        await client.whenReady
      }
    }
    await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker))
    if (staller) clients[n].staller = true
    // S6: the dashboard page's socket, on the bench channel like the others (its frames count).
    if (dashboard) {
      const page = clients[total] = new Client({ ...options, anonymous: true, channels: ['all'] }, total)
      await page.whenReady
    }
    return { connected: clients.length }
  },
  /**
   * Checks the previous phase got exactly what it expected, then starts counting again. collect:
   * a full collection first (before a warm-up, which absorbs what it leaves behind, as the server
   * does in paced): connecting thousands of sockets leaves this process garbage whose collection
   * could otherwise land in a measurement, stopping its reads.
   */
  async reset ({ record, collect = false }) {
    if (collect && typeof global.gc === 'function') global.gc()
    calibrate()
    if (state.received !== state.expected) throw new Error(`received ${state.received} frames, expected ${state.expected}`)
    if (state.errors.length > 0) throw new Error(state.errors.join('\n'))
    state.received = 0
    state.expected = 0
    state.latencies = []
    state.recording = record === true
    for (const client of clients) client.count = 0
    return {}
  },
  /** Resolves when `total` frames have arrived; perClient checks the spread. */
  async await ({ total, perClient, timeoutMs }) {
    state.expected = total
    if (state.received < total) {
      let timer
      await Promise.race([
        new Promise((resolve) => { state.waiter = resolve }),
        new Promise((resolve, reject) => {
          timer = setTimeout(() => reject(new Error(`timeout: ${state.received} of ${total} frames after ${timeoutMs} ms`)), timeoutMs)
        })
      ]).finally(() => clearTimeout(timer))
    }
    if (perClient !== undefined) {
      for (const client of clients) {
        if (client.staller || client.count === perClient) continue
        throw new Error(`client ${client.index} got ${client.count} frames, expected ${perClient}`)
      }
    }
    // Development: BENCH_LATENCY_TRACE=N prints the fastest and slowest of each N samples, in the
    // order they arrived (N = the sampled readers of one fan-out: which fan-outs make the p99).
    if (process.env.BENCH_LATENCY_TRACE && state.latencies.length > 0) {
      const per = Number(process.env.BENCH_LATENCY_TRACE)
      const out = []
      for (let i = 0; i < state.latencies.length; i += per) {
        const part = state.latencies.slice(i, i + per)
        out.push(`${(Math.min(...part) / 1e3).toFixed(0)}-${(Math.max(...part) / 1e3).toFixed(0)}`)
      }
      console.error(`latency by fan-out (ms, first-last reader): ${out.join(' ')}`)
    }
    const sorted = Float64Array.from(state.latencies).sort()
    return {
      received: state.received,
      lastAt: state.lastAt,
      latencyMs: sorted.length === 0
        ? null
        : { samples: sorted.length, p50: percentile(sorted, 50) / 1e3, p99: percentile(sorted, 99) / 1e3, max: sorted[sorted.length - 1] / 1e3 }
    }
  },
  /** The staller stops reading: its kernel buffers fill, then the server's. */
  async stall () {
    const staller = clients.find((client) => client.staller)
    staller.socket.pause()
    return {}
  },
  async status () {
    const staller = clients.find((client) => client.staller)
    return { closedByServer: state.closedByServer, stallerClosed: staller ? staller.closed === true : null }
  },
  /** S6: starts (or restarts, first read now) one GET of `path` a second; `path` null stops it. */
  async poll ({ port, path }) {
    if (path === null) poller.stop()
    else poller.start(port, path)
    return { requests: poller.requests }
  },
  async close () {
    poller.stop()
    for (const client of clients) client.socket.destroy()
    clients = []
    return {}
  }
}

// Channel lists are functions of the client index; they arrive as a spec and are built here.
function channelsFor (spec) {
  return (index) => [
    'all',
    ...(spec.groups ? [`g${index % 10}`] : []),
    ...(spec.half && index % 2 === 0 ? ['half'] : [])
  ]
}

process.on('message', async (message) => {
  try {
    if (message.cmd === 'connect') message.channels = channelsFor(message.channels)
    const result = await handlers[message.cmd](message)
    process.send({ id: message.id, ok: true, result })
  } catch (err) {
    process.send({ id: message.id, ok: false, error: err.stack || String(err) })
  }
})
process.on('disconnect', () => process.exit(0))
