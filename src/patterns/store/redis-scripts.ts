/**
 * The Lua scripts of the Redis {@link SafetyStore}: each store operation is
 * one script, so it is one atomic step and one round trip. They mirror
 * `MemorySafetyStore` line for line (the contract tests run both).
 *
 * Keys carry a `{…}` hash tag per shared object; the kill-switch hash is one
 * key for every scope. Scripts that read a breaker and the kill switch touch
 * two slots: the store targets a single Redis or Valkey (or a primary with
 * replicas), not Redis Cluster.
 *
 * @module
 */
import { createHash } from 'node:crypto';

/** Sends one Redis command (node-redis `sendCommand`, ioredis `call`). */
export type RedisSend = (args: string[]) => Promise<unknown>;

/** A Lua script and its SHA-1 (for `EVALSHA`). */
export interface LuaScript {
  readonly source: string;
  readonly sha: string;
}

/** A script, with its SHA-1 computed once. */
export function luaScript(source: string): LuaScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

/** Runs a script by `EVALSHA`, loading it with `EVAL` once when the server's script cache lost it (a restart). */
export async function evalScript(send: RedisSend, s: LuaScript, keys: readonly string[], args: readonly string[]): Promise<unknown> {
  try {
    return await send(['EVALSHA', s.sha, String(keys.length), ...keys, ...args]);
  } catch (err) {
    if (!/NOSCRIPT/.test(String((err as Error)?.message ?? err))) throw err;
    return send(['EVAL', s.source, String(keys.length), ...keys, ...args]);
  }
}

/** Reads the kill switch for a scope and `*`: sets `forced` (or false). `until` -1 is for ever. */
const FORCED = `
local function forced_reason(hash, scope, now)
  for _, s in ipairs({scope, '*'}) do
    local v = redis.call('HGET', hash, s)
    if v then
      local sep = string.find(v, '|', 1, true)
      local u = tonumber(string.sub(v, 1, sep - 1))
      if u < 0 or u > now then return string.sub(v, sep + 1) end
      redis.call('HDEL', hash, s)
    end
  end
  return false
end
`;

/** The fleet state reply: { until|false, probe holder|false, forced|false, openers }. */
const STATE = `${FORCED}
local function state(breaker, probe, openers, forced, scope, now)
  return { redis.call('HGET', breaker, 'until') or false, redis.call('GET', probe) or false,
           forced_reason(forced, scope, now), redis.call('ZCARD', openers) }
end
`;

/** KEYS: breaker, probe, openers, forced. ARGV: now, scope. */
export const BREAKER_STATE = `${STATE}
return state(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[2], tonumber(ARGV[1]))
`;

/** KEYS: breaker, probe, openers, forced. ARGV: now, scope, replica, until, quorum, windowMs, ttlMs. */
export const REPORT_OPEN = `${STATE}
local now, replica, untilv = tonumber(ARGV[1]), ARGV[3], tonumber(ARGV[4])
local quorum, window, ttl = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
redis.call('ZADD', KEYS[3], now, replica)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - window)
redis.call('PEXPIRE', KEYS[3], math.max(window, 1))
if redis.call('ZCARD', KEYS[3]) >= quorum then
  local cur = tonumber(redis.call('HGET', KEYS[1], 'until') or '-1')
  if untilv > cur then redis.call('HSET', KEYS[1], 'until', ARGV[4]) end
  redis.call('PEXPIRE', KEYS[1], ttl)
end
if redis.call('GET', KEYS[2]) == replica then redis.call('DEL', KEYS[2]) end
return state(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[2], now)
`;

/** KEYS: breaker, probe. ARGV: replica, now, leaseMs. Returns 1 when the lease is this replica's. */
export const ACQUIRE_PROBE = `
local u = redis.call('HGET', KEYS[1], 'until')
if not u or tonumber(ARGV[2]) < tonumber(u) then return 0 end
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
return 1
`;

/** KEYS: breaker, probe, openers, forced. ARGV: now, scope, replica. */
export const REPORT_CLOSED = `${STATE}
local u = redis.call('HGET', KEYS[1], 'until')
local holder = redis.call('GET', KEYS[2])
if (not u) or (not holder) or holder == ARGV[3] then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
else
  redis.call('ZREM', KEYS[3], ARGV[3])
end
return state(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[2], tonumber(ARGV[1]))
`;

/** KEYS: forced. ARGV: scopes…, then now as the last. Returns the reason or false. */
export const FORCED_REASON = `${FORCED}
local now = tonumber(ARGV[#ARGV])
for i = 1, #ARGV - 1 do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v then
    local sep = string.find(v, '|', 1, true)
    local u = tonumber(string.sub(v, 1, sep - 1))
    if u < 0 or u > now then return string.sub(v, sep + 1) end
    redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return forced_reason(KEYS[1], '*', now)
`;

