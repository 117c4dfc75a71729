// Subscribe to channels of a fastify-ws-notify server with `ws`; print each message as a JSON line.
//   node examples/node_client.mjs ws://127.0.0.1:8080/ws db_pool_stats system_alerts
import WebSocket from 'ws'

const [url, ...channels] = process.argv.slice(2)
if (url === undefined || channels.length === 0) {
  console.error('usage: node_client.mjs WS_URL CHANNEL...')
  process.exit(2)
}

// `ws` answers the server's heartbeat pings by itself.
const socket = new WebSocket(url)
socket.on('message', (data) => {
  const message = JSON.parse(data.toString())
  console.log(JSON.stringify(message))
  if (message.type === 'connected') {
    for (const channel of channels) socket.send(JSON.stringify({ action: 'subscribe', channel }))
  } else if (message.type === 'error') {
    console.error(`error ${message.code}: ${message.message}`)
  }
})
socket.on('error', (err) => {
  console.error(`cannot connect to ${url}: ${err.message}`)
  process.exitCode = 1
})
socket.on('close', (code, reason) => console.error(`closed ${code} ${reason}`))
