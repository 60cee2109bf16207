/**
 * `agent-safety-otel witness`: a small C2SP transparency-log witness
 * (c2sp.org/tlog-witness) over HTTP. It keeps the latest checkpoint it
 * cosigned per log in a state file (written and synced before it answers),
 * refuses checkpoints inconsistent with it — across restarts — and returns
 * Ed25519 cosignatures (c2sp.org/tlog-cosignature, type 0x04).
 *
 * @module
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { SIG_COSIGNATURE_V1, ed25519Cosigner, ed25519PrivateKey, ed25519RawPublicKey, formatVkey, verifierFromVkey } from '../patterns/audit/signed-note.js';
import type { NoteVerifier } from '../patterns/audit/signed-note.js';
import { checkWitnessState, originHash, witnessAddCheckpoint } from '../patterns/audit/tlog-witness.js';
import type { WitnessState } from '../patterns/audit/tlog-witness.js';
import { PACKAGE_NAME } from '../instrumentation/shared/version.js';
import { syncDirectory } from '../patterns/shared/sync-directory.js';
import type { CliIO, Command } from './main.js';

/** Options of {@link startWitness}. */
export interface WitnessServerOptions {
  /** The witness's name (its cosignature key name), e.g. `witness.example/w1`. */
  name: string;
  /** Its Ed25519 private key. */
  privateKey: KeyObject;
  /** The logs it witnesses: verifier keys (`origin+id+base64`, type 0x01); the key name is the log's origin. */
  logVkeys: readonly string[];
  /** Where the state is kept (created if missing). */
  statePath: string;
  /** @default '127.0.0.1' */
  host?: string;
  /** @default 0 (any free port) */
  port?: number;
  /** Unix seconds for cosignature timestamps. @default the system clock */
  nowSeconds?: () => number;
}

/** A running witness. */
export interface RunningWitness {
  /** `http://host:port` (the submission and monitoring prefix). */
  readonly url: string;
  /** The witness's verifier key (type 0x04). */
  readonly vkey: string;
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024;

function readState(path: string): WitnessState {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { logs: {} };
    throw err;
  }
  return checkWitnessState(JSON.parse(text));
}

async function writeState(path: string, state: WitnessState): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(JSON.stringify(state, null, 1) + '\n');
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  // The rename itself must survive a power cut: an old state coming back would let the witness cosign a fork.
  await syncDirectory(dirname(path));
}

