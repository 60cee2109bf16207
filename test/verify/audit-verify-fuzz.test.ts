/**
 * Fuzz: 12,000 seeded random tamperings of a keyed, signed chain of real SDK
 * spans (and of a plain one), verified with the key, the public key and the
 * expected head. Oracle: a tampering that leaves every line's JSON equal
 * (re-serialisation, whitespace, escapes) must verify; any other must fail.
 * Zero misses, zero false alarms.
 */
import { isDeepStrictEqual } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { verifyAuditLines } from '../../src/verify/audit-verify.js';
import type { AuditVerifyOptions } from '../../src/verify/audit-verify.js';
import { auditFixture, ed25519, produceSpans } from '../helpers/audit-fixtures.js';
import { paths, rechain, reserialise, withLeafChanged, withMemberAdded, withMemberDeleted } from '../helpers/audit-tamper.js';
import type { Path } from '../helpers/audit-tamper.js';

const test = suite('audit verifier fuzz');

const HMAC = Buffer.from('fuzz-key-0123456789abcdef-012345');
const KEYS = ed25519();

interface Subject {
  name: string;
  lines: string[];
  parsed: unknown[];
  leaves: Path[][];
  members: Path[][];
  objects: Path[][];
  options: AuditVerifyOptions;
}

function subject(keyed: boolean): Subject {
  const f = auditFixture({
    chainId: keyed ? 'fuzz-keyed' : 'fuzz-plain',
    hmacKey: keyed ? { id: 'hk', key: HMAC } : undefined,
    signingKey: { id: 'sk', privateKey: KEYS.privateKey },
    seals: { everyRecords: 4 },
    previous: keyed ? { chainId: 'before', seq: 9, hash: '12'.repeat(32) } : undefined,
  });
  produceSpans(f.tracer, 10, keyed ? 3 : 5);
  f.tracer.startSpan('odd values', { attributes: { empty: '', nan: NaN, inf: -Infinity, u: 'e\u0301', big: 2 ** 60, list: [] } }).end();
  f.seal();
  const lines = f.lines();
  const parsed = lines.map(l => JSON.parse(l));
  const last = parsed[parsed.length - 1] as { seq: number; hash: string };
  return {
    name: keyed ? 'keyed' : 'plain',
    lines,
    parsed,
    leaves: parsed.map(p => paths(p).leaves),
    members: parsed.map(p => paths(p).members),
    objects: parsed.map(p => [[], ...paths(p).members.filter(m => typeof pathGet(p, m) === 'object' && !Array.isArray(pathGet(p, m)) && pathGet(p, m) !== null)]),
    options: {
      hmacKey: keyed ? HMAC : undefined,
      publicKey: KEYS.publicKey,
      expectedHeads: [{ chainId: keyed ? 'fuzz-keyed' : 'fuzz-plain', seq: last.seq, hash: last.hash }],
      allowMissingPredecessor: keyed,
    },
  };
}

function pathGet(obj: unknown, path: Path): unknown {
  return path.reduce<unknown>((o, k) => (o as Record<string, unknown>)[k as string], obj);
}

const OPS = [
  'leaf', 'delete member', 'add member', 'delete line', 'truncate', 'duplicate line', 'swap lines', 'move line',
  'char', 'insert forged', 'rechain from', 'reserialise', 'whitespace', 'foreign line',
] as const;

/** Applies one tampering; returns the new lines. */
function tamper(s: Subject, op: (typeof OPS)[number], a: number, b: number, c: number): string[] {
  const n = s.lines.length;
  const k = a % n;
  const t = [...s.lines];
  switch (op) {
    case 'leaf': {
      const leaves = s.leaves[k];
      t[k] = JSON.stringify(withLeafChanged(s.parsed[k], leaves[b % leaves.length], c));
      return t;
    }
    case 'delete member': {
      const members = s.members[k];
      t[k] = JSON.stringify(withMemberDeleted(s.parsed[k], members[b % members.length]));
      return t;
    }
    case 'add member': {
      const objects = s.objects[k];
      t[k] = JSON.stringify(withMemberAdded(s.parsed[k], objects[b % objects.length]));
      return t;
    }
    case 'delete line':
      t.splice(k, 1);
      return t;
    case 'truncate':
      return t.slice(0, k);
    case 'duplicate line':
      t.splice(b % (n + 1), 0, s.lines[k]);
      return t;
    case 'swap lines': {
      const j = b % n;
      [t[k], t[j]] = [t[j], t[k]];
      return t;
    }
    case 'move line': {
      const [x] = t.splice(k, 1);
      t.splice(b % n, 0, x);
      return t;
    }
    case 'char': {
      const line = t[k];
      const i = b % line.length;
      const alphabet = '0123456789abcdefABCDEF"{}[],:\\ xyz\u00e9';
      let ch = alphabet[c % alphabet.length];
      if (ch === line[i]) ch = alphabet[(c + 1) % alphabet.length];
      t[k] = line.slice(0, i) + ch + line.slice(i + 1);
      return t;
    }
    case 'insert forged': {
      // a record for seq k rebuilt with another span name, hashed with a guessed key (or none)
      const forged = rechain([...s.lines.slice(0, k), JSON.stringify(withLeafChanged(s.parsed[k], ['span', 'name'], c))], k, c % 2 ? Buffer.from('guess') : undefined)[k];
      t.splice(b % (n + 1), 0, forged);
      return t;
    }
    case 'rechain from': {
      const leaves = s.leaves[k];
      t[k] = JSON.stringify(withLeafChanged(s.parsed[k], leaves[b % leaves.length], c));
      return rechain(t, k, c % 3 === 0 ? HMAC : undefined); // even with the key: the expected head catches it
    }
    case 'reserialise':
      t[k] = reserialise(t[k]);
      return t;
    case 'whitespace':
      t[k] = ' ' + t[k].replace('":', '" : ') + '\t';
      return t;
    case 'foreign line':
      t.splice(b % (n + 1), 0, c % 2 ? 'not json' : '{"chain_id":"other","seq":0}');
      return t;
  }
}

/** True when every line of `t` is JSON-equal to the original's line at the same place. */
function equivalent(s: Subject, t: string[]): boolean {
  if (t.length !== s.lines.length) return false;
  for (let i = 0; i < t.length; i++) {
    if (t[i] === s.lines[i]) continue;
    try {
      if (!isDeepStrictEqual(JSON.parse(t[i]), s.parsed[i])) return false;
    } catch {
      return false;
    }
  }
  return true;
}

const RUNS = 6_000;

for (const keyed of [true, false]) {
  test(`${RUNS} random tamperings of a ${keyed ? 'keyed' : 'plain'} chain: zero misses, zero false alarms`, () => {
    const s = subject(keyed);
    assert.ok(verifyAuditLines(s.lines, s.options).valid, 'the untouched chain verifies');
    let detected = 0;
    let equal = 0;
    fc.assert(
      fc.property(fc.constantFrom(...OPS), fc.nat(), fc.nat(), fc.nat(), (op, a, b, c) => {
        const t = tamper(s, op, a, b, c);
        const report = verifyAuditLines(t, s.options);
        if (equivalent(s, t)) {
          equal++;
          return report.valid;
        }
        detected++;
        return !report.valid;
      }),
      { numRuns: RUNS, seed: keyed ? 20261128 : 8211620 },
    );
    assert.ok(detected > RUNS * 0.8, `tamperings that changed something: ${detected}`);
    assert.ok(equal > 0, 'some tamperings were equal re-serialisations (the false-alarm side)');
  });
}

test.run();
