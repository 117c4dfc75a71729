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
