// Issue 17: one close-code table (lib/core/close-codes.ts). CloseCode is derived from it, the table of
// docs/PROTOCOL.md is generated from it, and the browser client, a standalone bundle with its own
// classification, acts on every code as the table says.
import { test } from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { CLOSE_CODES, CLOSE_CODE_MARKERS, CloseCode, closeCodeLabel, closeCodeTable } from '../lib/core/close-codes'
import { CloseCode as ProtocolCloseCode, isSendableCloseCode } from '../lib/core/protocol'
import { CLOSE_HISTORY_RESET } from '../lib/cluster/redis-adapter'
import { loaded } from './client-helper'
import { root } from './docs-helper'

test('docs/PROTOCOL.md holds the table as npm run docs:tables writes it', async (t) => {
  const text = readFileSync(join(root, 'docs', 'PROTOCOL.md'), 'utf8')
  const begin = text.indexOf(CLOSE_CODE_MARKERS.begin)
  const end = text.indexOf(CLOSE_CODE_MARKERS.end)
  t.ok(begin !== -1 && end > begin, 'the markers are there, in order')
  const written = text.slice(begin + CLOSE_CODE_MARKERS.begin.length, end)
  t.equal(written, `\n${closeCodeTable('docs')}\n`, 'the close-code table of docs/PROTOCOL.md is stale: run npm run docs:tables')
})

test('the table: codes in order, ranges that do not overlap, a name each', async (t) => {
  const names = new Set(CLOSE_CODES.map((entry) => entry.name))
  t.equal(names.size, CLOSE_CODES.length, 'names are unique')
  for (let i = 1; i < CLOSE_CODES.length; i++) {
    const previous = CLOSE_CODES[i - 1]
    t.ok(CLOSE_CODES[i].code > ('last' in previous ? previous.last : previous.code), `${closeCodeLabel(CLOSE_CODES[i])} after ${closeCodeLabel(previous)}`)
  }
  for (const entry of CLOSE_CODES) {
    // 1006 is never in a close frame; everything else is a code a server may send.
    t.equal(isSendableCloseCode(entry.code), entry.sentBy !== 'nobody', `${entry.code} sendable: ${String(entry.sentBy !== 'nobody')}`)
  }
})

test('CloseCode is the table\'s codes that the plugin sends', async (t) => {
  t.equal(ProtocolCloseCode, CloseCode, 'protocol.ts exports the same object')
  t.same(CloseCode, Object.fromEntries(CLOSE_CODES.filter((entry) => entry.sentBy === 'plugin').map((entry) => [entry.name, entry.code])))
  t.same(CloseCode, { NORMAL: 1000, GOING_AWAY: 1001, POLICY: 1008, TOO_BIG: 1009, INTERNAL_ERROR: 1011, SERVICE_RESTART: 1012, TRY_AGAIN_LATER: 1013 })
  t.ok(Object.isFrozen(CloseCode))
  t.equal(CLOSE_HISTORY_RESET, CloseCode.SERVICE_RESTART, 'the Redis adapter\'s history reset')
})

test('lib/ closes with CloseCode, never with a number (the client, a standalone bundle, aside)', async (t) => {
  const lib = join(root, 'lib')
  const literal: string[] = []
  const sources = readdirSync(lib, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.ts') && !file.endsWith('close-codes.ts'))
  t.ok(sources.length > 40, `every source of lib/ and its folders is read (${sources.length})`)
  for (const name of sources) {
    const text = readFileSync(join(lib, name), 'utf8')
    for (const match of text.matchAll(/\bclose\([^)\n]*?\b(1\d{3}|[34]\d{3})\b/g)) literal.push(`${name}: ${match[0]}`)
  }
  t.same(literal, [])
})

test('the browser client acts on every code of the table as its `client` column says', async (t) => {
  const { closeCodeAction } = await loaded
  for (const entry of CLOSE_CODES) {
    const last = 'last' in entry ? entry.last : entry.code
    const wrong: number[] = []
    for (let code = entry.code; code <= last; code++) if (closeCodeAction(code) !== entry.client) wrong.push(code)
    t.same(wrong, [], `${closeCodeLabel(entry)} (${entry.name}): ${entry.client}`)
  }
})
