/**
 * Where the files a `FileCheckpointStore` skips are reported: its own
 * `onSkip`, else the listeners registered here (the bootstrap's report
 * through `diag` and a metric), else a Node process warning. Apart from
 * the store so that the bootstrap can listen without loading the store.
 *
 * @module
 */

/** A file `list()` skipped. */
export interface SkippedCheckpointFile {
  readonly agentId: string;
  readonly file: string;
  /** Why: not a checkpoint file, invalid JSON, a malformed record, another agent's, unreadable. */
  readonly reason: string;
}

const skipListeners = new Set<(skipped: SkippedCheckpointFile) => void>();

/**
 * Registers a listener for every file a `FileCheckpointStore` skips
 * (stores without their own `onSkip`). Returns the function that removes
 * it.
 */
export function onCheckpointFileSkipped(listener: (skipped: SkippedCheckpointFile) => void): () => void {
  skipListeners.add(listener);
  return () => skipListeners.delete(listener);
}

/** Reports a skipped file to `own`, else to the listeners, else as a process warning; never throws. */
export function reportSkip(skipped: SkippedCheckpointFile, own: ((s: SkippedCheckpointFile) => void) | undefined): void {
  try {
    if (own !== undefined) return own(skipped);
    if (skipListeners.size === 0) {
      process.emitWarning(`${skipped.file} was skipped: ${skipped.reason}; the other checkpoints are recovered`, { code: 'AGENT_SAFETY_CHECKPOINT_FILE_SKIPPED' });
      return;
    }
    for (const listener of skipListeners) listener(skipped);
  } catch {
    // a reporter that throws must not stop the recovery
  }
}
