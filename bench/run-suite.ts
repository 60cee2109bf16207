/** Runs one suite file (argv[2]) and prints its report as the last JSON line. */
import { pathToFileURL } from 'node:url';
import type { BenchSuite } from './lib.js';

const [file, flag] = process.argv.slice(2);
const suite = (await import(pathToFileURL(file).href)).default as BenchSuite;
const report = await suite.run({ quick: flag === '--quick' });
process.stdout.write(`\n${JSON.stringify({ name: suite.name, report })}\n`);
process.exit(0); // do not wait for SDK timers
