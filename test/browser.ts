// Real Chromium (Debian's `chromium`) driven by playwright-core, for tests that need a browser's
// own WebSocket. Never downloads a browser: it uses the system one or reports it missing.
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import type { Test } from 'tap'

export const CHROMIUM = '/usr/bin/chromium'

/** Launches headless Chromium, closed in teardown; undefined when it is not installed. */
export async function launchChromium (t: Test): Promise<Browser | undefined> {
  if (!existsSync(CHROMIUM)) return undefined
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking']
  })
  t.teardown(() => browser.close())
  return browser
}

/**
 * Chromium, or undefined after skipping the test loudly; in CI a missing Chromium fails instead.
 * `file` names the test file in the message.
 */
export async function chromiumOrSkip (t: Test, file: string): Promise<Browser | undefined> {
  const browser = await launchChromium(t)
  if (browser !== undefined) return browser
  const message = `Chromium is not installed at ${CHROMIUM}: apt-get update && apt-get install -y chromium`
  if (process.env.CI !== undefined && process.env.CI !== '') {
    t.fail(`${message} (CI must run the browser test; .ci/run installs it)`)
  } else {
    process.stderr.write(`\n*** SKIPPED ${file}: ${message}\n\n`)
    t.skip(message, () => {})
  }
  return undefined
}

/**
 * The feed pages (browser-client, browser-sse) list each message of `feed` as `offset:n`: waits for
 * `total`, then one more (a duplicate would arrive right behind it), and checks every message came
 * once, in order, with `recovered` resumes, no gap and no page error.
 */
export async function checkFeed (t: Test, page: Page, notify: (n: number) => Promise<unknown>, total: number, recovered: number, errors: string[]): Promise<void> {
  await page.waitForFunction(`document.querySelectorAll('#messages li').length >= ${total}`, undefined, { timeout: 10_000 })
  await notify(total + 1)
  await page.waitForFunction(`document.querySelectorAll('#messages li').length >= ${total + 1}`, undefined, { timeout: 10_000 })
  const shown = await page.$$eval('#messages li', (items) => items.map((item) => item.textContent))
  t.same(shown, Array.from({ length: total + 1 }, (_, i) => `${i + 1}:${i + 1}`), 'every message once, in order')
  t.equal(await page.textContent('#recovered'), String(recovered), `recovered ${recovered} time(s)`)
  t.equal(await page.textContent('#gaps'), '0', 'no gap')
  t.equal(await page.textContent('#state'), 'open')
  t.same(errors, [], 'no page errors')
}

/** Runs `body`; if it throws or an assertion of `t` failed, saves the page to test/screenshots/NAME.png. */
export async function screenshotOnFailure (t: Test, page: Page, name: string, body: () => Promise<void>): Promise<void> {
  let failure: unknown
  try {
    await body()
  } catch (err) {
    failure = err
  }
  if (failure !== undefined || !t.passing()) {
    const dir = join(__dirname, 'screenshots')
    mkdirSync(dir, { recursive: true })
    const file = join(dir, `${name}.png`)
    await page.screenshot({ path: file, fullPage: true }).then(
      () => t.comment(`screenshot of the failing page: ${file}`),
      (err: Error) => t.comment(`no screenshot: ${err.message}`))
  }
  if (failure !== undefined) throw failure
}
