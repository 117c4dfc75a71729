// The demo server of `npm start`: the six channels of the service this plugin replaces, a
// `POST /notify` route to send anything by hand, sample events on every channel, the demo page at
// `/` and the plain-WebSocket page at `/browser.html`. `buildDemo()` builds it without listening,
// for tests; run as the main module it listens on HOST:PORT and closes cleanly (clients see 1001)
// on SIGINT/SIGTERM.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { Type, type Static } from '@sinclair/typebox'
import notifications, { redisAdapter } from '../lib/index'
import type { ChannelEvents, TypedNotify } from '../types/index'
import { channels } from './channels'

export { channels }

export interface DemoOptions {
  /** Milliseconds between rounds of sample events (one per channel); 0 turns them off. Default 3000. */
  eventInterval?: number
  /** Fastify's logger option. Default off. */
  logger?: FastifyServerOptions['logger']
}

const NotifyBody = Type.Object({
  channel: Type.Optional(Type.String({ minLength: 1 })),
  client_id: Type.Optional(Type.String({ minLength: 1 })),
  type: Type.String({ minLength: 1 }),
  data: Type.Optional(Type.Unknown())
}, { additionalProperties: false })
type NotifyBody = Static<typeof NotifyBody>

const NotifyReply = Type.Object({ delivered: Type.Integer() })

const ErrorReply = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String(),
  error: Type.String(),
  message: Type.String()
})

/** The pages live in examples/; the compiled server runs from dist/examples/. */
function readExample (name: string): string {
  const candidates = [join(__dirname, name), join(__dirname, '..', '..', 'examples', name)]
  const found = candidates.find((file) => existsSync(file))
  if (found === undefined) throw new Error(`${name} not found; looked in ${candidates.join(', ')}`)
  return readFileSync(found, 'utf8')
}

// The demo page loads its script and style from this server only, and connects only to it.
const DEMO_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/**
 * One round of sample events, one per channel. Typed against the declarations, without a global
 * merge. The first three are the replaced service's payloads (PROTOCOL.md); the other three
 * channels have no fixed payload, so their samples are only examples of what may be sent.
 */
function sendSamples (notify: TypedNotify<ChannelEvents<typeof channels>>, round: number): Array<Promise<number>> {
  const severities = ['info', 'warning', 'critical'] as const
  const progress = (round * 12.5) % 112.5 // 0, 12.5, ... 100, then again
  return [
    notify('error_firewall', 'error_blocked', { error_id: `err-${round}`, solution: 'retry with exponential backoff', timestamp: new Date().toISOString() }),
    notify('vector_search', 'search_progress', { query_id: `query-${Math.floor(round / 9)}`, progress, status: progress >= 100 ? 'completed' : 'searching' }),
    notify('db_pool_stats', 'pool_resized', {
      old_size: 20 + (round % 2) * 10,
      new_size: 30 - (round % 2) * 10,
      reason: round % 2 === 0 ? 'high utilization' : 'low utilization',
      utilization: round % 2 === 0 ? '85%' : '30%'
    }),
    notify('ai_analysis', 'analysis_complete', { analysis_id: `analysis-${round}`, summary: 'no anomalies found', confidence: 0.93 }),
    notify('memory_updates', 'memory_updated', { key: 'session:summary', version: round + 1 }),
    notify('system_alerts', 'alert_raised', { severity: severities[round % 3], message: `sample alert #${round}` })
  ]
}

