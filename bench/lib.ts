/**
 * Small benchmarking toolkit: interleaved runs of several variants in one
 * process, so machine noise spreads evenly, and medians of per-run figures.
 */

export interface MeasureOptions {
  /** Calls per run. */
  iterations: number;
  /** Measured runs per variant (the median is reported). */
  runs: number;
  /** Calls before measuring (JIT warm-up). @default iterations / 4 */
  warmup?: number;
  /**
   * Yield to the event loop's macrotask queue (`setImmediate`) after every
   * this many calls, so that work the calls hand to the background (a file
   * sink's writes, a batch processor's exports) runs inside the timing, as it
   * would between an agent's calls. Without it, a loop of calls that settle
   * in microtasks never lets that work run until the timing has stopped.
   * @default undefined (a microtask yield every 256 synchronous calls only)
   */
  yieldEvery?: number;
  /**
   * Force a full garbage collection (with `--expose-gc`) before each run,
   * then re-warm the variant with a few unmeasured calls (a forced full GC
   * drops type feedback). Off for suites comparing code paths that share functions: a forced
   * full GC drops type feedback, and the function re-optimized during the
   * round's first variant then deoptimizes in the next ones, which pay for
   * it in every round (an artefact: a process under load does not collect
   * fully every few milliseconds).
   * @default true
   */
  gcBetweenRuns?: boolean;
}

/** A variant: one call of the thing measured (sync or async). */
export type Variant = () => unknown;

export interface VariantResult {
  /** Median nanoseconds per call over the runs. */
  nsPerOp: number;
  /** Every run's nanoseconds per call. */
  runs: number[];
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const gc = (globalThis as { gc?: () => void }).gc;

/** One macrotask turn of the event loop (timers, I/O callbacks and immediates queued before it run). */
export function macrotask(): Promise<void> {
  return new Promise(resolve => setImmediate(resolve));
}

async function loop(fn: Variant, n: number, yieldEvery: number | undefined): Promise<void> {
  for (let i = 0; i < n; i++) {
    const r = fn();
    if (r !== undefined && typeof (r as Promise<unknown>).then === 'function') await (r as Promise<unknown>);
    else if (yieldEvery === undefined && (i & 255) === 255) await Promise.resolve(); // let batch processors drain
    if (yieldEvery !== undefined && i % yieldEvery === yieldEvery - 1) await macrotask();
  }
}

/**
 * Measures each variant `runs` times, interleaving variants run by run,
 * and returns the median ns per call of each.
 */
export async function compare(variants: Record<string, Variant>, options: MeasureOptions): Promise<Record<string, VariantResult>> {
  const names = Object.keys(variants);
  const warmup = options.warmup ?? Math.max(1, options.iterations >> 2);
  for (const name of names) await loop(variants[name], warmup, options.yieldEvery);
  const perRun: Record<string, number[]> = Object.fromEntries(names.map(n => [n, []]));
  for (let r = 0; r < options.runs; r++) {
    for (const name of names) {
      if (options.gcBetweenRuns !== false && gc !== undefined) {
        gc();
        // A full GC drops type feedback: re-warm the variant (unmeasured) so that it does not pay
        // the deoptimization of code it shares with the variant before it in every round.
        await loop(variants[name], Math.min(warmup, 2_000), options.yieldEvery);
      }
      const t0 = process.hrtime.bigint();
      await loop(variants[name], options.iterations, options.yieldEvery);
      perRun[name].push(Number(process.hrtime.bigint() - t0) / options.iterations);
    }
  }
  return Object.fromEntries(names.map(n => [n, { nsPerOp: median(perRun[n]), runs: perRun[n] }]));
}

/** A row of the printed table. */
export interface BenchRow {
  name: string;
  /** e.g. "1.84 µs/call" or "212,000 records/s". */
  value: string;
  note?: string;
}

/** What a suite reports. */
export interface BenchReport {
  rows: BenchRow[];
  /** Named figures merged into the final JSON line (ratios, rates). */
  figures: Record<string, number>;
}

/** A benchmark suite: one file in bench/suites, run in its own process. */
export interface BenchSuite {
  name: string;
  run(options: { quick: boolean }): Promise<BenchReport>;
}

export function formatNs(ns: number): string {
  return ns >= 1000 ? `${(ns / 1000).toFixed(2)} µs/call` : `${ns.toFixed(0)} ns/call`;
}

export function formatRate(perSecond: number, unit: string): string {
  return `${Math.round(perSecond).toLocaleString('en-US')} ${unit}/s`;
}

export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