/** KEYS: bucket. ARGV: rate (per s), burst, cost, now. Returns { allowed, remaining, retryAfterMs }. */
export const TAKE_TOKENS = `
local rate, burst, cost, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1]) or burst
local at = tonumber(b[2]) or now
-- Replicas' requests may arrive out of order: time never runs backwards for a bucket.
if now < at then now = at end
tokens = math.min(burst, tokens + (now - at) * rate / 1000)
local allowed, retry = 0, 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry = math.ceil((cost - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', string.format('%.17g', now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return { allowed, string.format('%.17g', tokens), retry }
`;

/** KEYS: window zset, sequence. ARGV: limit, windowMs, now. */
export const HIT_WINDOW = `
local limit, window, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if n < limit then
  local seq = redis.call('INCR', KEYS[2])
  redis.call('ZADD', KEYS[1], now, ARGV[3] .. ':' .. seq)
  redis.call('PEXPIRE', KEYS[1], window)
  redis.call('PEXPIRE', KEYS[2], window)
  return { 1, tostring(limit - n - 1), 0 }
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return { 0, '0', math.max(1, tonumber(oldest[2]) + window - now) }
`;

/** KEYS: budget. ARGV: limit, amount, windowMs, now, mode. retryAfterMs -1: never (no window). */
export const CHARGE = `
local limit, amount, window, now, mode = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local b = redis.call('HMGET', KEYS[1], 'start', 'spent')
local start, spent = tonumber(b[1]), tonumber(b[2])
if (not start) or (window > 0 and now >= start + window) then start = now; spent = 0 end
local fits = spent + amount <= limit
if mode == 'settle' or (mode == 'reserve' and fits) then spent = spent + amount end
redis.call('HSET', KEYS[1], 'start', string.format('%.17g', start), 'spent', string.format('%.17g', spent))
if window > 0 then redis.call('PEXPIRE', KEYS[1], math.max(1, start + window - now)) end
local retry = 0
if not fits then
  if window > 0 then retry = start + window - now else retry = -1 end
end
return { fits and 1 or 0, string.format('%.17g', math.max(0, limit - spent)), retry }
`;

/** Reads an approval hash, turning an expired pending one into `timeout`. */
const APPROVAL = `
local function read_approval(key, pending, id, now)
  if redis.call('EXISTS', key) == 0 then return false end
  local state = redis.call('HGET', key, 'state')
  local expires = tonumber(redis.call('HGET', key, 'expiresAt'))
  if state == 'pending' and now >= expires then
    redis.call('HSET', key, 'state', 'timeout', 'decidedAt', tostring(expires))
    redis.call('ZREM', pending, id)
  end
  return redis.call('HGETALL', key)
end
`;

/** KEYS: approval, pending. ARGV: id, action, argumentsHash, now, expiresAt, details, retentionMs. */
export const REQUEST_APPROVAL = `${APPROVAL}
local now = tonumber(ARGV[4])
local existing = read_approval(KEYS[1], KEYS[2], ARGV[1], now)
if existing then return existing end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'action', ARGV[2], 'argumentsHash', ARGV[3], 'state', 'pending',
  'requestedAt', ARGV[4], 'expiresAt', ARGV[5])
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'details', ARGV[6]) end
redis.call('ZADD', KEYS[2], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.max(1, tonumber(ARGV[5]) - now) + tonumber(ARGV[7]))
return redis.call('HGETALL', KEYS[1])
`;

/** KEYS: approval, pending. ARGV: id, approved (1/0), now, reviewer, note. Returns { status, fields }. */
export const DECIDE_APPROVAL = `${APPROVAL}
local now = tonumber(ARGV[3])
local r = read_approval(KEYS[1], KEYS[2], ARGV[1], now)
if not r then return { 'unknown', false } end
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'timeout' then return { 'expired', r } end
if state ~= 'pending' then return { 'already_decided', r } end
local decided = 'denied'
if ARGV[2] == '1' then decided = 'approved' end
redis.call('HSET', KEYS[1], 'state', decided, 'decidedAt', ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'reviewer', ARGV[4]) end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'note', ARGV[5]) end
redis.call('ZREM', KEYS[2], ARGV[1])
return { 'ok', redis.call('HGETALL', KEYS[1]) }
`;

/** KEYS: approval, pending. ARGV: id, now. */
export const READ_APPROVAL = `${APPROVAL}
return read_approval(KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2]))
`;

/** KEYS: pending. ARGV: now, limit, approval key prefix. Returns a list of field lists. */
export const PENDING_APPROVALS = `${APPROVAL}
local now, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local out = {}
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, id in ipairs(ids) do
  if #out >= limit then break end
  local r = read_approval(ARGV[3] .. '{' .. id .. '}', KEYS[1], id, now)
  if r then
    local key = ARGV[3] .. '{' .. id .. '}'
    if redis.call('HGET', key, 'state') == 'pending' then table.insert(out, r) end
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
`;
