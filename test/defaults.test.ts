// Issue 17: one DEFAULTS object (lib/core/defaults.ts) that every option reader fills from, and the
// docs say the same: docs/options.md's table, the `(clients default 10 000)`-style notes beside
// it, `history.channels` in docs/PROTOCOL.md and redisAdapter's options in docs/scaling.md.
import { test } from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { DEFAULTS } from '../lib/core/defaults'
import { buildConfig } from '../lib/config/options'
import { readRedisOptions, defaultConnectTimeout } from '../lib/cluster/redis-adapter'
import { root } from './docs-helper'

const docs = (name: string): string => readFileSync(join(root, 'docs', name), 'utf8')

/** A value as the docs write it: `'/ws'`, `20000`, `[]`, `{ perSecond: 20, burst: 40 }`. */
function literal (value: unknown): string {
  if (typeof value === 'string') return `'${value}'`
  if (Array.isArray(value)) return `[${value.map(literal).join(', ')}]`
  if (typeof value === 'object' && value !== null) return `{ ${Object.entries(value).map(([key, child]) => `${key}: ${literal(child)}`).join(', ')} }`
  return String(value)
}

/** A number as the prose writes it: `10 000`, `5 000 ms`. */
function proseNumber (text: string): number {
  return Number(text.replace(/ ms$/, '').replace(/ /g, ''))
}

interface Row { readonly options: string[], readonly default: string, readonly meaning: string }

/** The rows of docs/options.md's table: option names, the default cell, the meaning cell. */
function optionRows (): Row[] {
  const rows: Row[] = []
  for (const [, names, fallback, meaning] of docs('options.md').matchAll(/^\| (`[^|]+`) \| ([^|]+) \| (.+) \|$/gm)) {
    rows.push({ options: [...names.matchAll(/`(\w+)`/g)].map((match) => match[1]), default: fallback, meaning })
  }
  return rows
}

/** The defaults of option keys (`inbox.clients`), the rest of DEFAULTS being option names. */
const KEYED = new Set(['history', 'inbox', 'channel', 'redis'])

test('DEFAULTS is frozen through and through', async (t) => {
  t.ok(Object.isFrozen(DEFAULTS))
  for (const [key, value] of Object.entries(DEFAULTS)) if (typeof value === 'object') t.ok(Object.isFrozen(value), `DEFAULTS.${key}`)
})

test('docs/options.md states the defaults of DEFAULTS', async (t) => {
  const rows = optionRows()
  t.ok(rows.length > 25, `${rows.length} rows read`)
  const stated = new Map(rows.flatMap((row) => row.options.map((option) => [option, row] as const)))
  for (const [option, value] of Object.entries(DEFAULTS)) {
    if (KEYED.has(option)) continue
    t.equal(stated.get(option)?.default, `\`${literal(value)}\``, `${option}: the table says DEFAULTS.${option}`)
  }
  for (const row of rows) {
    const [option] = row.options
    // `required`, `none`, `open`, `this process`: no value, so no entry of its own in DEFAULTS.
    if (!row.default.startsWith('`')) t.notOk(option in DEFAULTS && !KEYED.has(option), `${option}: "${row.default}" and no DEFAULTS.${option}`)
    for (const [, key, value] of row.meaning.matchAll(/\((\w+) default ([\d ]+)\)/g)) {
      t.equal(proseNumber(value), (DEFAULTS as unknown as Record<string, Record<string, unknown>>)[option]?.[key], `${option}.${key}: "${key} default ${value}"`)
    }
  }
  t.equal(stated.get('inbox')?.meaning.includes('(clients default 10 000)'), true, 'the keyed note read above is there')
})

test('docs/PROTOCOL.md and docs/scaling.md state the defaults of keys', async (t) => {
  const channels = /`history\.channels` \(default ([\d ]+)\)/.exec(docs('PROTOCOL.md'))
  t.equal(proseNumber(channels?.[1] ?? ''), DEFAULTS.history.channels, 'history.channels')
  const scaling = docs('scaling.md').replace(/\s+/g, ' ')
  for (const [key, value] of Object.entries(DEFAULTS.redis)) {
    const stated = new RegExp(`\`${key}\` \\((?:default )?([^,;)]+)`).exec(scaling)?.[1]
    t.equal(typeof value === 'number' ? proseNumber(stated ?? '') : stated, typeof value === 'number' ? value : `\`${literal(value)}\``, `redisAdapter ${key}`)
  }
})

test('the readers fill what DEFAULTS says', async (t) => {
  const config = buildConfig({ channels: { a: {}, b: { history: { size: 5 } } } })
  for (const option of ['path', 'heartbeatInterval', 'idleTimeout', 'maxPayload', 'maxMessageSize', 'closeTimeout', 'maxBufferedBytes',
    'slowConsumer', 'maxConnections', 'maxConnectionsPerClient', 'maxSubscriptionsPerConnection', 'flushInterval', 'sse', 'dashboard', 'metrics', 'asyncapi'] as const) {
    t.equal(config[option], DEFAULTS[option], option)
  }
  t.same(config.stats, { url: '/ws/stats' }, 'stats: true')
  t.same(config.rateLimit, DEFAULTS.rateLimit)
  t.same(config.presence, { ...DEFAULTS.presence, info: null })
  t.same(config.allowedOrigins, new Set())
  t.same(config.allowedHosts, new Set())
  t.match(config.channels.get('a'), DEFAULTS.channel)
  t.same(config.channels.get('b')?.history, { size: 5, ...DEFAULTS.history })
  const inbox = buildConfig({ channels: ['a'], inbox: {}, authenticate: async () => ({ id: 'x' }) }).inbox
  t.same(inbox, DEFAULTS.inbox)
  const { redis, ...redisConfig } = readRedisOptions({ redis: 'redis://127.0.0.1:6379' }, 'test')
  t.equal(redis, 'redis://127.0.0.1:6379')
  t.same(redisConfig, { keyPrefix: DEFAULTS.redis.keyPrefix, publishTimeout: DEFAULTS.redis.publishTimeout, connectTimeout: null, statsInterval: DEFAULTS.redis.statsInterval, statsTimeout: DEFAULTS.redis.statsTimeout })
  t.equal(defaultConnectTimeout(undefined), DEFAULTS.redis.connectTimeout)
})
