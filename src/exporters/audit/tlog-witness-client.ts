/**
 * {@link TlogWitnessClient}: asks a C2SP witness (c2sp.org/tlog-witness) to
 * cosign a checkpoint, with a consistency proof from the size it last
 * cosigned. Used by the `TlogTilesSink` in the background: never on the
 * path of a guarded call.
 *
 * @module
 */
import { addSignatureLines, openNote, parseNote, verifierFromVkey } from '../../patterns/audit/signed-note.js';
import type { NoteVerifier } from '../../patterns/audit/signed-note.js';
import { formatAddCheckpoint } from '../../patterns/audit/tlog-proof.js';
import { requireNonEmptyString, requireNumber } from '../../patterns/shared/validate.js';

/** Options of {@link TlogWitnessClient}. */
export interface TlogWitnessClientOptions {
  /** The witness's submission prefix: requests go to `<url>/add-checkpoint`. */
  url: string;
  /**
   * The witness's verifier key (`name+id+base64`, type 0x04). With it, a
   * cosignature is checked before it is kept; without it, any signature
   * lines the witness returns are kept as they are.
   */
  vkey?: string;
  /** Per request. @default 10000 */
  timeoutMs?: number;
}

/** What a witness answered. */
export interface WitnessResult {
  /** The checkpoint with the witness's cosignature added (on success). */
  readonly cosigned?: string;
  /** The size the witness has cosigned, when it refused with 409 Conflict. */
  readonly knownSize?: number;
  readonly status: number;
  readonly body: string;
}

/** Makes the consistency proof from `from` to `to` (from tiles, asynchronously). */
export type ConsistencyProver = (from: number, to: number) => Promise<Buffer[]>;

/** A client of one witness. */
export class TlogWitnessClient {
  readonly url: string;
  private readonly _verifier: NoteVerifier | undefined;
  private readonly _timeoutMs: number;

  constructor(options: TlogWitnessClientOptions) {
    requireNonEmptyString('TlogWitnessClient: options.url', options?.url);
    this.url = options.url.replace(/\/+$/, '');
    this._verifier = options.vkey === undefined ? undefined : verifierFromVkey(options.vkey);
    this._timeoutMs = options.timeoutMs ?? 10_000;
    requireNumber('TlogWitnessClient: options.timeoutMs', this._timeoutMs, { min: 1 });
  }

  /**
   * Asks for a cosignature of `note`, with a proof from `oldSize` (what the
   * witness last cosigned, as far as the log knows). On 409 Conflict it
   * retries once from the size the witness reports.
   */
  async addCheckpoint(note: string, oldSize: number, prove: ConsistencyProver): Promise<WitnessResult> {
    let from = oldSize;
    for (let attempt = 0; ; attempt++) {
      const res = await this._post(formatAddCheckpoint({ oldSize: from, proof: await prove(from, sizeOf(note)), checkpoint: note }));
      if (res.status === 200) {
        const lines = res.body.split('\n').filter(l => l.startsWith('\u2014 '));
        if (lines.length === 0) return { status: res.status, body: res.body };
        const cosigned = addSignatureLines(note, lines.join('\n'));
        if (this._verifier !== undefined) {
          try {
            openNote(cosigned, [this._verifier]);
          } catch (err) {
            throw new Error(`witness ${this.url} returned no valid cosignature: ${(err as Error).message}`);
          }
        }
        return { status: 200, body: res.body, cosigned };
      }
      if (res.status === 409 && /^(0|[1-9][0-9]*)\n?$/.test(res.body)) {
        const known = Number(res.body.trim());
        if (attempt > 0 || known > sizeOf(note)) return { status: 409, body: res.body, knownSize: known };
        from = known;
        continue;
      }
      throw new Error(`witness ${this.url} refused the checkpoint of size ${sizeOf(note)}: ${res.status} ${res.body.trim().slice(0, 200)}`);
    }
  }

  private async _post(body: string): Promise<{ status: number; body: string }> {
    const res = await fetch(`${this.url}/add-checkpoint`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      signal: AbortSignal.timeout(this._timeoutMs),
    });
    return { status: res.status, body: await res.text() };
  }
}

function sizeOf(note: string): number {
  return Number(parseNote(note).text.split('\n')[1]);
}
