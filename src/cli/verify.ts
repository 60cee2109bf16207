/**
 * `agent-safety-otel verify <files…>`: checks audit chains in JSONL audit
 * files and OTLP JSON files (the Collector's file exporter).
 * `agent-safety-otel head <files…>`: verifies them, then prints each
 * chain's head (`CHAIN:SEQ:HASH`) to keep elsewhere.
 *
 * @module
 */
import { createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { AuditInputError, verifyAuditFiles } from '../verify/audit-verify.js';
import type { AuditChainReport, AuditFailure, AuditInputStream, AuditVerifyReport, VerifyAuditFilesOptions } from '../verify/audit-verify.js';
import type { ChainHead } from '../patterns/audit/audit-record.js';
import { PACKAGE_NAME } from '../instrumentation/shared/version.js';
import type { CliIO, Command } from './main.js';
import { PROOF_OPTIONS, isProofCheck, runProofCheck } from './verify-proof.js';
import { UsageError, flagValue, readCliFile, readHmacKeyFile } from './cli-args.js';

const OPTIONS = `Options:
  --hmac-key-file F       the chains' HMAC key: the file's bytes (one trailing
                          newline is ignored). A keyed chain verified without
                          it fails ("missing key"); with it, a chain that is
                          not keyed fails ("wrong key").
  --hmac-key-id ID        the key's id; a chain naming another id fails
  --public-key F          Ed25519 public key (PEM) to check seal signatures.
                          Given, every chain must carry a seal and end with
                          one (or be continued by a later run)
  --expect-head C:S:H     chain C must contain seq S with hash H (a head kept
                          elsewhere, e.g. from the head command); repeatable
  --manifest F            a file of chains that must be present, one per
                          line: CHAIN or CHAIN:SEQ:HASH (head's output, kept
                          elsewhere); a chain absent fails ("missing chain"),
                          one not listed that continues no listed chain fails
                          ("unexpected chain"), each head is an --expect-head
  --expect-chains IDS     the same with chain ids, comma-separated; repeatable
  --after C:S:H           the input continues chain C after seq S, whose hash
                          is H (the last record of an earlier file that is
                          not given, or a seal's head): verify a later
                          rotated file alone; also vouches for a run whose
                          predecessor is that head; repeatable
  --seals F               seal records held elsewhere (JSONL or OTLP JSON);
                          a later one than a file's tail proves truncation;
                          needs --public-key; repeatable (alias --checkpoints)
  --allow-missing-predecessor
                          accept a run whose predecessor (the run before it
                          in the file) is not in the input
  --allow-unsealed-tail   accept chains that end after their last seal (a
                          live file, or a run that crashed last)
  --allow-empty           accept input with no audit record (else exit 1)
  --allow-duplicates      skip exact duplicate records (at-least-once OTLP)
  --max-record-size N     longest line read, in bytes (K, M suffixes: KiB,
                          MiB); longer lines are skipped and reported
                          (default 16M)
  --max-depth N           deepest nesting in a line (default 64)
  --workers N             hashing threads besides the main one (default: cores - 1, for large input)
  --json                  print the report as JSON (streamed)
  -h, --help              this help`;

const USAGE = `Usage: ${PACKAGE_NAME} verify <files…> [options]

Checks the audit chains in JSONL audit files and in OTLP JSON files (as the
Collector's file exporter writes them), streaming. Files are read in the
order given (give rotated files oldest first); chains may be interleaved.
A file named - is standard input (e.g. zcat audit.jsonl.gz | … verify -).

${OPTIONS}

${PROOF_OPTIONS}

Exit codes: 0 every chain verified, 1 tampered, incomplete or no audit
record (the first bad record is reported with its file, line and reason),
2 usage error or unreadable input. With proofs: 0 every proof verified,
1 one did not (its reason is printed), 2 usage error or unreadable input.
`;

const HEAD_USAGE = `Usage: ${PACKAGE_NAME} head <files…> [options]

Verifies the audit chains as verify does (a chain may end after its last
seal: the file may be live), then prints each valid chain's head, one per
line: CHAIN:SEQ:HASH. Keep the output where the audit file's writer cannot
change it, then check later that nothing before it was cut or rewritten:

  ${PACKAGE_NAME} head audit.jsonl --hmac-key-file k >> /secure/heads.txt
  ${PACKAGE_NAME} verify audit.jsonl --hmac-key-file k --manifest /secure/heads.txt

Takes verify's options (${'--allow-unsealed-tail'} is on); --json prints the heads as JSON.

Exit codes: 0 heads printed, 1 a chain failed (its head is not printed),
2 usage error or unreadable input.
`;

interface Parsed {
  files: Array<string | AuditInputStream>;
  options: VerifyAuditFilesOptions;
  json: boolean;
}

const HEAD = /^(.+):(\d+):([0-9a-f]{64})$/;

function parseHead(arg: string, v: string): ChainHead {
  const m = HEAD.exec(v);
  if (!m || !Number.isSafeInteger(Number(m[2]))) throw new UsageError(`${arg} wants CHAIN:SEQ:HASH (64 hex digits), not ${JSON.stringify(v)}`);
  return { chainId: m[1], seq: Number(m[2]), hash: m[3] };
}

/** A manifest: lines `CHAIN` or `CHAIN:SEQ:HASH`, blank lines and `#` comments ignored. */
function readManifest(path: string, chains: string[], heads: ChainHead[]): void {
  const text = readCliFile(path, 'manifest').toString('utf8');
  let n = 0;
  for (const raw of text.split('\n')) {
    n++;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = HEAD.exec(line);
    if (m) {
      const head = parseHead(`${path}:${n}`, line);
      chains.push(head.chainId);
      heads.push(head);
    } else if (/^[^\s:]+$/.test(line)) {
      chains.push(line);
    } else {
      throw new UsageError(`${path}:${n}: a manifest line is CHAIN or CHAIN:SEQ:HASH, not ${JSON.stringify(line.slice(0, 80))}`);
    }
  }
}

function parseSize(arg: string, v: string): number {
  const m = /^(\d+)\s*(k|kib|m|mib|g|gib)?$/i.exec(v);
  const unit = m?.[2]?.[0]?.toLowerCase();
  const n = m ? Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 2 ** 20 : unit === 'g' ? 2 ** 30 : 1) : NaN;
  if (!Number.isSafeInteger(n) || n < 256) throw new UsageError(`${arg} wants a size of at least 256 bytes (e.g. 16M), not ${JSON.stringify(v)}`);
  return n;
}

