/**
 * The hostile-input corpus for the verifier, generated (nothing large is
 * committed): each case is a file written here and what `verify` must say
 * about it, with the memory and time it may take. Run as a script to write
 * the corpus somewhere to look at it:
 *
 *     npx tsx test/verify/hostile-corpus.ts /tmp/corpus
 */
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** One hostile input and the verdict it must get. */
export interface HostileCase {
  readonly name: string;
  /** The input file. */
  readonly file: string;
  /** Give it on standard input rather than as a path. */
  readonly stdin?: boolean;
  /** More arguments of `verify` (default `--json`; without it the human report is checked). */
  readonly args?: readonly string[];
  /** The exit code (1 for every hostile input: a verdict, never a crash). */
  readonly code: number;
  /** The reason of the first failure, in the `--json` report. */
  readonly reason?: string;
  /** Its line. */
  readonly line?: number;
  /** Chains in the report. */
  readonly chains?: number;
  /** The V8 heap the child gets (`--max-old-space-size`), and the peak RSS it may reach, in MB. */
  readonly heapMb: number;
  readonly maxRssMb: number;
  /** A bound on the wall time (a guard against quadratic time; timing targets are in bench/). */
  readonly maxSeconds: number;
}

const MB = 2 ** 20;

/** Writes `total` bytes made by `fill` (called with a reusable buffer) in pieces, without holding them. */
function writeStreamed(path: string, total: number, fill: (buf: Buffer, offset: number) => void, piece = 4 * MB): void {
  const fd = openSync(path, 'w');
  try {
    const buf = Buffer.alloc(piece);
    for (let off = 0; off < total; off += piece) {
      const n = Math.min(piece, total - off);
      fill(buf, off);
      writeSync(fd, buf, 0, n);
    }
  } finally {
    closeSync(fd);
  }
}

/** Writes lines made by `line(i)`, batched. */
function writeLines(path: string, count: number, line: (i: number) => string): void {
  const fd = openSync(path, 'w');
  try {
    let batch = '';
    for (let i = 0; i < count; i++) {
      batch += line(i) + '\n';
      if (batch.length > MB) {
        writeSync(fd, batch);
        batch = '';
      }
    }
    writeSync(fd, batch);
  } finally {
    closeSync(fd);
  }
}

const GENESIS = '0'.repeat(64);
/** A minimal, valid format 2 seq-0 record of chain `id` (a plain chain: anyone could write one). */
function genesis(id: string, span = '{}'): string {
  const body = `{"chain_id":${JSON.stringify(id)},"format":2,"prev_hash":"${GENESIS}","resource":{},"seq":0,"span":${span}}`;
  const hash = createHash('sha256').update(GENESIS).update(body).digest('hex');
  return body.slice(0, -1) + `,"hash":"${hash}"}`;
}

