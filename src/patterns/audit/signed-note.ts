/**
 * C2SP signed notes (c2sp.org/signed-note): a text, a blank line, and
 * signature lines `— <key name> base64(key id ‖ signature)`. Ed25519 note
 * signatures (type 0x01) and timestamped Ed25519 cosignatures (type 0x04,
 * c2sp.org/tlog-cosignature), key ids and verifier keys ("vkeys"). Pure:
 * no OpenTelemetry, no I/O.
 *
 * ```text
 * key id  = SHA-256(key name ‖ 0x0A ‖ type ‖ 32-byte public key)[:4]
 * vkey    = <key name>+<hex key id>+base64(type ‖ public key)
 * cosigned message (0x04) = "cosignature/v1\ntime <unix seconds>\n" ‖ note text
 * cosignature bytes       = key id ‖ uint64 big-endian time ‖ Ed25519 signature
 * ```
 *
 * @module
 */
import { createHash, createPrivateKey, createPublicKey, sign as edSign, verify as edVerify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { brandOf, hasBrand } from '../shared/brand.js';

/** Ed25519 note signature type. */
export const SIG_ED25519 = 0x01;
/** Timestamped Ed25519 checkpoint cosignature type (tlog-cosignature). */
export const SIG_COSIGNATURE_V1 = 0x04;

/** The em dash (U+2014) and space that start a signature line. */
const SIG_PREFIX = '\u2014 ';

/** Notes larger than this are refused before parsing (16 signatures of post-quantum size fit). */
export const MAX_NOTE_BYTES = 256 * 1024;
/** At most this many signature lines are read from a note (the spec asks for at least 16). */
export const MAX_NOTE_SIGNATURES = 64;

const NOTE_ERROR = brandOf('NoteError');

/** A malformed, unsigned or wrongly signed note. `reason` is stable, the message explains. */
export class NoteError extends Error {
  readonly reason: 'malformed' | 'unverified' | 'bad-signature';
  declare readonly [NOTE_ERROR]: true;

  constructor(reason: NoteError['reason'], message: string) {
    super(message);
    this.name = 'NoteError';
    this.reason = reason;
    Object.defineProperty(this, NOTE_ERROR, { value: true });
  }
}

/** True when `e` is a {@link NoteError}, from any copy of this package. */
export function isNoteError(e: unknown): e is NoteError {
  return hasBrand(e, NOTE_ERROR);
}

/** True when `name` may be a key name: non-empty, no Unicode space, no `+`. */
export function isValidKeyName(name: string): boolean {
  return typeof name === 'string' && name.length > 0 && !/[\s+\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u.test(name);
}

function requireKeyName(name: string): void {
  if (!isValidKeyName(name)) throw new TypeError(`key name must be non-empty with no spaces or '+', got ${JSON.stringify(name)}`);
}

/** `SHA-256(name ‖ 0x0A ‖ type ‖ key)[:4]` as an unsigned 32-bit number. */
export function noteKeyId(name: string, type: number, publicKey: Uint8Array): number {
  const h = createHash('sha256').update(name, 'utf8').update(Buffer.from([0x0a, type])).update(publicKey).digest();
  return h.readUInt32BE(0);
}

/** The 32 raw bytes of an Ed25519 public key (or of the public half of a private key). */
export function ed25519RawPublicKey(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  if (pub.asymmetricKeyType !== 'ed25519') throw new TypeError(`expected an Ed25519 key, got ${pub.asymmetricKeyType ?? pub.type}`);
  const jwk = pub.export({ format: 'jwk' }) as { x?: string };
  return Buffer.from(jwk.x ?? '', 'base64url');
}

/** An Ed25519 public key from its 32 raw bytes. */
export function ed25519PublicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new TypeError(`an Ed25519 public key has 32 bytes, got ${raw.length}`);
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });
}

