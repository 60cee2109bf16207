/**
 * Making a rename durable: after `rename(tmp, path)`, the directory's own
 * entry must reach the disk too, or a power cut can bring the old file back.
 *
 * @module
 */
import { open } from 'node:fs/promises';

/** Flushes a directory's entries (new and renamed files) to disk; a no-op where directories cannot be opened. */
export async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
  } catch (err) {
    const code = (err as { code?: unknown })?.code;
    if (code === 'EISDIR' || code === 'EPERM' || code === 'EACCES') return; // Windows
    throw err;
  }
  try {
    await handle.sync();
  } catch (err) {
    const code = (err as { code?: unknown })?.code;
    if (code !== 'EINVAL' && code !== 'EPERM') throw err;
  } finally {
    await handle.close();
  }
}
