// The README cannot drift: every ```ts block preceded by `<!-- run: NAME -->`, in README.md or any
// docs/*.md, is type-checked on its own (as an ES module importing the package by name, as a user
// would) and then run, with its `app` exported to this test, which drives it over real sockets.
// The split of the README into docs/ cannot rot either: its size is bounded and every relative link
// of README.md and docs/*.md names a file (and heading) that exists.
import { test, type Test } from 'tap'
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import ts from 'typescript'
import type { FastifyInstance } from 'fastify'
import WebSocket from 'ws'
import { Client, ask, build, waitUntil } from './helper'
import { anchors, docFiles, markedBlocks, section } from './docs-helper'
import { CloseCode } from '../lib/core/protocol'
import { CLOSE_CODES, closeCodeLabel } from '../lib/core/close-codes'
import { REDIS_SKIP, testPrefix } from './redis-helper'
import { SseReader } from './sse-helper'

const run = promisify(execFile)
const root = join(__dirname, '..')
const workDir = join(__dirname, '.readme')
/** NAME -> code of each runnable block, of README.md and docs/*.md. */
const { blocks, duplicates } = markedBlocks(/<!-- run: ([\w-]+) -->\n```ts\n([\s\S]*?)```/g)
let loads = 0

/** The HTTP status an upgrade to `url` is refused with (101 when it is accepted). */
async function upgradeStatus (url: string): Promise<number> {
  return await new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    ws.on('unexpected-response', (_request, response) => { resolve(response.statusCode ?? 0); ws.terminate() })
    ws.on('open', () => { resolve(101); ws.terminate() })
    ws.on('error', (err) => { if (!/401|403|closed before/.test(err.message)) reject(err) })
  })
}

/** Runs a block; `replace` swaps literal text first (a Redis key prefix of the test's own). */
async function load (t: Test, name: string, replace: Record<string, string> = {}): Promise<{ app: FastifyInstance, url: string, exports: Record<string, unknown> }> {
  const source = blocks.get(name)
  if (source === undefined) throw new Error(`neither README.md nor docs/*.md has a block <!-- run: ${name} -->`)
  let runnable = source.replace('app.listen({ port: 3000 })', "app.listen({ port: 0, host: '127.0.0.1' })") + '\nexport { app }\n'
  for (const [from, to] of Object.entries(replace)) runnable = runnable.replace(from, to)
  const js = ts.transpileModule(runnable, {
    compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 }
  }).outputText
  // A new file per load: an ES module that threw once stays failed under its URL.
  const file = join(workDir, `${name}-${++loads}.mjs`)
  writeFileSync(file, js)
  const exports = await import(pathToFileURL(file).href) as { app: FastifyInstance }
  const { app } = exports
  t.teardown(() => app.close())
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('not listening')
  return { app, url: `ws://127.0.0.1:${address.port}`, exports }
}

