#!/usr/bin/env node
// `fastify-ws-notify listen <url> <channel>...`: subscribe and print every message as one JSON
// line on stdout; everything about the connection itself (subscriptions, errors, the close) goes
// to stderr, so stdout pipes cleanly into `jq` and friends.
import { parseArgs } from 'node:util'
import WebSocket from 'ws'

const USAGE = `Usage: fastify-ws-notify listen <url> <channel>... [--client-id ID]

Connects to a fastify-ws-notify server, subscribes to each channel, and prints every message it
receives as one JSON line on stdout. Connection events and errors go to stderr.

  <url>              the WebSocket route, e.g. ws://127.0.0.1:8080/ws
  <channel>...       one or more channel names
  --client-id ID     connect as this client id (1-128 characters of [A-Za-z0-9_.:@-])
  -h, --help         print this help

Exit status: 0 after Ctrl-C or a normal close (1000) by the server; 1 when the server is
unreachable, refuses the upgrade, rejects a subscription, or closes with any other code;
2 for a usage error.
`

/** How long the connection (TCP + upgrade) may take before giving up. */
const HANDSHAKE_TIMEOUT = 10_000

function usageError (message: string): never {
  process.stderr.write(`fastify-ws-notify: ${message}\n\n${USAGE}`)
  process.exit(2)
}

function report (message: string): void {
  process.stderr.write(`fastify-ws-notify: ${message}\n`)
}

interface ListenArgs { url: URL, channels: string[] }

function parseCommandLine (argv: string[]): ListenArgs {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { 'client-id': { type: 'string' }, help: { type: 'boolean', short: 'h' } }
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
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') usageError(`url must start with ws:// or wss://; got "${address}"`)
  const clientId = parsed.values['client-id']
  if (clientId !== undefined) url.searchParams.set('client_id', clientId)
  return { url, channels }
}

/** Connects, subscribes, prints; sets process.exitCode on every failure. */
function listen ({ url, channels }: ListenArgs): void {
  const socket = new WebSocket(url, { handshakeTimeout: HANDSHAKE_TIMEOUT, perMessageDeflate: false })
  let opened = false
  let closedByUs = false
  socket.on('open', () => { opened = true })

  socket.on('unexpected-response', (_request, response) => {
    let body = ''
    response.setEncoding('utf8')
    response.on('data', (chunk: string) => { body += chunk })
    response.on('end', () => {
      report(`${url.href} refused the WebSocket upgrade: HTTP ${response.statusCode} ${response.statusMessage ?? ''}${body === '' ? '' : `: ${body.trim()}`}`)
      process.exit(1)
    })
  })
  socket.on('error', (err) => {
    report(`cannot connect to ${url.href}: ${err.message}`)
    process.exitCode = 1
  })
  socket.on('message', (data, isBinary) => {
    const text = data.toString()
    let message: { type?: unknown, code?: unknown, message?: unknown, id?: unknown, channel?: unknown }
    try {
      message = JSON.parse(text)
    } catch {
      report(`the server sent a frame that is not JSON (${isBinary ? 'binary' : 'text'}, ${text.length} characters)`)
      return
    }
    process.stdout.write(JSON.stringify(message) + '\n')
    if (message.type === 'connected') {
      // Ids match each reply (and any error) to the channel it answers.
      channels.forEach((channel, index) => socket.send(JSON.stringify({ action: 'subscribe', channel, id: index + 1 })))
    } else if (message.type === 'subscribed') {
      report(`subscribed to ${String(message.channel)}`)
    } else if (message.type === 'error') {
      const channel: string | undefined = typeof message.id === 'number' ? channels[message.id - 1] : undefined
      report(`${channel === undefined ? 'error' : `cannot subscribe to "${channel}"`}: ${String(message.code)}: ${String(message.message)}`)
      process.exitCode = 1
      closedByUs = true
      socket.close(1000, 'subscription refused')
    }
  })
  socket.on('close', (code, reason) => {
    // Before 'open', the 'error' listener has already said why.
    if (closedByUs || !opened) return
    report(`connection closed: ${code}${reason.length > 0 ? ` ${reason.toString()}` : ''}${code === 1006 ? ' (no close frame: the connection was lost)' : ''}`)
    if (code !== 1000) process.exitCode = 1
  })

  const stop = (): void => {
    closedByUs = true
    report('interrupted, closing')
    socket.close(1000, 'client interrupted')
    // A server that never answers the close handshake must not hold the terminal.
    setTimeout(() => process.exit(process.exitCode ?? 0), 1000).unref()
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

listen(parseCommandLine(process.argv.slice(2)))
