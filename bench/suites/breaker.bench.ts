/**
 * A passing call through our circuit breaker (the pattern-level `execute`,
 * no span) against cockatiel 3.2.1's ConsecutiveBreaker and opossum 9 (its
 * per-call timeout off and on), in the same process, interleaved.
 *
 * Keys: breaker_vs_cockatiel and breaker_vs_opossum (our time ÷ theirs, for
 * the same trip mode: consecutive failures; opossum with its timeout off,
 * its cheaper setting). Targets: ≤ 1.0 and ≤ 0.33. Also reported: our
 * defaults (consecutive failures + a time-window failure rate, which reads
 * the clock on every call), our time-window rate alone against cockatiel's
 * SamplingBreaker (the same idea), and opossum with its default 10 s timeout.
 */
import { createRequire } from 'node:module';
import { ConsecutiveBreaker, SamplingBreaker, circuitBreaker, handleAll } from 'cockatiel';
import { CircuitBreaker, consecutiveFailures, failureRate } from '../../src/index.js';
import { compare, formatNs, round } from '../lib.js';
import type { BenchSuite } from '../lib.js';

/** The part of opossum's API used here (it ships no types). */
interface Opossum {
  fire(...args: unknown[]): Promise<unknown>;
  shutdown(): void;
}
type OpossumCtor = new (action: (...args: unknown[]) => Promise<unknown>, options?: Record<string, unknown>) => Opossum;

const require = createRequire(import.meta.url);

const suite: BenchSuite = {
  name: 'circuit breaker, passing call',
  async run({ quick }) {
    const OpossumBreaker = require('opossum') as OpossumCtor;
    const tool = async () => 1;

    const ours = new CircuitBreaker({ name: 'bench', trip: consecutiveFailures(5) });
    const oursDefaults = new CircuitBreaker({ name: 'bench-defaults' });
    const oursRate = new CircuitBreaker({ name: 'bench-rate', trip: failureRate({ threshold: 0.5, windowMs: 10_000 }) });
    const cockatiel = circuitBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) });
    const cockatielSampling = circuitBreaker(handleAll, {
      halfOpenAfter: 10_000,
      breaker: new SamplingBreaker({ threshold: 0.5, duration: 10_000 }),
    });
    const opossumNoTimeout = new OpossumBreaker(tool, { timeout: false });
    const opossumTimeout = new OpossumBreaker(tool); // default: a 10 s timer per call

    const results = await compare(
      {
        'ours: execute (consecutive)': () => ours.execute(tool),
        'ours: execute (defaults)': () => oursDefaults.execute(tool),
        'cockatiel 3.2.1 ConsecutiveBreaker': () => cockatiel.execute(tool),
        'ours: execute (failure rate, 10 s window)': () => oursRate.execute(tool),
        'cockatiel 3.2.1 SamplingBreaker (10 s)': () => cockatielSampling.execute(tool),
        'opossum 9 (timeout: false)': () => opossumNoTimeout.fire(),
        'opossum 9 (timeout 10 s)': () => opossumTimeout.fire(),
        'plain await': () => tool(),
      },
      quick ? { iterations: 2_000, runs: 3 } : { iterations: 100_000, runs: 15 },
    );
    opossumNoTimeout.shutdown();
    opossumTimeout.shutdown();
    const ns = (name: string) => results[name].nsPerOp;
    const vsCockatiel = ns('ours: execute (consecutive)') / ns('cockatiel 3.2.1 ConsecutiveBreaker');
    const vsOpossum = ns('ours: execute (consecutive)') / ns('opossum 9 (timeout: false)');
    const vsOpossumTimeout = ns('ours: execute (consecutive)') / ns('opossum 9 (timeout 10 s)');
    const defaultsVsCockatiel = ns('ours: execute (defaults)') / ns('cockatiel 3.2.1 ConsecutiveBreaker');
    const rateVsSampling = ns('ours: execute (failure rate, 10 s window)') / ns('cockatiel 3.2.1 SamplingBreaker (10 s)');
    if (ours.stats().calls.success === 0 || ours.state !== 'closed') throw new Error('the breaker did not run the calls');
    return {
      rows: [
        ...Object.entries(results).map(([name, r]) => ({ name, value: formatNs(r.nsPerOp) })),
        { name: 'ours ÷ cockatiel', value: round(vsCockatiel, 2).toFixed(2), note: 'target ≤ 1.0 (same trip mode)' },
        { name: 'ours ÷ opossum (timeout off)', value: round(vsOpossum, 2).toFixed(2), note: 'target ≤ 0.33' },
        { name: 'ours ÷ opossum (timeout on)', value: round(vsOpossumTimeout, 2).toFixed(2) },
        { name: 'ours (defaults) ÷ cockatiel', value: round(defaultsVsCockatiel, 2).toFixed(2), note: 'defaults add a time-window rate' },
        { name: 'ours (rate) ÷ cockatiel SamplingBreaker', value: round(rateVsSampling, 2).toFixed(2), note: 'both time windows' },
      ],
      figures: {
        breaker_vs_cockatiel: round(vsCockatiel, 3),
        breaker_vs_opossum: round(vsOpossum, 3),
        breaker_vs_opossum_timeout: round(vsOpossumTimeout, 3),
        breaker_defaults_vs_cockatiel: round(defaultsVsCockatiel, 3),
        breaker_rate_vs_cockatiel_sampling: round(rateVsSampling, 3),
      },
    };
  },
};
export default suite;
