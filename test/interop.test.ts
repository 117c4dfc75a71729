// The three clients of the "done when", each against the demo server over real sockets: the Node
// `ws` example, the Python aiohttp example, and the browser page in real Chromium. Each subscribes
// and receives a notification sent with POST /notify. docs/clients.md shows these same files.
import { test, type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildDemo } from '../examples/server'
import { postJson, root, spawnChild, type Child } from './child'
import { launchChromium, screenshotOnFailure } from './browser'
import { markedBlocks } from './docs-helper'

const PYTHON = '/usr/bin/python3'

/** A missing client runtime skips loudly on a laptop and fails in CI, where .ci/run installs it. */
function unavailable (t: Test, what: string, install: string): void {
  const message = `${what} is missing: install it with \`${install}\` to run this interop test`
  if (process.env.CI !== undefined && process.env.CI !== '') {
    t.fail(`${message} (CI must run every client; .ci/run installs it)`)
  } else {
    process.stderr.write(`\n*** SKIPPED: ${message}\n\n`)
    t.skip(message, () => {})
  }
}

async function listenDemo (t: Test): Promise<{ http: string, ws: string }> {
  const app = await buildDemo({ eventInterval: 0 })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { http: `http://127.0.0.1:${address.port}`, ws: `ws://127.0.0.1:${address.port}/ws` }
}

const alert = { channel: 'system_alerts', type: 'alert_raised', data: { severity: 'critical', message: 'replica lag 42 s' } }

/** Drives one example client that prints each message as a JSON line. */
async function exerciseLineClient (t: Test, http: string, client: Child): Promise<void> {
  t.match(await client.waitForJson({ type: 'connected' }), { available_channels: Array })
  await client.waitForJson({ type: 'subscribed', channel: 'system_alerts' })
  t.same(await postJson(`${http}/notify`, alert), { status: 200, body: { delivered: 1 } })
  const received = await client.waitForJson({ type: 'alert_raised' })
  t.match(received, { channel: 'system_alerts', data: alert.data, timestamp: String })
  client.process.kill('SIGTERM')
  await client.exited
}

test('Node: examples/node_client.mjs with `ws`', async (t) => {
  const { http, ws } = await listenDemo(t)
  const client = spawnChild(t, process.execPath, [join(root, 'examples', 'node_client.mjs'), ws, 'system_alerts'])
  await exerciseLineClient(t, http, client)
})

test('Python: examples/python_client.py with aiohttp', async (t) => {
  const probe = spawnSync(PYTHON, ['-c', 'import aiohttp'], { encoding: 'utf8' })
  if (probe.status !== 0) return unavailable(t, `${PYTHON} with aiohttp`, 'apt-get install -y python3-aiohttp')
  const { http, ws } = await listenDemo(t)
  const client = spawnChild(t, PYTHON, [join(root, 'examples', 'python_client.py'), ws, 'system_alerts'])
  await exerciseLineClient(t, http, client)
})

test('Browser: examples/browser.html with the browser\'s own WebSocket in Chromium', async (t) => {
  const browser = await launchChromium(t)
  if (browser === undefined) return unavailable(t, 'Chromium (/usr/bin/chromium)', 'apt-get install -y chromium')
  const { http } = await listenDemo(t)
  const page = await browser.newPage()
  const pageErrors: string[] = []
  page.on('pageerror', (err) => pageErrors.push(err.message))

  await screenshotOnFailure(t, page, 'interop-browser', async () => {
    // The page is served by the demo server itself and connects back to it.
    await page.goto(`${http}/browser.html?channels=system_alerts`)
    await page.waitForFunction(() => (globalThis as unknown as { received: Array<{ type: string }> }).received
      .some((message) => message.type === 'subscribed'), undefined, { timeout: 10_000 })
    t.match(await page.textContent('#status'), /subscribed to 1 channel\(s\) at ws:\/\/127\.0\.0\.1:\d+\/ws/)

    t.same(await postJson(`${http}/notify`, alert), { status: 200, body: { delivered: 1 } })
    await page.waitForSelector('#messages li', { timeout: 10_000 })
    t.match(await page.textContent('#messages li'), /system_alerts alert_raised {"severity":"critical","message":"replica lag 42 s"}/)
    const received = await page.evaluate(() => (globalThis as unknown as { received: unknown[] }).received)
    t.match(received.at(-1), { type: 'alert_raised', channel: 'system_alerts', data: alert.data })
  })
  t.same(pageErrors, [], 'no script errors on the page')
})

test('the docs (README.md, docs/*.md) show exactly the example files these tests run', async (t) => {
  const { blocks, duplicates } = markedBlocks(/<!-- file: ([\w./-]+) -->\n```\w*\n([\s\S]*?)```\n/g)
  t.same([...blocks.keys()].sort(), ['examples/browser.html', 'examples/node_client.mjs', 'examples/python_client.py'],
    'one docs block per client, each preceded by <!-- file: PATH -->')
  t.same(duplicates, [], 'each file shown once')
  for (const [file, block] of blocks) {
    t.equal(block, readFileSync(join(root, file), 'utf8'), `docs block == ${file}`)
  }
})
