// This instance's copy of the cluster-wide history kept in Redis. Offsets and epochs are assigned
// in Redis (redis-scripts.ts); the adapter feeds each message here, in offset order, in the same
// synchronous step that delivers it, so resume and `latest` answer synchronously from memory
// exactly as with the in-memory store (history.ts, whose logs and read side this reuses), with
// the cluster's offsets.
import type { ChannelConfig } from './options'
import { LogHistory, type ChannelLog } from './history'

/** The HistoryStore of an instance in a Redis cluster. */
export class MirroredHistory extends LogHistory {
  constructor (channels: ReadonlyMap<string, ChannelConfig>) {
    // No epoch until the first read from Redis: no `since` matches an empty epoch.
    super(channels, () => '')
  }

  /** Offsets are assigned in Redis, never here: the publisher leaves this to the adapter. */
  append (): string {
    throw new Error('fastify-ws-notify: offsets of a Redis cluster are assigned in Redis')
  }

  /** The channel's log, for the adapter that feeds it (`append` with Redis's offsets, `reset`). */
  mirror (channel: string): ChannelLog | undefined {
    return this.logs.get(channel)
  }
}
