/**
 * What the CLI's commands share in reading their command line: the usage
 * error, a flag's value, and the files a flag names.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { keyFileBytes } from '../patterns/audit/audit-chain.js';
import { AuditInputError } from '../verify/audit-verify.js';

/** A command line the command cannot run: printed with the usage, exit code 2. */
export class UsageError extends Error {}

/** The value of `flag`, at `args[index]` (the argument after the flag). */
export function flagValue(args: readonly string[], index: number, flag: string): string {
  const v = args[index];
  if (v === undefined) throw new UsageError(`${flag} needs a value`);
  return v;
}

/** A file named on the command line (`what` names it in the error); unreadable: an `AuditInputError` (exit code 2). */
export function readCliFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new AuditInputError(`cannot read the ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** The HMAC key in a key file named on the command line, read as the bootstrap reads it ({@link keyFileBytes}); an empty one is a usage error. */
export function readHmacKeyFile(path: string): Buffer {
  const key = keyFileBytes(readCliFile(path, 'HMAC key file'));
  if (key.length === 0) throw new UsageError('the HMAC key file is empty');
  return key;
}
