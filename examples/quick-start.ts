/**
 * The README's quick start as a runnable program:
 *
 *   npx tsx examples/quick-start.ts
 *
 * One agent run, two tool calls, printed as a trace tree (the embedded
 * default of the bootstrap: no collector needed).
 */
import { startAgentSafety } from '../src/bootstrap/index.js';
import { guard, invokeAgent } from '../src/index.js';

const safety = startAgentSafety({ serviceName: 'quick-start' });

// Any sync or async function becomes a guarded tool: one span per call.
const rankContent = guard(
  async (userId: string, contentIds: string[]) => [...contentIds].reverse(),
  { name: 'rank_content', description: 'Ranks candidate posts for one user', timeoutMs: 2_000 },
);

const fetchProfile = guard(
  async (userId: string) => {
    throw new Error(`profile service unavailable for ${userId}`);
  },
  { name: 'fetch_profile' },
);

await invokeAgent({ name: 'content-ranker', id: 'content-ranker-v3' }, async () => {
  console.log('ranked:', await rankContent('u1', ['p1', 'p2', 'p3']));
  await fetchProfile('u1').catch(err => console.log('tool failed:', (err as Error).message));
});

await safety.shutdown();
