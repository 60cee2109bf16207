/**
 * `agent-safety-otel verify --inclusion-proof F | --consistency-proof F`:
 * checks transparency-log proofs (as `prove` prints them) offline, against
 * the log's verifier key and, given one, a checkpoint the verifier trusts;
 * output and exit codes as `verify`'s.
 *
 * @module
 */
import { checkConsistencyProof, checkInclusionProof } from '../verify/tlog.js';
import type { ProofCheckOptions, ProofCheckReport, ProofCheckpointSummary } from '../verify/tlog.js';
import { isNoteError, verifierFromVkey } from '../patterns/audit/signed-note.js';
import type { NoteVerifier } from '../patterns/audit/signed-note.js';
import { AuditInputError } from '../verify/audit-verify.js';
import { PACKAGE_NAME } from '../instrumentation/shared/version.js';
import type { CliIO } from './main.js';
import { UsageError, flagValue, readCliFile, readHmacKeyFile } from './cli-args.js';

/** The proof options, for verify's help. */
export const PROOF_OPTIONS = `Transparency-log proofs (instead of files; see docs/transparency.md):
  --inclusion-proof F     a record's inclusion proof (C2SP tlog-proof, from
                          prove --record); repeatable
  --consistency-proof F   a consistency proof between two checkpoints (from
                          prove --consistency); repeatable
  --log-key VKEY          the log's verifier key (origin+id+base64); @FILE
                          reads it; required; repeatable
  --checkpoint F          the log checkpoint you trust (held, or cosigned):
                          an inclusion proof must be against it, a
                          consistency proof must end (or start) at it
  --witness-key VKEY      a witness's cosignature key; repeatable
  --quorum N              witness cosignatures required on the trusted
                          checkpoint (--checkpoint, else the proof's)
  --line F                the record's JSONL line (default: the proof's
                          extra line); one inclusion proof only
  --hmac-key-file F       the chain's HMAC key, to check a keyed record's
                          content against its hash
  --json                  print the reports as JSON`;

const PROOF_FLAGS = new Set(['--inclusion-proof', '--consistency-proof']);

/** True when `verify`'s arguments ask for a proof check. */
export function isProofCheck(args: readonly string[]): boolean {
  return args.some(a => PROOF_FLAGS.has(a));
}

interface ProofArgs {
  proofs: Array<{ kind: 'inclusion' | 'consistency'; file: string }>;
  logKeys: NoteVerifier[];
  witnessKeys: NoteVerifier[];
  quorum: number;
  checkpoint?: string;
  line?: string;
  hmacKey?: Buffer;
  json: boolean;
}

/** A text file named on the command line; unreadable: exit code 2, as verify. */
function readText(path: string, what: string): string {
  return readCliFile(path, what).toString('utf8');
}

function vkey(v: string, flag: string): NoteVerifier {
  const text = v.startsWith('@') ? readText(v.slice(1), `${flag} file`).trim() : v;
  try {
    return verifierFromVkey(text);
  } catch (err) {
    if (isNoteError(err) || err instanceof TypeError) throw new UsageError(`${flag}: ${err.message}`);
    throw err;
  }
}

function parse(args: readonly string[]): ProofArgs {
  const a: ProofArgs = { proofs: [], logKeys: [], witnessKeys: [], quorum: 0, json: false };
  let linePath: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = (): string => flagValue(args, ++i, arg);
    switch (arg) {
      case '--inclusion-proof':
        a.proofs.push({ kind: 'inclusion', file: value() });
        break;
      case '--consistency-proof':
        a.proofs.push({ kind: 'consistency', file: value() });
        break;
      case '--log-key':
        a.logKeys.push(vkey(value(), arg));
        break;
      case '--witness-key':
        a.witnessKeys.push(vkey(value(), arg));
        break;
      case '--quorum': {
        const v = value();
        if (!/^(0|[1-9][0-9]{0,2})$/.test(v)) throw new UsageError(`--quorum wants a number of witnesses, not ${JSON.stringify(v)}`);
        a.quorum = Number(v);
        break;
      }
      case '--checkpoint':
        a.checkpoint = readText(value(), 'checkpoint');
        break;
      case '--line':
        linePath = value();
        break;
      case '--hmac-key-file': {
        a.hmacKey = readHmacKeyFile(value());
        break;
      }
      case '--json':
        a.json = true;
        break;
      default:
        if (arg.startsWith('-')) throw new UsageError(`${arg} does not go with proof checks (they take --log-key, --checkpoint, --witness-key, --quorum, --line, --hmac-key-file, --json)`);
        throw new UsageError(`proof checks take no files (${arg}): verify audit files in a separate run`);
    }
  }
  if (a.logKeys.length === 0) throw new UsageError('proof checks need the log\'s verifier key: --log-key VKEY (or @FILE)');
  if (a.quorum > a.witnessKeys.length) throw new UsageError(`--quorum ${a.quorum} needs at least as many --witness-key`);
  if (linePath !== undefined) {
    if (a.proofs.length !== 1 || a.proofs[0].kind !== 'inclusion') throw new UsageError('--line goes with exactly one --inclusion-proof');
    a.line = readText(linePath, 'record line file');
  }
  return a;
}

