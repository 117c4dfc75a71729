// The order of a cluster's history messages on one instance (mirror-feed.ts), without Redis: the
// transport is a recording stand-in whose reads of the broker's history resolve when a test says.
// Out of order, duplicates, holes, an epoch change and reads that resolve late: what is delivered,
// in which order, when, and when subscribers are told to resume.
import { test } from 'tap'
import { MirrorFeed, type FeedTransport, type HistoryRead, type Received } from '../lib/cluster/mirror-feed'
import { MirroredHistory } from '../lib/cluster/redis-history'
import { buildConfig } from '../lib/config/options'

interface PendingRead {
  readonly channel: string
  readonly epoch: string
  readonly from: number
  resolve (read: HistoryRead): void
  reject (err: Error): void
}

/** A feed over a recording transport: `reads` waits for the test to answer each read. */
function setup (channels: Record<string, object> = { kept: { history: { size: 10 } } }) {
  const config = buildConfig({ channels, authorize: () => true })
  const history = new MirroredHistory(config.channels)
  const delivered: Array<[string, number]> = []
  const skipped: number[] = []
  const resets: string[] = []
  const reads: PendingRead[] = []
  const subscribed = new Set<string>()
  const transport: FeedTransport = {
    read: async (channel, epoch, from) => await new Promise<HistoryRead>((resolve, reject) => { reads.push({ channel, epoch, from, resolve, reject }) }),
    deliver: (channel, message) => { delivered.push([channel, message.offset]) },
    skip: (message) => { skipped.push(message.offset) },
    reset: (channel) => { resets.push(channel) },
    hasSubscribers: (channel) => subscribed.has(channel)
  }
  const feed = new MirrorFeed(history, config.channels, transport)
  return { feed, history, delivered, skipped, resets, reads, subscribed }
}

const message = (offset: number, epoch = 'E'): Received => ({ epoch, offset, tag: `t${offset}`, json: `{"offset":${offset}}`, time: Date.now() })
const answer = (epoch: string, latest: number, offsets: number[]): HistoryRead => ({ epoch, latest, messages: offsets.map((offset) => message(offset, epoch)) })
/** Lets the feed continue after a read resolved (its awaits). */
const settle = async (): Promise<void> => { for (let i = 0; i < 5; i++) await Promise.resolve() }

/** A feed whose first read (at start) found epoch E at `latest`, nothing kept. */
async function started (latest = 0, channels?: Record<string, object>) {
  const state = setup(channels)
  const all = state.feed.readAll()
  state.reads.shift()?.resolve(answer('E', latest, []))
  await all
  return state
}

test('the first read takes the broker epoch and offset, delivers what it keeps, and resets nobody', async (t) => {
  const { feed, history, delivered, resets, reads } = setup()
  const all = feed.readAll()
  t.equal(reads.length, 1)
  t.same({ channel: reads[0].channel, epoch: reads[0].epoch, from: reads[0].from }, { channel: 'kept', epoch: '', from: 1 }, 'nothing known yet')
  reads.shift()?.resolve(answer('E', 3, [2, 3]))
  await all
  t.same(delivered, [['kept', 2], ['kept', 3]])
  t.same(history.position('kept'), { epoch: 'E', offset: 3 })
  t.same(history.after('kept', { epoch: 'E', offset: 1 }), ['{"offset":2}', '{"offset":3}'])
  t.same(resets, [], 'no subscriber here knew the channel')
})

test('in order: each message is kept and delivered at once, in the same call', async (t) => {
  const { feed, history, delivered, reads } = await started()
  feed.receive('kept', message(1))
  t.same(delivered, [['kept', 1]], 'synchronously')
  t.same(history.position('kept'), { epoch: 'E', offset: 1 }, 'kept in the same step')
  feed.receive('kept', message(2))
  t.same(delivered.map(([, offset]) => offset), [1, 2])
  t.equal(reads.length, 0, 'no read needed')
})