/** Builds the demo app (not listening). */
export async function buildDemo (options: DemoOptions = {}): Promise<FastifyInstance> {
  const { eventInterval = 3000, logger = false } = options
  if (!Number.isSafeInteger(eventInterval) || eventInterval < 0) {
    throw new TypeError(`eventInterval must be an integer >= 0; got ${String(eventInterval)}`)
  }
  const app = Fastify({ logger })
  // Ten minutes of history per channel: a client that reconnects gets what it missed. With
  // REDIS_URL set, every demo server on that Redis forms one cluster (try two on two ports).
  const redisUrl = process.env.REDIS_URL
  await app.register(notifications, {
    channels,
    history: { size: 1000, ttl: 10 * 60_000 },
    // What operators look at: a live page and Prometheus metrics beside /ws/stats.
    dashboard: true,
    metrics: true,
    // Server-Sent Events at /ws/sse for networks that break WebSocket (the page falls back to it).
    sse: true,
    ...(redisUrl !== undefined && redisUrl !== '' && { adapter: redisAdapter({ redis: redisUrl }) })
  })
  // `/`: the demo page (demo.html, .css, .js; it uses the plugin's client from /ws/client.js).
  // `/browser.html`: the plain-WebSocket page of docs/clients.md.
  const files = {
    demoPage: readExample('demo.html'),
    demoScript: readExample('demo.js'),
    demoStyle: readExample('demo.css'),
    plainPage: readExample('browser.html')
  }
  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').header('content-security-policy', DEMO_CSP).send(files.demoPage))
  app.get('/demo.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(files.demoScript))
  app.get('/demo.css', async (_request, reply) => reply.type('text/css; charset=utf-8').send(files.demoStyle))
  app.get('/browser.html', async (_request, reply) => reply.type('text/html; charset=utf-8').send(files.plainPage))

  app.post<{ Body: NotifyBody }>('/notify', {
    schema: { body: NotifyBody, response: { 200: NotifyReply, 400: ErrorReply, 503: ErrorReply } }
  }, async (request, reply) => {
    const { channel, client_id: clientId, type, data } = request.body
    if ((channel === undefined) === (clientId === undefined)) {
      return reply.code(400).send({
        statusCode: 400,
        code: 'DEMO_BAD_TARGET',
        error: 'Bad Request',
        message: 'give exactly one of "channel" (to notify its subscribers) or "client_id" (to message one client)'
      })
    }
    try {
      const delivered = channel !== undefined
        ? await app.notify(channel, type, data)
        : await app.notifications.sendTo(clientId as string, type, data)
      return { delivered }
    } catch (err) {
      // The plugin's validation errors carry 500 (a bug in the caller's code); here the caller is
      // the HTTP client, so they are its bad input.
      const code = (err as { code?: unknown }).code
      if (typeof code !== 'string' || !code.startsWith('FST_WS_NOTIFY_')) throw err
      const statusCode = code === 'FST_WS_NOTIFY_CLOSED' ? 503 : 400
      return reply.code(statusCode).send({
        statusCode,
        code,
        error: statusCode === 503 ? 'Service Unavailable' : 'Bad Request',
        message: (err as Error).message
      })
    }
  })

  if (eventInterval > 0) {
    // The untyped app.notify is assignable to the typed signature: the samples are checked at compile time.
    const notify: TypedNotify<ChannelEvents<typeof channels>> = app.notify
    let round = 0
    const timer = setInterval(() => {
      for (const sent of sendSamples(notify, round++)) {
        sent.catch((err: { code?: string }) => {
          if (err.code !== 'FST_WS_NOTIFY_CLOSED') app.log.error(err, 'sample event failed')
        })
      }
    }, eventInterval)
    timer.unref()
    app.addHook('onClose', async () => { clearInterval(timer) })
  }
  return app
}

function fail (message: string): never {
  process.stderr.write(`demo: ${message}\n`)
  process.exit(1)
}

/** Reads HOST, PORT and DEMO_EVENTS, listens, and closes cleanly on SIGINT/SIGTERM. */
async function main (): Promise<void> {
  const host = process.env.HOST ?? '127.0.0.1'
  const portText = process.env.PORT ?? '8080'
  const port = Number(portText)
  if (!/^\d+$/.test(portText) || port > 65535) fail(`PORT must be an integer from 0 to 65535; got ${JSON.stringify(portText)}`)
  const events = process.env.DEMO_EVENTS ?? '1'
  if (events !== '0' && events !== '1') fail(`DEMO_EVENTS must be 0 (no sample events) or 1; got ${JSON.stringify(events)}`)

  const app = await buildDemo({ eventInterval: events === '0' ? 0 : 3000, logger: true })
  await app.listen({ host, port })
  const address = app.server.address()
  const bound = address !== null && typeof address === 'object' ? address.port : port
  const origin = `${host.includes(':') ? `[${host}]` : host}:${bound}`
  app.log.info({ ws: `ws://${origin}/ws`, stats: `http://${origin}/ws/stats`, page: `http://${origin}/`, dashboard: `http://${origin}/ws/dashboard` },
    `demo ready: connect to ws://${origin}/ws (page http://${origin}/, dashboard http://${origin}/ws/dashboard, stats http://${origin}/ws/stats)`)

  let closing = false
  const shutdown = (signal: string): void => {
    if (closing) {
      process.stderr.write(`demo: ${signal} again, exiting without waiting\n`)
      process.exit(1)
    }
    closing = true
    app.log.info(`${signal}: closing (clients see 1001)`)
    app.close().then(() => process.exit(0), (err: unknown) => {
      app.log.error(err, 'close failed')
      process.exit(1)
    })
  }
  process.on('SIGINT', shutdown)
  process.on('SIGTERM', shutdown)
}

if (require.main === module) {
  main().catch((err: unknown) => fail((err as Error).stack ?? String(err)))
}
