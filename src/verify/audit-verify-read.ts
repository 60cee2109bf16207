/**
 * Reads a file descriptor (standard input: a pipe, a redirected file) in
 * large blocks on a thread of its own, so that reading goes on while the
 * verifier's threads scan: a stream is read only when the main thread
 * yields to it, a few KiB at a time (a pipe's 64 KiB), which left the
 * main thread waiting on input between chunks.
 *
 * The reader thread fills blocks of `size` bytes with blocking reads, cuts
 * each after its last newline (the rest starts the next block) and moves
 * them to this thread without a copy. At most `ahead` blocks wait here
 * unread (the reader sleeps until one is taken): memory stays bounded. A
 * block with no newline at all (part of a long line) is passed as it is,
 * so memory stays bounded whatever the lines' length (the caller skips an
 * oversized line).
 *
 * @module
 */
import { Worker } from 'node:worker_threads';

/** A block read: whole lines when `whole`, else part of a long line or the last bytes. */
export interface FdBlock {
  chunk: Buffer;
  whole: boolean;
}

const READER_SOURCE = `'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { readSync } = require('node:fs');
const { fd, size, ahead, credit: shared } = workerData;
const credit = new Int32Array(shared);
const nap = new Int32Array(new SharedArrayBuffer(4));
let carry = Buffer.alloc(0);
try {
  for (;;) {
    for (let v = Atomics.load(credit, 0); v >= ahead; v = Atomics.load(credit, 0)) Atomics.wait(credit, 0, v);
    const buf = Buffer.allocUnsafeSlow(carry.length + size);
    carry.copy(buf, 0);
    let filled = carry.length;
    let eof = false;
    while (filled < buf.length) {
      let n;
      try {
        n = readSync(fd, buf, filled, buf.length - filled, null);
      } catch (err) {
        // a descriptor in non-blocking mode (a pipe another reader opened): wait a little for data
        if (err && err.code === 'EAGAIN') {
          if (filled > carry.length) break;
          Atomics.wait(nap, 0, 0, 1);
          continue;
        }
        if (err && err.code === 'EOF') n = 0;
        else throw err;
      }
      if (n === 0) {
        eof = true;
        break;
      }
      filled += n;
    }
    let length = filled;
    carry = Buffer.alloc(0);
    if (!eof) {
      const cut = buf.lastIndexOf(10, filled - 1);
      if (cut >= 0) {
        carry = Buffer.from(buf.subarray(cut + 1, filled));
        length = cut + 1;
      }
    }
    if (length > 0) {
      Atomics.add(credit, 0, 1);
      parentPort.postMessage({ buffer: buf.buffer, length, whole: buf[length - 1] === 10 }, [buf.buffer]);
    }
    if (eof) break;
  }
  parentPort.postMessage({ done: true });
} catch (err) {
  parentPort.postMessage({ error: String(err && err.message || err), code: err && err.code });
}
`;

/** The reader thread failed (the descriptor cannot be read): `code` is the system's. */
export class FdReadError extends Error {
  override readonly name = 'FdReadError';
  readonly code: string | undefined;
  constructor(message: string, code: string | undefined) {
    super(message);
    this.code = code;
  }
}

/**
 * Blocks of `fd` read on a thread of its own (see the module doc). Throws
 * now if no worker thread can start (the caller then reads its stream);
 * when iterated, {@link FdReadError} if the descriptor cannot be read. The
 * descriptor is not closed.
 */
export function readFdBlocks(fd: number, size = 1 << 22, ahead = 3): AsyncIterable<FdBlock> {
  const shared = new SharedArrayBuffer(4);
  const credit = new Int32Array(shared);
  // execArgv: [] so that the source runs as a script even under --input-type=module
  const worker = new Worker(READER_SOURCE, { eval: true, execArgv: [], workerData: { fd, size, ahead, credit: shared } });
  type Message = { buffer: ArrayBuffer; length: number; whole: boolean } | { done: true } | { error: string; code?: string };
  const inbox: Message[] = [];
  let wake: (() => void) | undefined;
  let failure: unknown;
  worker.on('message', (m: Message) => {
    inbox.push(m);
    wake?.();
  });
  worker.on('error', err => {
    failure ??= err;
    wake?.();
  });
  worker.on('exit', () => {
    failure ??= new FdReadError('the reader of the input stopped', undefined);
    wake?.();
  });
  async function* blocks(): AsyncGenerator<FdBlock> {
    try {
      for (;;) {
        while (inbox.length === 0) {
          if (failure !== undefined) throw failure;
          await new Promise<void>(resolve => (wake = resolve));
          wake = undefined;
        }
        const m = inbox.shift()!;
        if ('done' in m) return;
        if ('error' in m) throw new FdReadError(m.error, m.code);
        // taken: the reader may read one more block ahead
        Atomics.sub(credit, 0, 1);
        Atomics.notify(credit, 0);
        // Let the event loop turn before the caller works on the block. The
        // reader's messages arrive in one callback that goes on while more
        // keep coming, and the caller's work runs inside it (in its
        // microtasks): without a turn, nothing else this thread waits for
        // (a scan worker's start and results, timers) would be seen until
        // the input ended.
        await new Promise<void>(resolve => setImmediate(resolve));
        yield { chunk: Buffer.from(m.buffer, 0, m.length), whole: m.whole };
      }
    } finally {
      worker.removeAllListeners('exit');
      await worker.terminate();
    }
  }
  return blocks();
}