function body(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        // Read no more of it: the caller answers 413 and closes the connection.
        req.removeAllListeners('data');
        req.pause();
        resolve(undefined);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Starts a witness server; resolves once it listens. */
export async function startWitness(options: WitnessServerOptions): Promise<RunningWitness> {
  const key = ed25519PrivateKey(options.privateKey);
  const cosigner = ed25519Cosigner(options.name, key);
  const vkey = formatVkey(options.name, SIG_COSIGNATURE_V1, ed25519RawPublicKey(key));
  const logs = new Map<string, NoteVerifier[]>();
  for (const v of options.logVkeys) {
    const verifier = verifierFromVkey(v);
    logs.set(verifier.name, [...(logs.get(verifier.name) ?? []), verifier]);
  }
  if (logs.size === 0) throw new TypeError('a witness needs at least one log key');
  let state = readState(options.statePath);
  const now = options.nowSeconds ?? (() => Math.floor(Date.now() / 1000));
  // One request at a time: the check against the stored size and the update are atomic.
  let queue: Promise<unknown> = Promise.resolve();

  const reply = (res: ServerResponse, status: number, contentType: string, text: string): void => {
    res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://witness');
    if (req.method === 'POST' && url.pathname === '/add-checkpoint') {
      void body(req).then(text => {
        if (text === undefined) {
          // Answered, the rest of the body thrown away (not kept) for a second so that the client
          // reads the answer, then the connection closed, whatever is still coming.
          res.setHeader('connection', 'close');
          res.on('finish', () => setTimeout(() => req.socket.destroy(), 1000).unref());
          req.resume();
          return reply(res, 413, 'text/plain; charset=utf-8', 'request too large\n');
        }
        const done = queue.then(async () => {
          const r = witnessAddCheckpoint({ body: text, state, logs, cosigner, nowSeconds: now() });
          if (r.state !== undefined) {
            await writeState(options.statePath, r.state); // persisted before answering
            state = r.state;
          }
          reply(res, r.status, r.contentType, r.body);
        });
        queue = done.catch(err => reply(res, 500, 'text/plain; charset=utf-8', `${String((err as Error)?.message ?? err)}\n`));
      }, () => reply(res, 400, 'text/plain; charset=utf-8', 'unreadable request\n'));
      return;
    }
    const m = /^\/([0-9a-f]{64})\/checkpoint$/.exec(url.pathname);
    if (req.method === 'GET' && m) {
      const entry = Object.entries(state.logs).find(([origin]) => originHash(origin) === m[1]);
      if (entry === undefined) return reply(res, 404, 'text/plain; charset=utf-8', 'no checkpoint cosigned for that log\n');
      return reply(res, 200, 'text/plain; charset=utf-8', entry[1].note);
    }
    reply(res, 404, 'text/plain; charset=utf-8', 'not found\n');
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : options.port;
  const host = options.host ?? '127.0.0.1';
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    vkey,
    close: () =>
      new Promise<void>(resolve => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

const USAGE = `Usage: ${PACKAGE_NAME} witness --name NAME --key FILE --log VKEY… --state FILE [--listen HOST:PORT]

Runs a transparency-log witness (C2SP tlog-witness): POST /add-checkpoint
cosigns a log's checkpoint when it is consistent with the latest one it
cosigned for that log (kept in the state file, synced before answering,
so a restart remembers it); GET /<sha256 of origin>/checkpoint serves
that checkpoint with its cosignature.

Options:
  --name NAME         the witness's name (its key name), e.g. witness.example/w1
  --key FILE          its Ed25519 private key (PEM; e.g. openssl genpkey -algorithm ed25519)
  --log VKEY          a log it witnesses, as a verifier key origin+id+base64
                      (the log's origin is the key name); repeatable; a
                      value starting with @ is read from that file
  --state FILE        where it keeps what it cosigned
  --listen HOST:PORT  default 127.0.0.1:0 (any free port; the URL is printed)

Prints the URL and the witness's verifier key (give it to whoever checks
cosignatures), then serves until interrupted.
`;

function value(args: string[], i: number, flag: string): string {
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a value`);
  return v;
}

/** The `witness` command. */
export const witnessCommand: Command = {
  summary: 'run a transparency-log witness (C2SP tlog-witness) over HTTP',
  usage: USAGE,
  async run(args: string[], io: CliIO): Promise<number> {
    let name: string | undefined;
    let keyFile: string | undefined;
    let statePath: string | undefined;
    let listen = '127.0.0.1:0';
    const logVkeys: string[] = [];
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      if (a === '--name') name = value(args, i++, a);
      else if (a === '--key') keyFile = value(args, i++, a);
      else if (a === '--state') statePath = value(args, i++, a);
      else if (a === '--listen') listen = value(args, i++, a);
      else if (a === '--log') {
        const v = value(args, i++, a);
        logVkeys.push(v.startsWith('@') ? readFileSync(v.slice(1), 'utf8').trim() : v);
      } else {
        io.err(`${PACKAGE_NAME} witness: unknown option ${a}\n\n${USAGE}`);
        return 2;
      }
    }
    if (!name || !keyFile || !statePath || logVkeys.length === 0) {
      io.err(`${PACKAGE_NAME} witness: --name, --key, --state and at least one --log are required\n\n${USAGE}`);
      return 2;
    }
    const colon = listen.lastIndexOf(':');
    const host = listen.slice(0, colon).replace(/^\[|\]$/g, '') || '127.0.0.1';
    const port = Number(listen.slice(colon + 1));
    if (colon < 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--listen must be HOST:PORT, got ${listen}`);
    const w = await startWitness({ name, privateKey: ed25519PrivateKey(readFileSync(keyFile)), logVkeys, statePath, host, port });
    io.out(`witness ${name} listening on ${w.url}\nvkey ${w.vkey}\n`);
    await new Promise<void>(resolve => {
      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    await w.close();
    return 0;
  },
};
