/**
 * `agent-safety-otel prove`: inclusion proofs of audit records (C2SP
 * tlog-proof) and consistency proofs between checkpoints, made from a
 * published tiles directory, and their offline check.
 *
 * @module
 */
import { createReadStream, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createPublicKey } from 'node:crypto';
import { consistencyProof, inclusionProof } from '../patterns/audit/merkle.js';
import { SIG_COSIGNATURE_V1, SIG_ED25519, ed25519RawPublicKey, formatVkey, verifierFromVkey } from '../patterns/audit/signed-note.js';
import { peekCheckpoint } from '../patterns/audit/tlog-checkpoint.js';
import { readBundle, tileWidth, withTiles } from '../patterns/audit/tlog-tiles.js';
import { CONSISTENCY_PROOF_HEADER, formatConsistencyProof, formatTlogProof } from '../patterns/audit/tlog-proof.js';
import { keyFileBytes } from '../patterns/audit/audit-chain.js';
import { verifyConsistencyProofText, verifyRecordProof } from '../verify/tlog.js';
import { PACKAGE_NAME } from '../instrumentation/shared/version.js';
import type { CliIO, Command } from './main.js';
import { UsageError } from './cli-args.js';

const USAGE = `Usage:
  ${PACKAGE_NAME} prove --tiles DIR --record SEQ [--chain ID] [--journal FILE…] [--checkpoint FILE]
  ${PACKAGE_NAME} prove --tiles DIR --consistency OLD NEW
  ${PACKAGE_NAME} prove --check FILE --log-key VKEY [--witness-key VKEY…] [--quorum N] [--line FILE] [--hmac-key-file F]
  ${PACKAGE_NAME} prove --vkey --name NAME --public-key PEM [--cosigner]

--record prints the inclusion proof of one audit record (C2SP tlog-proof):
the record's index in the log, the hashes from it to the root, and the
checkpoint (with its witness cosignatures) it is proven against. Anyone
can check it offline with the log's verifier key (and the witnesses').
  --tiles DIR        the published log (TlogTilesSink's directory)
  --record SEQ       the record's seq in its chain
  --chain ID         the chain (default: the log's latest)
  --journal FILE     audit files to take the record's line from: it goes in
                     the proof's extra line so the proof is self-contained;
                     repeatable, oldest first
  --checkpoint FILE  prove against this checkpoint (default: DIR/checkpoint)

--consistency OLD NEW prints a proof that the log of checkpoint file OLD is
a prefix of the log of checkpoint file NEW (NEW defaults to DIR/checkpoint
when given as -).

--check verifies a proof file (either kind) offline:
  --log-key VKEY     the log's verifier key (origin+id+base64); @FILE reads it
  --witness-key VKEY a witness's verifier key (type 0x04); repeatable
  --quorum N         cosignatures required (default 0)
  --line FILE        the record's JSONL line (default: the proof's extra line)
  --hmac-key-file F  the chain's HMAC key, to check a keyed record's content

--vkey prints the verifier key of an Ed25519 public key (PEM) under NAME
(the log's origin), or with --cosigner the witness cosignature key.

Exit codes: 0 ok, 1 the proof does not verify, 2 usage error or unreadable input.
`;

function vkeyArg(v: string): string {
  return v.startsWith('@') ? readFileSync(v.slice(1), 'utf8').trim() : v;
}

interface Args {
  tiles?: string;
  record?: number;
  chain?: string;
  journals: string[];
  checkpoint?: string;
  consistency?: [string, string];
  check?: string;
  logKeys: string[];
  witnessKeys: string[];
  quorum: number;
  line?: string;
  hmacKeyFile?: string;
  vkey: boolean;
  name?: string;
  publicKey?: string;
  cosigner: boolean;
}

