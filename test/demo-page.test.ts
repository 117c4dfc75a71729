// The demo page at `/` (examples/demo.html, demo.js, demo.css; issue 16): served by the demo itself
// with a CSP that keeps it there, then in real Chromium: one event per channel through POST /notify
// and what each panel shows (notification, chart point, progress bar, alert severity, recent
// lists), producers' text kept as text, dismiss, text contrast of 4.5:1 or better, 360 px without
// horizontal overflow, the subscribe toggle, and the connection badge across a server restart and
// a dropped socket. It saves test/screenshots/demo.png (docs/demo.png, the picture of docs/demo.md, with
// UPDATE_SCREENSHOTS=1).
import { test, type Test } from 'tap'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { Page } from 'playwright-core'
import { buildDemo } from '../examples/server'
import { postJson } from './child'
import { fetchStats, sleep, waitUntil } from './helper'
import { CHROMIUM, launchChromium, screenshotOnFailure } from './browser'

async function listenDemo (t: Test, port = 0): Promise<{ app: FastifyInstance, http: string, port: number }> {
  const app = await buildDemo({ eventInterval: 0 }) // no sample events: the test sends each one
  t.teardown(() => app.close())
  await app.listen({ port, host: '127.0.0.1' })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { app, http: `http://127.0.0.1:${address.port}`, port: address.port }
}

