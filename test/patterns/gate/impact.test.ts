import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  DEFAULT_BLOCK_THRESHOLD,
  DEFAULT_REVIEW_THRESHOLD,
  impactDelta,
  impactLevel,
  impactThresholds,
  impactVerdict,
} from '../../../src/index.js';

const test = suite('impact levels, verdicts and thresholds');
const defaults = impactThresholds();

test('defaults are the original\'s: block 0.75, review 0.40', () => {
  assert.is(DEFAULT_BLOCK_THRESHOLD, 0.75);
  assert.is(DEFAULT_REVIEW_THRESHOLD, 0.4);
  assert.equal({ ...defaults }, { block: 0.75, review: 0.4 });
});

test('every level boundary: NEGLIGIBLE < 0.1 <= LOW < 0.25 <= MODERATE < 0.40 <= HIGH < 0.75 <= CRITICAL', () => {
  const cases: [number, string][] = [
    [-1, 'NEGLIGIBLE'],
    [-0.3, 'NEGLIGIBLE'],
    [0, 'NEGLIGIBLE'],
    [0.0999, 'NEGLIGIBLE'],
    [0.1, 'LOW'],
    [0.2499, 'LOW'],
    [0.25, 'MODERATE'],
    [0.3999, 'MODERATE'],
    [0.4, 'HIGH'],
    [0.7499, 'HIGH'],
    [0.75, 'CRITICAL'],
    [1, 'CRITICAL'],
  ];
  for (const [delta, level] of cases) assert.is(impactLevel(delta, defaults), level, `delta ${delta}`);
});

test('recommendation at the thresholds: review from 0.40, block from 0.75, proceed below', () => {
  const cases: [number, string][] = [
    [-1, 'proceed'],
    [0, 'proceed'],
    [0.3999, 'proceed'],
    [0.4, 'review'],
    [0.7499, 'review'],
    [0.75, 'block'],
    [1, 'block'],
  ];
  for (const [delta, verdict] of cases) assert.is(impactVerdict(delta, defaults), verdict, `delta ${delta}`);
});

test('level and verdict always agree, also with custom thresholds (HIGH ⇔ review, CRITICAL ⇔ block)', () => {
  const custom = [impactThresholds({ blockThreshold: 0.9, reviewThreshold: 0.2 }), impactThresholds({ blockThreshold: 0.5, reviewThreshold: 0.5 }), defaults];
  for (const th of custom) {
    for (let i = -100; i <= 100; i++) {
      const d = i / 100;
      const level = impactLevel(d, th);
      const verdict = impactVerdict(d, th);
      assert.is(level === 'CRITICAL', verdict === 'block', `${d} with ${JSON.stringify(th)}`);
      assert.is(level === 'HIGH', verdict === 'review', `${d} with ${JSON.stringify(th)}`);
    }
  }
  const low = impactThresholds({ reviewThreshold: 0.2 });
  assert.is(impactLevel(0.19, low), 'LOW', 'MODERATE is capped by a low review threshold');
  assert.is(impactLevel(0.2, low), 'HIGH');
  assert.is(impactLevel(0.05, impactThresholds({ reviewThreshold: 0.05 })), 'HIGH');
});

test('the delta is signed: acting less harmfully than not acting is negative, and never gated', () => {
  assert.is(impactDelta(0.9, 0.2), 0.7);
  assert.is(impactDelta(0.2, 0.9), -0.7);
  assert.is(impactVerdict(impactDelta(0.2, 0.9), defaults), 'proceed');
  assert.is(impactVerdict(Math.abs(0.2 - 0.9), defaults), 'review', 'the original\'s absolute value would have sent it to review');
});

test('floating point noise does not move a delta across a threshold', () => {
  assert.is(0.7 - 0.3 < 0.4, true, 'the raw subtraction falls short');
  assert.is(impactDelta(0.7, 0.3), 0.4);
  assert.is(impactVerdict(impactDelta(0.7, 0.3), defaults), 'review');
  assert.is(impactVerdict(impactDelta(0.85, 0.1), defaults), 'block');
});

test('bad thresholds throw, naming the option and the value', () => {
  const bad: [object, RegExp, ErrorConstructor][] = [
    [{ blockThreshold: 1.5 }, /blockThreshold.*1\.5/, RangeError],
    [{ blockThreshold: -0.1 }, /blockThreshold/, RangeError],
    [{ reviewThreshold: 2 }, /reviewThreshold.*2/, RangeError],
    [{ reviewThreshold: Number.NaN }, /reviewThreshold/, TypeError],
    [{ reviewThreshold: '0.4' }, /reviewThreshold/, TypeError],
    [{ blockThreshold: 0.5, reviewThreshold: 0.6 }, /reviewThreshold must be <= blockThreshold \(0\.5\), got 0\.6/, RangeError],
    [{ reviewThreshold: 0.8 }, /reviewThreshold must be <= blockThreshold \(0\.75\)/, RangeError],
  ];
  for (const [options, re, type] of bad) {
    assert.throws(() => impactThresholds(options), (e: Error) => e instanceof type && re.test(e.message), JSON.stringify(options));
  }
  assert.equal({ ...impactThresholds({ blockThreshold: 0.5, reviewThreshold: 0.5 }) }, { block: 0.5, review: 0.5 }, 'equal thresholds are allowed');
  assert.equal({ ...impactThresholds({ blockThreshold: 0, reviewThreshold: 0 }) }, { block: 0, review: 0 });
});

test.run();
