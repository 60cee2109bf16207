import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryPolicyStore, Policy, PolicyDeniedError, isPolicyDeniedError } from '../../../src/index.js';
import type { PolicyStore, PolicySubject, PolicyTicket } from '../../../src/index.js';

const test = suite('Policy');

// The policy's wait timers are unref'd (a waiting call must not keep an app alive); keep the test process alive.
let keepAlive: NodeJS.Timeout;
test.before(() => {
  keepAlive = setInterval(() => {}, 60_000);
});
test.after(() => clearInterval(keepAlive));

const call = (tool: string, args: unknown[] = [], agent: string | undefined = 'a1', run?: string): PolicySubject => ({ agent, tool, args, run });

/** A fake clock and a sleep that moves it. */
function fakeTime(start = 1_000_000) {
  const clock = { t: start };
  return { clock, now: () => clock.t, sleep: async (ms: number) => void (clock.t += ms) };
}

function decided(p: Policy, s: PolicySubject): PolicyTicket {
  const t = p.decide(s);
  assert.not.ok(t instanceof Promise, 'the memory store decides synchronously');
  return t as PolicyTicket;
}

test('with nothing configured every call is allowed, synchronously', () => {
  const t = decided(new Policy(), call('x'));
  assert.is(t.allowed, true);
  assert.is(t.reason, 'allowed');
  assert.is(t.limit, undefined);
});

test('deny overrides allow; argument constraints decide which rule matches', () => {
  const p = new Policy({
    defaultEffect: 'deny',
    rules: [
      { name: 'mail', effect: 'allow', tools: ['send_email'] },
      { name: 'external-mail', effect: 'deny', tools: ['send_email'], where: { to: { pattern: /@example\.com$/ } } },
      { name: 'pay-small', effect: 'allow', tools: ['pay'], agents: ['a1'], where: { amount: { max: 100 }, currency: { oneOf: ['EUR', 'USD'] } } },
    ],
  });
  // The deny rule matches the internal domain here (pattern), to show it wins over the allow.
  assert.is(decided(p, call('send_email', [{ to: 'x@example.com' }])).reason, 'rule_denied');
  assert.is(decided(p, call('send_email', [{ to: 'x@example.com' }])).rule, 'external-mail');
  const ok = decided(p, call('send_email', [{ to: 'x@other.org' }]));
  assert.is(ok.allowed, true);
  assert.is(ok.rule, 'mail');
  assert.is(decided(p, call('pay', [{ amount: 50, currency: 'EUR' }])).allowed, true);
  assert.is(decided(p, call('pay', [{ amount: 500, currency: 'EUR' }])).reason, 'not_allowed');
  assert.is(decided(p, call('pay', [{ amount: 50, currency: 'GBP' }])).reason, 'not_allowed');
  assert.is(decided(p, call('pay', [{ amount: 50, currency: 'EUR' }], 'a2')).reason, 'not_allowed', 'another agent');
  assert.is(decided(p, call('delete_all')).reason, 'not_allowed', 'the default effect');
});

test('a constraint that cannot be evaluated, or a throwing `when`, denies (fails closed)', () => {
  const p = new Policy({
    rules: [
      { name: 'big-payments', effect: 'deny', tools: ['pay'], where: { amount: { min: 1000 } } },
      { name: 'odd', effect: 'deny', tools: ['odd'], when: () => { throw new Error('boom'); } },
    ],
  });
  const missing = decided(p, call('pay', [{ currency: 'EUR' }]));
  assert.is(missing.allowed, false);
  assert.is(missing.reason, 'evaluation_error');
  assert.is(missing.rule, 'big-payments');
  assert.match(missing.detail!, /amount is not a number/);
  assert.is(decided(p, call('pay', [{ amount: '5000' }])).reason, 'evaluation_error', 'a string is not a number');
  assert.is(decided(p, call('pay', [{ amount: 10 }])).allowed, true);
  const odd = decided(p, call('odd'));
  assert.is(odd.reason, 'evaluation_error');
  assert.is(odd.detail, 'boom');
});

test('paths reach into several arguments by position', () => {
  const p = new Policy({ rules: [{ name: 'no-root', effect: 'deny', where: { '0': { equals: 'root' }, '1.force': { equals: true } } }] });
  assert.is(decided(p, call('rm', ['root', { force: true }])).reason, 'rule_denied');
  assert.is(decided(p, call('rm', ['root', { force: false }])).allowed, true);
});

