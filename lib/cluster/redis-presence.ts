// Cluster-wide presence with the Redis adapter. Each instance's tracker (presence.ts) tells Redis
// when a client id arrives on or leaves (after the grace) one of its channels; the Lua scripts of
// redis-presence-scripts.ts keep, per channel, which instances hold which members, and publish
// one join or leave for the whole cluster, which every instance delivers to its own subscribers.
//
// An instance that dies without saying goodbye: every instance writes a heartbeat every
// statsInterval, and drops, in the same script, the members of any instance whose heartbeat is
// older than 4 x statsInterval. So a dead instance's members leave at most 5 x statsInterval after
// its last heartbeat (4 intervals of silence, plus at most one until the next heartbeat of a live
// instance). An instance that was dropped while alive (its event loop stalled, Redis was away)
// finds itself unlisted at its next heartbeat and writes its members again; after Redis comes
// back, each instance makes Redis hold what it holds (resync): a leave lost meanwhile is made.
import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { AdapterContext } from '../core/adapter'
import type { ChannelDeclarations, PresenceConfig } from '../core/config-types'
import { joinLeaveFrame, type ClusterPresence } from '../core/presence-service'
import type { PresenceCounts, PresenceList, PresenceMember, PresenceTracker } from '../core/presence'
import { PRESENCE_GOODBYE, PRESENCE_HEARTBEAT, PRESENCE_JOIN, PRESENCE_LEAVE } from './redis-presence-scripts'

/** Heartbeats an instance may miss before its members are dropped. */
export const PRESENCE_MISSED_HEARTBEATS = 4

const sha1 = (text: string): string => createHash('sha1').update(text).digest('hex')
const SCRIPTS = {
  join: { source: PRESENCE_JOIN, sha: sha1(PRESENCE_JOIN) },
  leave: { source: PRESENCE_LEAVE, sha: sha1(PRESENCE_LEAVE) },
  heartbeat: { source: PRESENCE_HEARTBEAT, sha: sha1(PRESENCE_HEARTBEAT) },
  goodbye: { source: PRESENCE_GOODBYE, sha: sha1(PRESENCE_GOODBYE) }
}
type Script = typeof SCRIPTS.join

export class RedisPresence implements ClusterPresence {
  /** The pub/sub channel of join/leave frames, to subscribe to. */
  readonly events: string
  readonly #redis: Redis
  readonly #prefix: string
  readonly #instance: string
  readonly #interval: number
  readonly #deliver: AdapterContext['deliver']
  readonly #channels: ChannelDeclarations
  readonly #maxListed: number
  readonly #onError: (err: Error) => void
  #tracker: PresenceTracker | null = null
  #timer: NodeJS.Timeout | undefined

  constructor (redis: Redis, prefix: string, instance: string, interval: number, context: AdapterContext, config: PresenceConfig,
    onError: (err: Error) => void) {
    this.#redis = redis
    this.#prefix = prefix
    this.#instance = instance
    this.#interval = interval
    this.#deliver = context.deliver
    this.#channels = context.channels
    this.#maxListed = config.maxListed
    this.#onError = onError
    this.events = `${prefix}presence:events`
  }

  attach (tracker: PresenceTracker): void {
    this.#tracker = tracker
  }

  #key (channel: string, name: string): string { return `${this.#prefix}{${channel}}:${name}` }
  get #chansKey (): string { return `${this.#prefix}presence:chans:${this.#instance}` }
  get #aliveKey (): string { return `${this.#prefix}presence:alive` }

