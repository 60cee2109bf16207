/**
 * Breakers shared through a store, in one process: several "replicas" (one
 * breaker each) over one MemorySafetyStore and one manual clock.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CircuitBreakerCore } from '../../../src/patterns/breaker/circuit-breaker-core.js';
import { isCircuitOpenError } from '../../../src/patterns/breaker/circuit-open-error.js';
import type { CircuitOpenError } from '../../../src/patterns/breaker/circuit-open-error.js';
import { consecutiveFailures } from '../../../src/patterns/breaker/trip-strategies.js';
import { MemorySafetyStore } from '../../../src/patterns/store/memory-safety-store.js';
import type { SafetyStore } from '../../../src/patterns/store/safety-store.js';
import type { BreakerFleetOptions } from '../../../src/patterns/store/store-breaker-fleet.js';

const test = suite('breakers shared through a SafetyStore');

class Clock {
  t = 1_000_000;
  now = (): number => this.t;
}

const settle = () => new Promise(resolve => setImmediate(resolve));

function replica(store: SafetyStore, clock: Clock, id: string, fleet: Partial<BreakerFleetOptions> = {}, reports: string[] = []) {
  return new (class extends CircuitBreakerCore {
    protected override _reportError(message: string): void {
      reports.push(message);
    }
  })({ name: 'pay', trip: consecutiveFailures(1), cooldownMs: 1_000, now: clock.now, fleet: { store, replica: id, syncMs: 0, ...fleet } });
}

const fail = async () => {
  throw new Error('down');
};

async function outcome(b: CircuitBreakerCore, fn: () => Promise<unknown>): Promise<string> {
  try {
    await b.execute(fn);
    return 'ok';
  } catch (err) {
    return isCircuitOpenError(err) ? `rejected:${(err as CircuitOpenError).state}` : 'failed';
  }
}

test('an open reported by the quorum opens every replica; below it, only the one that failed', async () => {
  const store = new MemorySafetyStore();
  const clock = new Clock();
  const [a, b, c] = ['a', 'b', 'c'].map(id => replica(store, clock, id, { quorum: 2 }));
  assert.is(await outcome(a, fail), 'failed');
  await settle();
  assert.is(a.state, 'open');
  assert.is(await outcome(c, async () => 'x'), 'ok', 'one replica is below the quorum: c still calls');
  assert.is(await outcome(b, fail), 'failed');
  await settle();
  await outcome(c, async () => 'x'); // c reads the fleet state in the background…
  await settle();
  assert.is(await outcome(c, async () => 'x'), 'rejected:open', '… and then follows the fleet-wide open');
  assert.is(c.lastTransitions(1)[0].reason, 'fleet_open');
});

test('half-open: exactly one probe fleet-wide; its success closes every replica', async () => {
  const store = new MemorySafetyStore();
  const clock = new Clock();
  const replicas = ['a', 'b', 'c', 'd'].map(id => replica(store, clock, id));
  await outcome(replicas[0], fail);
  await settle();
  for (const r of replicas) await outcome(r, async () => 'x');
  await settle();
  assert.equal(replicas.map(r => r.state), ['open', 'open', 'open', 'open']);

  clock.t += 1_000; // the fleet's open time has passed
  let probes = 0;
  let release!: () => void;
  const probe = () => {
    probes++;
    return new Promise<string>(resolve => (release = () => resolve('recovered')));
  };
  // Every replica asks; the first to win the lease probes, the rest are refused.
  const first = replicas.map(r => outcome(r, probe));
  assert.equal(await Promise.all(first), ['rejected:half_open', 'rejected:half_open', 'rejected:half_open', 'rejected:half_open'], 'nobody probes before holding the lease');
  await settle();
  const second = replicas.map(r => outcome(r, probe));
  await settle();
  assert.is(probes, 1, 'one probe fleet-wide');
  release();
  const results = await Promise.all(second);
  assert.is(results.filter(r => r === 'ok').length, 1);
  assert.is(results.filter(r => r === 'rejected:half_open').length, 3);
  await settle();
  for (const r of replicas) await outcome(r, async () => 'x');
  await settle();
  assert.equal(await Promise.all(replicas.map(r => outcome(r, async () => 'x'))), ['ok', 'ok', 'ok', 'ok'], 'the probe closed every replica');
  assert.ok(replicas.some(r => r.lastTransitions(1)[0].reason === 'fleet_closed'));
});

test('a failed probe re-opens every replica for another cooldown', async () => {
  const store = new MemorySafetyStore();
  const clock = new Clock();
  const [a, b] = ['a', 'b'].map(id => replica(store, clock, id));
  await outcome(a, fail);
  await settle();
  await outcome(b, async () => 'x');
  await settle();
  clock.t += 1_000;
  await outcome(a, async () => 'x'); // takes the lease in the background
  await settle();
  assert.is(await outcome(a, fail), 'failed', 'a probes and the probe fails');
  await settle();
  await outcome(b, async () => 'x');
  await settle();
  assert.is(await outcome(b, async () => 'x'), 'rejected:open');
  assert.is((await store.breakerState('pay', clock.t)).openUntil, clock.t + 1_000);
});

test('the kill switch holds every replica open until released', async () => {
  const store = new MemorySafetyStore();
  const clock = new Clock();
  const [a, b] = ['a', 'b'].map(id => replica(store, clock, id));
  await store.forceOpen('*', 'incident 7');
  await outcome(a, async () => 'x');
  await outcome(b, async () => 'x');
  await settle();
  clock.t += 3_600_000;
  assert.is(await outcome(a, async () => 'x'), 'rejected:open');
  assert.is(a.lastTransitions(1)[0].reason, 'forced_open');
  await store.releaseForced('*');
  await outcome(a, async () => 'x');
  await settle();
  assert.is(await outcome(a, async () => 'x'), 'ok');
  assert.is(a.lastTransitions(1)[0].reason, 'forced_released');
});

test('a new replica restores a fleet-wide open at start (ready())', async () => {
  const store = new MemorySafetyStore();
  const clock = new Clock();
  await store.reportOpen({ key: 'pay', replica: 'gone', now: clock.t, until: clock.t + 5_000, quorum: 1, windowMs: 60_000 });
  const fresh = replica(store, clock, 'new');
  await fresh.fleet!.ready();
  assert.is(await outcome(fresh, async () => 'x'), 'rejected:open');
});

test('the store down: the breaker works on its own, says so once, and rejoins the fleet when it answers', async () => {
  const inner = new MemorySafetyStore();
  let down = true;
  const flaky = new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => (down ? Promise.reject(new Error('ECONNREFUSED')) : (v as (...a: unknown[]) => unknown).apply(target, args));
    },
  }) as SafetyStore;
  const clock = new Clock();
  const reports: string[] = [];
  const a = replica(flaky, clock, 'a', {}, reports);
  assert.is(await outcome(a, async () => 'x'), 'ok');
  assert.is(await outcome(a, fail), 'failed');
  await settle();
  assert.is(await outcome(a, async () => 'x'), 'rejected:open', 'it still opens on its own');
  await settle();
  assert.is(reports.length, 1, `one report while down: ${JSON.stringify(reports)}`);
  assert.match(reports[0], /works on its own/);
  assert.is(a.fleet!.healthy, false);
  clock.t += 1_000;
  assert.is(await outcome(a, async () => 'back'), 'ok', 'local only: it probes without a lease');
  down = false;
  await inner.forceOpen('pay', 'ops');
  await outcome(a, async () => 'x');
  await settle();
  assert.is(a.fleet!.healthy, true);
  assert.is(await outcome(a, async () => 'x'), 'rejected:open', 'back in the fleet: the kill switch applies');
});

test('fleet options are checked at construction, naming the option', () => {
  const clock = new Clock();
  assert.throws(() => new CircuitBreakerCore({ now: clock.now, fleet: { store: {} as SafetyStore } }), /fleet\.store must be a SafetyStore/);
  assert.throws(() => new CircuitBreakerCore({ now: clock.now, fleet: { store: new MemorySafetyStore(), quorum: 0 } }), /fleet\.quorum/);
  assert.throws(() => new CircuitBreakerCore({ now: clock.now, fleet: { store: new MemorySafetyStore(), extra: 1 } as never }), /extra/);
});

test.run();
