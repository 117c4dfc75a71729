#!/usr/bin/env node
// `fastify-ws-notify listen <url> <channel>...`: subscribe through fastify-ws-notify/client and
// print every message as one JSON line on stdout (over WebSocket, or Server-Sent Events with --sse); everything about the connection itself
// (subscriptions, reconnects, resumes, gaps, errors) goes to stderr, so stdout pipes cleanly
// into `jq` and friends.
import { parseArgs } from 'node:util'
import WebSocket from 'ws'
import type { ClientRequest, IncomingMessage } from 'node:http'
import { NodeEventSource } from '../client/event-source'

const USAGE = `Usage: fastify-ws-notify listen <url> <channel>... [--client-id ID] [--once] [--sse]

Connects to a fastify-ws-notify server, subscribes to each channel, and prints every message it
receives as one JSON line on stdout. Connection events, reconnects, resumes and gaps go to stderr.
When the connection drops, it reconnects with backoff and resumes each channel from the last
message it printed (channels with history), or reports a gap.

  <url>              the WebSocket route, e.g. ws://127.0.0.1:8080/ws
  <channel>...       one or more channel names
  --client-id ID     connect as this client id (1-128 characters of [A-Za-z0-9_.:@|-])
  --once             exit when the connection closes instead of reconnecting
  --sse              use Server-Sent Events (<url>/sse, the server's sse: true) instead of
                     WebSocket, for networks that block upgrades; http:// urls work too
  -h, --help         print this help

Without --once it stops when the server ends the session (close codes 4000-4099 and 1008)
or refuses a reconnect (HTTP 401/403); other refusals and lost connections are retried.

Exit status: 0 after Ctrl-C, or with --once after a normal close (1000) by the server; 1 when the
first connection fails (unreachable, upgrade refused), a subscription is refused, the server
ends the session or refuses a reconnect, or with --once the server closes with any other code;
2 for a usage error.
`

/** How long the connection (TCP + upgrade) may take before giving up. */
const HANDSHAKE_TIMEOUT = 10_000

function usageError (message: string): never {
  process.stderr.write(`fastify-ws-notify: ${message}\n\n${USAGE}`)
  process.exit(2)
}