function parseArgs(args: string[], stdin: AsyncIterable<Buffer | string> | undefined, head: boolean, stdinFd?: number): Parsed {
  const files: Array<string | AuditInputStream> = [];
  const expectedHeads: ChainHead[] = [];
  const anchors: ChainHead[] = [];
  const sealFiles: string[] = [];
  let expectedChains: string[] | undefined;
  let hmacKey: Buffer | undefined;
  let hmacKeyId: string | undefined;
  let publicKey: KeyObject | undefined;
  let allowDuplicates = false;
  let allowMissingPredecessor = false;
  let allowUnsealedTail = head;
  let allowEmpty = false;
  let maxRecordBytes: number | undefined;
  let maxDepth: number | undefined;
  let workers: number | undefined;
  let json = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = (): string => flagValue(args, ++i, arg);
    switch (arg) {
      case '--hmac-key-file': {
        hmacKey = readHmacKeyFile(value());
        break;
      }
      case '--hmac-key-id':
        hmacKeyId = value();
        break;
      case '--public-key': {
        const file = value();
        try {
          publicKey = createPublicKey(readCliFile(file, 'public key file'));
        } catch (err) {
          if (err instanceof AuditInputError) throw err;
          throw new UsageError(`${file} is not a PEM public key: ${(err as Error).message}`);
        }
        if (publicKey.asymmetricKeyType !== 'ed25519') throw new UsageError(`${file} is not an Ed25519 key`);
        break;
      }
      case '--expect-head':
        expectedHeads.push(parseHead(arg, value()));
        break;
      case '--after': {
        const h = parseHead(arg, value());
        if (anchors.some(a => a.chainId === h.chainId)) throw new UsageError(`--after names chain ${h.chainId} twice`);
        anchors.push(h);
        break;
      }
      case '--manifest':
        expectedChains ??= [];
        readManifest(value(), expectedChains, expectedHeads);
        break;
      case '--expect-chains':
        expectedChains ??= [];
        for (const id of value().split(',')) if (id.trim() !== '') expectedChains.push(id.trim());
        break;
      case '--seals':
      case '--checkpoints':
        sealFiles.push(value());
        break;
      case '--allow-duplicates':
        allowDuplicates = true;
        break;
      case '--allow-missing-predecessor':
        allowMissingPredecessor = true;
        break;
      case '--allow-unsealed-tail':
        allowUnsealedTail = true;
        break;
      case '--allow-empty':
        allowEmpty = true;
        break;
      case '--max-record-size':
        maxRecordBytes = parseSize(arg, value());
        break;
      case '--max-depth': {
        const v = value();
        maxDepth = Number(v);
        if (!Number.isInteger(maxDepth) || maxDepth < 8 || maxDepth > 10_000) throw new UsageError(`--max-depth wants a number from 8 to 10000, not ${JSON.stringify(v)}`);
        break;
      }
      case '--workers': {
        const v = value();
        workers = Number(v);
        if (!Number.isInteger(workers) || workers < 0 || workers > 64) throw new UsageError(`--workers wants a number of threads, not ${JSON.stringify(v)}`);
        break;
      }
      case '--json':
        json = true;
        break;
      default:
        if (arg === '-') {
          if (stdin === undefined) throw new UsageError('no standard input to read');
          if (files.some(f => typeof f !== 'string')) throw new UsageError('- (standard input) can be given once');
          files.push({ name: '(stdin)', stream: stdin, fd: stdinFd });
          break;
        }
        if (arg.startsWith('-')) throw new UsageError(`unknown option ${arg}`);
        files.push(arg);
    }
  }
  if (files.length === 0) throw new UsageError(head ? 'no files to read' : 'no files to verify');
  if (hmacKeyId !== undefined && hmacKey === undefined) throw new UsageError('--hmac-key-id needs --hmac-key-file');
  if (sealFiles.length && publicKey === undefined) throw new UsageError('--seals needs --public-key (their signatures must be checked)');
  return {
    files,
    json,
    options: {
      hmacKey,
      hmacKeyId,
      publicKey,
      expectedHeads,
      anchors,
      expectedChains,
      sealFiles,
      allowDuplicates,
      allowMissingPredecessor,
      allowUnsealedTail,
      allowEmpty,
      maxRecordBytes,
      maxDepth,
      workers,
    },
  };
}