/** Writes the corpus into `dir` and returns its cases. `scale` shrinks the large cases (1 = full size). */
export function writeHostileCorpus(dir: string, scale = 1): HostileCase[] {
  mkdirSync(dir, { recursive: true });
  const cases: HostileCase[] = [];
  const add = (c: HostileCase): void => void cases.push(c);
  const big = Math.round(200 * MB * scale);

  // 1. one line without a newline, far over the 16 MiB record limit: skipped in bounded memory
  const longLine = join(dir, 'long-line.jsonl');
  writeStreamed(longLine, big, buf => buf.fill(0x61));
  add({ name: `a ${big / MB} MB line without a newline (file)`, file: longLine, code: 1, reason: 'oversized record', line: 1, heapMb: 64, maxRssMb: 160, maxSeconds: 60 });
  add({ name: `a ${big / MB} MB line without a newline (standard input)`, file: longLine, stdin: true, code: 1, reason: 'oversized record', line: 1, heapMb: 64, maxRssMb: 160, maxSeconds: 60 });

  // 2. a long line, then a valid chain: the verdict names line 1, the chain after it still verifies
  const longThenValid = join(dir, 'long-then-valid.jsonl');
  const fd = openSync(longThenValid, 'w');
  const a = Buffer.alloc(MB, 0x7b); // '{' over and over
  for (let i = 0; i < Math.max(20, Math.round(40 * scale)); i++) writeSync(fd, a);
  writeSync(fd, '\n' + genesis('after-the-long-line') + '\n');
  closeSync(fd);
  add({ name: 'a 40 MB line of braces, then a valid record', file: longThenValid, code: 1, reason: 'oversized record', line: 1, chains: 1, heapMb: 64, maxRssMb: 160, maxSeconds: 60 });
  add({ name: 'the same with --max-record-size 64M: read, and rejected as too deep', file: longThenValid, args: ['--max-record-size', '64M', '--json'], code: 1, reason: 'malformed line', line: 1, chains: 1, heapMb: 256, maxRssMb: 600, maxSeconds: 60 });

  // 3. 100,000-deep nesting inside a record's span
  const deep = join(dir, 'deep.jsonl');
  writeLines(deep, 1, () => genesis('deep', `{"attributes":{"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`));
  add({ name: '100,000-deep nesting in a span', file: deep, code: 1, reason: 'malformed line', line: 1, heapMb: 64, maxRssMb: 200, maxSeconds: 30 });
  const deepObjects = join(dir, 'deep-objects.jsonl');
  writeLines(deepObjects, 1, () => '{"resourceSpans":' + '{"a":'.repeat(50_000) + '1' + '}'.repeat(50_000) + '}');
  add({ name: '50,000-deep objects in OTLP JSON', file: deepObjects, code: 1, reason: 'malformed line', line: 1, heapMb: 64, maxRssMb: 200, maxSeconds: 30 });

  // 4. many chains: time linear in their number, the JSON report streamed
  const chains = Math.round(200_000 * scale);
  const manyChains = join(dir, 'many-chains.jsonl');
  writeLines(manyChains, chains, i => genesis(`c${i}`));
  add({ name: `${chains.toLocaleString('en-US')} chains`, file: manyChains, args: [], code: 0, chains, heapMb: 512, maxRssMb: 900, maxSeconds: 120 });
  add({ name: `${chains.toLocaleString('en-US')} chains, --json`, file: manyChains, args: ['--json'], code: 0, chains, heapMb: 512, maxRssMb: 1100, maxSeconds: 120 });

  // 5. garbage: random bytes, a million short lines, invalid UTF-8, NUL bytes
  let x = 12345;
  const garbage = join(dir, 'garbage.bin');
  writeStreamed(garbage, Math.round(32 * MB * scale), buf => {
    for (let i = 0; i < buf.length; i++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      buf[i] = x >>> 23;
    }
  });
  add({ name: 'random bytes', file: garbage, code: 1, reason: 'malformed line', line: 1, heapMb: 64, maxRssMb: 200, maxSeconds: 60 });
  const shortLines = join(dir, 'short-lines.txt');
  writeLines(shortLines, Math.round(1_000_000 * scale), i => (i % 3 === 0 ? 'x' : i % 3 === 1 ? '{"chain_id":1}' : '[]'));
  add({ name: 'a million short garbage lines (failures listed up to a bound, then counted)', file: shortLines, code: 1, reason: 'malformed line', line: 1, heapMb: 64, maxRssMb: 200, maxSeconds: 60 });
  const badUtf8 = join(dir, 'bad-utf8.jsonl');
  const okLine = genesis('utf8');
  const fd2 = openSync(badUtf8, 'w');
  writeSync(fd2, okLine.replace('"span":{}', '"span":{"n":"\xff\xfe"}') + '\n', null, 'latin1');
  writeSync(fd2, Buffer.from([0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x7d, 0x0a, 0x00, 0x00, 0x0a]));
  closeSync(fd2);
  add({ name: 'invalid UTF-8 and NUL bytes', file: badUtf8, code: 1, reason: 'malformed line', line: 1, heapMb: 64, maxRssMb: 200, maxSeconds: 30 });

  // 6. empty input
  const empty = join(dir, 'empty.jsonl');
  writeLines(empty, 0, () => '');
  add({ name: 'empty input', file: empty, code: 1, reason: 'no audit record', line: 0, heapMb: 64, maxRssMb: 200, maxSeconds: 30 });
  add({ name: 'empty standard input', file: empty, stdin: true, code: 1, reason: 'no audit record', line: 0, heapMb: 64, maxRssMb: 200, maxSeconds: 30 });

  // 7. a record with one 15 MiB string (under the limit): verified
  const hugeString = join(dir, 'huge-string.jsonl');
  writeLines(hugeString, 1, () => genesis('huge', `{"attributes":{"s":{"stringValue":"${'z'.repeat(15 * MB)}"}}}`));
  add({ name: 'a 15 MiB record (under the limit) verifies', file: hugeString, code: 0, chains: 1, heapMb: 256, maxRssMb: 700, maxSeconds: 60 });

  // 8. many members with the same name, and a million-member object
  const dupes = join(dir, 'dupes.jsonl');
  writeLines(dupes, 1, () => genesis('dupes', `{"attributes":{${Array.from({ length: 200_000 }, (_, i) => `"k${i % 1000}":{}`).join(',')}}}`));
  add({ name: '200,000 members, most of them duplicates', file: dupes, code: 1, reason: 'malformed line', line: 1, heapMb: 128, maxRssMb: 300, maxSeconds: 30 });
  return cases;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const out = process.argv[2];
  if (!out) {
    console.error('usage: npx tsx test/verify/hostile-corpus.ts <directory> [scale]');
    process.exit(2);
  }
  for (const c of writeHostileCorpus(out, Number(process.argv[3] ?? 1))) console.log(`${c.file}\t${c.name}`);
}
