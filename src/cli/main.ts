/**
 * `agent-safety-otel <command> [options]`: the command-line tool.
 *
 * Exit codes: 0 success, 1 the command ran and found a problem (for
 * example a tampered audit chain), 2 usage error or unreadable input.
 *
 * @module
 */
import { PACKAGE_NAME, PACKAGE_VERSION } from '../instrumentation/shared/version.js';
import { headCommand, verifyCommand } from './verify.js';
import { proveCommand } from './prove.js';
import { witnessCommand } from './witness.js';

/** A subcommand: returns its exit code. */
export interface Command {
  /** One line for the command list. */
  summary: string;
  /** The full help text of the command. */
  usage: string;
  run(args: string[], io: CliIO): Promise<number>;
}

/** Where a command writes; replaced in tests. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  /** True when stdout is a terminal (progress bars, colour). */
  isTTY: boolean;
  /** True when stderr is a terminal (where progress bars go). */
  errIsTTY?: boolean;
  /** Standard input, for commands that read `-`. */
  stdin?: AsyncIterable<Buffer | string>;
  /** The descriptor of standard input (0), which `verify -` reads in large blocks on a thread of its own rather than through `stdin`. */
  stdinFd?: number;
}

/** The commands, by name. */
export const COMMANDS: Record<string, Command> = {
  verify: verifyCommand,
  prove: proveCommand,
  witness: witnessCommand,
  head: headCommand,
};

function help(): string {
  const names = Object.keys(COMMANDS);
  const width = Math.max(8, ...names.map(n => n.length));
  const list = names.length
    ? names.map(n => `  ${n.padEnd(width)}  ${COMMANDS[n].summary}`).join('\n')
    : '  (none yet)';
  return `${PACKAGE_NAME} ${PACKAGE_VERSION}: the OpenTelemetry-native safety layer for AI agents

Usage:
  ${PACKAGE_NAME} <command> [options]
  ${PACKAGE_NAME} <command> --help
  ${PACKAGE_NAME} --help | --version

Commands:
${list}

Exit codes: 0 ok, 1 a problem was found, 2 usage error or unreadable input.
`;
}

/** Runs the command line `argv` (without `node` and the script) and returns the exit code. */
export async function main(argv: string[], io: CliIO): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    io.out(help());
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === '-v') {
    io.out(`${PACKAGE_VERSION}\n`);
    return 0;
  }
  const command = COMMANDS[first];
  if (!command) {
    io.err(`${PACKAGE_NAME}: unknown command ${JSON.stringify(first)}\n\n${help()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(command.usage);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    io.err(`${PACKAGE_NAME} ${first}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
}