test('a duplicate is skipped, never delivered twice', async (t) => {
  const { feed, delivered, skipped, reads } = await started()
  feed.receive('kept', message(1))
  feed.receive('kept', message(2))
  feed.receive('kept', message(1))
  feed.receive('kept', message(2))
  t.same(delivered.map(([, offset]) => offset), [1, 2])
  t.same(skipped, [1, 2])
  t.equal(reads.length, 0)
})

test('out of order: the message waits, the missing one is read from the broker, both go out in order', async (t) => {
  const { feed, delivered, resets, reads } = await started()
  feed.receive('kept', message(1))
  feed.receive('kept', message(3))
  t.same(delivered.map(([, offset]) => offset), [1], '3 waits for 2')
  t.equal(reads.length, 1)
  t.same({ epoch: reads[0].epoch, from: reads[0].from }, { epoch: 'E', from: 2 }, 'read from the first offset missing')
  feed.receive('kept', message(4))
  t.same(delivered.map(([, offset]) => offset), [1], 'what arrives during a read waits for it')
  reads.shift()?.resolve(answer('E', 4, [2, 3, 4]))
  await settle()
  t.same(delivered.map(([, offset]) => offset), [1, 2, 3, 4], 'in order, each once')
  t.same(resets, [])
  feed.receive('kept', message(5))
  t.same(delivered.at(-1), ['kept', 5], 'live again')
})

test('a read that resolves late: messages received meanwhile are merged with it by offset, each once', async (t) => {
  const { feed, delivered, skipped, reads } = await started(2)
  feed.receive('kept', message(4))
  t.equal(reads.length, 1)
  // While the read is in flight, pub/sub brings 3, 5, 6 and 4 again; the read also returns 3..6.
  for (const offset of [3, 5, 6, 4]) feed.receive('kept', message(offset))
  feed.receive('kept', message(7))
  t.same(delivered, [])
  reads.shift()?.resolve(answer('E', 6, [3, 4, 5, 6]))
  await settle()
  t.same(delivered.map(([, offset]) => offset), [3, 4, 5, 6, 7])
  t.same(skipped.sort((a, b) => a - b), [3, 4, 4, 5, 6], 'the second copies are skipped')
  t.equal(reads.length, 0, 'no further read')
})

test('a hole (trimmed from the broker while away): the copy restarts past it and subscribers are reset', async (t) => {
  const { feed, history, delivered, resets, reads } = await started()
  feed.receive('kept', message(1))
  feed.receive('kept', message(5))
  reads.shift()?.resolve(answer('E', 5, [4, 5]))
  await settle()
  t.same(resets, ['kept'], 'told once: 2 and 3 are gone')
  t.same(delivered.map(([, offset]) => offset), [1, 4, 5])
  t.same(history.position('kept'), { epoch: 'E', offset: 5 })
  t.equal(history.after('kept', { epoch: 'E', offset: 1 }), null, 'a resume from before the hole is not recovered')
  t.same(history.after('kept', { epoch: 'E', offset: 3 }), ['{"offset":4}', '{"offset":5}'])
})

test('an epoch change (the broker lost its data): read, reset, then the new epoch from its first offset', async (t) => {
  const { feed, history, delivered, resets, reads } = await started()
  feed.receive('kept', message(1))
  feed.receive('kept', message(1, 'F'))
  t.same(delivered.map(([, offset]) => offset), [1], 'another epoch waits')
  t.equal(reads[0].epoch, 'E')
  reads.shift()?.resolve(answer('F', 1, [1]))
  await settle()
  t.same(resets, ['kept'])
  t.same(delivered, [['kept', 1], ['kept', 1]], "the new epoch's 1, once")
  t.same(history.position('kept'), { epoch: 'F', offset: 1 })
  t.equal(history.after('kept', { epoch: 'E', offset: 1 }), null)
})