const n = (x: number): string => x.toLocaleString('en-US');
const cosigned = (cp: ProofCheckpointSummary | undefined): string => (cp && cp.witnesses.length ? `, cosigned by ${cp.witnesses.join(', ')}` : '');

function proofLine(file: string, r: ProofCheckReport): string {
  let facts: string;
  if (r.kind === 'inclusion') {
    const rec = r.record ? `record ${r.record.chainId}/${n(r.record.seq)}` : 'the record';
    facts = r.checkpoint
      ? `${rec}, entry ${n(r.index ?? 0)} of ${r.checkpoint.origin} (size ${n(r.checkpoint.size)})${cosigned(r.checkpoint)}`
      : 'no checkpoint opened';
  } else {
    facts =
      r.older && r.newer
        ? `${r.older.origin}, size ${n(r.older.size)} → ${n(r.newer.size)}${r.trusted ? ` (the checkpoint given is the ${r.trusted})` : ''}${cosigned(r.checkpoint)}`
        : 'no checkpoint opened';
  }
  const head = `${r.valid ? 'ok  ' : 'FAIL'} ${r.kind} proof ${file}: ${facts}`;
  return r.failure ? `${head}\n     ${r.failure.reason}: ${r.failure.detail}` : head;
}

/** Runs `verify` with proof options; returns the exit code. */
export async function runProofCheck(args: readonly string[], io: CliIO, usage: string): Promise<number> {
  let a: ProofArgs;
  try {
    a = parse(args);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`${PACKAGE_NAME} verify: ${err.message}\n\n${usage}`);
      return 2;
    }
    if (err instanceof AuditInputError) {
      io.err(`${PACKAGE_NAME} verify: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const options: ProofCheckOptions = {
    logKeys: a.logKeys,
    witnessKeys: a.witnessKeys,
    quorum: a.quorum,
    checkpoint: a.checkpoint,
    line: a.line,
    hmacKey: a.hmacKey,
  };
  const results: Array<{ file: string; report: ProofCheckReport }> = [];
  for (const p of a.proofs) {
    let text: string;
    try {
      text = readText(p.file, `${p.kind} proof`);
    } catch (err) {
      if (!(err instanceof AuditInputError)) throw err;
      io.err(`${PACKAGE_NAME} verify: ${err.message}\n`);
      return 2;
    }
    results.push({ file: p.file, report: p.kind === 'inclusion' ? checkInclusionProof(text, options) : checkConsistencyProof(text, options) });
  }
  const valid = results.every(r => r.report.valid);
  if (a.json) {
    io.out(JSON.stringify({ valid, proofs: results.map(r => ({ file: r.file, ...r.report })) }, null, 2) + '\n');
  } else {
    let out = `${results.length} proof${results.length === 1 ? '' : 's'}${a.checkpoint !== undefined ? ', against the checkpoint given' : ''}\n`;
    for (const r of results) out += proofLine(r.file, r.report) + '\n';
    const bad = results.find(r => !r.report.valid);
    out += bad ? `NOT VERIFIED: ${bad.file}: ${bad.report.failure!.reason}\n` : 'VALID: every proof verified\n';
    io.out(out);
  }
  return valid ? 0 : 1;
}
