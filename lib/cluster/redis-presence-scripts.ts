// The Lua scripts of cluster-wide presence (redis-presence.ts). Each runs atomically, so a member's
// first arrival anywhere in the cluster publishes one join and its last departure one leave, even
// when instances race or one is dropped for a missed heartbeat.
//
// Keys under prefix P, for channel C and instance I:
//   P{C}:pi:I            set   client ids I holds on C
//   P{C}:pc              hash  client id -> how many instances hold it (the cluster's members)
//   P{C}:pinfo           hash  client id -> public info JSON (presence.info)
//   P{C}:psock           hash  instance -> its sockets on C
//   P presence:chans:I   set   channels where I holds something (so a dead instance can be cleaned)
//   P presence:alive     zset  instance -> Redis time (ms) of its last heartbeat
// Published on P presence:events: `C\nJSON` (a join or leave frame); every instance delivers it to
// its own subscribers of C, so each subscriber gets it once. The heartbeat and goodbye scripts
// name per-channel keys they find at run time: single-node Redis, not Redis Cluster.

/**
 * A member arrives on this instance. KEYS: pi, pc, pinfo, chans. ARGV: client, info JSON ('' none),
 * channel, events channel, join frame ('' when the channel has no joinLeave). Returns 1 on a join.
 */
export const PRESENCE_JOIN = `
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('SADD', KEYS[4], ARGV[3])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[3], ARGV[1], ARGV[2]) end
if redis.call('HINCRBY', KEYS[2], ARGV[1], 1) == 1 then
  if ARGV[5] ~= '' then redis.call('PUBLISH', ARGV[4], ARGV[3] .. '\\n' .. ARGV[5]) end
  return 1
end
return 0
`

/**
 * A member leaves this instance (after the grace). KEYS: pi, pc, pinfo. ARGV: client, channel,
 * events channel, leave frame ('' when no joinLeave). Returns 1 when it left the cluster.
 */
export const PRESENCE_LEAVE = `
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('HINCRBY', KEYS[2], ARGV[1], -1) <= 0 then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
  if ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[2] .. '\\n' .. ARGV[4]) end
  return 1
end
return 0
`

/** Drops everything instance \`inst\` held; a member held by no other instance gets a leave. */
const DROP_INSTANCE = `
local prefix, events, timestamp = ARGV[1], ARGV[2], ARGV[3]
local function drop (inst)
  local chans = prefix .. 'presence:chans:' .. inst
  for _, channel in ipairs(redis.call('SMEMBERS', chans)) do
    local base = prefix .. '{' .. channel .. '}:'
    local held = base .. 'pi:' .. inst
    for _, client in ipairs(redis.call('SMEMBERS', held)) do
      if redis.call('HINCRBY', base .. 'pc', client, -1) <= 0 then
        redis.call('HDEL', base .. 'pc', client)
        redis.call('HDEL', base .. 'pinfo', client)
        redis.call('PUBLISH', events, channel .. '\\n' .. cjson.encode({ type = 'leave', channel = channel, client = client, timestamp = timestamp }))
      end
    end
    redis.call('DEL', held)
    redis.call('HDEL', base .. 'psock', inst)
  end
  redis.call('DEL', chans)
  redis.call('ZREM', KEYS[1], inst)
end
`

/**
 * This instance is alive; instances silent for longer than the bound are dropped.
 * KEYS: alive. ARGV: prefix, events channel, timestamp, this instance, bound (ms).
 * Returns 1 when this instance was not listed (first heartbeat, or dropped meanwhile).
 */
export const PRESENCE_HEARTBEAT = `${DROP_INSTANCE}
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local added = redis.call('ZADD', KEYS[1], now, ARGV[4])
for _, inst in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[5]))) do
  if inst ~= ARGV[4] then drop(inst) end
end
return added
`

/** This instance closes: its members leave now. KEYS: alive. ARGV: prefix, events channel, timestamp, this instance. */
export const PRESENCE_GOODBYE = `${DROP_INSTANCE}
drop(ARGV[4])
return 1
`
