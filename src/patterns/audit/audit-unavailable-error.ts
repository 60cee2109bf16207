import { brandOf, hasBrand } from '../shared/brand.js';

const AUDIT_UNAVAILABLE = brandOf('AuditUnavailableError');

/** Why the audit could not accept a record. */
export type AuditUnavailableReason = 'backlog-full' | 'timeout';

/** What an {@link AuditUnavailableError} says. */
export interface AuditUnavailableDetails {
  /** `backlog-full` (policy `fail-actions`), or `timeout` (policy `block-actions`: no room came in time). */
  reason: AuditUnavailableReason;
  /** Records held in memory, not yet in a journal, when the call was refused. */
  held: number;
  /** The cap (`maxBacklog`). */
  limit: number;
  /** The sink that holds them (its `name`), when known. */
  sink: string | undefined;
}

/**
 * Thrown instead of running a guarded tool when the audit cannot accept the
 * call's record: the journal (a disk, a collector) does not keep up and the
 * records held in memory reached the cap. The tool did not run. Safety
 * first: an action that cannot be audited does not happen (policy
 * `fail-actions`, the default of `AuditChainSpanProcessor`).
 *
 * Check for it with {@link isAuditUnavailableError}, which works across
 * copies of this package.
 */
export class AuditUnavailableError extends Error implements AuditUnavailableDetails {
  override readonly name = 'AuditUnavailableError';
  readonly reason: AuditUnavailableReason;
  readonly held: number;
  readonly limit: number;
  readonly sink: string | undefined;
  declare readonly [AUDIT_UNAVAILABLE]: true;

  constructor(details: AuditUnavailableDetails) {
    const where = details.sink === undefined ? '' : ` (sink ${details.sink})`;
    super(
      details.reason === 'timeout'
        ? `the audit could not accept the call's record in time: ${details.held} records held in memory, cap ${details.limit}${where}; the tool did not run`
        : `the audit cannot accept the call's record: ${details.held} records held in memory, cap ${details.limit}${where}; the tool did not run`,
    );
    this.reason = details.reason;
    this.held = details.held;
    this.limit = details.limit;
    this.sink = details.sink;
    Object.defineProperty(this, AUDIT_UNAVAILABLE, { value: true });
  }
}

/** True when `value` is an {@link AuditUnavailableError} (from any copy of this package). */
export function isAuditUnavailableError(value: unknown): value is AuditUnavailableError {
  return hasBrand(value, AUDIT_UNAVAILABLE);
}