test('the authorizer: allow, deny, error and a throw (the last two deny)', () => {
  let answer: { decision: 'allow' | 'deny' | 'error'; policies: string[]; error?: string } = { decision: 'allow', policies: ['p0'] };
  let throws = false;
  const p = new Policy({
    authorizer: {
      authorize: () => {
        if (throws) throw new Error('engine down');
        return answer;
      },
    },
  });
  assert.is(decided(p, call('x')).rule, 'p0');
  answer = { decision: 'deny', policies: ['forbid-x'] };
  assert.equal([decided(p, call('x')).reason, decided(p, call('x')).rule], ['authorizer_denied', 'forbid-x']);
  answer = { decision: 'error', policies: ['p1'], error: 'attribute missing' };
  assert.equal([decided(p, call('x')).reason, decided(p, call('x')).detail], ['evaluation_error', 'attribute missing']);
  throws = true;
  assert.equal([decided(p, call('x')).reason, decided(p, call('x')).detail], ['evaluation_error', 'engine down']);
});

test('the kill switch stops everything, an agent, a tool or a pair, and resumes', async () => {
  const p = new Policy();
  await p.stop({ agent: 'a1' });
  assert.equal([decided(p, call('x')).reason, decided(p, call('x')).rule], ['kill_switch', 'kill_switch:agent:a1']);
  assert.is(decided(p, call('x', [], 'a2')).allowed, true);
  await p.resume({ agent: 'a1' });
  await p.stop({ tool: 'x' });
  assert.is(decided(p, call('x', [], 'a2')).reason, 'kill_switch');
  assert.is(decided(p, call('y', [], 'a2')).allowed, true);
  await p.resume({ tool: 'x' });
  await p.stop({ agent: 'a1', tool: 'y' });
  assert.is(decided(p, call('y')).reason, 'kill_switch');
  assert.is(decided(p, call('x')).allowed, true);
  await p.stop();
  assert.is(decided(p, call('z', [], undefined)).rule, 'kill_switch:all');
  await p.resume();
  await p.resume({ agent: 'a1', tool: 'y' });
  assert.is(decided(p, call('y')).allowed, true);
});

test('a token bucket per agent denies with the limit, remaining 0 and retry-after; the bucket refills lazily', () => {
  const time = fakeTime();
  const p = new Policy({ now: time.now, limits: [{ kind: 'token_bucket', name: 'rate', ratePerSecond: 2, burst: 3, tools: ['x'] }] });
  const remaining = [1, 2, 3].map(() => decided(p, call('x')).remaining);
  assert.equal(remaining, [2, 1, 0]);
  const denied = decided(p, call('x'));
  assert.equal([denied.allowed, denied.reason, denied.limit, denied.remaining, denied.retryAfterMs], [false, 'rate_limited', 'rate', 0, 500]);
  assert.is(decided(p, call('x', [], 'a2')).allowed, true, 'another agent has its own bucket');
  assert.is(decided(p, call('y')).allowed, true, 'another tool is not limited');
  time.clock.t += 500;
  assert.is(decided(p, call('x')).allowed, true);
  const err = denied.error();
  assert.ok(isPolicyDeniedError(err));
  assert.instance(err, PolicyDeniedError);
  assert.equal([err.name, err.reason, err.limit, err.retryAfterMs, err.tool, err.agentId], ['PolicyDeniedError', 'rate_limited', 'rate', 500, 'x', 'a1']);
  assert.match(err.message, /policy denied tool "x" for agent "a1" \(rate_limited by rate\); retry after 500 ms/);
});

test('maxWaitMs: a rate-limited call waits its retry-after when that fits, else is denied at once', async () => {
  const time = fakeTime();
  const p = new Policy({ now: time.now, sleep: time.sleep, maxWaitMs: 600, limits: [{ kind: 'sliding_window', name: 'w', limit: 2, windowMs: 1000, per: [] }] });
  decided(p, call('x'));
  time.clock.t += 300;
  decided(p, call('x'));
  // Admissions at 0 and 300: the next fits at 1000, 700 ms away: more than maxWaitMs, denied at once.
  const refused = await p.decide(call('x'));
  assert.equal([refused.allowed, refused.retryAfterMs, refused.waitedMs], [false, 700, 0]);
  time.clock.t += 200; // now 500 ms to wait: it fits
  const waited = await p.decide(call('x'));
  assert.equal([waited.allowed, waited.waitedMs], [true, 500]);
});

