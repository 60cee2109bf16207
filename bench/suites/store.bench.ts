/**
 * The fleet store: one shared decision over a real redis-server on
 * loopback, and what a fleet-shared breaker adds to a guarded call.
 *
 * Keys: store_decision_us (one token-bucket decision through
 * RedisSafetyStore: a Lua script, one round trip), store_memory_decision_us
 * (the same in memory), guard_fleet_breaker_vs_guard_breaker (a guarded call
 * whose breaker is shared through Redis ÷ the same with a local breaker: the
 * fleet view is refreshed in the background, so the call never waits for
 * Redis).
 */
import { CircuitBreaker, MemorySafetyStore, RedisSafetyStore, consecutiveFailures, guard } from '../../src/index.js';
import { startRedis } from '../../test/helpers/redis.js';
import { compare, formatNs, round } from '../lib.js';
import type { BenchSuite } from '../lib.js';

const suite: BenchSuite = {
  name: 'fleet store (Redis on loopback)',
  async run({ quick }) {
    const redis = await startRedis();
    try {
      const store = new RedisSafetyStore({ client: await redis.client() });
      const memory = new MemorySafetyStore();
      let now = Date.now();
      const tool = async () => 1;
      const local = guard(tool, { name: 'bench_local', breaker: new CircuitBreaker({ name: 'bench-local', trip: consecutiveFailures(5) }) });
      const shared = guard(tool, {
        name: 'bench_fleet',
        breaker: new CircuitBreaker({ name: 'bench-fleet', trip: consecutiveFailures(5), fleet: { store, replica: 'bench' } }),
      });
      const results = await compare(
        {
          'redis: token bucket decision': () => store.takeTokens('bench', 1e9, 1e9, 1, ++now),
          'memory: token bucket decision': () => memory.takeTokens('bench', 1e9, 1e9, 1, ++now),
          'guard + local breaker': () => local(),
          'guard + fleet breaker (Redis)': () => shared(),
        },
        quick ? { iterations: 300, runs: 3 } : { iterations: 5_000, runs: 9 },
      );
      const ns = (name: string) => results[name].nsPerOp;
      const decisionUs = ns('redis: token bucket decision') / 1000;
      const memoryUs = ns('memory: token bucket decision') / 1000;
      const fleetVsLocal = ns('guard + fleet breaker (Redis)') / ns('guard + local breaker');
      return {
        rows: [
          ...Object.entries(results).map(([name, r]) => ({ name, value: formatNs(r.nsPerOp) })),
          { name: 'one shared decision (Redis, loopback)', value: `${round(decisionUs, 1)} µs`, note: 'a Lua script, one round trip' },
          { name: 'guard: fleet breaker ÷ local breaker', value: round(fleetVsLocal, 2).toFixed(2), note: 'the view refreshes in the background' },
        ],
        figures: {
          store_decision_us: round(decisionUs, 1),
          store_memory_decision_us: round(memoryUs, 2),
          guard_fleet_breaker_vs_guard_breaker: round(fleetVsLocal, 3),
        },
      };
    } finally {
      await redis.stop();
    }
  },
};
export default suite;
