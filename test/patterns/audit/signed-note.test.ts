import { generateKeyPairSync } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  addSignatureLines,
  ed25519CosignatureVerifier,
  ed25519Cosigner,
  ed25519NoteSigner,
  ed25519NoteVerifier,
  ed25519RawPublicKey,
  formatVkey,
  isNoteError,
  openNote,
  parseNote,
  parseVkey,
  signNote,
  verifierFromVkey,
  SIG_COSIGNATURE_V1,
  SIG_ED25519,
} from '../../../src/patterns/audit/signed-note.js';
import { EMPTY_ROOT, MemoryMerkleTree } from '../../../src/patterns/audit/merkle.js';
import { checkpointText, openCheckpoint, parseCheckpointText, signCheckpoint } from '../../../src/patterns/audit/tlog-checkpoint.js';

const test = suite('C2SP signed notes and checkpoints (pure)');

const keys = () => generateKeyPairSync('ed25519');

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(isNoteError(err), `a NoteError, got ${String(err)}`);
    return err.reason;
  }
  throw new Error('did not throw');
}

// The example of c2sp.org/signed-note ("Verifier keys" → "Example"): a published test vector.
const SPEC_VKEY = 'example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k';
const SPEC_NOTE =
  'This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n';

test('the specification\'s example: its vkey\'s key id is ours, and its note verifies', () => {
  const v = parseVkey(SPEC_VKEY); // throws unless SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key)[:4] is 530d903a
  assert.is(v.type, SIG_ED25519);
  assert.is(v.keyId, 0x530d903a);
  const opened = openNote(SPEC_NOTE, [verifierFromVkey(SPEC_VKEY)]);
  assert.is(opened.text, 'This is an example message.\n');
  assert.is(reason(() => openNote(SPEC_NOTE.replace('example message', 'examp1e message'), [verifierFromVkey(SPEC_VKEY)])), 'bad-signature');
  assert.throws(() => parseVkey(SPEC_VKEY.replace('530d903a', '530d903b')), /key id does not match/);
});

test('sign and open: unknown keys are ignored, a known key that fails rejects the note, none known is unverified', () => {
  const log = keys();
  const other = keys();
  const signer = ed25519NoteSigner('example.com/log', log.privateKey);
  const verifier = ed25519NoteVerifier('example.com/log', log.publicKey);
  const note = signNote('hello\nworld\n', [signer, ed25519NoteSigner('someone.else', other.privateKey)]);
  assert.is(openNote(note, [verifier]).verifiedBy.length, 1);
  assert.is(reason(() => openNote(note, [ed25519NoteVerifier('nobody.example', other.publicKey)])), 'unverified');
  // Same name and id as the log's key but another key's signature bytes: the note is refused.
  const forged = signNote('hello\nworld\n', [{ ...ed25519NoteSigner('example.com/log', other.privateKey), keyId: signer.keyId, sign: t => ed25519NoteSigner('example.com/log', other.privateKey).sign(t).replace(/ (\S+)\n$/, (_m, b64: string) => {
    const bytes = Buffer.from(b64, 'base64');
    bytes.writeUInt32BE(signer.keyId, 0);
    return ` ${bytes.toString('base64')}\n`;
  }) }]);
  assert.is(reason(() => openNote(forged, [verifier])), 'bad-signature');
  // The vkey round trip.
  const vkey = formatVkey('example.com/log', SIG_ED25519, ed25519RawPublicKey(log.publicKey));
  assert.ok(openNote(note, [verifierFromVkey(vkey)]));
});

test('malformed notes are refused', () => {
  const signer = ed25519NoteSigner('k', keys().privateKey);
  const good = signNote('text\n', [signer]);
  for (const bad of [
    'text\n', // no signatures
    good.replace('\n\n', '\n'), // no blank line
    good.replace('— ', '- '), // not an em dash
    good.slice(0, -1), // no final newline
    good.replace('text', 'te\u0007xt'), // control character
    good.replace(/ (\S+)\n$/, ' not*base64\n'),
  ]) {
    assert.is(reason(() => parseNote(bad)), 'malformed', JSON.stringify(bad));
  }
  assert.throws(() => signNote('no newline', [signer]), /newline/);
  assert.throws(() => ed25519NoteSigner('has space', keys().privateKey), /key name/);
});

