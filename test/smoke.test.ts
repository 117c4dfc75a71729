import { test } from 'tap'
import { build, connect } from './helper'

test('a subscriber receives a notification', async (t) => {
  const { app, url } = await build(t)
  const client = await connect(t, url, '?client_id=alice')
  t.equal(client.frames[0].type, 'connected')
  t.same((await client.request({ action: 'subscribe', channel: 'alpha', id: 1 })), { type: 'subscribed', channel: 'alpha', id: 1, timestamp: client.frames[1].timestamp })
  t.equal(await app.notify('alpha', 'hello', { n: 1 }), 1)
  const [, , note] = await client.waitFor(3)
  t.match(note, { type: 'hello', channel: 'alpha', data: { n: 1 } })
})
