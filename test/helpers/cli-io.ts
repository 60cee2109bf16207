import type { CliIO } from '../../src/cli/main.js';

/** A CliIO that keeps what a command prints (stderr a terminal when `errIsTTY`). */
export function captureIO(errIsTTY = false): CliIO & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    isTTY: false,
    errIsTTY,
    out(text: string) {
      io.stdout += text;
    },
    err(text: string) {
      io.stderr += text;
    },
  };
  return io;
}