  #joinLeave (channel: string): boolean {
    const declared = this.#channels.declarationOf(channel)
    return declared?.joinLeave === true
  }

  async #run (script: Script, keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      return await this.#redis.evalsha(script.sha, keys.length, ...keys, ...args)
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err
      return await this.#redis.eval(script.source, keys.length, ...keys, ...args)
    }
  }

  // Commands of one instance go out in order on one connection: a join and the leave after it
  // cannot swap. A failure is counted; the next heartbeat after an outage writes the members again.
  #send (promise: Promise<unknown>): void {
    promise.catch(this.#onError)
  }

  joined (channel: string, clientId: string, info: unknown): void {
    const frame = this.#joinLeave(channel) ? joinLeaveFrame('join', channel, clientId, info) : ''
    this.#send(this.#run(SCRIPTS.join, [this.#key(channel, `pi:${this.#instance}`), this.#key(channel, 'pc'), this.#key(channel, 'pinfo'), this.#chansKey],
      [clientId, info === undefined ? '' : JSON.stringify(info), channel, this.events, frame]))
  }

  left (channel: string, clientId: string): void {
    const frame = this.#joinLeave(channel) ? joinLeaveFrame('leave', channel, clientId, undefined) : ''
    this.#send(this.#run(SCRIPTS.leave, [this.#key(channel, `pi:${this.#instance}`), this.#key(channel, 'pc'), this.#key(channel, 'pinfo')],
      [clientId, channel, this.events, frame]))
  }

  socketsChanged (channel: string, sockets: number): void {
    const key = this.#key(channel, 'psock')
    this.#send(sockets === 0
      ? this.#redis.hdel(key, this.#instance)
      : this.#redis.multi().sadd(this.#chansKey, channel).hset(key, this.#instance, sockets).exec())
  }

  /** A join/leave frame published by some instance: delivered to this instance's subscribers of its channel. */
  onMessage (payload: string): void {
    const newline = payload.indexOf('\n')
    if (newline === -1) return
    const channel = payload.slice(0, newline)
    if (this.#joinLeave(channel)) this.#deliver({ kind: 'channel', channel }, payload.slice(newline + 1))
  }

  async list (channel: string): Promise<PresenceList> {
    const key = this.#key(channel, 'pc')
    const total = await this.#redis.hlen(key)
    const clients: string[] = []
    if (total <= this.#maxListed) {
      // It may have grown since HLEN: still at most maxListed.
      clients.push(...(await this.#redis.hkeys(key)).slice(0, this.#maxListed))
    } else {
      // HSCAN in steps, never the whole hash at once: a reply holds at most maxListed members.
      let cursor = '0'
      do {
        const [next, fields] = await this.#redis.hscan(key, cursor, 'COUNT', Math.min(this.#maxListed, 1000))
        for (let i = 0; i < fields.length && clients.length < this.#maxListed; i += 2) clients.push(fields[i])
        cursor = next
      } while (cursor !== '0' && clients.length < this.#maxListed)
    }
    const infos = clients.length === 0 ? [] : await this.#redis.hmget(this.#key(channel, 'pinfo'), ...clients)
    const members: PresenceMember[] = clients.map((client, i) => {
      const info = infos[i]
      return info === null || info === undefined ? { client } : { client, info: JSON.parse(info) as unknown }
    })
    return { members, total: Math.max(total, members.length), truncated: total > members.length }
  }

  async counts (channel: string): Promise<PresenceCounts> {
    const [users, sockets] = await Promise.all([this.#redis.hlen(this.#key(channel, 'pc')), this.#redis.hvals(this.#key(channel, 'psock'))])
    let clients = 0
    for (const value of sockets) clients += Number(value)
    return { clients, users }
  }

  /** First heartbeat (before any socket), then one every statsInterval. */
  async start (): Promise<void> {
    await this.heartbeat()
    this.#timer = setInterval(() => { this.heartbeat().catch(this.#onError) }, this.#interval)
    this.#timer.unref()
  }

  /** Says this instance is alive and drops the silent ones; unlisted (dropped, or Redis lost it): writes its members again. */
  async heartbeat (): Promise<void> {
    if (this.#redis.status !== 'ready') return
    const added = await this.#run(SCRIPTS.heartbeat, [this.#aliveKey],
      [this.#prefix, this.events, new Date().toISOString(), this.#instance, this.#interval * PRESENCE_MISSED_HEARTBEATS])
    if (added === 1) await this.resync()
  }

  /**
   * Makes what Redis holds for this instance what its tracker holds: members it lost are written
   * again, members it kept after a leave that never reached it (Redis was away) leave now.
   */
  async resync (): Promise<void> {
    const tracker = this.#tracker
    if (tracker === null || this.#redis.status !== 'ready') return
    const local = new Map<string, Set<string>>()
    for (const [channel, clientId] of tracker.members()) {
      const members = local.get(channel)
      if (members === undefined) local.set(channel, new Set([clientId]))
      else members.add(clientId)
    }
    for (const channel of await this.#redis.smembers(this.#chansKey)) {
      for (const clientId of await this.#redis.smembers(this.#key(channel, `pi:${this.#instance}`))) {
        if (local.get(channel)?.has(clientId) !== true) this.left(channel, clientId)
      }
      if (!local.has(channel)) this.socketsChanged(channel, 0)
    }
    for (const [channel, clientId, info] of tracker.members()) this.joined(channel, clientId, info)
    for (const [channel] of tracker.entries()) this.socketsChanged(channel, tracker.counts(channel).clients)
  }

  /** Stops the heartbeat; this instance's members leave the cluster now (when Redis can be reached). */
  async stop (): Promise<void> {
    clearInterval(this.#timer)
    if (this.#redis.status !== 'ready') return
    await this.#run(SCRIPTS.goodbye, [this.#aliveKey], [this.#prefix, this.events, new Date().toISOString(), this.#instance]).catch(() => {})
  }
}
