#!/usr/bin/env node
import { main } from './main.js';
import type { CliIO } from './main.js';

const io: CliIO = {
  out: text => process.stdout.write(text),
  err: text => process.stderr.write(text),
  isTTY: process.stdout.isTTY === true,
  errIsTTY: process.stderr.isTTY === true,
  stdin: process.stdin,
};

process.exitCode = await main(process.argv.slice(2), io);
