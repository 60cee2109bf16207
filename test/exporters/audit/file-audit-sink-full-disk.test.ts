/**
 * A torn tail on a really full disk (a 256 KiB tmpfs, mounted in a private
 * mount namespace with `unshare -rm`, so no root is needed): the next run
 * cannot write the side file, so it cuts nothing and appends nothing (no
 * empty side file left, the torn bytes untouched, its records held and
 * reported); once there is room the side file is written first, the tail
 * cut and checked, and the new chain starts on a fresh line: the file
 * verifies, the second chain continuing the first.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const fixture = join(root, 'test', 'fixtures', 'full-disk-torn.ts');

const test = suite('FileAuditSink: torn tail on a full disk');

test('the side file comes before the cut, the cut is checked, the next run starts on a fresh line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'full-disk-'));
  try {
    const run = spawnSync(
      'unshare',
      ['-rm', 'sh', '-c', 'mount -t tmpfs -o size=256k tmpfs "$1" && exec "$2" --import tsx "$3" "$1"', 'sh', dir, process.execPath, fixture],
      { cwd: root, encoding: 'utf8', timeout: 60_000 },
    );
    // No skip: where `unshare -rm` or the tmpfs mount is not allowed this fails, saying so (CI runs as root, where both work).
    assert.is(run.status, 0, `the fixture ran in a namespace with a tmpfs (unshare -rm and mount must be allowed): ${run.error?.message ?? ''} ${run.stderr}`);
    const facts = JSON.parse(run.stdout.trim().split('\n').pop()!);
    // While the disk was full: nothing cut, nothing appended, no empty side file, reported.
    assert.ok(facts.recovery.problem, 'the recovery reports the problem');
    assert.match(facts.recovery.problem, /cannot be set aside yet.*ENOSPC/);
    assert.equal(facts.sideFilesWhileFull, [], 'no side file left behind');
    assert.is(facts.whileFull.size, facts.sizeBefore, 'nothing appended onto the torn line');
    assert.ok(facts.whileFull.endsWithFragment);
    assert.is(facts.whileFull.held, 20, 'the new records are held');
    assert.ok(facts.messages.some((m: string) => /torn line.*cannot be set aside yet/.test(m)), facts.messages.join(' | '));
    // Once there is room: set aside, cut, a fresh line; the history verifies as one.
    assert.equal(facts.sideFiles, [facts.fragment], 'the side file holds exactly the torn bytes');
    assert.ok(facts.messages.some((m: string) => /set aside now/.test(m)));
    assert.ok(facts.verdict.valid, JSON.stringify(facts.verdict.failures));
    assert.is(facts.verdict.chains.length, 2);
    const second = facts.verdict.chains.find((c: { chainId: string }) => c.chainId === facts.secondChain);
    assert.is(second.records, 20);
    assert.equal(second.previous, facts.head1, 'the second chain continues the first');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
