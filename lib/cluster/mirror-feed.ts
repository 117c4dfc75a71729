// The order of a cluster's history messages on one instance, without Redis: each history
// channel's messages arrive from the broker's pub/sub tagged with their epoch and offset, and are
// applied to this instance's copy (redis-history.ts, MirroredHistory) and delivered strictly in
// offset order, each once, in one synchronous step per message. What this decides:
//   - the next offset is applied at once; one already applied is dropped (a duplicate);
//   - anything out of order, or of another epoch, waits, and the channel's history is read again
//     from the broker (`read`, from the copy's last offset); every message received during a read
//     waits for it too (pub/sub delivers in order, so they follow what the read returns);
//   - a read that shows a hole (the broker's history was trimmed past what this instance has, or
//     its epoch changed: the broker lost its data) restarts the copy there, and this instance's
//     subscribers of the channel must resume (`reset`: the transport closes them with 1012), so a
//     hole is never silent. Not on a copy's first read, when nobody here knew the channel.
// The transport (redis-adapter.ts) turns its pub/sub and its script into the plain calls below;
// test/mirror-feed.test.ts drives it directly.
import type { ChannelLog } from '../core/history'
import type { ChannelConfig } from '../core/config-types'
import { isChannelPattern } from '../core/declared-channels'
import type { MirroredHistory } from './redis-history'

/** One message of a history channel as the broker gave it (pub/sub or a read of its history). */
export interface Received {
  readonly epoch: string
  readonly offset: number
  /** The publisher's tag, to settle its notify(). */
  readonly tag: string
  readonly json: string
  /** When it was kept, in ms (ttl). */
  readonly time: number
}

/** What a read of a channel's history in the broker returned. */
export interface HistoryRead {
  readonly epoch: string
  /** The channel's latest offset. */
  readonly latest: number
  /** What the broker keeps from the offset asked (everything when the epoch was not the one known), oldest first. */
  readonly messages: readonly Received[]
}

/** What the feed needs from its transport and its registration. */
export interface FeedTransport {
  /** Reads where the channel's history stands and what it keeps from `from` on (all when `epoch` is not the broker's). */
  read (channel: string, epoch: string, from: number): Promise<HistoryRead>
  /** A message just applied to the copy, in offset order: deliver it on this instance. */
  deliver (channel: string, message: Received): void
  /** A message that is not delivered (already applied, or of an epoch gone): its publisher is settled. */
  skip (message: Received): void
  /** The copy restarted after a hole: this instance's subscribers of the channel must resume. */
  reset (channel: string): void
  /** Whether a socket here is subscribed to the channel (a namespace copy in use is not dropped). */
  hasSubscribers (channel: string): boolean
}

/** Per-channel state of the feed. */
interface Feed {
  readonly mirror: ChannelLog
  /** Messages received during a read, or out of order. */
  held: Received[]
  reading: boolean
  readAgain: boolean
  /** A namespace channel's first read, until it is done (`load`). */
  loading: Promise<void> | null
}

/** Orders every history channel's messages into its copy (see the top of this file). */
export class MirrorFeed {
  readonly #history: MirroredHistory
  readonly #transport: FeedTransport
  readonly #feeds = new Map<string, Feed>()

