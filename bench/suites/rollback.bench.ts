/**
 * What a checkpoint adds to a guarded call: the same guarded async function
 * with and without `checkpoint: { manager }` (no state; a small state in
 * each snapshot mode), in one process, BatchSpanProcessor with a no-op
 * exporter. The manager is cleared every 64 calls, as a plan that commits
 * would, so the numbers are not dominated by eviction.
 * Keys: checkpoint_vs_guard (no state), checkpoint_state_vs_guard
 * (structured snapshot of a small state), checkpoint_overhead_ns.
 */
import { RollbackManager, guard } from '../../src/index.js';
import type { SnapshotMode } from '../../src/index.js';
import { compare, formatNs, round } from '../lib.js';
import type { BenchSuite } from '../lib.js';
import { benchTelemetry } from '../telemetry.js';

/** A small agent state: a plan of a few steps and some notes. */
const agentState = {
  plan: ['fetch', 'rank', 'draft', 'publish'],
  cursor: 2,
  notes: { audience: 'weekly subscribers', locale: 'en-GB', tags: ['ai', 'safety', 'otel'] },
};

const suite: BenchSuite = {
  name: 'checkpoint in a guarded call',
  async run({ quick }) {
    const { provider } = benchTelemetry();

    const tool = async (x: number) => x + 1;
    const guarded = guard(tool, { name: 'bench' });
    let calls = 0;
    // The same wrapper as the checkpoint variants, so only the checkpoint differs.
    const plain = async () => {
      await guarded(1);
      if ((++calls & 63) === 0) await Promise.resolve(0);
    };
    const withCheckpoint = (snapshot: SnapshotMode, state: boolean) => {
      const manager = new RollbackManager({ agentId: `bench-${snapshot}-${state}`, snapshot });
      const guarded = guard(tool, {
        name: 'bench',
        checkpoint: state ? { manager, state: () => agentState, environmentDelta: (r: number) => ({ r }) } : { manager },
      });
      let n = 0;
      return async () => {
        await guarded(1);
        if ((++n & 63) === 0) await manager.clear();
      };
    };
    const results = await compare(
      {
        'guard()': plain,
        'guard() + checkpoint': withCheckpoint('structured', false),
        '+ checkpoint, state, structured': withCheckpoint('structured', true),
        '+ checkpoint, state, json': withCheckpoint('json', true),
        '+ checkpoint, state, reference': withCheckpoint('reference', true),
      },
      quick ? { iterations: 1_000, runs: 3 } : { iterations: 50_000, runs: 7 },
    );
    await provider.forceFlush();
    const base = results['guard()'].nsPerOp;
    const ratio = results['guard() + checkpoint'].nsPerOp / base;
    const stateRatio = results['+ checkpoint, state, structured'].nsPerOp / base;
    return {
      rows: [
        ...Object.entries(results).map(([name, r]) => ({ name, value: formatNs(r.nsPerOp), note: `${round(r.nsPerOp / base, 2).toFixed(2)}× guard()` })),
      ],
      figures: {
        checkpoint_vs_guard: round(ratio, 3),
        checkpoint_state_vs_guard: round(stateRatio, 3),
        checkpoint_overhead_ns: Math.round(results['guard() + checkpoint'].nsPerOp - base),
      },
    };
  },
};
export default suite;
