/**
 * The Redis (or Valkey) {@link SafetyStore}. It imports no Redis package:
 * give it the client you already run, `node-redis` (`createClient()`, which
 * has `sendCommand`) or `ioredis` (which has `call`). Each operation is one
 * Lua script: one atomic step, one round trip (`EVALSHA`, falling back to
 * `EVAL` once after a restart of the server flushed its script cache).
 *
 * @module
 */
import { APPROVAL_RETENTION_MS } from './memory-safety-store.js';
import * as scripts from './redis-scripts.js';
import { evalScript, luaScript } from './redis-scripts.js';
import type { LuaScript, RedisSend } from './redis-scripts.js';
import type {
  ApprovalDecision,
  ApprovalRecord,
  ApprovalRequestRecord,
  ApprovalState,
  ChargeMode,
  DecideResult,
  FleetBreakerState,
  LimitDecision,
  ReportOpen,
  SafetyStore,
} from './safety-store.js';
import { optionalString, rejectUnknownOptions, requireObject } from '../shared/validate.js';
import { RedisPolicyStore } from './redis-policy-store.js';
import type { RedisPolicyStoreOptions } from './redis-policy-store.js';

/** A Redis client: node-redis (`sendCommand`) or ioredis (`call`). */
export interface RedisClientLike {
  sendCommand?(args: string[]): Promise<unknown>;
  call?(command: string, ...args: string[]): Promise<unknown>;
}

/** Options of {@link RedisSafetyStore}. */
export interface RedisSafetyStoreOptions {
  /** A connected client (node-redis or ioredis). The store never closes it. */
  client: RedisClientLike;
  /** Prefix of every key. @default 'agent_safety:' */
  prefix?: string;
}

type Reply = unknown;
const script = luaScript;

const SCRIPTS = {
  breakerState: script(scripts.BREAKER_STATE),
  reportOpen: script(scripts.REPORT_OPEN),
  acquireProbe: script(scripts.ACQUIRE_PROBE),
  reportClosed: script(scripts.REPORT_CLOSED),
  forcedReason: script(scripts.FORCED_REASON),
  takeTokens: script(scripts.TAKE_TOKENS),
  hitWindow: script(scripts.HIT_WINDOW),
  charge: script(scripts.CHARGE),
  requestApproval: script(scripts.REQUEST_APPROVAL),
  decideApproval: script(scripts.DECIDE_APPROVAL),
  readApproval: script(scripts.READ_APPROVAL),
  pendingApprovals: script(scripts.PENDING_APPROVALS),
};

/** A breaker's open state is kept at most this long without news (a safety net; a close deletes it). */
const BREAKER_TTL_MS = 24 * 60 * 60 * 1000;

function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(String(v));
}

function str(v: unknown): string | undefined {
  return v === null || v === undefined || v === false ? undefined : String(v);
}

/** A `HGETALL` reply (a flat list in RESP2, a map in RESP3) as a record of strings. */
function fields(reply: unknown): Record<string, string> | undefined {
  if (reply === null || reply === undefined || reply === false) return undefined;
  if (Array.isArray(reply)) {
    const out: Record<string, string> = {};
    for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
    return out;
  }
  if (reply instanceof Map) return Object.fromEntries([...reply].map(([k, v]) => [String(k), String(v)]));
  if (typeof reply === 'object') return Object.fromEntries(Object.entries(reply).map(([k, v]) => [k, String(v)]));
  return undefined;
}

function approval(reply: unknown): ApprovalRecord | undefined {
  const f = fields(reply);
  if (f === undefined || f.id === undefined) return undefined;
  return Object.freeze({
    id: f.id,
    action: f.action,
    argumentsHash: f.argumentsHash,
    state: f.state as ApprovalState,
    requestedAt: Number(f.requestedAt),
    expiresAt: Number(f.expiresAt),
    reviewer: f.reviewer,
    note: f.note,
    decidedAt: f.decidedAt === undefined ? undefined : Number(f.decidedAt),
    details: f.details,
  });
}

function limitDecision(reply: unknown): LimitDecision {
  const [allowed, remaining, retry] = reply as [unknown, unknown, unknown];
  const retryAfterMs = num(retry);
  return { allowed: num(allowed) === 1, remaining: num(remaining), retryAfterMs: retryAfterMs < 0 ? Number.POSITIVE_INFINITY : retryAfterMs };
}

/** A {@link SafetyStore} in Redis or Valkey, shared by every replica that uses the same server and prefix. */
export class RedisSafetyStore implements SafetyStore {
  readonly kind = 'redis';
  private readonly _send: RedisSend;
  private readonly _prefix: string;

  /** @throws TypeError when the client has neither `sendCommand` nor `call`. */
  constructor(options: RedisSafetyStoreOptions) {
    requireObject('RedisSafetyStore options', options);
    rejectUnknownOptions('RedisSafetyStore', options, ['client', 'prefix']);
    optionalString('prefix', options.prefix);
    const client = options.client as RedisClientLike | undefined;
    if (typeof client?.sendCommand === 'function') this._send = args => client.sendCommand!(args);
    else if (typeof client?.call === 'function') this._send = ([command, ...args]) => client.call!(command, ...args);
    else throw new TypeError('client must be a node-redis client (sendCommand) or an ioredis client (call)');
    this._prefix = options.prefix ?? 'agent_safety:';
  }

  async breakerState(key: string, now: number): Promise<FleetBreakerState> {
    return this._fleet(await this._eval(SCRIPTS.breakerState, this._breakerKeys(key), [String(now), key]));
  }

