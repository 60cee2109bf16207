import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CircuitBreakerCore } from '../../../src/patterns/breaker/circuit-breaker-core.js';
import type { CircuitBreakerOptions } from '../../../src/patterns/breaker/circuit-breaker-options.js';
import { exponentialCooldown } from '../../../src/patterns/breaker/cooldown.js';
import { consecutiveFailures, failureRate, slowCallRate } from '../../../src/patterns/breaker/trip-strategies.js';

const test = suite('circuit breaker: bad configuration throws at construction, naming the option');

function throwsNaming(make: () => unknown, ErrorClass: typeof TypeError | typeof RangeError, pattern: RegExp): void {
  let caught: unknown;
  try {
    make();
  } catch (err) {
    caught = err;
  }
  assert.instance(caught, ErrorClass, `expected a ${ErrorClass.name} matching ${pattern}`);
  assert.match((caught as Error).message, pattern);
}

const breaker = (options: unknown) => () => new CircuitBreakerCore(options as CircuitBreakerOptions);

test('thresholds: zero, negative, fractional counts, rates outside (0, 1]', () => {
  throwsNaming(breaker({ failureThreshold: 0 }), RangeError, /^failureThreshold must be >= 1, got 0$/);
  throwsNaming(breaker({ failureThreshold: -3 }), RangeError, /failureThreshold .* got -3/);
  throwsNaming(breaker({ failureThreshold: 2.5 }), RangeError, /failureThreshold must be an integer, got 2.5/);
  throwsNaming(breaker({ failureThreshold: '5' }), TypeError, /failureThreshold must be a finite number, got "5"/);
  throwsNaming(breaker({ errorRateThreshold: 0 }), RangeError, /errorRateThreshold must be > 0 and <= 1, got 0/);
  throwsNaming(breaker({ errorRateThreshold: 1.5 }), RangeError, /errorRateThreshold .* got 1.5/);
  throwsNaming(breaker({ errorRateWindowMs: -1 }), RangeError, /errorRateWindowMs .* got -1/);
  throwsNaming(() => consecutiveFailures(0), RangeError, /consecutiveFailures threshold must be >= 1, got 0/);
  throwsNaming(() => failureRate({ threshold: 2 }), RangeError, /failureRate.threshold .* got 2/);
  throwsNaming(() => failureRate({ threshold: Number.NaN }), TypeError, /failureRate.threshold must be a finite number, got NaN/);
  throwsNaming(() => slowCallRate({ threshold: 0.5, slowCallMs: 0 }), RangeError, /slowCallRate.slowCallMs .* got 0/);
  throwsNaming(() => slowCallRate({ threshold: -0.1, slowCallMs: 10 }), RangeError, /slowCallRate.threshold .* got -0.1/);
});

test('windows: shorter than a bucket, too many buckets, both kinds, bad sizes and minimums', () => {
  throwsNaming(() => failureRate({ threshold: 0.5, windowMs: 500, bucketMs: 1_000 }), RangeError, /failureRate.windowMs must be at least one bucket \(bucketMs = 1000\), got 500/);
  throwsNaming(() => failureRate({ threshold: 0.5, windowMs: 60_000, bucketMs: 1 }), RangeError, /failureRate.bucketMs .* at most 1000 buckets/);
  throwsNaming(() => failureRate({ threshold: 0.5, windowMs: 0 }), RangeError, /failureRate.windowMs must be > 0, got 0/);
  throwsNaming(() => failureRate({ threshold: 0.5, windowMs: 1_000, windowCalls: 10 }), TypeError, /give windowMs or windowCalls, not both/);
  throwsNaming(() => failureRate({ threshold: 0.5, windowCalls: 10, bucketMs: 10 }), TypeError, /bucketMs applies to a time window/);
  throwsNaming(() => failureRate({ threshold: 0.5, windowCalls: 0 }), RangeError, /failureRate.windowCalls .* got 0/);
  throwsNaming(() => failureRate({ threshold: 0.5, windowCalls: 10, minimumCalls: 11 }), RangeError, /failureRate.minimumCalls must be >= 1 and <= 10, got 11/);
  throwsNaming(() => failureRate({ threshold: 0.5, minimumCalls: 0 }), RangeError, /failureRate.minimumCalls .* got 0/);
  throwsNaming(() => failureRate({ threshold: 0.5, windowsMs: 10 } as never), TypeError, /failureRate: unknown option "windowsMs"/);
});