const n = (x: number): string => x.toLocaleString('en-US');
const short = (h: string): string => (h.length > 16 ? `${h.slice(0, 8)}…${h.slice(-8)}` : h);

function chainLine(c: AuditChainReport): string {
  const facts = [
    c.records ? `seq ${n(c.firstSeq)}…${n(c.lastSeq)} (${n(c.records)} records)` : 'no record verified',
    `head ${short(c.headHash)}`,
  ];
  if (c.keyId !== undefined) facts.push(`HMAC key ${c.keyId}`);
  if (c.sealsVerified || c.sealsUnverified) {
    facts.push(`seals ${n(c.sealsVerified)} verified${c.sealsUnverified ? `, ${n(c.sealsUnverified)} unverified (no --public-key)` : ''}`);
  }
  if (c.externalVerified) facts.push(`${n(c.externalVerified)} anchors held elsewhere matched`);
  if (c.duplicatesIgnored) facts.push(`${n(c.duplicatesIgnored)} duplicates skipped`);
  if (c.previous) facts.push(`continues ${c.previous.chainId} at seq ${n(c.previous.seq)}${c.predecessor && c.predecessor !== 'present' ? ` (${c.predecessor})` : ''}`);
  if (c.anchor) facts.push(`after the anchor at seq ${n(c.anchor.seq)}`);
  if (c.valid && c.tail === 'unsealed') {
    facts.push(c.sealEvery !== undefined || c.sealsVerified + c.sealsUnverified > 0 ? `${n(c.unsealedRecords)} records after the last seal` : 'tail unanchored (a cut tail shows only against a head kept elsewhere: see head)');
  }
  const head = `${c.valid ? 'ok  ' : 'FAIL'} chain ${c.chainId}: ${facts.join(', ')}`;
  if (!c.failure) return head;
  const f = c.failure;
  return `${head}\n     first bad record: ${where(f)}: ${f.reason}${f.seq !== undefined ? ` (seq ${n(f.seq)})` : ''}: ${f.detail}`;
}