test('a message of another epoch held during a read is skipped and read again', async (t) => {
  const { feed, delivered, skipped, reads } = await started()
  feed.receive('kept', message(2))
  feed.receive('kept', message(1, 'G'))
  reads.shift()?.resolve(answer('E', 2, [1, 2]))
  await settle()
  t.same(delivered.map(([, offset]) => offset), [1, 2])
  t.same(skipped, [1, 2], "the other epoch's publisher is settled, and the second copy of 2")
  t.equal(reads.length, 1, 'a second read follows, which finds it in the broker')
  t.same({ epoch: reads[0].epoch, from: reads[0].from }, { epoch: 'E', from: 3 })
  reads.shift()?.resolve(answer('G', 1, [1]))
  await settle()
  t.same(delivered.at(-1), ['kept', 1])
})

test('one read per channel at a time; a request during it runs one more after it', async (t) => {
  const { feed, reads } = await started()
  const first = feed.read('kept')
  const second = feed.read('kept')
  t.equal(reads.length, 1)
  await second
  reads.shift()?.resolve(answer('E', 0, []))
  await settle()
  t.equal(reads.length, 1, 'the one asked for meanwhile')
  reads.shift()?.resolve(answer('E', 0, []))
  await first
  t.equal(reads.length, 0)
})

test('a failed read keeps what it held; the next read delivers it', async (t) => {
  const { feed, delivered, reads } = await started()
  feed.receive('kept', message(2))
  reads.shift()?.reject(new Error('broker away'))
  await settle()
  t.same(delivered, [])
  t.equal(reads.length, 0, 'no busy loop: the transport reads again when the broker is back')
  const again = feed.readAll()
  reads.shift()?.resolve(answer('E', 2, [1]))
  await again
  t.same(delivered.map(([, offset]) => offset), [1, 2])
})

test('readAll rejects when a read fails', async (t) => {
  const { feed, reads } = setup()
  const all = feed.readAll()
  reads.shift()?.reject(new Error('broker away'))
  await t.rejects(all, /broker away/)
})

test('a namespace channel: no copy until loaded; its first read resets nobody; a failed load is forgotten', async (t) => {
  const channels = { 'user:*': { history: { size: 5, channels: 2 } } }
  const { feed, history, delivered, resets, reads } = await started(0, channels)
  t.equal(feed.has('user:1'), false)
  feed.receive('user:1', message(1))
  t.same(delivered, [], 'no copy: the transport delivers it without one')
  const loading = history.load('user:1')
  t.ok(loading instanceof Promise)
  t.equal(history.load('user:1'), loading, 'one load at a time')
  t.equal(reads[0].channel, 'user:1')
  reads.shift()?.resolve(answer('N', 2, [1, 2]))
  await loading
  t.equal(history.load('user:1'), undefined, 'loaded')
  t.same(delivered, [['user:1', 1], ['user:1', 2]])
  t.same(resets, [])
  feed.receive('user:1', message(3, 'N'))
  t.same(delivered.at(-1), ['user:1', 3])

  const failing = history.load('user:2') as Promise<void>
  reads.shift()?.reject(new Error('broker away'))
  await t.rejects(failing, /broker away/)
  t.equal(feed.has('user:2'), false, 'forgotten: the next subscribe tries again')
  t.equal(history.position('user:2'), undefined)
})

test('past history.channels copies, the least recently used one not in use is dropped with its feed', async (t) => {
  const channels = { 'user:*': { history: { size: 5, channels: 2 } } }
  const { feed, history, reads, subscribed } = await started(0, channels)
  for (const name of ['user:1', 'user:2']) {
    const loading = history.load(name) as Promise<void>
    reads.shift()?.resolve(answer('N', 0, []))
    await loading
  }
  subscribed.add('user:1')
  const loading = history.load('user:3') as Promise<void>
  reads.shift()?.resolve(answer('N', 0, []))
  await loading
  t.same(['user:1', 'user:2', 'user:3'].map((name) => feed.has(name)), [true, false, true], 'user:1 has subscribers here: kept')
})