function parse(args: string[]): Args {
  const a: Args = { journals: [], logKeys: [], witnessKeys: [], quorum: 0, vkey: false, cosigner: false };
  const need = (i: number, flag: string): string => {
    const v = args[i + 1];
    if (v === undefined || (v.startsWith('--') && v !== '-')) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  for (let i = 0; i < args.length; i++) {
    const f = args[i];
    switch (f) {
      case '--tiles': a.tiles = need(i++, f); break;
      case '--record': a.record = nonNegative(need(i++, f), f); break;
      case '--chain': a.chain = need(i++, f); break;
      case '--journal': a.journals.push(need(i++, f)); break;
      case '--checkpoint': a.checkpoint = need(i++, f); break;
      case '--consistency': a.consistency = [need(i, f), need(i + 1, f)]; i += 2; break;
      case '--check': a.check = need(i++, f); break;
      case '--log-key': a.logKeys.push(vkeyArg(need(i++, f))); break;
      case '--witness-key': a.witnessKeys.push(vkeyArg(need(i++, f))); break;
      case '--quorum': a.quorum = nonNegative(need(i++, f), f); break;
      case '--line': a.line = need(i++, f); break;
      case '--hmac-key-file': a.hmacKeyFile = need(i++, f); break;
      case '--vkey': a.vkey = true; break;
      case '--name': a.name = need(i++, f); break;
      case '--public-key': a.publicKey = need(i++, f); break;
      case '--cosigner': a.cosigner = true; break;
      default: throw new UsageError(`unknown option ${f}`);
    }
  }
  return a;
}

function nonNegative(v: string, flag: string): number {
  if (!/^(0|[1-9][0-9]*)$/.test(v) || !Number.isSafeInteger(Number(v))) throw new UsageError(`${flag} must be a non-negative integer, got ${v}`);
  return Number(v);
}

async function readOptional(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

interface TlogState {
  origin: string;
  size: number;
  chains: Array<{ chainId: string; start: number }>;
}

function readTlogState(dir: string): TlogState {
  return JSON.parse(readFileSync(join(dir, 'tlog-state.json'), 'utf8')) as TlogState;
}

/** The line of record (chain, seq) in the journal files, or undefined. */
async function findLine(files: readonly string[], chainId: string, seq: number): Promise<string | undefined> {
  const chainMark = `{"chain_id":${JSON.stringify(chainId)}`;
  for (const file of files) {
    const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
    for await (const line of rl) {
      if (!line.startsWith(chainMark) || !line.includes(`,"seq":${seq},"span":`)) continue;
      rl.close();
      return line.trim();
    }
  }
  return undefined;
}

async function proveRecord(a: Args, io: CliIO): Promise<number> {
  const dir = a.tiles!;
  const state = readTlogState(dir);
  const chain = a.chain === undefined ? state.chains[state.chains.length - 1] : state.chains.find(c => c.chainId === a.chain);
  if (chain === undefined) throw new Error(a.chain === undefined ? `${dir} holds no chain yet` : `chain ${a.chain} is not in the log at ${dir}`);
  const index = chain.start + a.record!;
  const note = readFileSync(a.checkpoint ?? join(dir, 'checkpoint'), 'utf8');
  const cp = peekCheckpoint(note);
  if (index >= cp.size) {
    io.err(`${PACKAGE_NAME} prove: record ${chain.chainId}/${a.record} (log index ${index}) is not covered by the checkpoint (size ${cp.size}) yet\n`);
    return 1;
  }
  const read = (p: string): Promise<Buffer | undefined> => readOptional(join(dir, p));
  const [proof, entry] = await withTiles(cp.size, read, (source, r) => {
    const n = Math.floor(index / 256);
    return [inclusionProof(index, cp.size, source), readBundle(r, n, tileWidth(0, n, cp.size))[index % 256]] as const;
  });
  let extra: Buffer | undefined;
  if (a.journals.length > 0) {
    const line = await findLine(a.journals, chain.chainId, a.record!);
    if (line === undefined) throw new Error(`record ${chain.chainId}/${a.record} is not in the journal files given`);
    const hash = /"hash":"([0-9a-f]{64})"\}$/.exec(line)?.[1];
    if (hash === undefined || !Buffer.from(hash, 'hex').equals(entry)) {
      io.err(`${PACKAGE_NAME} prove: the journal's record ${chain.chainId}/${a.record} is not the one the log holds at index ${index}\n`);
      return 1;
    }
    extra = Buffer.from(line, 'utf8');
  }
  io.out(formatTlogProof({ index, proof, checkpoint: note, extra }));
  return 0;
}

async function proveConsistency(a: Args, io: CliIO): Promise<number> {
  const dir = a.tiles!;
  const [oldFile, newFile] = a.consistency!;
  const older = readFileSync(oldFile, 'utf8');
  const newer = readFileSync(newFile === '-' ? join(dir, 'checkpoint') : newFile, 'utf8');
  const o = peekCheckpoint(older);
  const n = peekCheckpoint(newer);
  if (o.origin !== n.origin) throw new Error(`the checkpoints are of two logs: ${o.origin} and ${n.origin}`);
  if (o.size > n.size) throw new Error(`OLD (size ${o.size}) is larger than NEW (size ${n.size})`);
  const proof = o.size === 0 ? [] : await withTiles(n.size, p => readOptional(join(dir, p)), source => consistencyProof(o.size, n.size, source));
  io.out(formatConsistencyProof({ proof, older, newer }));
  return 0;
}

function check(a: Args, io: CliIO): number {
  const text = readFileSync(a.check!, 'utf8');
  if (a.logKeys.length === 0) throw new UsageError('--check needs --log-key');
  // As verify: a quorum no set of the given keys could meet is a usage error (exit 2), not a failed proof.
  if (a.quorum > a.witnessKeys.length) throw new UsageError(`--quorum ${a.quorum} needs at least as many --witness-key`);
  const logKeys = a.logKeys.map(verifierFromVkey);
  const witnessKeys = a.witnessKeys.map(verifierFromVkey);
  const options = { logKeys, witnessKeys, quorum: a.quorum };
  try {
    if (text.startsWith(CONSISTENCY_PROOF_HEADER)) {
      const r = verifyConsistencyProofText(text, options);
      io.out(`ok: ${r.older.origin} at size ${r.older.size} is a prefix of size ${r.newer.size}${r.newer.witnesses.length ? ` (cosigned by ${r.newer.witnesses.join(', ')})` : ''}\n`);
    } else {
      const hmacKey = a.hmacKeyFile === undefined ? undefined : keyFileBytes(readFileSync(a.hmacKeyFile));
      const line = a.line === undefined ? undefined : readFileSync(a.line, 'utf8');
      const r = verifyRecordProof(text, { ...options, line, hmacKey });
      const rec = JSON.parse(r.line) as { chain_id?: string; seq?: number };
      io.out(`ok: record ${rec.chain_id}/${rec.seq} is entry ${r.index} of ${r.checkpoint.origin} (size ${r.checkpoint.size})${r.checkpoint.witnesses.length ? `, cosigned by ${r.checkpoint.witnesses.join(', ')}` : ''}\n`);
    }
    return 0;
  } catch (err) {
    io.err(`${PACKAGE_NAME} prove: NOT VERIFIED: ${(err as Error).message}\n`);
    return 1;
  }
}

/** The `prove` command. */
export const proveCommand: Command = {
  summary: 'inclusion and consistency proofs of the audit log (C2SP tlog-proof), and their check',
  usage: USAGE,
  async run(args: string[], io: CliIO): Promise<number> {
    let a: Args;
    try {
      a = parse(args);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      io.err(`${PACKAGE_NAME} prove: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    try {
      if (a.vkey) {
        if (!a.name || !a.publicKey) throw new UsageError('--vkey needs --name and --public-key');
        const raw = ed25519RawPublicKey(createPublicKey(readFileSync(a.publicKey)));
        io.out(formatVkey(a.name, a.cosigner ? SIG_COSIGNATURE_V1 : SIG_ED25519, raw) + '\n');
        return 0;
      }
      if (a.check !== undefined) return check(a, io);
      if (a.tiles === undefined) throw new UsageError('--tiles DIR is required');
      if (a.consistency !== undefined) return await proveConsistency(a, io);
      if (a.record !== undefined) return await proveRecord(a, io);
      throw new UsageError('give --record SEQ, --consistency OLD NEW, --check FILE or --vkey');
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      io.err(`${PACKAGE_NAME} prove: ${err.message}\n\n${USAGE}`);
      return 2;
    }
  },
};