  async reportOpen(r: ReportOpen): Promise<FleetBreakerState> {
    const args = [String(r.now), r.key, r.replica, String(r.until), String(r.quorum), String(r.windowMs), String(BREAKER_TTL_MS)];
    return this._fleet(await this._eval(SCRIPTS.reportOpen, this._breakerKeys(r.key), args));
  }

  async acquireProbe(key: string, replica: string, now: number, leaseMs: number): Promise<boolean> {
    const k = this._breakerKeys(key);
    const reply = await this._eval(SCRIPTS.acquireProbe, [k[0], k[1]], [replica, String(now), String(Math.max(1, Math.ceil(leaseMs)))]);
    return num(reply) === 1;
  }

  async reportClosed(key: string, replica: string, now: number): Promise<FleetBreakerState> {
    return this._fleet(await this._eval(SCRIPTS.reportClosed, this._breakerKeys(key), [String(now), key, replica]));
  }

  async forceOpen(scope: string, reason: string, untilMs?: number): Promise<void> {
    const until = untilMs === undefined || !Number.isFinite(untilMs) ? -1 : untilMs;
    await this._send(['HSET', this._forcedKey(), scope, `${until}|${reason}`]);
  }

  async releaseForced(scope: string): Promise<void> {
    await this._send(['HDEL', this._forcedKey(), scope]);
  }

  async forcedReason(scopes: readonly string[], now: number): Promise<string | undefined> {
    return str(await this._eval(SCRIPTS.forcedReason, [this._forcedKey()], [...scopes, String(now)]));
  }

  async takeTokens(key: string, rate: number, burst: number, cost: number, now: number): Promise<LimitDecision> {
    const reply = await this._eval(SCRIPTS.takeTokens, [`${this._prefix}bucket:{${key}}`], [String(rate), String(burst), String(cost), String(now)]);
    return limitDecision(reply);
  }

  async hitWindow(key: string, limit: number, windowMs: number, now: number): Promise<LimitDecision> {
    const keys = [`${this._prefix}window:{${key}}`, `${this._prefix}window-seq:{${key}}`];
    return limitDecision(await this._eval(SCRIPTS.hitWindow, keys, [String(limit), String(windowMs), String(now)]));
  }

  async charge(key: string, limit: number, amount: number, windowMs: number, now: number, mode: ChargeMode): Promise<LimitDecision> {
    const args = [String(limit), String(amount), String(windowMs), String(now), mode];
    return limitDecision(await this._eval(SCRIPTS.charge, [`${this._prefix}budget:{${key}}`], args));
  }

  async requestApproval(r: ApprovalRequestRecord): Promise<ApprovalRecord> {
    const args = [r.id, r.action, r.argumentsHash, String(r.now), String(r.expiresAt), r.details ?? '', String(APPROVAL_RETENTION_MS)];
    const record = approval(await this._eval(SCRIPTS.requestApproval, this._approvalKeys(r.id), args));
    if (record === undefined) throw new Error(`the store did not keep approval ${r.id}`);
    return record;
  }

  async decideApproval(d: ApprovalDecision): Promise<DecideResult> {
    const args = [d.id, d.approved ? '1' : '0', String(d.now), d.reviewer ?? '', d.note ?? ''];
    const [status, reply] = (await this._eval(SCRIPTS.decideApproval, this._approvalKeys(d.id), args)) as [unknown, unknown];
    const record = approval(reply);
    if (status === 'ok' && record !== undefined) return { ok: true, record };
    return { ok: false, reason: String(status) as 'unknown' | 'expired' | 'already_decided', record };
  }

  async readApproval(id: string, now: number): Promise<ApprovalRecord | undefined> {
    return approval(await this._eval(SCRIPTS.readApproval, this._approvalKeys(id), [id, String(now)]));
  }

  async pendingApprovals(now: number, limit = 100): Promise<ApprovalRecord[]> {
    const reply = (await this._eval(SCRIPTS.pendingApprovals, [`${this._prefix}approvals:pending`], [String(now), String(limit), `${this._prefix}approval:`])) as unknown[];
    return reply.map(approval).filter((r): r is ApprovalRecord => r !== undefined);
  }

  /**
   * A `PolicyStore` over the same Redis and prefix, for `new Policy({ store })`:
   * the policy's limits, budgets and kill switch are then shared by every
   * replica (one round trip per decision), and this store's kill switch
   * (`forceOpen('*')`, `forceOpen('tool:send_email')`) stops the policy too.
   */
  policyStore(options?: RedisPolicyStoreOptions): RedisPolicyStore {
    return new RedisPolicyStore(this._send, this._prefix, options);
  }

  private _breakerKeys(key: string): string[] {
    const p = this._prefix;
    return [`${p}breaker:{${key}}`, `${p}probe:{${key}}`, `${p}openers:{${key}}`, this._forcedKey()];
  }

  private _forcedKey(): string {
    return `${this._prefix}forced`;
  }

  private _approvalKeys(id: string): string[] {
    return [`${this._prefix}approval:{${id}}`, `${this._prefix}approvals:pending`];
  }

  private _fleet(reply: unknown): FleetBreakerState {
    const [until, holder, forced, openers] = reply as [unknown, unknown, unknown, unknown];
    const u = str(until);
    return { openUntil: u === undefined ? undefined : Number(u), probeHolder: str(holder), forced: str(forced), openers: num(openers) };
  }

  private _eval(s: LuaScript, keys: string[], args: string[]): Promise<Reply> {
    return evalScript(this._send, s, keys, args);
  }
}
