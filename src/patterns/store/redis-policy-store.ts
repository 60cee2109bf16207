/**
 * A policy's state shared by every replica through Redis or Valkey: the
 * `PolicyStore` of `new Policy({ store })`, made by
 * `redisSafetyStore.policyStore()`. One admission is one Lua script (one
 * round trip): every check of the call passes and is applied, or none is,
 * exactly as `MemoryPolicyStore` decides (a property test compares them).
 *
 * The kill switch lives in the fleet's kill-switch hash, under the scopes
 * `*`, `agent:<id>`, `tool:<name>` and `agent:<id>/tool:<name>`: so
 * `store.forceOpen('*')` also stops every policy, and `policy.stop()` on one
 * replica stops all of them.
 *
 * Calls in flight (concurrency limits) are counted in Redis; a replica that
 * dies with calls in flight leaves its slots taken until the counter has been
 * idle for `inFlightTtlMs` (10 minutes by default).
 *
 * @module
 */
import { evalScript, luaScript } from './redis-scripts.js';
import { within } from './store-timeout.js';
import { optionalNumber } from '../shared/validate.js';
import type { LuaScript, RedisSend } from './redis-scripts.js';
import type { Admission, CounterCheck, KillTarget, PolicyStore } from '../policy/policy-store.js';


const ADMIT = `
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local eps = 1e-9
local rem = {}
local st = {}
local n = #KEYS
for i = 1, n do
  local b = 2 + (i - 1) * 4
  local kind, a, p, c = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4]
  local ok, retry = true, -1
  if kind == 'token_bucket' then
    local rate, burst = tonumber(a), tonumber(p)
    local h = redis.call('HMGET', KEYS[i], 'tokens', 'at')
    local tokens, at = tonumber(h[1]) or burst, tonumber(h[2]) or now
    if now > at then tokens = math.min(burst, tokens + (now - at) * rate); at = now end
    st[i] = { tokens, at }
    ok = tokens + eps >= 1
    rem[i] = math.max(0, math.floor(tokens + eps))
    if not ok then retry = math.max(1, math.ceil((1 - tokens) / rate - 1e-6)) end
  elseif kind == 'sliding_window' then
    local limit, window = tonumber(a), tonumber(p)
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
    local count = redis.call('ZCARD', KEYS[i])
    ok = count < limit
    rem[i] = math.max(0, limit - count)
    if not ok then
      local e = redis.call('ZRANGE', KEYS[i], count - limit, count - limit, 'WITHSCORES')
      retry = math.ceil(tonumber(e[2]) + window - now)
    end
  elseif kind == 'concurrency' then
    local max = tonumber(a)
    local inflight = tonumber(redis.call('GET', KEYS[i]) or '0')
    ok = inflight < max
    rem[i] = math.max(0, max - inflight)
  else
    local limit, reserve = tonumber(a), tonumber(c)
    local start = 0
    if p ~= '' then local w = tonumber(p); start = math.floor(now / w) * w end
    local h = redis.call('HMGET', KEYS[i], 'start', 'spent')
    local spent = tonumber(h[2]) or 0
    if tonumber(h[1]) ~= start then spent = 0 end
    st[i] = { start, spent }
    local left = limit - spent
    if reserve > 0 then ok = left >= reserve else ok = left > 0 end
    rem[i] = left
    if (not ok) and p ~= '' then retry = start + tonumber(p) - now end
  end
  if not ok then
    local out = { 0, i - 1, retry }
    for j = 1, i do table.insert(out, string.format('%.17g', rem[j])) end
    return out
  end
end
local out = { 1, -1, -1 }
for i = 1, n do
  local b = 2 + (i - 1) * 4
  local kind, a, p, c = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4]
  if kind == 'token_bucket' then
    local tokens = st[i][1] - 1
    redis.call('HSET', KEYS[i], 'tokens', string.format('%.17g', tokens), 'at', string.format('%.17g', st[i][2]))
    redis.call('PEXPIRE', KEYS[i], math.ceil(tonumber(p) / tonumber(a)) + 60000)
    rem[i] = math.max(0, math.floor(tokens + eps))
  elseif kind == 'sliding_window' then
    local last = redis.call('ZRANGE', KEYS[i], -1, -1, 'WITHSCORES')
    local t = now
    if last[2] and tonumber(last[2]) > t then t = tonumber(last[2]) end
    local seq = redis.call('HINCRBY', KEYS[i] .. ':seq', 'n', 1)
    redis.call('ZADD', KEYS[i], t, string.format('%.17g', t) .. ':' .. seq)
    redis.call('ZREMRANGEBYRANK', KEYS[i], 0, -(tonumber(a) + 1))
    redis.call('PEXPIRE', KEYS[i], tonumber(p) + 1000)
    redis.call('PEXPIRE', KEYS[i] .. ':seq', tonumber(p) + 1000)
    rem[i] = rem[i] - 1
  elseif kind == 'concurrency' then
    redis.call('INCR', KEYS[i])
    redis.call('PEXPIRE', KEYS[i], ttl)
    rem[i] = rem[i] - 1
  else
    local reserve = tonumber(c)
    redis.call('HSET', KEYS[i], 'start', string.format('%.17g', st[i][1]), 'spent', string.format('%.17g', st[i][2] + reserve))
    if p ~= '' then redis.call('PEXPIRE', KEYS[i], st[i][1] + tonumber(p) - now + 1000) end
    rem[i] = rem[i] - reserve
  end
end
for i = 1, n do table.insert(out, string.format('%.17g', rem[i])) end
return out
`;

const RELEASE = `
for i = 1, #KEYS do
  local v = tonumber(redis.call('GET', KEYS[i]) or '0')
  if v > 0 then redis.call('DECR', KEYS[i]) end
end
return 0
`;

