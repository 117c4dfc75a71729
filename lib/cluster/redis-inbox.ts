// Inboxes of direct messages in Redis (the Redis adapter with `inbox`): one Stream per client id,
// offsets assigned by a Lua script that increments, appends (XADD MAXLEN ~ size) and publishes in
// one atomic step, so a client id's offsets are one sequence for the whole cluster and a client
// recovers on any instance. Both keys expire `ttl` after the inbox was last written or read (the
// whole inbox, and its epoch, go: a later resume is `recovered: false`); messages older than ttl
// within a live inbox are not replayed. No `clients` bound here: key expiry bounds them.
//
// Keys of client id I under prefix P (hash-tagged: one Redis Cluster slot):
//   P{inbox:I}:state  hash { epoch, offset }
//   P{inbox:I}:log    stream, id "<offset>-0", fields t (ms), m (JSON envelope)
//
// A connection reads its inbox before it joins the hub; direct messages that reach this instance
// meanwhile are held for it and merged with what the read returned, by offset: none lost, none
// twice (inbox.ts, InboxStore.recover). The read's reply comes on the command connection, and a
// message published before it may still be on its way on the subscription: a PING on the
// subscription after the read is answered after every such message, so only then does the
// connection join (one more round trip per connect, with the inbox on).
import { createHash, randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { InboxConfig } from '../core/config-types'
import type { InboxRecovery, InboxStore } from '../core/inbox'
import { offsetPrefix, type ResumePosition } from '../core/history'
import { ENSURE_EPOCH } from './redis-scripts'

/**
 * Keeps and publishes one direct message. KEYS: state, log. ARGV: candidate epoch, envelope JSON
 * up to its offset (history.ts, offsetPrefix), size, direct pub/sub channel, header before the epoch (`i ID TAG`),
 * time in ms, ttl in ms. Returns the number of instances that received it.
 */
const SEND_TO_INBOX = `${ENSURE_EPOCH}
local offset = redis.call('HINCRBY', KEYS[1], 'offset', 1)
local json = ARGV[2] .. offset .. '}'
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], offset .. '-0', 't', ARGV[6], 'm', json)
redis.call('PEXPIRE', KEYS[1], ARGV[7])
redis.call('PEXPIRE', KEYS[2], ARGV[7])
return redis.call('PUBLISH', ARGV[4], ARGV[5] .. ' ' .. epoch .. ' ' .. offset .. '\\n' .. json)
`

/**
 * Where an inbox stands and, from an offset on, what it holds. KEYS: state, log. ARGV: candidate
 * epoch, the epoch the caller knows, first offset wanted ('' for none), ttl in ms.
 * Returns { epoch, latest offset, [[id, [field, value...]]...] }.
 */
const READ_INBOX = `${ENSURE_EPOCH}
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
local offset = tonumber(redis.call('HGET', KEYS[1], 'offset'))
local entries = {}
if ARGV[3] ~= '' and epoch == ARGV[2] then entries = redis.call('XRANGE', KEYS[2], ARGV[3], '+') end
return { epoch, offset, entries }
`

const sha1 = (text: string): string => createHash('sha1').update(text).digest('hex')
const SEND_SHA = sha1(SEND_TO_INBOX)
const READ_SHA = sha1(READ_INBOX)
const newEpoch = (): string => randomBytes(9).toString('base64url')

/** Runs a Lua script (redis-adapter.ts runScript). */
export type RunScript = (client: Redis, script: string, sha: string, keys: string[], args: Array<string | number>) => Promise<unknown>

/** One direct message as published: its inbox epoch and offset. */
interface Kept {
  readonly epoch: string
  readonly offset: number
  readonly json: string
}

/** The InboxStore of an instance in a Redis cluster. */
export class RedisInbox implements InboxStore {
  readonly #client: Redis
  readonly #subscriber: Redis
  readonly #prefix: string
  readonly #directChannel: string
  readonly #config: InboxConfig
  readonly #run: RunScript
  /** client id -> the held messages of each of its connections reading their inbox now. */
  readonly #waiters = new Map<string, Set<Kept[]>>()

  constructor (client: Redis, subscriber: Redis, prefix: string, directChannel: string, config: InboxConfig, run: RunScript) {
    this.#client = client
    this.#subscriber = subscriber
    this.#prefix = prefix
    this.#directChannel = directChannel
    this.#config = config
    this.#run = run
  }

  #keys (clientId: string): string[] {
    return [`${this.#prefix}{inbox:${clientId}}:state`, `${this.#prefix}{inbox:${clientId}}:log`]
  }

  /** Puts a direct message (serialized without offset) into the client id's inbox, with its offset, and publishes it. */
  async send (client: Redis, clientId: string, envelope: string, tag: string): Promise<number> {
    return await this.#run(client, SEND_TO_INBOX, SEND_SHA, this.#keys(clientId),
      [newEpoch(), offsetPrefix(envelope), this.#config.size, this.#directChannel, `i ${clientId} ${tag}`, Date.now(), this.#config.ttl]) as number
  }

  /** A published direct message (header `i ID TAG EPOCH OFFSET`) reached this instance: held for readers. */
  received (clientId: string, epoch: string, offset: number, json: string): void {
    const waiting = this.#waiters.get(clientId)
    if (waiting === undefined) return
    for (const held of waiting) held.push({ epoch, offset, json })
  }

  recover (clientId: string, since: ResumePosition | undefined, done: (recovery: InboxRecovery) => void, failed: (err: Error) => void): void {
    const held: Kept[] = []
    let waiting = this.#waiters.get(clientId)
    if (waiting === undefined) this.#waiters.set(clientId, waiting = new Set())
    waiting.add(held)
    const release = (): void => {
      waiting.delete(held)
      if (waiting.size === 0 && this.#waiters.get(clientId) === waiting) this.#waiters.delete(clientId)
    }
    const from = since === undefined ? '' : since.offset + 1
    this.#run(this.#client, READ_INBOX, READ_SHA, this.#keys(clientId), [newEpoch(), since?.epoch ?? '', from, this.#config.ttl])
      .then(async (answer) => {
        await this.#subscriber.ping()
        return answer
      })
      .then((answer) => {
        release()
        const [epoch, latest, entries] = answer as [string, number, Array<[string, string[]]>]
        done(this.#merge(epoch, latest, entries, held, since))
      }, (err: Error) => {
        release()
        failed(err)
      })
  }

  /**
   * What the read found after `since`, then what arrived during the read, in offset order, each
   * once. Recovered when nothing between `since` and the latest offset is missing (trimmed,
   * expired, another epoch); otherwise only messages newer than the read are delivered.
   */
  #merge (epoch: string, latest: number, entries: Array<[string, string[]]>, held: readonly Kept[], since: ResumePosition | undefined): InboxRecovery {
    const oldestKept = Date.now() - this.#config.ttl
    const read: Kept[] = []
    for (const [id, fields] of entries) {
      const value: Record<string, string> = {}
      for (let i = 0; i < fields.length; i += 2) value[fields[i]] = fields[i + 1]
      if (Number(value.t) >= oldestKept) read.push({ epoch, offset: parseInt(id, 10), json: value.m ?? '' })
    }
    let recovered: boolean | undefined
    let after = latest
    if (since !== undefined) {
      recovered = since.epoch === epoch && since.offset <= latest &&
        (since.offset === latest || read[0]?.offset === since.offset + 1)
      if (recovered) after = since.offset
    }
    const messages: string[] = []
    let last = after
    for (const message of [...(recovered === true ? read : []), ...held].sort((a, b) => a.offset - b.offset)) {
      if (message.epoch !== epoch || message.offset <= last) continue
      messages.push(message.json)
      last = message.offset
    }
    return recovered === undefined ? { epoch, offset: latest, messages } : { epoch, offset: latest, recovered, messages }
  }

  /** Kept in Redis, not in this process. */
  size (): number {
    return 0
  }
}