/** An Ed25519 private key from a PEM text or a KeyObject. */
export function ed25519PrivateKey(key: KeyObject | string | Buffer): KeyObject {
  const k = typeof key === 'string' || Buffer.isBuffer(key) ? createPrivateKey(key) : key;
  if (k.type !== 'private' || k.asymmetricKeyType !== 'ed25519') throw new TypeError('expected an Ed25519 private key');
  return k;
}

/** One signature line of a note. */
export interface NoteSignature {
  readonly name: string;
  /** Unsigned 32-bit key id. */
  readonly keyId: number;
  /** The signature bytes after the key id. */
  readonly signature: Buffer;
}

/** A parsed (not yet verified) note. */
export interface ParsedNote {
  /** The signed text, ending in a newline. */
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

/** Something that can check a note signature of one key. */
export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  /** The signature type (0x01 note signature, 0x04 cosignature). */
  readonly type: number;
  /** True when `signature` (bytes after the key id) is valid over `text`. */
  verify(text: string, signature: Uint8Array): boolean;
}

/** Something that signs note texts. */
export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  /** The signature line for `text` (with its trailing newline). */
  sign(text: string): string;
}

function signatureLine(name: string, keyId: number, signature: Uint8Array): string {
  const b = Buffer.allocUnsafe(4 + signature.length);
  b.writeUInt32BE(keyId, 0);
  b.set(signature, 4);
  return `${SIG_PREFIX}${name} ${b.toString('base64')}\n`;
}

function isStrictBase64(s: string): boolean {
  return s.length > 0 && s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s) && Buffer.from(s, 'base64').toString('base64') === s;
}

/** Decodes canonical standard base64, or undefined. */
export function decodeBase64(s: string): Buffer | undefined {
  return isStrictBase64(s) ? Buffer.from(s, 'base64') : undefined;
}

/**
 * Splits a note into text and signature lines, checking the format (UTF-8
 * without control characters but newline, a blank line before the
 * signatures, well-formed signature lines). Verifies nothing.
 */
export function parseNote(note: string | Uint8Array): ParsedNote {
  const bytes = typeof note === 'string' ? Buffer.from(note, 'utf8') : Buffer.from(note);
  if (bytes.length > MAX_NOTE_BYTES) throw new NoteError('malformed', `note is larger than ${MAX_NOTE_BYTES} bytes`);
  const text = typeof note === 'string' ? note : bytes.toString('utf8');
  if (typeof note !== 'string' && !Buffer.from(text, 'utf8').equals(bytes)) throw new NoteError('malformed', 'note is not valid UTF-8');
  // eslint-disable-next-line no-control-regex -- the signed-note format forbids control characters: this is the check
  if (/[\u0000-\u0009\u000b-\u001f]/.test(text)) throw new NoteError('malformed', 'note contains a control character other than newline');
  if (!text.endsWith('\n')) throw new NoteError('malformed', 'note does not end in a newline');
  const split = text.lastIndexOf('\n\n');
  if (split < 0) throw new NoteError('malformed', 'note has no blank line before its signatures');
  const body = text.slice(0, split + 1);
  const lines = text.slice(split + 2, -1).split('\n');
  if (lines.length > MAX_NOTE_SIGNATURES) throw new NoteError('malformed', `note has more than ${MAX_NOTE_SIGNATURES} signatures`);
  const signatures: NoteSignature[] = [];
  for (const line of lines) {
    if (!line.startsWith(SIG_PREFIX)) throw new NoteError('malformed', `not a signature line: ${JSON.stringify(line.slice(0, 80))}`);
    const rest = line.slice(SIG_PREFIX.length);
    const space = rest.indexOf(' ');
    const name = space < 0 ? '' : rest.slice(0, space);
    const sig = space < 0 ? undefined : decodeBase64(rest.slice(space + 1));
    if (!isValidKeyName(name) || sig === undefined || sig.length < 5) {
      throw new NoteError('malformed', `malformed signature line: ${JSON.stringify(line.slice(0, 80))}`);
    }
    signatures.push({ name, keyId: sig.readUInt32BE(0), signature: sig.subarray(4) });
  }
  return { text: body, signatures };
}

