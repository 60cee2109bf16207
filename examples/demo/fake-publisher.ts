/**
 * The downstream world of act 4: a CMS that holds drafts and publishes
 * them, and a notifier that emails subscribers and can recall the emails.
 * All in memory; failures are switched on by the demo so each run tells the
 * same story.
 */

export class CdnUnavailableError extends Error {
  override name = 'CdnUnavailableError';
}

export class MailQueueBusyError extends Error {
  override name = 'MailQueueBusyError';
}

const tick = (): Promise<void> => new Promise(resolve => setTimeout(resolve, 2));

/** Drafts and published digests, keyed by id. */
export class DigestCms {
  readonly drafts = new Map<string, string>();
  /** Publications by the idempotency key the publisher sent. */
  readonly published = new Map<string, string>();
  /** While true, publishing fails (the CDN is down). */
  cdnDown = false;
  private _next = 1;

  async createDraft(title: string): Promise<string> {
    await tick();
    const id = `draft-${this._next++}`;
    this.drafts.set(id, title);
    return id;
  }

  async deleteDraft(id: string): Promise<void> {
    await tick();
    this.drafts.delete(id); // deleting twice is fine: idempotent
  }

  async publish(draftId: string, idempotencyKey: string): Promise<string> {
    await tick();
    if (this.cdnDown) throw new CdnUnavailableError('CDN unavailable: publish rejected');
    this.published.set(idempotencyKey, draftId);
    return `https://example.test/digests/${draftId}`;
  }

  async unpublish(idempotencyKey: string): Promise<boolean> {
    await tick();
    return this.published.delete(idempotencyKey);
  }
}

/** Sends emails and recalls them; the first recall hits a busy queue. */
export class Notifier {
  readonly outbox = new Map<string, string>();
  /** Recalls that fail before one succeeds. */
  busyRecalls = 1;
  private _next = 1;

  async notify(draftId: string, subscribers: readonly string[]): Promise<string[]> {
    await tick();
    return subscribers.map(to => {
      const id = `mail-${this._next++}`;
      this.outbox.set(id, `${to}: preview of ${draftId}`);
      return id;
    });
  }

  async recall(mailIds: readonly string[]): Promise<void> {
    await tick();
    if (this.busyRecalls > 0) {
      this.busyRecalls--;
      throw new MailQueueBusyError('mail queue busy, try again');
    }
    for (const id of mailIds) this.outbox.delete(id);
  }
}