/**
 * What a terminal acts on instead of showing: C0 controls (ESC, BEL, CR, even newline), DEL, C1
 * controls, line separators, and the bidi marks and overrides that reorder what is shown. Whatever
 * the server sends (a notification, a close reason, a refusal body) could otherwise clear the
 * screen, retitle the window or disguise text; each such character is printed as \uXXXX.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const TERMINAL_CONTROLS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu

function escapeControls (text: string): string {
  return text.replace(TERMINAL_CONTROLS, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

function report (message: string): void {
  process.stderr.write(`fastify-ws-notify: ${escapeControls(message)}\n`)
}

// JSON.stringify escapes C0 controls; the others come out the same way, so each line is still the same JSON.
function print (value: unknown): void {
  process.stdout.write(escapeControls(JSON.stringify(value)) + '\n')
}

interface ListenArgs { url: URL, channels: string[], clientId: string | undefined, once: boolean, sse: boolean }

function parseCommandLine (argv: string[]): ListenArgs {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'client-id': { type: 'string' },
        once: { type: 'boolean' },
        sse: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' }
      }
    })
  } catch (err) {
    usageError((err as Error).message)
  }
  if (parsed.values.help === true) {
    process.stdout.write(USAGE)
    process.exit(0)
  }
  const [command, address, ...channels] = parsed.positionals
  if (command === undefined) usageError('missing command')
  if (command !== 'listen') usageError(`unknown command "${command}"`)
  if (address === undefined) usageError('missing <url>')
  if (channels.length === 0) usageError('missing <channel>: give at least one')
  let url: URL
  try {
    url = new URL(address)
  } catch {
    usageError(`invalid url "${address}"`)
  }
  const sse = parsed.values.sse === true
  const schemes = sse ? ['ws:', 'wss:', 'http:', 'https:'] : ['ws:', 'wss:']
  if (!schemes.includes(url.protocol)) usageError(`url must start with ${sse ? 'ws://, wss://, http:// or https://' : 'ws:// or wss://'}; got "${address}"`)
  return { url, channels, clientId: parsed.values['client-id'], once: parsed.values.once === true, sse }
}

/** Connects through the client, subscribes, prints; sets process.exitCode on every failure. */
async function listen ({ url, channels, clientId, once, sse }: ListenArgs): Promise<void> {
  const { createClient } = await import('../client/index.mjs')
  let everConnected = false
  let lastError = ''
  let stopping = false

  // `ws` with what a terminal user needs to hear: why a connection failed, and the body of a
  // refused upgrade. Before any connection succeeded, such a failure is final.
  class ReportingWebSocket extends WebSocket {
    constructor (address: string) {
      super(address, { handshakeTimeout: HANDSHAKE_TIMEOUT, perMessageDeflate: false })
      this.on('error', (err) => { lastError = err.message })
      this.on('unexpected-response', (request: ClientRequest, response: IncomingMessage) => {
        let body = ''
        response.setEncoding('utf8')
        response.on('data', (chunk: string) => { body += chunk })
        response.on('end', () => {
          report(`${url.href} refused the WebSocket upgrade: HTTP ${response.statusCode} ${response.statusMessage ?? ''}${body === '' ? '' : `: ${body.trim()}`}`)
          if (!everConnected) process.exit(1)
          // Listening for the response keeps `ws` from failing the socket itself: hand the status
          // to the client as `ws` would (so a 401/403 stops reconnecting), then end the handshake
          // (which fires close, so any other status is retried). Without this a refused
          // reconnect left nothing running, and the process exited 0 in silence.
          this.emit('error', new Error(`Unexpected server response: ${response.statusCode ?? 0}`))
          this.terminate()
          request.destroy()
        })
      })
    }
  }

  // The same for a stream: the body of a refused one, and why a connection failed.
  class ReportingEventSource extends NodeEventSource {
    constructor (address: string) {
      super(address)
      this.on('error', ({ message, status, body }: { message: string, status?: number, body?: string }) => {
        lastError = message
        if (status === undefined) return
        report(`${address} refused the stream: HTTP ${status}${body === undefined || body === '' ? '' : `: ${body.trim()}`}`)
        if (!everConnected) process.exit(1)
      })
    }
  }

  const client = createClient<Record<string, Record<string, unknown>>>(url.href, {
    transport: sse ? 'sse' : 'websocket',
    EventSource: ReportingEventSource,
    WebSocket: ReportingWebSocket,
    clientId,
    reconnect: once ? false : undefined
  })
  client.on('connected', ({ clientId, availableChannels }) => {
    if (everConnected) report('reconnected')
    everConnected = true
    print({ type: 'connected', client_id: clientId, available_channels: availableChannels })
  })
  client.on('disconnected', ({ code, reason, willReconnect }) => {
    if (stopping) return
    if (!everConnected) {
      report(`cannot connect to ${url.href}: ${lastError === '' ? `closed with ${code}` : lastError}`)
      process.exitCode = 1
      stopping = true
      client.close()
      return
    }
    const lost = code === 1006 ? ' (no close frame: the connection was lost)' : ''
    // Without --once the client stops only for a code that ends the session (4000-4099, 1008).
    const next = willReconnect ? '; reconnecting' : once ? '' : '; the server ended the session, not reconnecting'
    report(`connection closed: ${code}${reason === '' ? '' : ` ${reason}`}${lost}${next}`)
    if (!willReconnect && code !== 1000) process.exitCode = 1
  })
  client.on('recovered', ({ channel, since }) => report(`resumed ${channel} after offset ${since.offset}: nothing missed`))
  client.on('gap', ({ channel }) => report(`gap on ${channel}: messages may be missing`))
  client.on('message', (message) => print(message))
  client.on('error', (err) => report(`error: ${err.code}: ${err.message}`))

  const stop = (): void => {
    stopping = true
    report('interrupted, closing')
    client.close()
    // A server that never answers the close handshake must not hold the terminal.
    setTimeout(() => process.exit(process.exitCode ?? 0), 1000).unref()
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)

  for (const channel of channels) {
    client.subscribe(channel, (notification) => print(notification)).then(() => {
      report(`subscribed to ${channel}`)
      print({ type: 'subscribed', channel })
    }, (err: { code: string, message: string }) => {
      if (stopping) return
      report(`cannot subscribe to "${channel}": ${err.code}: ${err.message}`)
      print({ type: 'error', code: err.code, message: err.message, channel })
      process.exitCode = 1
      stopping = true
      client.close()
    })
  }
}

listen(parseCommandLine(process.argv.slice(2))).catch((err: Error) => {
  report(`unexpected error: ${err.message}`)
  process.exitCode = 1
})
