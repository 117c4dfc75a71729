// A child process whose stdout is read line by line, for the tests that run the built demo server,
// the CLI and the example clients as a user would. Killed in teardown if still running.
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import type { Test } from 'tap'

export const root = join(__dirname, '..')

export class Child {
  readonly process: ChildProcess
  readonly lines: string[] = []
  stderr = ''
  readonly exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  #waiters: Array<() => void> = []

  constructor (command: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    this.process = spawn(command, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    const stdout = this.process.stdout
    const stderr = this.process.stderr
    if (stdout === null || stderr === null) throw new Error('no stdio')
    createInterface({ input: stdout }).on('line', (line) => {
      this.lines.push(line)
      for (const wake of this.#waiters) wake()
    })
    stderr.setEncoding('utf8')
    stderr.on('data', (chunk: string) => { this.stderr += chunk })
    this.exited = new Promise((resolve) => {
      this.process.on('close', (code, signal) => {
        resolve({ code, signal })
        for (const wake of this.#waiters) wake()
      })
    })
  }

  /** Resolves with the first stdout line (from the start) that `match` accepts; rejects on timeout or exit. */
  async waitForLine (match: (line: string) => boolean, timeout = 15_000): Promise<string> {
    return await new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = this.lines.find(match)
        if (found !== undefined) {
          done()
          resolve(found)
          return true
        }
        if (this.process.exitCode !== null || this.process.signalCode !== null) {
          done()
          reject(new Error(`process exited (${this.process.exitCode ?? this.process.signalCode}) before the expected line; stdout:\n${this.lines.join('\n')}\nstderr:\n${this.stderr}`))
          return true
        }
        return false
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`timed out waiting for a line; stdout:\n${this.lines.join('\n')}\nstderr:\n${this.stderr}`))
      }, timeout)
      const done = (): void => {
        clearTimeout(timer)
        this.#waiters = this.#waiters.filter((waiter) => waiter !== wake)
      }
      const wake = (): void => { check() }
      if (!check()) this.#waiters.push(wake)
    })
  }

  /** Resolves with the first stdout line that is JSON with these field values. */
  async waitForJson (fields: Record<string, unknown>, timeout?: number): Promise<Record<string, unknown>> {
    const matches = (line: string): boolean => {
      try {
        const value = JSON.parse(line) as Record<string, unknown>
        return Object.entries(fields).every(([key, expected]) => value[key] === expected)
      } catch {
        return false
      }
    }
    return JSON.parse(await this.waitForLine(matches, timeout))
  }
}

/** Starts a child that is killed in teardown if it is still running. */
export function spawnChild (t: Test, command: string, args: string[], env?: NodeJS.ProcessEnv): Child {
  const child = new Child(command, args, env)
  t.teardown(() => {
    if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL')
  })
  return child
}

/** POSTs JSON to `url` and returns the status and parsed body. */
export async function postJson (url: string, body: unknown): Promise<{ status: number, body: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body)
  })
  return { status: response.status, body: await response.json() as Record<string, unknown> }
}
