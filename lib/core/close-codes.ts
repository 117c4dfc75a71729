// Every WebSocket close code of the protocol, in one table: CloseCode (the codes the plugin closes
// with, exported by protocol.ts) is derived from it, the AsyncAPI document lists it, and the table
// of docs/PROTOCOL.md is generated from it (`npm run docs:tables`, checked by
// test/close-codes.test.ts). The browser client (client/index.mts) is a standalone bundle and
// keeps its own classification; the same test holds it to the `client` column here.

/** Who puts the code in a close frame. */
export type CloseCodeSender =
  | 'plugin' // this plugin closes with it (CloseCode)
  | 'ws' // the `ws` library, for the server, on a frame that breaks RFC 6455
  | 'nobody' // no close frame came: the client's WebSocket reports it
  | 'application' // the application, through `app.notifications.disconnect(id, code)`

/** What a client does after the code: the classes of client/index.mts's closeCodeAction. */
export type CloseCodeAction =
  | 'stop' // the session is over: no reconnect
  | 'later' // reconnect after at least a second, with backoff
  | 'now' // reconnect at once
  | 'backoff' // reconnect with the usual backoff, and resume

export interface CloseCodeEntry {
  /** The code, or the first of a range. */
  readonly code: number
  /** The last code of a range (inclusive); absent for one code. */
  readonly last?: number
  /** Its name here; CloseCode.NAME when the plugin sends it. */
  readonly name: string
  /** Markdown. */
  readonly meaning: string
  readonly sentBy: CloseCodeSender
  readonly client: CloseCodeAction
  /** 'version 1', or the part of docs/PROTOCOL.md that added it (a heading there). */
  readonly since: 'version 1' | 'Extensions' | 'Extension: history and resume (added by fastify-ws-notify)'
}

export const CLOSE_CODES = Object.freeze([
  { code: 1000, name: 'NORMAL', sentBy: 'plugin', client: 'backoff', since: 'version 1', meaning: 'normal close; also `idle timeout` (nothing arrived for `idleTimeout`) and `disconnect()` by default' },
  { code: 1001, name: 'GOING_AWAY', sentBy: 'plugin', client: 'backoff', since: 'version 1', meaning: 'the server is shutting down (`app.close()`)' },
  { code: 1002, name: 'PROTOCOL_ERROR', sentBy: 'ws', client: 'backoff', since: 'Extensions', meaning: 'a frame that breaks RFC 6455 (an unmasked frame, a bad opcode; closed by `ws`)' },
  { code: 1006, name: 'ABNORMAL', sentBy: 'nobody', client: 'backoff', since: 'Extensions', meaning: 'the server terminated a peer that did not answer a heartbeat ping, or the connection was lost' },
  { code: 1007, name: 'INVALID_UTF8', sentBy: 'ws', client: 'backoff', since: 'Extensions', meaning: 'a text frame that is not valid UTF-8 (closed by `ws`)' },
  { code: 1008, name: 'POLICY', sentBy: 'plugin', client: 'stop', since: 'version 1', meaning: 'policy: authentication failed, origin not allowed, abusive client' },
  { code: 1009, name: 'TOO_BIG', sentBy: 'plugin', client: 'backoff', since: 'version 1', meaning: 'a frame larger than `maxPayload` (usually closed by `ws` itself)' },
  { code: 1011, name: 'INTERNAL_ERROR', sentBy: 'plugin', client: 'backoff', since: 'version 1', meaning: 'an unexpected server error on this connection' },
  { code: 1012, name: 'SERVICE_RESTART', sentBy: 'plugin', client: 'backoff', since: 'Extension: history and resume (added by fastify-ws-notify)', meaning: 'service restart: with the Redis adapter, a channel\'s history was lost while Redis was away; reconnect and resume (`recovered: false` tells what is missing)' },
  { code: 1013, name: 'TRY_AGAIN_LATER', sentBy: 'plugin', client: 'later', since: 'version 1', meaning: 'try again later: connection limit reached, or this client reads too slowly to keep up' },
  { code: 4000, last: 4099, name: 'APPLICATION_END', sentBy: 'application', client: 'stop', since: 'Extensions', meaning: 'the session is over: do not reconnect, e.g. `disconnect(id, 4001, \'kicked\')`' },
  { code: 4100, last: 4199, name: 'APPLICATION_LATER', sentBy: 'application', client: 'later', since: 'Extensions', meaning: 'reconnect later: after at least a second, with backoff' },
  { code: 4200, last: 4299, name: 'APPLICATION_NOW', sentBy: 'application', client: 'now', since: 'Extensions', meaning: 'reconnect now (the client\'s own 4200 means it found the connection dead)' }
] as const satisfies readonly CloseCodeEntry[])

type SentByPlugin = Extract<typeof CLOSE_CODES[number], { readonly sentBy: 'plugin' }>

/** The codes the plugin closes with, by name: `{ NORMAL: 1000, ... }`. */
export type CloseCodes = { readonly [Entry in SentByPlugin as Entry['name']]: Entry['code'] }

// Object.fromEntries loses the names' types; the mapped type above restores them from the table.
export const CloseCode = Object.freeze(Object.fromEntries(
  CLOSE_CODES.filter((entry) => entry.sentBy === 'plugin').map((entry) => [entry.name, entry.code])
)) as CloseCodes

/** `1000`, or `4000-4099` for a range. */
export function closeCodeLabel (entry: CloseCodeEntry): string {
  return entry.last === undefined ? String(entry.code) : `${entry.code}-${entry.last}`
}

const SENDERS: Record<CloseCodeSender, string> = {
  plugin: 'the server',
  ws: '`ws`, for the server',
  nobody: 'nobody (no close frame came)',
  application: 'the application (`disconnect()`)'
}

const ACTIONS: Record<CloseCodeAction, string> = {
  stop: 'end the session',
  later: 'reconnect later (at least 1 s)',
  now: 'reconnect now',
  backoff: 'reconnect with backoff, resume'
}

/** GitHub's anchor of a heading of docs/PROTOCOL.md. */
function anchorOf (heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-')
}

/**
 * The table as Markdown: for docs/PROTOCOL.md (`docs`: every column, `since` linked to its
 * section) or for the AsyncAPI document's description (`asyncapi`: no links to follow there).
 */
export function closeCodeTable (format: 'docs' | 'asyncapi'): string {
  const docs = format === 'docs'
  const since = (entry: CloseCodeEntry): string => !docs || entry.since === 'version 1' ? entry.since : `[${entry.since.replace(/ \(.*\)$/, '')}](#${anchorOf(entry.since)})`
  const rows = CLOSE_CODES.map((entry) => docs
    ? [closeCodeLabel(entry), entry.sentBy === 'plugin' ? `\`CloseCode.${entry.name}\`` : `\`${entry.name}\``, entry.meaning, SENDERS[entry.sentBy], ACTIONS[entry.client], since(entry)]
    : [closeCodeLabel(entry), entry.meaning, ACTIONS[entry.client], since(entry)])
  const head = docs ? ['close code', 'constant', 'meaning', 'sent by', 'the client should', 'since'] : ['code', 'meaning', 'the client should', 'since']
  return [head, head.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n')
}

/** The comments around the generated table in docs/PROTOCOL.md (scripts/docs-tables.mjs). */
export const CLOSE_CODE_MARKERS = Object.freeze({
  begin: '<!-- close-codes: generated from lib/core/close-codes.ts by `npm run docs:tables`; edit it there -->',
  end: '<!-- close-codes: end -->'
})