const where = (f: AuditFailure): string => (f.line > 0 ? `${f.file}:${f.line}` : f.file);

/** Writes the human report in pieces (one string for a million chains would be too long). */
function writeHuman(report: AuditVerifyReport, out: (text: string) => void): void {
  let buf = `${report.files.length} file${report.files.length === 1 ? '' : 's'}, ${n(report.lines)} lines, ${n(report.records)} records, ${n(report.chains.length)} chain${report.chains.length === 1 ? '' : 's'}\n`;
  const flush = (force = false): void => {
    if (buf.length > (force ? 0 : 1 << 16)) {
      out(buf);
      buf = '';
    }
  };
  const chainIds = new Set<string>();
  for (const c of report.chains) {
    chainIds.add(c.chainId);
    buf += chainLine(c) + '\n';
    flush();
  }
  for (const f of report.failures) {
    if (f.chainId === undefined || !chainIds.has(f.chainId)) {
      buf += `FAIL ${where(f)}: ${f.reason}: ${f.detail}\n`;
      flush();
    }
  }
  if (report.lineFailuresOmitted > 0) buf += `… and ${n(report.lineFailuresOmitted)} more failing lines\n`;
  if (report.valid) {
    buf += report.chains.length ? 'VALID: every chain verified\n' : 'VALID: no audit record found (--allow-empty)\n';
  } else {
    const f = report.failure!;
    buf += `${f.reason === 'no audit record' ? 'NO AUDIT RECORD' : 'TAMPERED OR INCOMPLETE'}: ${where(f)}: ${f.reason}${f.chainId ? ` (chain ${f.chainId}${f.seq !== undefined ? `, seq ${n(f.seq)}` : ''})` : ''}\n`;
  }
  flush(true);
}

/** Writes the report as JSON, chain by chain (the same object as `JSON.stringify(report)`, indented). */
function writeJson(report: AuditVerifyReport, out: (text: string) => void): void {
  const { chains, failures, ...rest } = report;
  const head = JSON.stringify(rest, null, 2);
  let buf = head.slice(0, -2) + ',\n  "chains": [';
  const list = (items: readonly unknown[]): void => {
    for (let i = 0; i < items.length; i++) {
      buf += (i === 0 ? '\n    ' : ',\n    ') + JSON.stringify(items[i], null, 2).replace(/\n/g, '\n    ');
      if (buf.length > 1 << 16) {
        out(buf);
        buf = '';
      }
    }
    buf += items.length ? '\n  ]' : ']';
  };
  list(chains);
  buf += ',\n  "failures": [';
  list(failures);
  out(buf + '\n}\n');
}

/** A progress bar on stderr, redrawn at most every 200 ms. */
function progressBar(io: CliIO): { update(read: number, total: number): void; clear(): void } {
  let last = 0;
  let shown = false;
  return {
    update(read, total) {
      const now = Date.now();
      if (now - last < 200 && read < total) return;
      last = now;
      const width = 30;
      const done = Math.round((read / total) * width);
      io.err(`\r[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${Math.floor((read / total) * 100)}% ${(read / 2 ** 20).toFixed(0)}/${(total / 2 ** 20).toFixed(0)} MB`);
      shown = true;
    },
    clear() {
      if (shown) io.err('\r' + ' '.repeat(60) + '\r');
    },
  };
}