test('budgets: fixed costs are reserved at admission, cost functions charged on success, per run and per window', async () => {
  const time = fakeTime(0);
  const p = new Policy({
    now: time.now,
    limits: [
      { kind: 'budget', name: 'calls', per: 'run', limit: 3, cost: 1, tools: ['search'] },
      { kind: 'budget', name: 'tokens', per: 'agent', limit: 100, windowMs: 60_000, cost: (_args, result) => (result as { tokens: number }).tokens, tools: ['llm'] },
    ],
  });
  for (let i = 0; i < 3; i++) assert.is(decided(p, call('search', [], 'a1', 'r1')).allowed, true);
  const spent = decided(p, call('search', [], 'a1', 'r1'));
  assert.equal([spent.reason, spent.limit, spent.remaining, spent.retryAfterMs], ['budget_exhausted', 'calls', 0, undefined]);
  assert.is(decided(p, call('search', [], 'a1', 'r2')).allowed, true, 'a new run has a new budget');

  const t1 = decided(p, call('llm'));
  const s1 = await p.settle(t1, { ok: true, result: { tokens: 70 } });
  assert.equal(s1, { cost: 70, budget: 'tokens', remaining: 30, error: undefined });
  const t2 = decided(p, call('llm'));
  assert.is(t2.allowed, true, 'room left (30)');
  const s2 = await p.settle(t2, { ok: true, result: { tokens: 50 } });
  assert.is(s2.remaining, -20, 'a call in flight may overspend by its own cost');
  const failed = decided(p, call('llm'));
  assert.equal([failed.reason, failed.retryAfterMs], ['budget_exhausted', 60_000]);
  time.clock.t = 60_000;
  const t3 = decided(p, call('llm'));
  assert.is(t3.allowed, true, 'the next window');
  assert.equal(await p.settle(t3, { ok: false, error: new Error('x') }), { cost: undefined, budget: undefined, remaining: undefined, error: undefined }, 'a failed call is not charged');
  assert.equal(await p.settle(t3, { ok: true, result: { tokens: 1 } }), { cost: undefined, budget: undefined, remaining: undefined, error: undefined }, 'settling twice does nothing');
});

test('a throwing or bad cost function charges nothing and says why', async () => {
  const p = new Policy({ limits: [{ kind: 'budget', name: 'b', limit: 10, cost: (_a, r) => r as number }] });
  const s = await p.settle(decided(p, call('x')), { ok: true, result: -1 });
  assert.match(s.error!, /cost of budget "b" returned -1/);
  const s2 = await p.settle(decided(p, call('x')), { ok: true, result: 4 });
  assert.is(s2.remaining, 6);
});

test('limits are all-or-nothing: a call refused by its budget takes no token', () => {
  const p = new Policy({
    now: () => 0,
    limits: [
      { kind: 'token_bucket', name: 'rate', ratePerSecond: 0.001, burst: 2 },
      { kind: 'budget', name: 'money', limit: 5, cost: 5 },
    ],
  });
  assert.is(decided(p, call('x')).allowed, true);
  assert.is(decided(p, call('x')).reason, 'budget_exhausted');
  const rate = (p.store as MemoryPolicyStore).admit([{ kind: 'token_bucket', key: 'rate\u0000a1\u0000*\u0000*', ratePerMs: 0.000001, burst: 2 }], 0);
  assert.is(rate.admitted, true, 'the refused call took no token: one is left for this probe');
  assert.is(rate.remaining[0], 0);
});

test('allowed tickets name the limit closest to exhaustion', () => {
  const p = new Policy({
    now: () => 0,
    limits: [
      { kind: 'token_bucket', name: 'rate', ratePerSecond: 1, burst: 10 },
      { kind: 'budget', name: 'money', limit: 4, cost: 1 },
    ],
  });
  const t = decided(p, call('x'));
  assert.equal([t.limit, t.remaining], ['money', 3]);
});

