#!/usr/bin/env node
import { main } from './main.js';
import type { CliIO } from './main.js';

const io: CliIO = {
  out: text => process.stdout.write(text),
  err: text => process.stderr.write(text),
  isTTY: process.stdout.isTTY === true,
  errIsTTY: process.stderr.isTTY === true,
  // read on first use only: making process.stdin puts a pipe in non-blocking mode, and `verify -`
  // reads descriptor 0 itself (stdinFd) in large blocks
  get stdin() {
    return process.stdin;
  },
  stdinFd: 0,
};

process.exitCode = await main(process.argv.slice(2), io);
