/**
 * `DurableApprovals` as users construct it: the pattern's class with its
 * store instrumented (latency and failures as metrics).
 *
 * @module
 */
import { DurableApprovals as DurableApprovalsCore } from '../../patterns/store/durable-approvals.js';
import type { DurableApprovalsOptions } from '../../patterns/store/durable-approvals.js';
import { instrumentStore } from './instrumented-store.js';

/**
 * Approvals kept in a `SafetyStore` (see the pattern's documentation): give
 * `approvals.hook` to the gate's `approve`, call `approve(id)` / `deny(id)`
 * from wherever the human answers, in any process that reaches the store.
 */
export class DurableApprovals extends DurableApprovalsCore {
  /** @throws TypeError or RangeError naming a bad option. */
  constructor(options: DurableApprovalsOptions) {
    const store = (options as DurableApprovalsOptions | undefined)?.store;
    super(store !== null && typeof store === 'object' ? { ...options, store: instrumentStore(store) } : options);
  }
}