/** `io.stdin`, not read (nor made: see bin.ts) until iterated. */
function lazyStdin(io: CliIO): AsyncIterable<Buffer | string> | undefined {
  if (Object.getOwnPropertyDescriptor(io, 'stdin')?.get === undefined) return io.stdin;
  return { [Symbol.asyncIterator]: () => io.stdin![Symbol.asyncIterator]() };
}

/** Input over this size gets a progress bar on a terminal. */
const PROGRESS_BYTES = 32 * 2 ** 20;

async function verifyWithArgs(name: string, usage: string, args: string[], io: CliIO, head: boolean): Promise<{ code: number } | { report: AuditVerifyReport; json: boolean }> {
  let parsed: Parsed;
  try {
    parsed = parseArgs(args, lazyStdin(io), head, io.stdinFd);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`${PACKAGE_NAME} ${name}: ${err.message}\n\n${usage}`);
      return { code: 2 };
    }
    if (err instanceof AuditInputError) {
      io.err(`${PACKAGE_NAME} ${name}: ${err.message}\n`);
      return { code: 2 };
    }
    throw err;
  }
  const bar = io.errIsTTY ? progressBar(io) : undefined;
  try {
    const report = await verifyAuditFiles(parsed.files, {
      ...parsed.options,
      onProgress: bar ? (read, total) => total >= PROGRESS_BYTES && bar.update(read, total) : undefined,
    });
    return { report, json: parsed.json };
  } catch (err) {
    if (err instanceof AuditInputError) {
      io.err(`${PACKAGE_NAME} ${name}: ${err.message}\n`);
      return { code: 2 };
    }
    throw err;
  } finally {
    bar?.clear();
  }
}

async function run(args: string[], io: CliIO): Promise<number> {
  if (isProofCheck(args)) return runProofCheck(args, io, USAGE);
  const r = await verifyWithArgs('verify', USAGE, args, io, false);
  if ('code' in r) return r.code;
  if (r.json) writeJson(r.report, text => io.out(text));
  else writeHuman(r.report, text => io.out(text));
  return r.report.valid ? 0 : 1;
}

async function runHead(args: string[], io: CliIO): Promise<number> {
  const r = await verifyWithArgs('head', HEAD_USAGE, args, io, true);
  if ('code' in r) return r.code;
  const heads = r.report.chains.filter(c => c.valid && c.records > 0);
  if (r.json) {
    io.out(JSON.stringify(heads.map(c => ({ chainId: c.chainId, seq: c.lastSeq, hash: c.headHash })), null, 2) + '\n');
  } else {
    let buf = '';
    for (const c of heads) {
      buf += `${c.chainId}:${c.lastSeq}:${c.headHash}\n`;
      if (buf.length > 1 << 16) {
        io.out(buf);
        buf = '';
      }
    }
    io.out(buf);
  }
  if (!r.report.valid) {
    const f = r.report.failure!;
    io.err(`${PACKAGE_NAME} head: ${f.reason === 'no audit record' ? 'NO AUDIT RECORD' : 'TAMPERED OR INCOMPLETE'}: ${where(f)}: ${f.reason}${f.chainId ? ` (chain ${f.chainId})` : ''}: ${f.detail}\n`);
    return 1;
  }
  return 0;
}

/** The `verify` command. */
export const verifyCommand: Command = {
  summary: 'verify audit chains in JSONL audit files or OTLP JSON files',
  usage: USAGE,
  run,
};

/** The `head` command. */
export const headCommand: Command = {
  summary: "verify audit files and print each chain's head (CHAIN:SEQ:HASH) to keep elsewhere",
  usage: HEAD_USAGE,
  run: runHead,
};
