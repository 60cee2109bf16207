/**
 * Act 5: a policy. A digest-writing agent gets stuck in a loop,
 * summarizing the same post again and again. It does not fail, so its
 * breaker stays closed; the policy stops it: first a rate limit (the agent
 * honours the retry-after it is given and backs off), then its run's budget
 * in dollars (charged from each result), and Cedar policies let only the
 * moderator delete posts. Every decision is on the spans (and in the audit
 * file of act 6).
 *
 * The rate is 20 calls a second with bursts of 3 so the act stays quick.
 */
import { Policy, cedarAuthorizer, guard, invokeAgent, isPolicyDeniedError } from '../../src/index.js';
import { heading } from './fake-services.js';

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

const CEDAR_POLICIES = `
@id("agents-use-tools")
permit(principal, action, resource);

@id("only-moderators-delete")
forbid(principal, action == Action::"delete_post", resource)
  unless { principal == Agent::"moderator-1" };
`;

export async function act5Policy(): Promise<void> {
  heading('Act 5: a looping agent hits its rate limit, then its budget; Cedar lets only the moderator delete');
  const policy = new Policy({
    authorizer: await cedarAuthorizer({ policies: CEDAR_POLICIES }),
    limits: [
      { kind: 'token_bucket', name: 'summarize-rate', tools: ['summarize_post'], per: 'agent', ratePerSecond: 20, burst: 3 },
      { kind: 'budget', name: 'run-budget-usd', tools: ['summarize_post'], per: 'run', limit: 0.05, cost: (_args, result) => (result as { costUsd: number }).costUsd },
    ],
  });
  const summarize = guard(async (postId: string) => ({ summary: `summary of ${postId}`, costUsd: 0.012 }), {
    name: 'summarize_post',
    description: 'Summarizes one post with a paid model',
    policy,
  });
  const deletePost = guard(async (postId: string) => `deleted ${postId}`, { name: 'delete_post', description: 'Deletes a post', policy });

  await invokeAgent({ name: 'digest-writer', id: 'digest-writer-1' }, async () => {
    // A bug: the agent summarizes the same post over and over.
    for (let i = 1; i <= 20; i++) {
      try {
        await summarize('p1');
        console.log(`  call ${i}: summarized p1 ($0.012)`);
      } catch (err) {
        if (!isPolicyDeniedError(err)) throw err;
        if (err.reason === 'rate_limited') {
          console.log(`  call ${i}: denied, rate limited by ${err.limit}; the agent backs off ${err.retryAfterMs} ms`);
          await sleep(err.retryAfterMs ?? 50);
          continue;
        }
        console.log(`  call ${i}: denied, ${err.reason} (${err.limit}, $${err.remaining?.toFixed(3)} left): the run has spent its budget; the agent stops`);
        break;
      }
    }
    try {
      await deletePost('p1');
    } catch (err) {
      if (!isPolicyDeniedError(err)) throw err;
      console.log(`  digest-writer-1 may not delete posts: denied by Cedar policy "${err.rule}"`);
    }
  });
  await invokeAgent({ name: 'moderator', id: 'moderator-1' }, async () => {
    console.log(`  moderator-1: ${await deletePost('p9')} (allowed by "agents-use-tools")`);
  });
}
