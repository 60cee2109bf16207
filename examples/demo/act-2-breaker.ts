/**
 * Act 2: the ranking service goes down. The circuit breaker opens after a
 * few failures, then rejects calls at once (the tool is not called, the
 * agent falls back to a chronological order), lets one probe through after
 * the cooldown, re-opens while the service is still down, and closes once
 * it has recovered. Every step is on the spans of the trace tree.
 *
 * The cooldown is 300 ms so the act stays quick; in production it is
 * seconds to minutes (default 30 s).
 */
import { CircuitBreaker, guard, invokeAgent, isCircuitOpenError } from '../../src/index.js';
import { heading } from './fake-services.js';
import type { RankingService } from './fake-services.js';

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

export async function act2Breaker(ranking: RankingService): Promise<void> {
  heading('Act 2: the ranking service fails; the circuit breaker contains it');
  const breaker = new CircuitBreaker({
    name: 'rank_content',
    agentId: 'content-ranker-v3',
    failureThreshold: 3,
    cooldownMs: 300,
    onStateChange: (agentId, from, to, t) => console.log(`  ⚡ breaker of ${agentId}: ${from} → ${to} (${t.reason})`),
  });
  const rankContent = guard((userId: string, contentIds: string[]) => ranking.rank(userId, contentIds), {
    name: 'rank_content',
    description: 'Ranks candidate posts for one user by engagement signals',
    timeoutMs: 1_000,
    breaker,
  });
  const candidates = ['p1', 'p2', 'p3', 'p4'];

  /** One ranking, with a chronological fallback when the service cannot help. */
  const rankFor = async (user: string): Promise<void> => {
    const started = performance.now();
    try {
      const ranked = await rankContent(user, candidates);
      console.log(`  ${user}: ranked ${ranked.join(' > ')}`);
    } catch (err) {
      const ms = (performance.now() - started).toFixed(2);
      const why = isCircuitOpenError(err) ? `rejected by the breaker in ${ms} ms, the service was not called` : `failed: ${(err as Error).message}`;
      console.log(`  ${user}: ${why} → chronological order ${candidates.join(' > ')}`);
    }
  };

  await invokeAgent({ name: 'content-ranker', id: 'content-ranker-v3' }, async () => {
    ranking.down = true;
    const before = ranking.calls;
    for (const user of ['u4', 'u5', 'u6', 'u7', 'u8', 'u9']) await rankFor(user);
    console.log(`  6 attempts, ${ranking.calls - before} reached the service`);

    await sleep(350); // the cooldown passes: the next call is the probe
    await rankFor('u10'); // still down: the probe fails and the breaker re-opens

    ranking.down = false;
    await sleep(350);
    await rankFor('u11'); // the probe succeeds: closed again
    await rankFor('u12');
  });

  const { calls, transitions } = breaker.stats();
  const moved = transitions.filter(t => t.count > 0).map(t => `${t.from}→${t.to} ×${t.count}`);
  console.log(`  breaker counters (what the metrics report): ${JSON.stringify(calls)}; ${moved.join(', ')}`);
}
