// Issue 19.1: a dashboard whose stats route refuses it (HTTP 401/403) says "unauthorized", not
// "live" and not a bare error, in real Chromium.
import { test } from 'tap'
import { existsSync } from 'node:fs'
import { build } from './helper'
import { CHROMIUM, launchChromium } from './browser'

test('in Chromium: stats answering 401 or 403 shows "unauthorized"', async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`Chromium not found at ${CHROMIUM}: NOT tested in a browser`, () => {})
    return
  }
  const browser = await launchChromium(t)
  if (browser === undefined) throw new Error('Chromium could not be launched')
  for (const status of [401, 403]) {
    const { http } = await build(t, {
      dashboard: true,
      stats: {
        // The page loads; its stats fetch is refused (a session that expired, a role missing).
        onRequest: async (request, reply) => {
          if (request.url.startsWith('/ws/stats')) await reply.code(status).send({ error: 'refused' })
        }
      }
    })
    const page = await browser.newPage()
    await page.goto(`${http}/ws/dashboard`)
    await page.waitForSelector('#status.unauthorized', { timeout: 5000 })
    t.equal(await page.textContent('#status-text'), 'unauthorized', `HTTP ${status}`)
    await page.close()
  }
})