test('concurrency: 10,000 concurrent calls through a limit of 16 never exceed it, and all finish', async () => {
  const p = new Policy({ maxWaitMs: 60_000, limits: [{ kind: 'concurrency', name: 'slots', max: 16, per: [] }] });
  let inFlight = 0;
  let peak = 0;
  const one = async (i: number): Promise<number> => {
    const ticket = await p.admit(call('x', [i]));
    inFlight++;
    peak = Math.max(peak, inFlight);
    await new Promise(r => setImmediate(r));
    inFlight--;
    await p.settle(ticket, { ok: true, result: i });
    return i;
  };
  const results = await Promise.all(Array.from({ length: 10_000 }, (_, i) => one(i)));
  assert.is(results.length, 10_000);
  assert.is(peak, 16);
  assert.is(inFlight, 0);
  const after = decided(p, call('x'));
  assert.is(after.remaining, 15, 'every slot was given back');
});

test('concurrency without waiting: of 10,000 concurrent calls exactly `max` are admitted', async () => {
  const p = new Policy({ limits: [{ kind: 'concurrency', name: 'slots', max: 16, per: [] }] });
  const tickets = await Promise.all(Array.from({ length: 10_000 }, async (_, i) => p.decide(call('x', [i]))));
  assert.is(tickets.filter(t => t.allowed).length, 16);
  const denied = tickets.filter(t => !t.allowed);
  assert.ok(denied.every(t => t.reason === 'concurrency_limited' && t.limit === 'slots' && t.remaining === 0 && t.retryAfterMs === undefined));
});

test('a waiter for a slot is denied when maxWaitMs passes, and aborts with the caller', async () => {
  const p = new Policy({ maxWaitMs: 30, limits: [{ kind: 'concurrency', name: 'slots', max: 1, per: [] }] });
  decided(p, call('x'));
  const late = await p.decide(call('x'));
  assert.equal([late.allowed, late.reason], [false, 'concurrency_limited']);
  assert.ok(late.waitedMs >= 25, `waited ${late.waitedMs} ms`);
  const controller = new AbortController();
  const pending = p.decide(call('x'), controller.signal);
  controller.abort(new Error('stop'));
  const reason = await Promise.resolve(pending).then(() => 'resolved', (err: Error) => err.message);
  assert.is(reason, 'stop');
});

test('a store that fails denies (store_error); one that answers with promises works', async () => {
  const broken = new Policy({
    limits: [{ kind: 'token_bucket', name: 'r', ratePerSecond: 1, burst: 1 }],
    store: Object.assign(Object.create(MemoryPolicyStore.prototype), new MemoryPolicyStore(), {
      admit() {
        throw new Error('connection refused');
      },
    }) as PolicyStore,
  });
  const t = await broken.decide(call('x'));
  assert.equal([t.allowed, t.reason, t.detail], [false, 'store_error', 'connection refused']);

  const inner = new MemoryPolicyStore();
  const asyncStore: PolicyStore = {
    admit: async (c, n) => inner.admit(c, n),
    release: async (k, _n) => inner.release(k),
    charge: async (k, a, l, w, n) => inner.charge(k, a, l, w, n),
    stopped: async (a, tool) => inner.stopped(a, tool),
    stop: async target => inner.stop(target),
    resume: async target => inner.resume(target),
  };
  const p = new Policy({ store: asyncStore, limits: [{ kind: 'budget', name: 'b', limit: 2, cost: (_a, r) => r as number }, { kind: 'concurrency', name: 'c', max: 1 }] });
  const first = p.decide(call('x'));
  assert.instance(first, Promise);
  const ticket = await first;
  assert.is(ticket.allowed, true);
  assert.is((await p.decide(call('x'))).reason, 'concurrency_limited');
  assert.equal(await p.settle(ticket, { ok: true, result: 2 }), { cost: 2, budget: 'b', remaining: 0, error: undefined });
  assert.is((await p.decide(call('x'))).reason, 'budget_exhausted');
  await p.stop({ tool: 'x' });
  assert.is((await p.decide(call('x'))).reason, 'kill_switch');
});

