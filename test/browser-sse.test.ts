// The browser client over Server-Sent Events (issue 14), in real Chromium with its own
// EventSource: the page is served through a small proxy that refuses WebSocket upgrades (HTTP
// 403), so /ws/client.js falls back to SSE by itself and says so; the proxy then cuts every
// connection (a restart) in the middle of the feed, and the client resumes with last_event_id:
// every message once, in order, no gap.
import { test } from 'tap'
import Fastify from 'fastify'
import notifications from '../lib/index'
import { waitUntil } from './helper'
import { chromiumOrSkip, screenshotOnFailure, checkFeed } from './browser'
import { startRefusingProxy } from './refusing-proxy'

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>fastify-ws-notify client over SSE</title>
<p>transport: <b id="transport">none</b>, state: <b id="state">loading</b>, recovered: <b id="recovered">0</b>, gaps: <b id="gaps">0</b></p>
<p id="reason"></p>
<ol id="messages"></ol>
<script type="module">
  import { createClient } from '/ws/client.js'
  const client = createClient('/ws', { clientId: 'sse-page', reconnect: { initialDelay: 20, maxDelay: 200 } })
  const count = (id) => { const el = document.getElementById(id); el.textContent = String(Number(el.textContent) + 1) }
  client.on('state', (state) => { document.getElementById('state').textContent = state })
  client.on('transport', ({ transport, reason }) => {
    document.getElementById('transport').textContent = transport
    document.getElementById('reason').textContent = reason
  })
  client.on('recovered', () => count('recovered'))
  client.on('gap', () => count('gaps'))
  await client.subscribe('feed', (message) => {
    const item = document.createElement('li')
    item.textContent = message.offset + ':' + message.data.n
    document.getElementById('messages').append(item)
  })
  window.subscribed = client.transport
</script>`

test('behind a proxy that refuses upgrades, the page falls back to SSE and resumes across a cut', async (t) => {
  const browser = await chromiumOrSkip(t, 'browser-sse.test.ts')
  if (browser === undefined) return
  const app = Fastify()
  await app.register(notifications, { channels: { feed: { history: { size: 1000 } } }, sse: true })
  app.get('/', async (_request, reply) => await reply.type('text/html; charset=utf-8').send(PAGE))
  t.teardown(() => app.close())
  const http = await app.listen({ port: 0, host: '127.0.0.1' })
  const proxy = await startRefusingProxy(http)
  t.teardown(() => proxy.close())
  const page = await browser.newPage()
  const errors: string[] = []
  page.on('pageerror', (err) => errors.push(err.message))

  await screenshotOnFailure(t, page, 'browser-sse', async () => {
    await page.goto(`${proxy.url}/`)
    await page.waitForFunction('window.subscribed !== undefined', undefined, { timeout: 10_000 })
    t.equal(await page.evaluate('window.subscribed'), 'sse', 'the client is on SSE')
    t.equal(await page.textContent('#transport'), 'sse', 'and said so in a transport event')
    t.match(await page.textContent('#reason'), /WebSocket upgrade failed/)
    t.ok(proxy.refusedUpgrades >= 1, 'the proxy refused the upgrade')
    t.match(app.notifications.stats(), { sse_clients: 1, websocket_clients: 0 })
    const total = 200
    for (let n = 1; n <= total; n++) {
      await app.notify('feed', 'tick', { n })
      if (n === 100) {
        await page.waitForFunction('document.querySelectorAll("#messages li").length >= 50', undefined, { timeout: 10_000 })
        const before = app.notifications.stats().total_connections_ever
        proxy.cutAll()
        // The page opens a new stream at once: it can be back before a poll sees none open. Either
        // none is open, or a new one is and the cut one is gone.
        await waitUntil(() => {
          const { sse_clients: open, total_connections_ever: ever } = app.notifications.stats()
          return open === 0 || (ever > before && open === 1)
        }, 'the server saw the stream go')
      }
      if (n % 10 === 0) await new Promise((resolve) => setImmediate(resolve))
    }
    await checkFeed(t, page, async (n) => await app.notify('feed', 'tick', { n }), total, 1, errors)
  })
})