  constructor (history: MirroredHistory, channels: ReadonlyMap<string, ChannelConfig>, transport: FeedTransport) {
    this.#history = history
    this.#transport = transport
    for (const [name, config] of channels) {
      // A namespace's channels get their feeds when first subscribed here (load).
      if (config.history !== null && !isChannelPattern(name)) this.#feeds.set(name, newFeed(history.mirror(name) as ChannelLog))
    }
    history.feeds = {
      inUse: (channel) => transport.hasSubscribers(channel) || this.#feeds.get(channel)?.reading === true,
      dropped: (channel) => { this.#feeds.delete(channel) },
      load: (channel) => this.load(channel)
    }
  }

  /** Whether this instance keeps a copy of the channel (declared with history, or a namespace channel loaded). */
  has (channel: string): boolean {
    return this.#feeds.has(channel)
  }

  /**
   * A message of the channel from pub/sub. The next in order is applied at once; during a read
   * it waits; one out of order or of another epoch waits and starts a read. Ignored when this
   * instance keeps no copy of the channel (the caller delivers it without one).
   */
  receive (channel: string, message: Received): void {
    const feed = this.#feeds.get(channel)
    if (feed === undefined) return
    const { mirror } = feed
    if (feed.reading) {
      feed.held.push(message)
    } else if (message.epoch === mirror.epoch && message.offset === mirror.offset + 1) {
      this.#apply(channel, mirror, message)
    } else if (message.epoch === mirror.epoch && message.offset <= mirror.offset) {
      this.#transport.skip(message)
    } else {
      feed.held.push(message)
      this.read(channel).catch(() => {})
    }
  }

  /** Reads every copy again (at start; after the broker came back). Rejects when one read failed. */
  async readAll (): Promise<void> {
    await Promise.all([...this.#feeds.keys()].map(async (channel) => await this.read(channel)))
  }

  /** Keeps and delivers one message: one synchronous step (see history.ts, subscribeWithHistory). */
  #apply (channel: string, mirror: ChannelLog, message: Received): void {
    mirror.append(message.json, message.time)
    this.#transport.deliver(channel, message)
  }

  /**
   * Reads the channel's epoch, latest offset and what the broker keeps after the copy's last
   * offset, then applies it and the held messages in offset order. One read per channel at a
   * time; a request during a read runs another after it. A failed read keeps what it held for
   * the next one (the transport reads again when the broker is back: no busy loop).
   */
  async read (channel: string): Promise<void> {
    const feed = this.#feeds.get(channel)
    // A namespace channel's copy dropped meanwhile: nothing to feed.
    if (feed === undefined) return
    if (feed.reading) {
      feed.readAgain = true
      return
    }
    feed.reading = true
    const { mirror } = feed
    try {
      const { epoch, latest, messages: kept } = await this.#transport.read(channel, mirror.epoch, mirror.offset + 1)
      if (epoch !== mirror.epoch) this.#holeAt(channel, mirror, epoch, (kept.length > 0 ? kept[0].offset : latest + 1) - 1)
      const messages = [...kept]
      const held = feed.held
      feed.held = []
      for (const message of held) {
        if (message.epoch === epoch) {
          messages.push(message)
        } else {
          // Older than this read (dropped) or newer (the next read finds it in the broker).
          this.#transport.skip(message)
          feed.readAgain = true
        }
      }
      messages.sort((a, b) => a.offset - b.offset)
      for (const message of messages) {
        if (message.offset <= mirror.offset) {
          this.#transport.skip(message)
          continue
        }
        // Gone from the broker before this instance got it (trimmed while it was away).
        if (message.offset > mirror.offset + 1) this.#holeAt(channel, mirror, epoch, message.offset - 1)
        this.#apply(channel, mirror, message)
      }
    } finally {
      feed.reading = false
    }
    if (feed.readAgain) {
      feed.readAgain = false
      await this.read(channel)
    }
  }

  /**
   * A namespace channel's copy, made and read from the broker when a socket here first subscribes
   * to it (MirroredHistory.open); resolves once resume and `latest` can answer from it. Undefined
   * when the channel needs no read (declared, or its copy is here already).
   */
  load (channel: string): Promise<void> | undefined {
    const known = this.#feeds.get(channel)
    if (known !== undefined) return known.loading ?? undefined
    const mirror = this.#history.open(channel)
    if (mirror === undefined) return undefined
    const feed = newFeed(mirror)
    this.#feeds.set(channel, feed)
    feed.loading = this.read(channel).then(() => { feed.loading = null }, (err: unknown) => {
      // Not read: forgotten, so the next subscribe tries again.
      if (this.#feeds.get(channel) === feed) {
        this.#feeds.delete(channel)
        this.#history.forget(channel)
      }
      throw err
    })
    return feed.loading
  }

  /** The copy cannot continue without a hole: it starts over at `offset` of `epoch`; subscribers resume. */
  #holeAt (channel: string, mirror: ChannelLog, epoch: string, offset: number): void {
    const known = mirror.epoch !== ''
    mirror.reset(epoch, offset)
    if (known) this.#transport.reset(channel)
  }
}

function newFeed (mirror: ChannelLog): Feed {
  return { mirror, held: [], reading: false, readAgain: false, loading: null }
}