test('bad configuration throws naming the option and the value', () => {
  assert.throws(() => new Policy({ limits: [{ kind: 'token_bucket', name: 'r', ratePerSecond: 0, burst: 1 }] }), /limits\[0\]\.ratePerSecond must be > 0, got 0/);
  assert.throws(() => new Policy({ limits: [{ kind: 'token_bucket', name: 'r', ratePerSecond: 1, burst: 1.5 }] }), /limits\[0\]\.burst must be an integer, got 1\.5/);
  assert.throws(() => new Policy({ limits: [{ kind: 'sliding_window', name: 'w', limit: 1, windowMs: 1, per: 'user' as never }] }), /limits\[0\]\.per\[0\] must be one of/);
  assert.throws(() => new Policy({ limits: [{ kind: 'budget', name: 'b', limit: 1, cost: 'x' as never }] }), /limits\[0\]\.cost must be a function/);
  assert.throws(() => new Policy({ limits: [{ kind: 'concurrency', name: 'c', max: 1 }, { kind: 'concurrency', name: 'c', max: 2 }] }), /limits\[1\]\.name "c" is used twice/);
  assert.throws(() => new Policy({ rules: [{ name: 'r', effect: 'maybe' as never }] }), /rules\[0\]\.effect must be one of "allow", "deny", got "maybe"/);
  assert.throws(() => new Policy({ rules: [{ name: 'r', effect: 'deny', where: { amount: { max: '5' as never } } }] }), /rules\[0\]\.where\["amount"\]\.max must be a finite number/);
  assert.throws(() => new Policy({ rules: [{ name: 'r', effect: 'deny', where: { amount: { atMost: 5 } as never } }] }), /unknown option "atMost"/);
  assert.throws(() => new Policy({ maxWaitMs: -1 }), /maxWaitMs must be >= 0/);
  assert.throws(() => new Policy({ limit: [] } as never), /policy: unknown option "limit"/);
  assert.throws(() => new Policy({ store: {} as never }), /store must be a PolicyStore \(no admit method\)/);
  assert.throws(() => new MemoryPolicyStore({ maxCounters: 0 }), /maxCounters must be >= 1, got 0/);
});

test('the memory store stays bounded: idle counters are dropped first, run budgets next', () => {
  const store = new MemoryPolicyStore({ maxCounters: 100 });
  const p = new Policy({ store, now: () => 0, limits: [{ kind: 'budget', name: 'run', per: 'run', limit: 5, cost: 1 }, { kind: 'concurrency', name: 'c', max: 5, per: 'run' }] });
  const live = decided(p, call('x', [], 'a1', 'live'));
  for (let i = 0; i < 1000; i++) void p.settle(decided(p, call('x', [], 'a1', `r${i}`)), { ok: true, result: undefined });
  assert.ok(store.size <= 100, `size ${store.size}`);
  const again = decided(p, call('x', [], 'a1', 'live'));
  assert.is(again.allowed, true);
  assert.ok(live.allowed);
});

test('an admission whose new counter evicts the one an earlier check of the same call created still applies both', () => {
  // Two counters kept. a1's call leaves two partly used buckets; a2's call creates its "first" bucket (evicting a1's
  // oldest), then its "second" one, which evicts the idle, full "first" bucket created a moment before in the same admission.
  const store = new MemoryPolicyStore({ maxCounters: 2 });
  const p = new Policy({
    store,
    now: () => 0,
    limits: [
      { kind: 'token_bucket', name: 'first', ratePerSecond: 0.001, burst: 1 },
      { kind: 'token_bucket', name: 'second', ratePerSecond: 0.001, burst: 2 },
    ],
  });
  assert.is(decided(p, call('x', [], 'a1')).allowed, true);
  const t = decided(p, call('x', [], 'a2'));
  assert.equal([t.allowed, t.reason, t.limit, t.remaining], [true, 'allowed', 'first', 0], 'admitted (not a store error)');
  const again = decided(p, call('x', [], 'a2'));
  assert.equal([again.allowed, again.reason, again.limit], [false, 'rate_limited', 'first'], "the evicted bucket was put back with its token taken");
});

test('the public store admit and the policy agree (one answer object each, not shared)', () => {
  const store = new MemoryPolicyStore();
  const check = { kind: 'token_bucket' as const, key: 'k', ratePerMs: 0.001, burst: 3 };
  const a = store.admit([check], 0);
  const b = store.admit([check], 0);
  assert.is.not(a, b);
  assert.is.not(a.remaining, b.remaining);
  assert.equal([a.admitted, a.remaining, b.admitted, b.remaining], [true, [2], true, [1]]);
});

test.run();