test('unknown options and wrong types', () => {
  throwsNaming(breaker({ failureTreshold: 3 }), TypeError, /CircuitBreaker: unknown option "failureTreshold"/);
  throwsNaming(breaker(null), TypeError, /circuit breaker options must be an object, got null/);
  throwsNaming(breaker({ name: '' }), TypeError, /name must be a non-empty string, got ""/);
  throwsNaming(breaker({ agentId: 7 }), TypeError, /agentId must be a non-empty string, got 7/);
  throwsNaming(breaker({ classifyError: 'failure' }), TypeError, /classifyError must be a function, got "failure"/);
  throwsNaming(breaker({ classifyResult: {} }), TypeError, /classifyResult must be a function/);
  throwsNaming(breaker({ onStateChange: true }), TypeError, /onStateChange must be a function, got true/);
  throwsNaming(breaker({ now: 0 }), TypeError, /now must be a function, got 0/);
  throwsNaming(breaker({ metricsOnly: 'yes' }), TypeError, /metricsOnly must be a boolean, got "yes"/);
});

test('trip strategies: not a strategy, empty, mixed with the shorthands', () => {
  throwsNaming(breaker({ trip: {} }), TypeError, /trip.name must be a non-empty string/);
  throwsNaming(breaker({ trip: [consecutiveFailures(2), { name: 'x' }] }), TypeError, /trip\[1\].create must be a function/);
  throwsNaming(breaker({ trip: [] }), RangeError, /trip must name at least one trip strategy/);
  throwsNaming(breaker({ trip: consecutiveFailures(2), failureThreshold: 3 }), TypeError, /give trip or failureThreshold, not both/);
  throwsNaming(breaker({ trip: { name: 'x', create: () => null, slowCallMs: -1 } }), RangeError, /trip.slowCallMs .* got -1/);
});

test('cooldown and half-open settings', () => {
  throwsNaming(breaker({ cooldownMs: -1 }), RangeError, /cooldownMs must be >= 0 and <= 300000, got -1/);
  throwsNaming(breaker({ cooldownMs: 10_000, maxCooldownMs: 5_000 }), RangeError, /cooldownMs must be >= 0 and <= 5000, got 10000/);
  throwsNaming(breaker({ maxCooldownMs: -5 }), RangeError, /maxCooldownMs .* got -5/);
  throwsNaming(breaker({ halfOpenProbes: 0 }), RangeError, /halfOpenProbes .* got 0/);
  throwsNaming(breaker({ halfOpenWaitMs: -1 }), RangeError, /halfOpenWaitMs .* got -1/);
  throwsNaming(breaker({ maxHalfOpenMs: 0 }), RangeError, /maxHalfOpenMs must be > 0, got 0/);
  throwsNaming(() => exponentialCooldown(-1), RangeError, /exponentialCooldown initialMs .* got -1/);
  throwsNaming(() => exponentialCooldown(100, { factor: 0.5 }), RangeError, /exponentialCooldown.factor must be >= 1, got 0.5/);
  // a fixed cooldown above the default bound raises the bound with it
  assert.ok(new CircuitBreakerCore({ cooldownMs: 600_000 }));
});

test('initialState: version, state, times, openings, trips', () => {
  const good = { version: 1, state: 'open', openedAt: 1, retryAt: 2, openings: 1, trips: [] };
  assert.ok(new CircuitBreakerCore({ initialState: good as never }));
  throwsNaming(breaker({ initialState: { ...good, version: 2 } }), TypeError, /initialState.version must be 1, got 2/);
  throwsNaming(breaker({ initialState: { ...good, state: 'half_open' } }), TypeError, /initialState.state must be "closed" or "open", got "half_open"/);
  throwsNaming(breaker({ initialState: { ...good, retryAt: undefined } }), TypeError, /initialState.retryAt must be a finite number/);
  throwsNaming(breaker({ initialState: { ...good, openings: -1 } }), TypeError, /initialState.openings must be a non-negative integer, got -1/);
  throwsNaming(breaker({ initialState: { ...good, trips: [{}] } }), TypeError, /initialState.trips\[0\].name must be a non-empty string/);
  throwsNaming(breaker({ initialState: 'open' }), TypeError, /initialState must be an object, got "open"/);
});

test.run();
