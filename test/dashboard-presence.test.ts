// The dashboard lists the members of presence channels (issue 13): in real Chromium, the section
// shows who is on each presence channel and is hidden on a registration without presence.
import { test, type Test } from 'tap'
import { build, connect, waitUntil } from './helper'
import { launchChromium, screenshotOnFailure } from './browser'

const channels = { system_alerts: { presence: true }, error_firewall: {} }

async function browserOrSkip (t: Test): Promise<Awaited<ReturnType<typeof launchChromium>>> {
  const browser = await launchChromium(t)
  if (browser !== undefined) return browser
  const message = 'Chromium not found: the dashboard\'s presence section was NOT tested in a browser'
  if (process.env.CI !== undefined && process.env.CI !== '') t.fail(`${message} (CI must run it)`)
  else process.stderr.write(`\n*** SKIPPED: ${message} ***\n\n`)
  return undefined
}

test('the page settings name the presence channels and route, not the others', async (t) => {
  const { http } = await build(t, { channels, dashboard: true })
  t.match(await (await fetch(`${http}/ws/dashboard`)).text(), /"presenceUrl":"\/ws\/presence","presence":\["system_alerts"\]/)
})

test('in Chromium: members of presence channels are listed; no section without presence', async (t) => {
  const { url, http } = await build(t, { channels, dashboard: true, presence: { grace: 0 } })
  for (const id of ['ops-board-1', 'ops-board-2']) {
    const client = await connect(t, url, `?client_id=${id}`)
    await client.request({ action: 'subscribe', channel: 'system_alerts' })
  }
  const browser = await browserOrSkip(t)
  if (browser === undefined) return
  const page = await browser.newPage()
  await screenshotOnFailure(t, page, 'dashboard-presence', async () => {
    await page.goto(`${http}/ws/dashboard`)
    const row = '#presence tr[data-channel="system_alerts"]'
    await page.waitForSelector(`${row} .count[data-value="2"]`, { timeout: 5000 })
    t.match(await page.textContent(`${row} .members`), /ops-board-1, ops-board-2|ops-board-2, ops-board-1/)
    t.equal(await page.locator('#presence tr').count(), 1, 'only the presence channel')
    t.ok(await page.isVisible('#presence-section'))

    const plain = await build(t, { channels: ['system_alerts'], dashboard: true })
    await page.goto(`${plain.http}/ws/dashboard`)
    await page.waitForSelector('#status.live', { timeout: 5000 })
    await waitUntil(async () => !(await page.isVisible('#presence-section')), 'the section is hidden')
    t.equal(await page.locator('#presence tr').count(), 0)
  })
})
