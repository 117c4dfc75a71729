// Shared by the client tests: the ESM client (lib/client/index.mts) loaded from these CommonJS
// tests with import(), and a client on a test server that records its events.
import type { Test } from 'tap'
import WebSocket from 'ws'
import type { ClientEventMap, ClientOptions, NotifyClient } from '../types/client.mjs' with { 'resolution-mode': 'import' }

export type Client = NotifyClient<Record<string, Record<string, unknown>>>
export type RecordedEvents = Array<[keyof ClientEventMap, unknown]>

export interface ClientModule {
  createClient: (url: string, options?: ClientOptions) => Client
  closeCodeAction: (code: number) => string
}

export const loaded = import('../lib/client/index.mjs') as unknown as Promise<ClientModule>

/** A client on `url` (fast reconnects) that records `names` events, closed in teardown. */
export async function open (t: Test, url: string, options: ClientOptions = {},
  names: ReadonlyArray<keyof ClientEventMap> = ['state', 'connected', 'disconnected', 'error']): Promise<{ client: Client, events: RecordedEvents }> {
  const { createClient } = await loaded
  const client = createClient(`${url}/ws`, { WebSocket, reconnect: { initialDelay: 5, maxDelay: 50 }, ...options })
  t.teardown(() => client.close())
  const events: RecordedEvents = []
  for (const name of names) client.on(name, (payload: unknown) => events.push([name, payload]))
  return { client, events }
}

/** The payloads of one event, in order. */
export const named = (events: RecordedEvents, name: keyof ClientEventMap): unknown[] =>
  events.filter(([event]) => event === name).map(([, payload]) => payload)