test('README blocks', async (t) => {
  rmSync(workDir, { recursive: true, force: true })
  mkdirSync(workDir, { recursive: true })
  t.same([...blocks.keys()].sort(), ['api', 'conflation', 'hooks', 'inbox', 'per-user', 'presence', 'sse', 'stats', 'usage', 'worker'], 'every runnable block is exercised below')
  t.same(duplicates, [], 'no block name is marked twice across README.md and docs/*.md')

  t.test('each block type-checks alone, as an ES module importing the package', async (t) => {
    for (const [name, source] of blocks) {
      const file = join(workDir, `${name}.check.mts`)
      writeFileSync(file, source)
      const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
      const args = [tsc, '--noEmit', '--strict', '--module', 'node16', '--moduleResolution', 'node16', '--target', 'es2022', '--types', 'node', '--skipLibCheck', file]
      const result = await run(process.execPath, args, { cwd: root }).then(() => '', (err: { stdout: string }) => err.stdout)
      t.equal(result, '', `README block "${name}" compiles`)
    }
  })

  t.test('usage: a resize reaches a subscriber; a wrong payload is refused', async (t) => {
    const { app, url } = await load(t, 'usage')
    const client = new Client(`${url}/ws`)
    t.teardown(() => client.ws.terminate())
    await client.waitFor(1)
    await client.request({ action: 'subscribe', channel: 'db_pool_stats' })
    const response = await app.inject({ method: 'POST', url: '/pools/main/resize' })
    t.same(response.json(), { delivered: 1 })
    const [, , notification] = await client.waitFor(3)
    t.same(notification.data, { old_size: 20, new_size: 30, reason: 'high utilization' })
    t.match(notification, { type: 'pool_resized', channel: 'db_pool_stats' })
    const notify = app.notify as (channel: string, type: string, data: unknown) => Promise<number>
    await t.rejects(notify('db_pool_stats', 'pool_resized', { old_size: 20, reason: 'load' }), { code: 'FST_WS_NOTIFY_INVALID_PAYLOAD', message: /new_size/ })
    t.equal(await notify('error_firewall', 'error_blocked', { error_id: 'e1', solution: 'retry' }), 0, 'the replaced service\'s error_blocked is accepted')
    await t.rejects(notify('db_pool_stats', 'pool_drained', {}), { code: 'FST_WS_NOTIFY_UNKNOWN_EVENT' })
    await t.rejects(notify('nope', 'x', {}), { code: 'FST_WS_NOTIFY_UNKNOWN_CHANNEL' })
  })

  t.test('conflation: a progress update reaches a subscriber of the latest channel', async (t) => {
    const { app, url } = await load(t, 'conflation')
    const client = new Client(`${url}/ws`)
    t.teardown(() => client.ws.terminate())
    await client.waitFor(1)
    await client.request({ action: 'subscribe', channel: 'search_progress' })
    const response = await app.inject({ method: 'POST', url: '/search/q1/progress' })
    t.same(response.json(), { delivered: 1 })
    const [, , update] = await client.waitFor(3)
    t.match(update, { type: 'progress', channel: 'search_progress', data: { query_id: 'q1', percent: 42 } })
    t.equal(app.notifications.stats().messages_conflated, 0, 'a reader that keeps up gets every update')
  })

  t.test('api: a shipment reaches the channel and the customer directly', async (t) => {
    const { app, url } = await load(t, 'api')
    t.equal(await upgradeStatus(`${url}/ws?client_id=alice`), 401, 'claiming a client id without a token is refused')
    const client = new Client(`${url}/ws?token=token-of-alice`)
    t.teardown(() => client.ws.terminate())
    const [connected] = await client.waitFor(1)
    t.equal(connected.client_id, 'alice', 'the client id is the authenticated user')
    await client.request({ action: 'subscribe', channel: 'orders' })
    const response = await app.inject({ method: 'POST', url: '/orders/42/ship' })
    t.match(response.json(), { total_clients: 1, total_messages_sent: 2, channel_stats: { orders: 1 } })
    const frames = await client.waitFor(4)
    t.match(frames[2], { type: 'order_shipped', channel: 'orders', data: { id: '42' } })
    t.match(frames[3], { type: 'your_order_shipped', data: { id: '42' } })
    t.notOk('channel' in frames[3], 'a direct message has no channel')
    t.equal((await app.inject({ method: 'POST', url: '/orders/7/ship' })).statusCode, 404)
  })

  t.test('per-user: only the owner may subscribe to user:<id>, and the invoice reaches her', async (t) => {
    const { app, url } = await load(t, 'per-user')
    t.equal(await upgradeStatus(`${url}/ws`), 401, 'no token: 401')
    const alice = new Client(`${url}/ws?token=token-of-alice`)
    const bob = new Client(`${url}/ws?token=token-of-bob`)
    t.teardown(() => { alice.ws.terminate(); bob.ws.terminate() })
    await alice.waitFor(1)
    await bob.waitFor(1)
    t.match(await alice.request({ action: 'subscribe', channel: 'user:alice' }), { type: 'subscribed', channel: 'user:alice' })
    t.match(await bob.request({ action: 'subscribe', channel: 'user:alice' }), { type: 'error', code: 'FORBIDDEN' })
    const response = await app.inject({ method: 'POST', url: '/invoices/inv-7/pay' })
    t.same(response.json(), { delivered: 1 })
    const [, , invoice] = await alice.waitFor(3)
    t.match(invoice, { type: 'invoice_paid', channel: 'user:alice', data: { invoice: 'inv-7', amount: 120 } })
    const pong = await bob.request({ action: 'ping' })
    t.equal(pong.type, 'pong', 'bob got nothing before his pong')
  })

  t.test('inbox: a reminder sent while alice is offline is replayed when she comes back', async (t) => {
    const { app, url } = await load(t, 'inbox')
    const first = new Client(`${url}/ws?token=token-of-alice`)
    t.teardown(() => first.ws.terminate())
    const [connected] = await first.waitFor(1)
    t.match(connected, { client_id: 'alice', inbox: { offset: 0 } })
    first.ws.terminate()
    await waitUntil(() => app.notifications.stats().total_clients === 0, 'alice offline')
    t.same((await app.inject({ method: 'POST', url: '/users/alice/remind' })).json(), { delivered: 0 })
    const back = new Client(`${url}/ws?token=token-of-alice&inbox_since=${connected.inbox.epoch as string}:0`)
    t.teardown(() => back.ws.terminate())
    const [again, reminder] = await back.waitFor(2)
    t.match(again.inbox, { recovered: true, offset: 1 })
    t.match(reminder, { type: 'reminder', data: { text: 'invoice due' }, offset: 1 })
  })

  t.test('presence: who watches system_alerts, how many look at a search, join and leave', async (t) => {
    const { app, url } = await load(t, 'presence')
    const board = new Client(`${url}/ws?client_id=ops-board-1`)
    const board2 = new Client(`${url}/ws?client_id=ops-board-1`)
    const other = new Client(`${url}/ws?client_id=ops-board-2`)
    t.teardown(() => { board.ws.terminate(); board2.ws.terminate(); other.ws.terminate() })
    for (const client of [board, board2, other]) {
      await client.waitFor(1)
      await ask(client, { action: 'subscribe', channel: 'system_alerts' })
      await ask(client, { action: 'subscribe', channel: 'vector_search' })
    }
    const body = (await app.inject('/watchers')).json()
    t.same(body.alerts.members.map((member: { client: string }) => member.client).sort(), ['ops-board-1', 'ops-board-2'])
    t.same(body.search, { clients: 3, users: 2 })
    t.match(await ask(board, { action: 'presence_stats', channel: 'system_alerts', request_id: 'r2' }),
      { type: 'presence_stats', channel: 'system_alerts', clients: 3, users: 2, request_id: 'r2' })
    t.match(board.frames.find((frame) => frame.type === 'join' && frame.client === 'ops-board-2'), { channel: 'system_alerts' })
    t.equal((await ask(board, { action: 'presence', channel: 'ai_analysis' })).code, 'PRESENCE_NOT_ENABLED')
  })

  t.test('sse: a stream carries the greeting, each channel\'s subscribed, and notifications with their ids', async (t) => {
    const { app, url } = await load(t, 'sse')
    const reader = new SseReader(`${url.replace('ws:', 'http:')}/ws/sse?channel=deploys&channel=alerts`)
    t.teardown(() => reader.close())
    await reader.waitFor(3)
    t.match(reader.events.map((e) => e.event), ['connected', 'subscribed', 'subscribed'])
    t.match(reader.events[1].id, /^[\w-]+:0$/)
    const notify = app.notify as (channel: string, type: string, data: unknown) => Promise<number>
    t.equal(await notify('deploys', 'deployed', { version: '1.4.2' }), 1)
    await reader.waitFor(4)
    t.match(reader.events[3], { event: 'deployed', id: /:1$/, data: { channel: 'deploys', data: { version: '1.4.2' }, offset: 1 } })
  })

  t.test('stats: the route moved and is protected by its hook, and so is every side route', async (t) => {
    delete process.env.STATS_TOKEN
    await t.rejects(load(t, 'stats'), /set STATS_TOKEN/, 'no token set: the example refuses to start')
    process.env.STATS_TOKEN = 'readme-secret-0123456789'
    t.teardown(() => { delete process.env.STATS_TOKEN })
    const { app } = await load(t, 'stats')
    t.equal((await app.inject('/internal/ws-stats')).statusCode, 401)
    t.equal((await app.inject('/ws/stats')).statusCode, 404)
    const allowed = await app.inject({ url: '/internal/ws-stats', headers: { authorization: 'Bearer readme-secret-0123456789' } })
    t.equal(allowed.statusCode, 200)
    t.match(allowed.json(), { total_clients: 0, active_channels: [] })
    for (const route of ['/ws/dashboard', '/ws/metrics', '/ws/asyncapi.json']) {
      t.equal((await app.inject(route)).statusCode, 401, `${route} behind the same hook`)
      t.equal((await app.inject({ url: route, headers: { authorization: 'Bearer readme-secret-0123456789' } })).statusCode, 200, `${route} with the token`)
    }
  })

  t.test('worker: a worker\'s message on the shared declarations carries an offset clients resume from', { skip: REDIS_SKIP }, async (t) => {
    const { url, exports } = await load(t, 'worker', { "'shop:'": `'${testPrefix(t)}'` })
    const { orderShipped, stopWorker } = exports as { orderShipped: (id: string) => Promise<number>, stopWorker: () => Promise<void> }
    t.teardown(stopWorker)
    const client = new Client(`${url}/ws`)
    t.teardown(() => client.ws.terminate())
    await client.waitFor(1)
    const subscribed = await client.request({ action: 'subscribe', channel: 'orders' })
    t.equal(await orderShipped('42'), 1, 'the one instance reached')
    await orderShipped('43')
    const frames = await client.waitFor(4)
    t.match(frames.slice(2), [{ type: 'order_shipped', data: { id: '42' }, offset: 1 }, { data: { id: '43' }, offset: 2 }])
    const again = new Client(`${url}/ws`)
    t.teardown(() => again.ws.terminate())
    await again.waitFor(1)
    t.match(await again.request({ action: 'subscribe', channel: 'orders', since: { offset: 1, epoch: subscribed.epoch } }), { recovered: true })
    t.match((await again.waitFor(3))[2], { data: { id: '43' }, offset: 2 })
  })

  t.test('hooks: a connect is welcomed directly and tracked, a disconnect untracked; broadcast reaches a socket without subscriptions', async (t) => {
    const { app, url, exports } = await load(t, 'hooks')
    const online = exports.online as Set<string>
    const client = new Client(`${url}/ws?token=token-of-alice`)
    t.teardown(() => client.ws.terminate())
    const [connected, welcome] = await client.waitFor(2)
    t.equal(connected.type, 'connected')
    t.match(welcome, { type: 'welcome', data: { name: 'Alice' } })
    t.same([...online], ['alice'])
    const response = await app.inject({ method: 'POST', url: '/maintenance' })
    t.same(response.json(), { delivered: 1 })
    t.match((await client.waitFor(3))[2], { type: 'maintenance', data: { at: '22:00 UTC' }, broadcast: true })
    client.close()
    await client.closed
    await waitUntil(() => online.size === 0, 'onDisconnect')
  })
})