/** What {@link openNote} found. */
export interface OpenedNote extends ParsedNote {
  /** The verifiers whose signature verified (each at most once). */
  readonly verifiedBy: readonly NoteVerifier[];
}

/**
 * Parses `note` and checks its signatures against `verifiers`, by the
 * signed-note rules: signatures from unknown keys are ignored; a known
 * key's signature that fails makes the whole note invalid; at least one
 * known signature must verify. Throws {@link NoteError} otherwise.
 */
export function openNote(note: string | Uint8Array, verifiers: readonly NoteVerifier[]): OpenedNote {
  const parsed = parseNote(note);
  const verifiedBy: NoteVerifier[] = [];
  for (const s of parsed.signatures) {
    const v = verifiers.find(k => k.name === s.name && k.keyId === s.keyId);
    if (v === undefined) continue;
    if (!v.verify(parsed.text, s.signature)) {
      throw new NoteError('bad-signature', `the signature of ${s.name} (key ${hex8(s.keyId)}) does not verify`);
    }
    if (!verifiedBy.includes(v)) verifiedBy.push(v);
  }
  if (verifiedBy.length === 0) throw new NoteError('unverified', 'the note carries no signature from a known key');
  return { ...parsed, verifiedBy };
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

/** Signs `text` (which must end in a newline) with each signer: the whole note. */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  if (!text.endsWith('\n')) throw new TypeError('a note text must end in a newline');
  if (signers.length === 0) throw new TypeError('signNote needs at least one signer');
  return `${text}\n${signers.map(s => s.sign(text)).join('')}`;
}

/** Adds signature lines (e.g. witness cosignatures) to a signed note, skipping lines it already has. */
export function addSignatureLines(note: string, lines: string): string {
  const have = new Set(note.split('\n'));
  const extra = lines.split('\n').filter(l => l.startsWith(SIG_PREFIX) && !have.has(l));
  return extra.length === 0 ? note : note + extra.map(l => l + '\n').join('');
}

/** A verifier key string: `<name>+<hex id>+base64(type ‖ key)`. */
export function formatVkey(name: string, type: number, publicKey: Uint8Array): string {
  requireKeyName(name);
  return `${name}+${hex8(noteKeyId(name, type, publicKey))}+${Buffer.concat([Buffer.from([type]), publicKey]).toString('base64')}`;
}

/** The parts of a verifier key. */
export interface ParsedVkey {
  readonly name: string;
  readonly keyId: number;
  readonly type: number;
  readonly publicKey: Buffer;
}

/** Parses a vkey; throws TypeError when it is malformed or its id does not match its key. */
export function parseVkey(vkey: string): ParsedVkey {
  // The base64 part may itself hold '+': split at the first two only.
  const m = typeof vkey === 'string' ? /^([^+]+)\+([^+]*)\+(.*)$/s.exec(vkey.trim()) : null;
  const parts = m ? [m[1], m[2], m[3]] : [];
  const bytes = parts.length === 3 ? decodeBase64(parts[2]) : undefined;
  if (parts.length !== 3 || !isValidKeyName(parts[0]) || !/^[0-9a-f]{8}$/.test(parts[1]) || bytes === undefined || bytes.length < 2) {
    throw new TypeError(`not a verifier key (name+hexid+base64): ${JSON.stringify(String(vkey).slice(0, 120))}`);
  }
  const type = bytes[0];
  const publicKey = bytes.subarray(1);
  const keyId = parseInt(parts[1], 16);
  if (noteKeyId(parts[0], type, publicKey) !== keyId) throw new TypeError(`verifier key ${parts[0]}: its key id does not match its key`);
  return { name: parts[0], keyId, type, publicKey };
}

/** An Ed25519 note signer (type 0x01) under `name`. */
export function ed25519NoteSigner(name: string, privateKey: KeyObject): NoteSigner {
  requireKeyName(name);
  const key = ed25519PrivateKey(privateKey);
  const keyId = noteKeyId(name, SIG_ED25519, ed25519RawPublicKey(key));
  return {
    name,
    keyId,
    sign: text => signatureLine(name, keyId, edSign(null, Buffer.from(text, 'utf8'), key)),
  };
}

