/**
 * A fleet of replicas (separate processes) sharing breakers, limits and
 * approvals through one real redis-server on a loopback port. The server,
 * the replicas and the HTTP service they call are all stopped when the suite
 * ends, whatever happened.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DurableApprovals, RedisSafetyStore } from '../../src/index.js';
import { startRedis } from '../helpers/redis.js';
import type { TestRedis } from '../helpers/redis.js';

const fixture = fileURLToPath(new URL('../fixtures/fleet-replica.ts', import.meta.url));
const test = suite('a fleet through Redis (separate processes)');

let redis: TestRedis;
const children = new Set<ChildProcess>();
const servers = new Set<Server>();

function replica(args: string[], onMessage?: (m: Record<string, unknown>) => void): ChildProcess {
  const child = fork(fixture, args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  if (onMessage) child.on('message', m => onMessage(m as Record<string, unknown>));
  return child;
}

function message<T>(child: ChildProcess, pick: (m: Record<string, unknown>) => T | undefined, timeoutMs = 20_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no such message in time')), timeoutMs);
    const on = (m: unknown): void => {
      const v = pick(m as Record<string, unknown>);
      if (v === undefined) return;
      clearTimeout(timer);
      child.off('message', on);
      resolve(v);
    };
    child.on('message', on);
  });
}

const exited = (child: ChildProcess) => (child.exitCode !== null ? Promise.resolve() : new Promise(resolve => child.once('exit', resolve)));
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

test.before(async () => {
  redis = await startRedis();
});

test.after(async () => {
  for (const child of children) child.kill('SIGKILL');
  for (const s of servers) s.close();
  await redis?.stop();
});

test('a recovering service sees exactly one probe fleet-wide', async () => {
  let mode: 'down' | 'recovering' | 'up' = 'down';
  const hits: Array<{ t: number; replica: string; mode: string }> = [];
  let inFlight = 0;
  let concurrentWhileProbing = 0;
  const service = createServer((req, res) => {
    hits.push({ t: Date.now(), replica: String(req.headers['x-replica']), mode });
    if (mode === 'down') {
      res.statusCode = 503;
      res.end('down');
      return;
    }
    if (mode === 'recovering') {
      // The first call after the recovery is slow: every other replica must keep away meanwhile.
      if (inFlight > 0) concurrentWhileProbing++;
      inFlight++;
      setTimeout(() => {
        inFlight--;
        mode = 'up';
        res.end('ok');
      }, 400);
      return;
    }
    res.end('ok');
  });
  servers.add(service);
  await new Promise<void>(resolve => service.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(service.address() as { port: number }).port}/`;

  const events: Array<Record<string, unknown>> = [];
  const replicas = ['r1', 'r2', 'r3', 'r4'].map(id => replica(['breaker', redis.url, url, id, 'svc-probe'], m => events.push({ ...m, id })));
  try {
    await Promise.all(replicas.map(r => message(r, m => (m.outcome !== undefined ? true : undefined))));
    // Down: the breakers trip and the fleet opens; each half-open window lets one probe through, fleet-wide.
    await sleep(2_000);
    const firstOpen = Math.min(...events.filter(e => e.state === 'open' || e.outcome === 'rejected').map(e => e.t as number));
    assert.ok(Number.isFinite(firstOpen), 'the fleet opened');
    const downHits = hits.filter(h => h.mode === 'down' && h.t > firstOpen + 50).length;
    const windows = Math.ceil((Date.now() - firstOpen) / 300) + 1;
    assert.ok(downHits <= windows, `while down, at most one probe per half-open window fleet-wide: ${downHits} hits in ${windows} windows`);

    mode = 'recovering';
    const recoveredAt = Date.now();
    // Wait for the fleet to close and every replica to succeed.
    for (let i = 0; i < 200; i++) {
      const ok = new Set(events.filter(e => e.outcome === 'ok' && (e.t as number) > recoveredAt).map(e => e.id));
      if (ok.size === 4) break;
      await sleep(25);
    }
    const okAfter = new Set(events.filter(e => e.outcome === 'ok' && (e.t as number) > recoveredAt).map(e => e.id));
    assert.is(okAfter.size, 4, 'every replica calls again once the probe closed the breaker');
    const probes = hits.filter(h => h.mode === 'recovering');
    assert.is(probes.length, 1, `exactly one call reached the recovering service (${JSON.stringify(probes)})`);
    assert.is(concurrentWhileProbing, 0);

  } finally {
    for (const r of replicas) if (r.connected) r.send('stop');
    await Promise.race([Promise.all(replicas.map(exited)), sleep(5_000)]);
    for (const r of replicas) r.kill('SIGKILL');
  }
});

test('Redis killed mid-run: the breakers work on their own, then rejoin the fleet', async () => {
  const service = createServer((_req, res) => res.end('ok'));
  servers.add(service);
  await new Promise<void>(resolve => service.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(service.address() as { port: number }).port}/`;
  const events: Array<Record<string, unknown>> = [];
  const r = replica(['breaker', redis.url, url, 'solo', 'svc-solo'], m => events.push(m));
  try {
    await message(r, m => (m.outcome === 'ok' ? true : undefined));
    await redis.kill();
    const killedAt = Date.now();
    await sleep(800);
    const during = events.filter(e => (e.t as number) > killedAt + 300);
    assert.ok(during.length > 10, 'calls go on while the store is down');
    assert.ok(during.every(e => e.outcome === 'ok'), 'the service is fine: the calls succeed (local only)');
    assert.ok(during.some(e => e.healthy === false), 'the breaker knows the store is down');
    await redis.restart();
    const back = await message(r, m => (m.healthy === true && (m.t as number) > Date.now() - 50 ? m : undefined), 10_000);
    assert.is(back.outcome, 'ok');
    // Back in the fleet: a kill switch set now reaches the replica.
    const admin = new RedisSafetyStore({ client: await redis.client() });
    await admin.forceOpen('svc-solo', 'incident');
    await message(r, m => (m.outcome === 'rejected' ? true : undefined), 10_000);
    await admin.releaseForced('svc-solo');
  } finally {
    r.kill('SIGKILL');
  }
});

test('a rate limit holds across 4 processes within 1%', async () => {
  const rate = 200;
  const burst = 20;
  const results: Array<{ allowed: number; first: number; last: number }> = [];
  const procs = [0, 1, 2, 3].map(() => replica(['limit', redis.url, String(rate), String(burst), '2000']));
  const done = procs.map(p => message(p, m => (typeof m.allowed === 'number' ? (m as unknown as { allowed: number; first: number; last: number }) : undefined)));
  await sleep(1_500); // let every replica connect
  for (const p of procs) p.send('go');
  results.push(...(await Promise.all(done)));
  const allowed = results.reduce((n, r) => n + r.allowed, 0);
  const span = Math.max(...results.map(r => r.last)) - Math.min(...results.map(r => r.first));
  const expected = burst + (rate * span) / 1000;
  assert.ok(results.every(r => r.allowed > 0), 'every replica got some');
  // The limit holds: never more than 1% over what the bucket allows in the
  // time the replicas used it. (Less is possible on a loaded machine: a
  // replica that is not scheduled takes no tokens.)
  assert.ok(allowed <= expected * 1.01 + 1, `allowed ${allowed}, more than the bucket allows (${expected.toFixed(1)} over ${span} ms)`);
  assert.ok(allowed >= expected * 0.5, `allowed ${allowed}: the replicas barely used the bucket (${expected.toFixed(1)} over ${span} ms)`);
});

test('a Policy shared through Redis: its rate limit holds across 3 processes, and its kill switch stops them all', async () => {
  const rate = 100;
  const burst = 10;
  const procs = [0, 1, 2].map(() => replica(['policy', redis.url, String(rate), String(burst), '1500']));
  try {
    const done = procs.map(p => message(p, m => (m.counts !== undefined ? (m as unknown as { counts: Record<string, number>; first: number; last: number }) : undefined)));
    await sleep(1_500);
    for (const p of procs) p.send('go');
    const results = await Promise.all(done);
    const allowed = results.reduce((n, r) => n + (r.counts.allowed ?? 0), 0);
    const denied = results.reduce((n, r) => n + (r.counts.rate_limited ?? 0), 0);
    const span = Math.max(...results.map(r => r.last)) - Math.min(...results.map(r => r.first));
    const expected = burst + (rate * span) / 1000;
    assert.ok(denied > 0, 'the replicas asked for more than the limit');
    assert.ok(allowed <= expected * 1.01 + 1, `allowed ${allowed}, more than the shared bucket allows (${expected.toFixed(1)} over ${span} ms)`);
    assert.ok(allowed >= expected * 0.5, `allowed ${allowed}: the replicas barely used the bucket (${expected.toFixed(1)})`);
    const admin = new RedisSafetyStore({ client: await redis.client() });
    await admin.forceOpen('tool:send_email', 'spam wave');
    const killed = procs.map(p => message(p, m => (m.killed as string | undefined)));
    for (const p of procs) p.send('kill');
    assert.equal(await Promise.all(killed), ['kill_switch', 'kill_switch', 'kill_switch']);
    await admin.releaseForced('tool:send_email');
  } finally {
    for (const p of procs) p.kill('SIGKILL');
  }
});

test('an approval given from another process resumes the call; a pending approval survives a restart', async () => {
  const admin = new DurableApprovals({ store: new RedisSafetyStore({ client: await redis.client() }) });
  // 1. Approved from here while the replica waits.
  const a = replica(['approval', redis.url, 'call-A']);
  const resultA = message(a, m => (m.result ?? m.error) as string | undefined);
  let pending = await waitPending(admin, 'call-A');
  assert.ok((await admin.approve(pending.id, { reviewer: 'alice' })).ok);
  assert.is(await resultA, 'sent 25');
  await exited(a);

  // 2. The waiting process is killed; a restarted one resumes the same call.
  const b = replica(['approval', redis.url, 'call-B']);
  pending = await waitPending(admin, 'call-B');
  b.kill('SIGKILL');
  await exited(b);
  assert.is((await admin.get(pending.id))?.state, 'pending', 'the approval outlived the process');
  const b2 = replica(['approval', redis.url, 'call-B']);
  const resultB = message(b2, m => (m.result ?? m.error) as string | undefined);
  await message(b2, m => (m.waiting ? true : undefined));
  await sleep(200);
  assert.ok((await admin.approve(pending.id, { reviewer: 'bob' })).ok);
  assert.is(await resultB, 'sent 25');
  await exited(b2);

  // 3. Denied from here.
  const c = replica(['approval', redis.url, 'call-C']);
  const resultC = message(c, m => (m.error as string | undefined) ?? (m.result as string | undefined));
  pending = await waitPending(admin, 'call-C');
  await admin.deny(pending.id, { reviewer: 'carol' });
  assert.is(await resultC, 'ActionBlockedError');
  await exited(c);
});

async function waitPending(admin: DurableApprovals, callId: string) {
  for (let i = 0; i < 400; i++) {
    const found = (await admin.pending()).find(p => p.id.startsWith(`${callId}:`));
    if (found) return found;
    await sleep(25);
  }
  throw new Error(`no pending approval for ${callId}`);
}

test.run();
