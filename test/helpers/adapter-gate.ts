/**
 * A deterministic gate for the adapter tests: the impact of acting is read
 * from the tool input's `amount` (≤ 10 proceeds, ≤ 100 goes to review,
 * above is blocked), so each test picks its verdict through the input.
 */
import { CounterfactualEstimator } from '../../src/index.js';

/** The impact score for an input `{ amount }`. */
export function amountImpact(_action: string, args: unknown): number {
  const amount = (args as { amount?: unknown } | undefined)?.amount;
  if (typeof amount !== 'number') return 1; // not the tool's input: fail closed (and visible in tests)
  return amount <= 10 ? 0.1 : amount <= 100 ? 0.5 : 0.95;
}

/** A gate whose verdict follows `amount`; `approve` decides reviews no framework answered. */
export function amountGate(approve?: ConstructorParameters<typeof CounterfactualEstimator>[0] extends infer O ? O extends { approve?: infer A } ? A : never : never): CounterfactualEstimator {
  return new CounterfactualEstimator({ impactModel: amountImpact, ...(approve === undefined ? {} : { approve }) });
}