test('cosignatures (tlog-cosignature v1, type 0x04): timestamped, bound to the text, vkey round trip', () => {
  const w = keys();
  const cosigner = ed25519Cosigner('witness.example/w1', w.privateKey);
  const line = cosigner.sign('origin\n1\nroot\n', 1_700_000_000);
  const bytes = Buffer.from(line.trim().split(' ')[2], 'base64');
  assert.is(bytes.length, 4 + 8 + 64);
  assert.is(bytes.readBigUInt64BE(4), 1_700_000_000n);
  const verifier = verifierFromVkey(formatVkey('witness.example/w1', SIG_COSIGNATURE_V1, ed25519RawPublicKey(w.publicKey)));
  assert.is(verifier.type, SIG_COSIGNATURE_V1);
  assert.ok(verifier.verify('origin\n1\nroot\n', bytes.subarray(4)));
  assert.not.ok(verifier.verify('origin\n2\nroot\n', bytes.subarray(4)));
  const tampered = Buffer.from(bytes.subarray(4));
  tampered.writeBigUInt64BE(1_700_000_001n, 0); // another time: the signature covers it
  assert.not.ok(verifier.verify('origin\n1\nroot\n', tampered));
  const v = ed25519CosignatureVerifier('witness.example/w1', w.publicKey);
  assert.ok(v.verify('origin\n1\nroot\n', bytes.subarray(4)));
  assert.is(v.lastTimestamp, 1_700_000_000);
  // The cosignature key id differs from a note-signature key id of the same key (type byte).
  assert.is.not(cosigner.keyId, ed25519NoteSigner('witness.example/w1', w.privateKey).keyId);
});

test('checkpoints: exact text, strict parsing, log signature and witness quorum', () => {
  const log = keys();
  const w1 = keys();
  const w2 = keys();
  const tree = new MemoryMerkleTree();
  for (let i = 0; i < 5; i++) tree.append(Buffer.from([i]));
  const cp = { origin: 'example.com/audit', size: 5, root: tree.root() };
  assert.is(checkpointText(cp), `example.com/audit\n5\n${tree.root().toString('base64')}\n`);
  assert.is(checkpointText({ ...cp, size: 0, root: EMPTY_ROOT }), 'example.com/audit\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n');
  for (const bad of ['o\n05\nAAAA\n', 'o\n5\n\n', 'o\n-1\n' + EMPTY_ROOT.toString('base64') + '\n', 'o\n5\n' + EMPTY_ROOT.toString('base64')]) {
    assert.is(reason(() => parseCheckpointText(bad)), 'malformed', JSON.stringify(bad));
  }
  assert.equal(parseCheckpointText(checkpointText(cp) .replace(/\n$/, '\next\n')).extensions, ['ext']);

  const note = signCheckpoint(cp, [ed25519NoteSigner('example.com/audit', log.privateKey)]);
  const text = checkpointText(cp);
  const cosigned = addSignatureLines(note, ed25519Cosigner('w1.example', w1.privateKey).sign(text, 1_700_000_000) + ed25519Cosigner('w2.example', w2.privateKey).sign(text, 1_700_000_001));
  const logKeys = [ed25519NoteVerifier('example.com/audit', log.publicKey)];
  const witnessKeys = [ed25519CosignatureVerifier('w1.example', w1.publicKey), ed25519CosignatureVerifier('w2.example', w2.publicKey)];
  const opened = openCheckpoint(cosigned, { logKeys, witnessKeys, quorum: 2, origin: 'example.com/audit' });
  assert.is(opened.size, 5);
  assert.equal([...opened.witnesses].sort(), ['w1.example', 'w2.example']);
  assert.is(reason(() => openCheckpoint(note, { logKeys, witnessKeys, quorum: 1 })), 'unverified');
  assert.is(reason(() => openCheckpoint(cosigned, { logKeys, origin: 'other.example' })), 'unverified');
  // Witness signatures alone do not make a checkpoint: the log must have signed.
  const witnessOnly = `${text}\n${ed25519Cosigner('w1.example', w1.privateKey).sign(text, 1_700_000_000)}`;
  assert.is(reason(() => openCheckpoint(witnessOnly, { logKeys, witnessKeys })), 'unverified');
  assert.throws(() => openCheckpoint(note, { logKeys, witnessKeys, quorum: 3 }), RangeError);
});

test.run();
