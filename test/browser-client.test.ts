// The client in real Chromium: a plain page served by the test server imports /ws/client.js, the
// server drops the connection in the middle of a burst, and the page shows every message once,
// in order. A screenshot is saved to test/screenshots/ when it fails.
import { test } from 'tap'
import Fastify from 'fastify'
import notifications from '../lib/index'
import { waitUntil } from './helper'
import { CHROMIUM, launchChromium, screenshotOnFailure, checkFeed } from './browser'

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>fastify-ws-notify client</title>
<p>state: <b id="state">loading</b>, recovered: <b id="recovered">0</b>, gaps: <b id="gaps">0</b></p>
<ol id="messages"></ol>
<script type="module">
  import { createClient } from '/ws/client.js'
  const client = createClient('/ws', { clientId: 'browser-page', reconnect: { initialDelay: 20, maxDelay: 200 } })
  const count = (id) => { const el = document.getElementById(id); el.textContent = String(Number(el.textContent) + 1) }
  client.on('state', (state) => { document.getElementById('state').textContent = state })
  client.on('recovered', () => count('recovered'))
  client.on('gap', () => count('gaps'))
  await client.subscribe('feed', (message) => {
    const item = document.createElement('li')
    item.textContent = message.offset + ':' + message.data.n
    document.getElementById('messages').append(item)
  })
  window.subscribed = true
</script>`

test('a page imports /ws/client.js and, across a dropped connection, shows every message once, in order', async (t) => {
  const browser = await launchChromium(t)
  if (browser === undefined) {
    const message = `Chromium is not installed at ${CHROMIUM}: apt-get update && apt-get install -y chromium`
    if (process.env.CI !== undefined && process.env.CI !== '') {
      t.fail(`${message} (CI must run the browser test; .ci/run installs it)`)
    } else {
      process.stderr.write(`\n*** SKIPPED browser-client.test.ts: ${message}\n\n`)
      t.skip(message, () => {})
    }
    return
  }
  const app = Fastify()
  await app.register(notifications, { channels: { feed: { history: { size: 1000 } } } })
  app.get('/', async (_request, reply) => await reply.type('text/html; charset=utf-8').send(PAGE))
  t.teardown(() => app.close())
  const http = await app.listen({ port: 0, host: '127.0.0.1' })
  const page = await browser.newPage()
  const errors: string[] = []
  page.on('pageerror', (err) => errors.push(err.message))

  await screenshotOnFailure(t, page, 'browser-client', async () => {
    await page.goto(`${http}/`)
    // Expressions as strings: they run in the page, whose globals this Node program does not type.
    await page.waitForFunction('window.subscribed === true', undefined, { timeout: 10_000 })
    const total = 300
    let cut = 0
    for (let n = 1; n <= total; n++) {
      await app.notify('feed', 'tick', { n })
      if (n === 100 || n === 200) {
        // The second drop waits until the page is back on the channel, so it cuts a live subscription.
        await waitUntil(() => app.notifications.stats().channel_stats.feed === 1, 'the page to be subscribed')
        cut += app.notifications.disconnect('browser-page', 1011, 'dropped by test')
      }
      if (n % 10 === 0) await new Promise((resolve) => setImmediate(resolve))
    }
    t.equal(cut, 2, 'the server dropped the page twice')
    await checkFeed(t, page, async (n) => await app.notify('feed', 'tick', { n }), total, 2, errors)
  })
  await waitUntil(() => app.notifications.stats().total_clients === 1, 'one socket from the page')
})