const CHARGE = `
local amount, limit, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local start = 0
if ARGV[4] ~= '' then local w = tonumber(ARGV[4]); start = math.floor(now / w) * w end
local h = redis.call('HMGET', KEYS[1], 'start', 'spent')
local spent = tonumber(h[2]) or 0
if tonumber(h[1]) ~= start then spent = 0 end
spent = spent + amount
redis.call('HSET', KEYS[1], 'start', string.format('%.17g', start), 'spent', string.format('%.17g', spent))
if ARGV[4] ~= '' then redis.call('PEXPIRE', KEYS[1], start + tonumber(ARGV[4]) - now + 1000) end
return string.format('%.17g', limit - spent)
`;

const SCRIPTS = { admit: luaScript(ADMIT), release: luaScript(RELEASE), charge: luaScript(CHARGE) };

/** The kill-switch scope of a target, in the fleet's kill-switch hash. */
export function killScope(target: KillTarget): string {
  if (target.agent === undefined && target.tool === undefined) return '*';
  if (target.tool === undefined) return `agent:${target.agent}`;
  if (target.agent === undefined) return `tool:${target.tool}`;
  return `agent:${target.agent}/tool:${target.tool}`;
}

/** Options of {@link RedisPolicyStore}. */
export interface RedisPolicyStoreOptions {
  /** How long an idle concurrency counter lives (slots of a dead replica free up after it). @default 600000 */
  inFlightTtlMs?: number;
  /** The clock the kill switch's end times are read with. @default Date.now */
  now?: () => number;
  /**
   * How long a decision's store operation (admission, release, charge,
   * kill-switch read) may take: past it the operation fails, and the
   * policy denies (`store_error`), instead of waiting for a store that is
   * down or hung (a client's own reconnection wait can be seconds).
   * @default 250
   */
  timeoutMs?: number;
}

/** A {@link PolicyStore} in Redis: see the module's documentation. */
export class RedisPolicyStore implements PolicyStore {
  private readonly _send: RedisSend;
  private readonly _prefix: string;
  private readonly _forcedKey: string;
  private readonly _ttl: number;
  private readonly _now: () => number;
  private readonly _timeoutMs: number;

  /** Made by `RedisSafetyStore.policyStore()`. */
  constructor(send: RedisSend, prefix: string, options: RedisPolicyStoreOptions = {}) {
    optionalNumber('policyStore options.timeoutMs', options.timeoutMs, { min: 0, minInclusive: false });
    this._timeoutMs = options.timeoutMs ?? 250;
    this._send = send;
    this._prefix = `${prefix}policy:`;
    this._forcedKey = `${prefix}forced`;
    this._ttl = options.inFlightTtlMs ?? 600_000;
    this._now = options.now ?? Date.now;
  }

  async admit(checks: readonly CounterCheck[], now: number): Promise<Admission> {
    if (checks.length === 0) return { admitted: true, failed: -1, remaining: [], retryAfterMs: undefined };
    const args = [String(now), String(this._ttl)];
    for (const c of checks) {
      if (c.kind === 'token_bucket') args.push(c.kind, String(c.ratePerMs), String(c.burst), '');
      else if (c.kind === 'sliding_window') args.push(c.kind, String(c.limit), String(c.windowMs), '');
      else if (c.kind === 'concurrency') args.push(c.kind, String(c.max), '', '');
      else args.push(c.kind, String(c.limit), c.windowMs === undefined ? '' : String(c.windowMs), String(c.reserve));
    }
    const reply = (await this._eval(SCRIPTS.admit, checks.map(c => this._key(c.key)), args)) as unknown[];
    const admitted = Number(reply[0]) === 1;
    const retry = Number(reply[2]);
    return {
      admitted,
      failed: Number(reply[1]),
      remaining: reply.slice(3).map(Number),
      retryAfterMs: admitted || retry < 0 ? undefined : retry,
    };
  }

  async release(keys: readonly string[]): Promise<void> {
    if (keys.length > 0) await this._eval(SCRIPTS.release, keys.map(k => this._key(k)), []);
  }

  async charge(key: string, amount: number, limit: number, windowMs: number | undefined, now: number): Promise<number> {
    const reply = await this._eval(SCRIPTS.charge, [this._key(key)], [String(amount), String(limit), String(now), windowMs === undefined ? '' : String(windowMs)]);
    return Number(reply);
  }

  async stopped(agent: string | undefined, tool: string): Promise<KillTarget | undefined> {
    const targets: KillTarget[] = [{}];
    if (agent !== undefined) targets.push({ agent });
    targets.push({ tool });
    if (agent !== undefined) targets.push({ agent, tool });
    const values = (await within(this._send(['HMGET', this._forcedKey, ...targets.map(killScope)]), this._timeoutMs, 'the kill switch read')) as unknown[];
    const now = this._now();
    for (let i = 0; i < targets.length; i++) {
      const v = values[i];
      if (v === null || v === undefined) continue;
      const until = Number(String(v).slice(0, String(v).indexOf('|')));
      if (until < 0 || until > now) return targets[i];
    }
    return undefined;
  }

  async stop(target: KillTarget): Promise<void> {
    await this._send(['HSET', this._forcedKey, killScope(target), '-1|policy kill switch']);
  }

  async resume(target: KillTarget): Promise<void> {
    await this._send(['HDEL', this._forcedKey, killScope(target)]);
  }

  private _key(key: string): string {
    return `${this._prefix}{${key}}`;
  }

  private _eval(s: LuaScript, keys: string[], args: string[]): Promise<unknown> {
    return within(evalScript(this._send, s, keys, args), this._timeoutMs, 'a policy store operation');
  }
}