test('README.md stays a guide: under 16 000 bytes, the reference is in docs/', async (t) => {
  const bytes = statSync(join(root, 'README.md')).size
  t.ok(bytes < 16_000, `README.md is ${bytes} bytes`)
})

test('every relative link of README.md and docs/*.md names an existing file, and heading', async (t) => {
  const files = docFiles()
  t.ok(files.length > 2, 'README.md and docs/*.md are read')
  const broken: string[] = []
  for (const { file, text } of files) {
    const prose = text.replace(/^```[\s\S]*?^```/gm, '')
    for (const [, target] of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(target)) continue // http:, https:, mailto:
      const [path, anchor] = target.split('#') as [string, string | undefined]
      const linked = path === '' ? join(root, file) : join(root, dirname(file), decodeURIComponent(path))
      if (!existsSync(linked)) { broken.push(`${file}: ${target} (no such file)`); continue }
      if (anchor !== undefined && anchor !== '' && !anchors(readFileSync(linked, 'utf8')).has(anchor)) {
        broken.push(`${file}: ${target} (no such heading)`)
      }
    }
  }
  t.same(broken, [], 'no broken link')
})

test('the close and error codes of docs/PROTOCOL.md are those of lib/core/close-codes.ts and the AsyncAPI document', async (t) => {
  const protocol = readFileSync(join(root, 'docs', 'PROTOCOL.md'), 'utf8')
  const every = section(protocol, 'Every error and close code')
  const labels = /^\| (\d{4}(?:-\d{4})?) \|/gm
  const documented = [...every.matchAll(labels)].map((match) => match[1])
  const errorCodes = [...every.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((match) => match[1]).sort()
  const table = CLOSE_CODES.map(closeCodeLabel)
  t.same(documented, table, 'the full table holds every code of lib/core/close-codes.ts')
  for (const [name, code] of Object.entries(CloseCode)) t.ok(documented.includes(String(code)), `CloseCode.${name} (${code}) is in the table`)

  const { app } = await build(t)
  const document = (await app.inject('/ws/asyncapi.json')).json() as { info: { description: string } }
  const described = [...document.info.description.matchAll(labels)].map((match) => match[1])
  t.same(described, table, 'the AsyncAPI document lists every close code')
  const version1 = [...section(protocol, 'Close codes').matchAll(labels)].map((match) => match[1])
  t.same(version1, CLOSE_CODES.filter((entry) => entry.since === 'version 1').map(closeCodeLabel), 'version 1\'s table: the codes since version 1')
  // Every enum that lists INVALID_JSON, wherever the document puts it (the error frame's `code`).
  const enums: string[][] = []
  const visit = (node: unknown): void => {
    if (typeof node !== 'object' || node === null) return
    if (Array.isArray(node) && node.includes('INVALID_JSON')) enums.push(node as string[])
    for (const child of Object.values(node)) visit(child)
  }
  visit(document)
  t.ok(enums.length > 0, 'the AsyncAPI document has the error code enum')
  for (const codes of enums) t.same([...codes].sort(), errorCodes, 'the error codes of the table, no more, no less')
})
