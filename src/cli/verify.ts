/**
 * `agent-safety-otel verify <files…>`: checks audit chains in JSONL audit
 * files and OTLP JSON files (the Collector's file exporter).
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { AuditInputError, verifyAuditFiles } from '../verify/audit-verify.js';
import type { AuditChainReport, AuditInputStream, AuditVerifyReport, VerifyAuditFilesOptions } from '../verify/audit-verify.js';
import type { ChainHead } from '../patterns/audit/audit-record.js';
import { keyFileBytes } from '../patterns/audit/audit-chain.js';
import { PACKAGE_NAME } from '../instrumentation/shared/version.js';
import type { CliIO, Command } from './main.js';

const USAGE = `Usage: ${PACKAGE_NAME} verify <files…> [options]

Checks the audit chains in JSONL audit files and in OTLP JSON files (as the
Collector's file exporter writes them), streaming. Files are read in the
order given (give rotated files oldest first); chains may be interleaved.
A file named - is standard input (e.g. zcat audit.jsonl.gz | … verify -).

Options:
  --hmac-key-file F       the chains' HMAC key: the file's bytes (one trailing
                          newline is ignored). A keyed chain verified without
                          it fails ("missing key"); with it, a chain that is
                          not keyed fails ("wrong key").
  --hmac-key-id ID        the key's id; a chain naming another id fails
  --public-key F          Ed25519 public key (PEM) to check checkpoint
                          signatures; without it checkpoints are counted as
                          unverified
  --expect-head C:S:H     chain C must contain seq S with hash H (a head
                          obtained out of band); repeatable
  --after C:S:H           the input continues chain C after seq S, whose hash
                          is H (the last record of an earlier file that is
                          not given, or a checkpoint's head): verify a later
                          rotated file alone; repeatable
  --checkpoints F         checkpoint records held elsewhere (JSONL or OTLP
                          JSON); a later one than a file's tail proves
                          truncation; needs --public-key; repeatable
  --allow-duplicates      skip exact duplicate records (at-least-once OTLP)
  --workers N             hashing threads besides the main one (default: cores - 1, for large input)
  --json                  print the report as JSON
  -h, --help              this help

Exit codes: 0 every chain verified, 1 tampered or incomplete (the first bad
record is reported with its file, line and reason), 2 usage error or
unreadable input.
`;

class UsageError extends Error {}

interface Parsed {
  files: Array<string | AuditInputStream>;
  options: VerifyAuditFilesOptions;
  json: boolean;
}

function readKeyFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new AuditInputError(`cannot read the ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function parseArgs(args: string[], stdin: AsyncIterable<Buffer | string> | undefined): Parsed {
  const files: Array<string | AuditInputStream> = [];
  const expectedHeads: ChainHead[] = [];
  const anchors: ChainHead[] = [];
  const checkpointFiles: string[] = [];
  let hmacKey: Buffer | undefined;
  let hmacKeyId: string | undefined;
  let publicKey: KeyObject | undefined;
  let allowDuplicates = false;
  let workers: number | undefined;
  let json = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = (): string => {
      const v = args[++i];
      if (v === undefined) throw new UsageError(`${arg} needs a value`);
      return v;
    };
    switch (arg) {
      case '--hmac-key-file': {
        const key = keyFileBytes(readKeyFile(value(), 'HMAC key file'));
        if (key.length === 0) throw new UsageError('the HMAC key file is empty');
        hmacKey = key;
        break;
      }
      case '--hmac-key-id':
        hmacKeyId = value();
        break;
      case '--public-key': {
        const file = value();
        try {
          publicKey = createPublicKey(readKeyFile(file, 'public key file'));
        } catch (err) {
          if (err instanceof AuditInputError) throw err;
          throw new UsageError(`${file} is not a PEM public key: ${(err as Error).message}`);
        }
        if (publicKey.asymmetricKeyType !== 'ed25519') throw new UsageError(`${file} is not an Ed25519 key`);
        break;
      }
      case '--expect-head':
      case '--after': {
        const v = value();
        const m = /^(.+):(\d+):([0-9a-f]{64})$/.exec(v);
        if (!m || !Number.isSafeInteger(Number(m[2]))) throw new UsageError(`${arg} wants CHAIN:SEQ:HASH (64 hex digits), not ${JSON.stringify(v)}`);
        const head = { chainId: m[1], seq: Number(m[2]), hash: m[3] };
        if (arg === '--expect-head') expectedHeads.push(head);
        else if (anchors.some(a => a.chainId === head.chainId)) throw new UsageError(`--after names chain ${head.chainId} twice`);
        else anchors.push(head);
        break;
      }
      case '--checkpoints':
        checkpointFiles.push(value());
        break;
      case '--allow-duplicates':
        allowDuplicates = true;
        break;
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
          files.push({ name: '(stdin)', stream: stdin });
          break;
        }
        if (arg.startsWith('-')) throw new UsageError(`unknown option ${arg}`);
        files.push(arg);
    }
  }
  if (files.length === 0) throw new UsageError('no files to verify');
  if (hmacKeyId !== undefined && hmacKey === undefined) throw new UsageError('--hmac-key-id needs --hmac-key-file');
  if (checkpointFiles.length && publicKey === undefined) throw new UsageError('--checkpoints needs --public-key (their signatures must be checked)');
  return {
    files,
    json,
    options: { hmacKey, hmacKeyId, publicKey, expectedHeads, anchors, checkpointFiles, allowDuplicates, workers },
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
  if (c.checkpointsVerified || c.checkpointsUnverified) {
    facts.push(`checkpoints ${n(c.checkpointsVerified)} verified${c.checkpointsUnverified ? `, ${n(c.checkpointsUnverified)} unverified (no --public-key)` : ''}`);
  }
  if (c.externalVerified) facts.push(`${n(c.externalVerified)} anchors held elsewhere matched`);
  if (c.duplicatesIgnored) facts.push(`${n(c.duplicatesIgnored)} duplicates skipped`);
  if (c.previous) facts.push(`continues ${c.previous.chainId} at seq ${n(c.previous.seq)}`);
  if (c.anchor) facts.push(`after the anchor at seq ${n(c.anchor.seq)}`);
  const head = `${c.valid ? 'ok  ' : 'FAIL'} chain ${c.chainId}: ${facts.join(', ')}`;
  if (!c.failure) return head;
  const f = c.failure;
  return `${head}\n     first bad record: ${f.file}:${f.line}: ${f.reason}${f.seq !== undefined ? ` (seq ${n(f.seq)})` : ''}: ${f.detail}`;
}

function human(report: AuditVerifyReport): string {
  const lines = [
    `${report.files.length} file${report.files.length === 1 ? '' : 's'}, ${n(report.lines)} lines, ${n(report.records)} records, ${report.chains.length} chain${report.chains.length === 1 ? '' : 's'}`,
    ...report.chains.map(chainLine),
  ];
  for (const f of report.failures) {
    if (f.chainId === undefined || !report.chains.some(c => c.chainId === f.chainId)) lines.push(`FAIL ${f.file}:${f.line}: ${f.reason}: ${f.detail}`);
  }
  if (report.valid) {
    lines.push(report.chains.length ? 'VALID: every chain verified' : 'VALID: no audit record found');
  } else {
    const f = report.failure!;
    lines.push(`TAMPERED OR INCOMPLETE: ${f.file}:${f.line}: ${f.reason}${f.chainId ? ` (chain ${f.chainId}${f.seq !== undefined ? `, seq ${n(f.seq)}` : ''})` : ''}`);
  }
  return lines.join('\n') + '\n';
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

/** Input over this size gets a progress bar on a terminal. */
const PROGRESS_BYTES = 32 * 2 ** 20;

async function run(args: string[], io: CliIO): Promise<number> {
  let parsed: Parsed;
  try {
    parsed = parseArgs(args, io.stdin);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`${PACKAGE_NAME} verify: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof AuditInputError) {
      io.err(`${PACKAGE_NAME} verify: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const bar = io.errIsTTY ? progressBar(io) : undefined;
  let report: AuditVerifyReport;
  try {
    report = await verifyAuditFiles(parsed.files, {
      ...parsed.options,
      onProgress: bar ? (read, total) => total >= PROGRESS_BYTES && bar.update(read, total) : undefined,
    });
  } catch (err) {
    bar?.clear();
    if (err instanceof AuditInputError) {
      io.err(`${PACKAGE_NAME} verify: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  bar?.clear();
  io.out(parsed.json ? JSON.stringify(report, null, 2) + '\n' : human(report));
  return report.valid ? 0 : 1;
}

/** The `verify` command. */
export const verifyCommand: Command = {
  summary: 'verify audit chains in JSONL audit files or OTLP JSON files',
  usage: USAGE,
  run,
};
