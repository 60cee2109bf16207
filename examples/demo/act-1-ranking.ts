/**
 * Act 1: the agent ranks content for a few users. Each tool call is a span
 * `execute_tool rank_content` under the agent's `invoke_agent` span.
 */
import { guard, invokeAgent } from '../../src/index.js';
import { heading } from './fake-services.js';
import type { RankingService } from './fake-services.js';

export async function act1Ranking(ranking: RankingService): Promise<void> {
  heading('Act 1: the agent ranks content; every tool call is a span');
  const rankContent = guard((userId: string, contentIds: string[]) => ranking.rank(userId, contentIds), {
    name: 'rank_content',
    description: 'Ranks candidate posts for one user by engagement signals',
    timeoutMs: 1_000,
  });
  await invokeAgent({ name: 'content-ranker', id: 'content-ranker-v3' }, async () => {
    for (const user of ['u1', 'u2', 'u3']) {
      const ranked = await rankContent(user, ['p1', 'p2', 'p3', 'p4']);
      console.log(`  ranked for ${user}: ${ranked.join(' > ')}`);
    }
  });
}
