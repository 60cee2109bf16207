import { createHash } from 'node:crypto';

/**
 * The demo's downstream world: a ranking service that can be told to fail,
 * a notification service and a digest publisher, all in memory. Failures are
 * injected by the demo script, so each run tells the same story.
 */

export class ServiceUnavailableError extends Error {
  override name = 'ServiceUnavailableError';
  readonly code = 'SERVICE_UNAVAILABLE';
}

/** A content-ranking service with a switch for outages. */
export class RankingService {
  /** While true every call fails. */
  down = false;
  calls = 0;

  async rank(userId: string, contentIds: string[]): Promise<string[]> {
    this.calls++;
    await new Promise(resolve => setTimeout(resolve, 2));
    if (this.down) throw new ServiceUnavailableError(`ranking service unavailable (user ${userId})`);
    // Deterministic "engagement" order: by a hash of user and content id.
    const score = (id: string): number => createHash('sha256').update(`${userId}:${id}`).digest().readUInt32BE(0);
    return [...contentIds].sort((a, b) => score(b) - score(a));
  }
}

/** Pretty section headers for the demo's console output. */
export function heading(title: string): void {
  console.log(`\n━━━ ${title} ${'━'.repeat(Math.max(0, 70 - title.length))}\n`);
}