/** An Ed25519 note verifier (type 0x01) under `name`. */
export function ed25519NoteVerifier(name: string, publicKey: KeyObject): NoteVerifier {
  requireKeyName(name);
  const raw = ed25519RawPublicKey(publicKey);
  const pub = ed25519PublicKeyFromRaw(raw);
  return {
    name,
    keyId: noteKeyId(name, SIG_ED25519, raw),
    type: SIG_ED25519,
    verify: (text, signature) => signature.length === 64 && safeVerify(Buffer.from(text, 'utf8'), pub, signature),
  };
}

function safeVerify(data: Buffer, key: KeyObject, signature: Uint8Array): boolean {
  try {
    return edVerify(null, data, key, signature);
  } catch {
    return false;
  }
}

/** The message a v1 Ed25519 cosignature signs. */
export function cosignedMessage(text: string, timestamp: number): Buffer {
  return Buffer.from(`cosignature/v1\ntime ${timestamp}\n${text}`, 'utf8');
}

/** A witness's cosigner (type 0x04): `sign(text, timestamp)` gives the cosignature line. */
export interface Cosigner {
  readonly name: string;
  readonly keyId: number;
  sign(text: string, timestamp: number): string;
}

/** An Ed25519 cosigner (tlog-cosignature v1, type 0x04) under `name`. */
export function ed25519Cosigner(name: string, privateKey: KeyObject): Cosigner {
  requireKeyName(name);
  const key = ed25519PrivateKey(privateKey);
  const keyId = noteKeyId(name, SIG_COSIGNATURE_V1, ed25519RawPublicKey(key));
  return {
    name,
    keyId,
    sign(text, timestamp) {
      if (!Number.isSafeInteger(timestamp) || timestamp <= 0) throw new RangeError(`cosignature timestamp must be a positive integer, got ${timestamp}`);
      const sig = edSign(null, cosignedMessage(text, timestamp), key);
      const body = Buffer.allocUnsafe(8 + sig.length);
      body.writeBigUInt64BE(BigInt(timestamp), 0);
      body.set(sig, 8);
      return signatureLine(name, keyId, body);
    },
  };
}

/** A verifier of Ed25519 cosignatures (type 0x04) under `name`; `lastTimestamp` reports the time of the last one verified. */
export function ed25519CosignatureVerifier(name: string, publicKey: KeyObject): NoteVerifier & { readonly lastTimestamp: number | undefined } {
  requireKeyName(name);
  const raw = ed25519RawPublicKey(publicKey);
  const pub = ed25519PublicKeyFromRaw(raw);
  let lastTimestamp: number | undefined;
  return {
    name,
    keyId: noteKeyId(name, SIG_COSIGNATURE_V1, raw),
    type: SIG_COSIGNATURE_V1,
    get lastTimestamp() {
      return lastTimestamp;
    },
    verify(text, signature) {
      if (signature.length !== 72) return false;
      const ts = Buffer.from(signature).readBigUInt64BE(0);
      if (ts === 0n || ts > BigInt(Number.MAX_SAFE_INTEGER)) return false;
      const ok = safeVerify(cosignedMessage(text, Number(ts)), pub, signature.subarray(8));
      if (ok) lastTimestamp = Number(ts);
      return ok;
    },
  };
}

/** A verifier from a vkey string: type 0x01 (note signature) or 0x04 (cosignature). */
export function verifierFromVkey(vkey: string): NoteVerifier {
  const v = parseVkey(vkey);
  const key = ed25519PublicKeyFromRaw(v.publicKey);
  if (v.type === SIG_ED25519) return ed25519NoteVerifier(v.name, key);
  if (v.type === SIG_COSIGNATURE_V1) return ed25519CosignatureVerifier(v.name, key);
  throw new TypeError(`verifier key ${v.name}: signature type 0x${v.type.toString(16).padStart(2, '0')} is not supported (0x01 Ed25519, 0x04 Ed25519 cosignature)`);
}
