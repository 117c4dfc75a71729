"""Subscribe to channels of a fastify-ws-notify server with aiohttp; print each message as a JSON line.

    python3 examples/python_client.py ws://127.0.0.1:8080/ws db_pool_stats system_alerts
"""
import asyncio
import json
import sys

import aiohttp


async def listen(url, channels):
    async with aiohttp.ClientSession() as session:
        # aiohttp answers the server's heartbeat pings by itself (autoping).
        async with session.ws_connect(url) as ws:
            async for frame in ws:
                if frame.type != aiohttp.WSMsgType.TEXT:
                    break
                message = json.loads(frame.data)
                print(json.dumps(message), flush=True)
                if message["type"] == "connected":
                    for channel in channels:
                        await ws.send_json({"action": "subscribe", "channel": channel})
                elif message["type"] == "error":
                    print(f"error {message['code']}: {message['message']}", file=sys.stderr)
            print(f"closed {ws.close_code}", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(f"usage: {sys.argv[0]} WS_URL CHANNEL...")
    asyncio.run(listen(sys.argv[1], sys.argv[2:]))
