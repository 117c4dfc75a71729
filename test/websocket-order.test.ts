// @fastify/websocket registered after this plugin (issue 19.6): refused with an error that names
// the order and the fix, where Fastify's own said only "The decorator 'ws' has already been added!".
import { test } from 'tap'
import Fastify from 'fastify'
import websocket from '@fastify/websocket'
import notifications from '../lib/index'
import { Client, connect } from './helper'

test('@fastify/websocket queued after the plugin fails at ready with FST_WS_NOTIFY_WEBSOCKET_ORDER', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(notifications, { channels: ['orders'] })
  app.register(websocket, { options: { maxPayload: 1024 } })
  await t.rejects(async () => { await app.ready() }, {
    code: 'FST_WS_NOTIFY_WEBSOCKET_ORDER',
    message: /registered after fastify-ws-notify.*Register @fastify\/websocket before fastify-ws-notify/
  })
})

test('@fastify/websocket registered once the plugin has loaded is refused the same way', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(notifications, { channels: ['orders'] })
  await t.rejects(async () => { await app.register(websocket) }, { code: 'FST_WS_NOTIFY_WEBSOCKET_ORDER' })
})

test('@fastify/websocket in a context created after the plugin is refused the same way', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(notifications, { channels: ['orders'] })
  app.register(async (child) => { await child.register(websocket) })
  await t.rejects(async () => { await app.ready() }, { code: 'FST_WS_NOTIFY_WEBSOCKET_ORDER' })
})

test('after the plugin, the app\'s own websocket routes work without registering it again', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(notifications, { channels: ['orders'] })
  app.get('/own', { websocket: true }, (socket) => { socket.send(JSON.stringify({ own: true })) })
  // Other request decorators are left to Fastify.
  app.decorateRequest('tenant', null)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const own = new Client(`ws://127.0.0.1:${port}/own`)
  t.teardown(() => own.ws.terminate())
  t.same(await own.waitFor(1), [{ own: true }])
  const client = await connect(t, `ws://127.0.0.1:${port}`)
  t.equal(client.frames[0].type, 'connected')
})
