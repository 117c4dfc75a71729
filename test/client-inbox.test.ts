// The browser client and the inbox (issue 15, part 2): it remembers where the client id's inbox
// stands (from `connected` and each direct message) and sends `inbox_since` on every reconnect by
// itself, so direct messages sent while it was away arrive, each once, in order.
import { test } from 'tap'
import type { FastifyRequest } from 'fastify'
import { build, waitUntil } from './helper'
import { named, open } from './client-helper'
import type { DirectMessage } from '../types/client.mjs' with { 'resolution-mode': 'import' }

async function byToken (request: FastifyRequest): Promise<string | null> {
  return (request.query as { token?: string }).token ?? null
}

test('the client resumes its inbox on reconnect: what was sent while it was away arrives once, in order', async (t) => {
  const { app, url } = await build(t, { authenticate: byToken, inbox: { size: 100 } })
  const { client, events } = await open(t, url, { token: 'alice' }, ['connected', 'disconnected', 'inbox', 'message'])
  await waitUntil(() => client.state === 'open', 'connected')
  t.match(named(events, 'inbox'), [{ offset: 0 }])
  t.notOk('recovered' in (named(events, 'inbox')[0] as object), 'the first connect resumes nothing')
  await app.notifications.sendTo('alice', 'note', { n: 1 })
  await waitUntil(() => named(events, 'message').length === 1, 'the live message')

  // Cut: while the client waits to reconnect, more is sent; the server holds it in the inbox.
  const connects = named(events, 'connected').length
  app.notifications.disconnect('alice', 4100, 'away for a while') // 4100: reconnect after at least a second
  await waitUntil(() => client.state !== 'open', 'disconnected')
  for (let n = 2; n <= 5; n++) await app.notifications.sendTo('alice', 'note', { n })
  await waitUntil(() => named(events, 'connected').length > connects && named(events, 'message').length === 5, 'reconnected and replayed', 10_000)
  const messages = named(events, 'message') as DirectMessage[]
  t.same(messages.map((message) => [message.offset, (message.data as { n: number }).n]), [[1, 1], [2, 2], [3, 3], [4, 4], [5, 5]], 'each once, in order')
  t.match(named(events, 'inbox')[1], { recovered: true, offset: 5 })

  // A cut right after a replay: nothing twice (the client resumes after the last one it saw).
  app.notifications.disconnect('alice', 1011, 'again')
  await waitUntil(() => named(events, 'inbox').length === 3, 'reconnected again')
  t.match(named(events, 'inbox')[2], { recovered: true, offset: 5 })
  await app.notifications.sendTo('alice', 'note', { n: 6 })
  await waitUntil(() => named(events, 'message').length === 6, 'the next live message')
  t.equal((named(events, 'message')[5] as DirectMessage).offset, 6)
})
