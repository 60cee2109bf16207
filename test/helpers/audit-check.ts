/**
 * A minimal, independent check of audit JSONL lines for the processor's
 * tests: every line's hash recomputed from its canonical body, seq gap-free
 * from 0 per chain, prev_hash linking. (The full verifier, with reasons and
 * line numbers, is tested on its own.)
 */
import { createHash, createHmac } from 'node:crypto';
import { canonicalize } from '../../src/patterns/audit/audit-canonical.js';

export interface CheckedRecord {
  chain_id: string;
  seq: number;
  prev_hash: string;
  hash: string;
  span: { name: string; attributes: Record<string, unknown>; [k: string]: unknown };
  resource?: Record<string, unknown>;
  key_id?: string;
  previous?: { chain_id: string; seq: number; hash: string };
}

/** Throws on the first problem; returns the parsed records. */
export function checkAuditLines(lines: string[], hmacKey?: Buffer): CheckedRecord[] {
  const heads = new Map<string, { seq: number; hash: string }>();
  return lines.map((line, i) => {
    const parsed = JSON.parse(line) as CheckedRecord;
    const { hash, ...body } = parsed;
    const text = canonicalize(body);
    const expected = hmacKey
      ? createHmac('sha256', hmacKey).update(parsed.prev_hash + text).digest('hex')
      : createHash('sha256').update(parsed.prev_hash + text).digest('hex');
    if (expected !== hash) throw new Error(`line ${i + 1}: hash mismatch`);
    const head = heads.get(parsed.chain_id) ?? { seq: -1, hash: '0'.repeat(64) };
    if (parsed.seq !== head.seq + 1) throw new Error(`line ${i + 1}: seq ${parsed.seq} after ${head.seq}`);
    if (parsed.prev_hash !== head.hash) throw new Error(`line ${i + 1}: broken link`);
    heads.set(parsed.chain_id, { seq: parsed.seq, hash });
    return parsed;
  });
}