test('`/` is the demo page: its script and style from the server itself, a CSP that keeps it there', async (t) => {
  const { http } = await listenDemo(t)
  const response = await fetch(`${http}/`)
  t.equal(response.status, 200)
  t.match(response.headers.get('content-type'), /^text\/html/)
  const csp = response.headers.get('content-security-policy') ?? ''
  t.match(csp, /default-src 'none'/)
  t.match(csp, /script-src 'self'/)
  t.match(csp, /connect-src 'self'/)
  t.notMatch(csp, /unsafe-inline|unsafe-eval|https?:/, 'only this origin')
  const page = await response.text()
  const links = [...page.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((match) => match[1])
  t.same(links.filter((link) => !link.startsWith('/') && link !== 'data:,'), [], 'every link and source is on this server')
  t.notMatch(page, /<script>/, 'no inline script (the CSP forbids it)')

  const script = await fetch(`${http}/demo.js`)
  t.match(script.headers.get('content-type'), /^text\/javascript/)
  const code = await script.text()
  t.match(code, /from '\/ws\/client\.js'/, 'the page uses the plugin\'s own client')
  t.notMatch(code, /\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML\(|document\.write\(/, 'no HTML is ever built from data')
  t.match((await fetch(`${http}/demo.css`)).headers.get('content-type'), /^text\/css/)
  t.match(await (await fetch(`${http}/browser.html`)).text(), /new WebSocket\(url\)/, 'the plain-WebSocket page moved to /browser.html')
})

/** WCAG contrast ratio of two `rgb(r, g, b)` colours. */
function contrast (a: string, b: string): number {
  const luminance = (colour: string): number => {
    const [r, g, blue] = (colour.match(/[\d.]+/g) ?? []).slice(0, 3).map((c) => {
      const v = Number(c) / 255
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4
    })
    return 0.2126 * r + 0.7152 * g + 0.0722 * blue
  }
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x)
  return (light + 0.05) / (dark + 0.05)
}

interface Styled { readonly parentElement: Styled | null }
interface Window {
  readonly document: { querySelectorAll: (selector: string) => ArrayLike<Styled> }
  getComputedStyle: (element: Styled) => { color: string, backgroundColor: string }
}

/** Text colour and the first opaque background behind it, of every element matching `selector`. */
async function colours (page: Page, selector: string): Promise<Array<{ color: string, background: string }>> {
  return await page.evaluate((selector) => {
    const window = globalThis as unknown as Window
    return Array.from(window.document.querySelectorAll(selector), (element) => {
      let background = 'rgb(255, 255, 255)'
      for (let node: Styled | null = element; node !== null; node = node.parentElement) {
        const { backgroundColor } = window.getComputedStyle(node)
        if (backgroundColor !== 'transparent' && !/rgba\(.*, 0\)$/.test(backgroundColor)) {
          background = backgroundColor
          break
        }
      }
      return { color: window.getComputedStyle(element).color, background }
    })
  }, selector)
}

/** Attribute of the first element matching `selector`. */
async function attribute (page: Page, selector: string, name: string): Promise<string | null> {
  return await page.locator(selector).first().getAttribute(name)
}

test('in Chromium: every channel in its panel, dismiss, toggle, 360 px, the badge across restarts', async (t) => {
  if (!existsSync(CHROMIUM)) {
    const message = `Chromium not found at ${CHROMIUM}: the demo page was NOT tested in a browser (apt-get install -y chromium)`
    if (process.env.CI !== undefined && process.env.CI !== '') return t.fail(`${message} (CI must run it; .ci/run installs it)`)
    process.stderr.write(`\n*** SKIPPED: ${message} ***\n\n`)
    t.skip(message, () => {})
    return
  }
  let demo = await listenDemo(t)
  const { http, port } = demo
  const post = async (channel: string, type: string, data: unknown): Promise<unknown> => {
    const response = await postJson(`${http}/notify`, { channel, type, data })
    t.equal(response.status, 200, `POST /notify ${channel} ${type}`)
    return response.body.delivered
  }

  const browser = await launchChromium(t)
  if (browser === undefined) throw new Error('Chromium could not be launched')
  const page = await browser.newPage({ viewport: { width: 1280, height: 720 } })
  const problems: string[] = []
  const requested: string[] = []
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`))
  page.on('console', (message) => { if (message.type() === 'error') problems.push(`console: ${message.text()}`) })
  page.on('request', (request) => {
    const url = new URL(request.url())
    if (url.origin !== http && url.protocol !== 'data:') problems.push(`request beyond the server: ${request.url()}`)
    requested.push(url.pathname)
  })

  await screenshotOnFailure(t, page, 'demo', async () => {
    await page.goto(`${http}/`)
    await page.waitForSelector('#connection[data-state="connected"]', { timeout: 10_000 })
    t.equal(await page.textContent('#connection'), 'connected')
    await waitUntil(async () => await page.locator('.panel[data-subscription="subscribed"]').count() === 6, 'every panel is subscribed', 10_000)
    t.ok(requested.includes('/ws/client.js'), 'the page loaded the plugin\'s client from /ws/client.js')

    // error_firewall: the replaced service's own example, then a producer's markup, shown as text.
    t.equal(await post('error_firewall', 'error_blocked', { error_id: 'ios_build_no_device_iphone15_17.0', solution: 'use iPhone 15 Pro (iOS 17.2)', timestamp: '2025-11-20T14:30:00' }), 1)
    const hostile = '<img src=x onerror="document.title=\'pwned\'">'
    t.equal(await post('error_firewall', 'error_blocked', { error_id: hostile, solution: '<b>run as root</b>' }), 1)
    await waitUntil(async () => await page.locator('.notification').count() === 2, 'two notifications')
    const first = page.locator('.notification').last()
    t.equal(await first.locator('.error-id').textContent(), 'ios_build_no_device_iphone15_17.0', 'the error id')
    t.equal(await first.locator('.solution').textContent(), 'use iPhone 15 Pro (iOS 17.2)', 'the solution')
    t.equal(await page.locator('.notification').first().locator('.error-id').textContent(), hostile, 'markup in data is shown as text')
    t.equal(await page.locator('.notification img, .notification b').count(), 0, 'and never becomes elements')
    await page.getByRole('button', { name: `Dismiss ${hostile}` }).click()
    await waitUntil(async () => await page.locator('.notification').count() === 1, 'the dismissed notification is gone')
    t.equal(await page.locator('.notification .error-id').textContent(), 'ios_build_no_device_iphone15_17.0', 'the other stays')
    t.not(await page.title(), 'pwned')

    // db_pool_stats: each resize is a point of the chart at its new_size; smaller is lower.
    t.equal(await post('db_pool_stats', 'pool_resized', { old_size: 20, new_size: 30, reason: 'high utilization', utilization: '85%' }), 1)
    t.equal(await post('db_pool_stats', 'pool_resized', { old_size: 30, new_size: 10, reason: 'low utilization', utilization: '30%' }), 1)
    await page.waitForSelector('.chart circle[data-new-size="10"]', { timeout: 5000 })
    t.equal(await page.locator('.chart circle').count(), 2, 'one point per resize')
    const cy = async (size: number): Promise<number> => Number(await attribute(page, `.chart circle[data-new-size="${size}"]`, 'cy'))
    t.ok(await cy(10) > await cy(30), 'the smaller pool is drawn lower')
    t.match(await page.getAttribute('.chart .line', 'points'), /^[\d.]+,[\d.]+( [\d.]+,[\d.]+){2}$/, 'a step line through both')
    t.equal(await page.textContent('.pool-now'), '10 connections, was 30 · low utilization · 30% used')

    // vector_search: a bar per query_id at its percent; past 100 the bar is full and the number shown.
    t.equal(await post('vector_search', 'search_progress', { query_id: 'q-1', progress: 40, status: 'searching' }), 1)
    t.equal(await post('vector_search', 'search_progress', { query_id: 'q-2', progress: 12.5, status: 'searching' }), 1)
    const bar = (id: string): string => `[role="progressbar"][aria-label="Search ${id}"]`
    await page.waitForSelector(bar('q-2'), { timeout: 5000 })
    t.equal(await attribute(page, bar('q-1'), 'aria-valuenow'), '40')
    t.equal(await attribute(page, `${bar('q-1')} .fill`, 'style'), 'width: 40%;')
    t.equal(await attribute(page, bar('q-2'), 'aria-valuenow'), '12.5')
    t.equal(await post('vector_search', 'search_progress', { query_id: 'q-1', progress: 112.5, status: 'completed' }), 1)
    await page.waitForSelector('.search.completed', { timeout: 5000 })
    t.equal(await page.locator('[role="progressbar"]').count(), 2, 'one bar per query')
    t.equal(await attribute(page, bar('q-1'), 'aria-valuenow'), '100', 'clamped for the bar')
    t.equal(await attribute(page, bar('q-1'), 'aria-valuetext'), '112.5%, completed')
    t.equal(await attribute(page, `${bar('q-1')} .fill`, 'style'), 'width: 100%;')
    t.equal(await page.locator('.search.completed .percent').textContent(), '112.5% · completed', 'the number itself is shown')

    // system_alerts: by severity; without severity or message, the JSON.
    t.equal(await post('system_alerts', 'alert_raised', { severity: 'info', message: 'nightly backup done' }), 1)
    t.equal(await post('system_alerts', 'alert_raised', { severity: 'warning', message: 'disk 85% full on db-2' }), 1)
    t.equal(await post('system_alerts', 'alert_raised', { severity: 'critical', message: 'replica lag 42 s' }), 1)
    t.equal(await post('system_alerts', 'disk_report', { disk: '/var', free: '3%' }), 1)
    await waitUntil(async () => await page.locator('.alert').count() === 4, 'four alerts')
    t.equal(await page.locator('.alert.severity-critical .text').textContent(), 'replica lag 42 s')
    t.equal(await page.locator('.alert.severity-critical .severity').textContent(), 'critical')
    t.equal(await page.locator('.alert.severity-warning .text').textContent(), 'disk 85% full on db-2')
    t.equal(await page.locator('.alert.severity-info .text').textContent(), 'nightly backup done')
    t.equal(await page.locator('.alert.severity-unknown .severity').textContent(), 'disk_report', 'no severity: the type')
    t.equal(await page.locator('.alert.severity-unknown .text').textContent(), 'disk: /var · free: 3%', 'no message: the data')
    const colour = async (severity: string): Promise<string> => await page.locator(`.alert.severity-${severity}`).evaluate((node) =>
      (globalThis as unknown as { getComputedStyle: (n: unknown) => { borderLeftColor: string } }).getComputedStyle(node).borderLeftColor)
    t.not(await colour('critical'), await colour('info'), 'severities have their own colour')

    // ai_analysis and memory_updates: recent events, type and data.
    t.equal(await post('ai_analysis', 'analysis_complete', { analysis_id: 'a-1', summary: 'no anomalies found', confidence: 0.93 }), 1)
    t.equal(await post('memory_updates', 'memory_updated', { key: 'session:summary', version: 3 }), 1)
    await page.waitForSelector('[data-channel="memory_updates"] .event', { timeout: 5000 })
    await page.waitForSelector('[data-channel="ai_analysis"] .event', { timeout: 5000 })
    t.equal(await page.locator('[data-channel="ai_analysis"] .event .type').textContent(), 'analysis_complete')
    t.equal(await page.locator('[data-channel="ai_analysis"] .event .data').textContent(), 'analysis_id: a-1 · summary: no anomalies found · confidence: 0.93')
    t.match(await page.locator('[data-channel="memory_updates"] .event').textContent(), /memory_updated.*key: session:summary · version: 3/)

    // Every kind of text on the page reads at 4.5:1 or better against what is behind it.
    const texts = ['#connection', 'h1 span', '.hint', 'h2', 'h2 code', '.toggle span', '.notification .error-id', '.notification .solution',
      '.notification time', '.pool-now', '.search-head', '.search-head .percent', '.search.completed .percent', '.alert .severity', '.alert .text', '.alert time',
      '.event .type', '.event .data', '.event time', 'footer', 'footer a']
    for (const selector of texts) {
      const found = await colours(page, selector)
      t.ok(found.length > 0, `${selector} is on the page`)
      const worst = Math.min(...found.map(({ color, background }) => contrast(color, background)))
      t.ok(worst >= 4.5, `${selector}: contrast ${worst.toFixed(2)}:1 >= 4.5:1`)
    }

    // A little more history for the picture: the pool breathing, another search, another error.
    for (const [oldSize, newSize] of [[10, 16], [16, 24], [24, 20], [20, 32], [32, 28]]) {
      await sleep(40)
      t.equal(await post('db_pool_stats', 'pool_resized', { old_size: oldSize, new_size: newSize, reason: newSize > oldSize ? 'high utilization' : 'low utilization', utilization: `${newSize * 3}%` }), 1)
    }
    t.equal(await post('vector_search', 'search_progress', { query_id: 'q-3', progress: 67.3, status: 'searching' }), 1)
    t.equal(await post('error_firewall', 'error_blocked', { error_id: 'android_emulator_api_34_timeout', solution: 'use API 33 image with 4 GB RAM' }), 1)
    await page.waitForSelector('.chart circle[data-new-size="28"]', { timeout: 5000 })
    await waitUntil(async () => await page.locator('.notification').count() === 2 && await page.locator('.search').count() === 3, 'the picture\'s events arrived')
    await page.mouse.move(0, 0)

    // The picture of docs/demo.md: refreshed only on request (UPDATE_SCREENSHOTS=1), so a test run never
    // modifies a tracked file; otherwise kept beside the failure screenshots.
    const update = process.env.UPDATE_SCREENSHOTS === '1'
    mkdirSync(join(__dirname, 'screenshots'), { recursive: true })
    await page.screenshot({ path: join(__dirname, 'screenshots', 'demo.png'), fullPage: true })
    if (update) await page.screenshot({ path: join(__dirname, '..', 'docs', 'demo.png'), fullPage: true })

    // 360 px wide: no horizontal scrolling, even with long unbroken producer text.
    t.equal(await post('memory_updates', 'memory_updated', { key: 'embedding:cache', digest: 'f'.repeat(96) }), 1)
    t.equal(await post('vector_search', 'search_progress', { query_id: 'q'.repeat(80), progress: 5, status: 'searching' }), 1)
    await waitUntil(async () => await page.locator('[data-channel="memory_updates"] .event').count() === 2 && await page.locator('.search').count() === 4, 'the long texts arrived')
    await page.setViewportSize({ width: 360, height: 800 })
    const scrollWidth = async (): Promise<number> => await page.evaluate(() =>
      (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth)
    t.ok(await scrollWidth() <= 360, `no horizontal overflow at 360 px (scrollWidth ${await scrollWidth()})`)
    await page.setViewportSize({ width: 1280, height: 720 })

    // The toggle: off leaves the channel (the server has no subscriber left), on joins it again.
    const alertsToggle = page.getByLabel('Subscribed to system_alerts')
    t.ok(await alertsToggle.isChecked())
    await alertsToggle.uncheck()
    await waitUntil(async () => (await fetchStats(http)).channel_stats.system_alerts === undefined, 'the server sees the page leave system_alerts')
    t.equal(await attribute(page, '[data-channel="system_alerts"]', 'data-subscription'), 'off')
    t.equal(await post('system_alerts', 'alert_raised', { severity: 'critical', message: 'while off' }), 0, 'delivered to nobody')
    t.equal(await post('ai_analysis', 'analysis_complete', { analysis_id: 'a-2' }), 1)
    await waitUntil(async () => await page.locator('[data-channel="ai_analysis"] .event').count() === 2, 'a later event on another channel arrived')
    t.equal(await page.locator('.alert').count(), 4, 'nothing new in the switched-off panel')
    await alertsToggle.check()
    await page.waitForSelector('[data-channel="system_alerts"][data-subscription="subscribed"]', { timeout: 5000 })
    t.equal(await post('system_alerts', 'alert_raised', { severity: 'warning', message: 'back on' }), 1)
    await waitUntil(async () => await page.locator('.alert').count() === 5, 'switched on again: alerts arrive')
    t.equal(await page.locator('.alert .text').first().textContent(), 'back on')
    t.same(problems, [], 'no page error, no console error, no request beyond the server')

    // The server restarts on the same port: reconnecting, then connected again, from a new history.
    await demo.app.close()
    await page.waitForSelector('#connection[data-state="reconnecting"]', { timeout: 5000 })
    t.equal(await page.textContent('#connection'), 'reconnecting…')
    demo = await listenDemo(t, port)
    await page.waitForSelector('#connection[data-state="connected"]', { timeout: 15_000 })
    t.match(await page.textContent('#connection'), /^reconnected/, 'the badge says it reconnected')
    await waitUntil(async () => (await fetchStats(http)).total_channels === 6, 'the page subscribed again to every channel', 10_000)
    t.equal(await post('error_firewall', 'error_blocked', { error_id: 'after-restart', solution: 'none needed' }), 1)
    await page.waitForSelector('.notification:has-text("after-restart")', { timeout: 5000 })

    // The socket drops but the server stays: every channel resumes from its history, nothing missed.
    for (const socket of demo.app.websocketServer.clients) socket.terminate()
    await page.waitForSelector('#connection[data-state="resumed"]', { timeout: 15_000 })
    t.equal(await page.textContent('#connection'), 'resumed · nothing missed')
    // While the server is down, a refused reconnect is logged by Chromium, and so may be the
    // client's one HTTP probe of the same URL (is it a 401/403 or just down?): both are expected.
    const expected = (problem: string): boolean => problem.startsWith('console: WebSocket connection') ||
      problem === 'console: Failed to load resource: net::ERR_CONNECTION_REFUSED'
    t.same(problems.filter((problem) => !expected(problem)), [], 'only the refused reconnects (and their probes) were logged')
  })
})
