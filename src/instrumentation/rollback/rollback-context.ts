/**
 * Context values of rollbacks: the checkpoint of the guarded call running
 * now (read by {@link currentCheckpoint}), and which manager's undo hook is
 * running (so that calls made by an undo hook are not checkpointed into the
 * rollback that is unwinding them).
 *
 * @module
 */
import { context, createContextKey } from '@opentelemetry/api';
import type { Context } from '@opentelemetry/api';
import type { Checkpoint } from '../../patterns/rollback/checkpoint.js';

const CHECKPOINT_KEY = createContextKey('agent-safety-otel/checkpoint');
const COMPENSATING_KEY = createContextKey('agent-safety-otel/compensating');

/** `ctx` carrying the checkpoint of the guarded call. */
export function withCheckpoint(ctx: Context, checkpoint: Checkpoint): Context {
  return ctx.setValue(CHECKPOINT_KEY, checkpoint);
}

/** `ctx` marking that an undo hook of `manager` runs in it. */
export function withCompensation(ctx: Context, manager: object): Context {
  return ctx.setValue(COMPENSATING_KEY, manager);
}

/** The manager whose undo hook runs in `ctx`, if any. */
export function compensatingManager(ctx: Context): object | undefined {
  return ctx.getValue(COMPENSATING_KEY) as object | undefined;
}

/**
 * The checkpoint taken for the innermost guarded call running now (by its
 * `checkpoint` option), or `undefined`. Its `id` is the idempotency key the
 * undo hook will receive: pass it downstream (e.g. as an `Idempotency-Key`
 * header) so that the hook can find what a call that failed half-way did.
 *
 * @example
 * ```ts
 * const publish = guard(async (digest: Digest) => {
 *   return cms.publish(digest, { idempotencyKey: currentCheckpoint()?.id });
 * }, { name: 'publish_digest', checkpoint: { manager } });
 * ```
 */
export function currentCheckpoint(): Checkpoint | undefined {
  return context.active().getValue(CHECKPOINT_KEY) as Checkpoint | undefined;
}
