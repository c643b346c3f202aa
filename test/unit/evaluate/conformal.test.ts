// Split-conformal sets and intervals: the finite-sample quantile rule, and empirical coverage
// >= 1 - alpha on held-out rows of trained models.
import { describe, expect, it } from 'vitest';

import {
  ConformalClassifier,
  ConformalRegressor,
  GBDT,
  LogisticRegression,
  conformalQuantile,
  conformalRank,
  intervalCoverage,
  setCoverage,
  setsToLists,
} from '../../../src/index.js';
import { seededRandom } from '../../../src/validate/corpus.js';
import { expectCode } from '../../helpers/errors.js';

function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}


describe('the finite-sample quantile rule', () => {
  it('rank is ceil((n + 1)(1 - alpha)) computed exactly, also where the float product is off by one ulp', () => {
    expect(conformalRank(29, 0.1)).toBe(27); // 30 * 0.9 = 27.000000000000004 in floating point
    expect(conformalRank(9, 0.1)).toBe(9);
    expect(conformalRank(18, 0.1)).toBe(18); // 17.1 -> 18
    expect(conformalRank(99, 0.05)).toBe(95);
    expect(conformalRank(100, 0.05)).toBe(96); // 95.95 -> 96
    expect(conformalRank(8, 0.1)).toBe(9); // exceeds n
    // Against integer arithmetic: k is the least integer with k * 100 >= (n + 1) * (100 - a).
    for (let a = 1; a < 100; a += 3) {
      for (let n = 1; n < 300; n += 7) {
        let k = 0;
        while (k * 100 < (n + 1) * (100 - a)) k++;
        expect(conformalRank(n, a / 100), `n ${n}, alpha ${a / 100}`).toBe(k);
      }
    }
  });

  it('the quantile is the smallest score q with #{s <= q} >= (n + 1)(1 - alpha) (brute force, with ties)', () => {
    const rand = seededRandom(7);
    for (let trial = 0; trial < 200; trial++) {
      const n = 5 + Math.floor(rand() * 60);
      const a = 1 + Math.floor(rand() * 40); // alpha = a / 100
      const scores = Array.from({ length: n }, () => Math.round(rand() * 20) / 10);
      const need = (n + 1) * (100 - a); // compare count * 100 >= need
      const ok = [...new Set(scores)].filter((q) => scores.filter((s) => s <= q).length * 100 >= need);
      if (ok.length === 0) {
        expectCode(() => conformalQuantile(scores, a / 100), 'E_SCHEMA');
        continue;
      }
      expect(conformalQuantile(scores, a / 100).quantile).toBe(Math.min(...ok));
    }
  });

  it('refuses too few calibration rows for alpha, and bad alpha', () => {
    expectCode(() => conformalQuantile([0.1, 0.2, 0.3], 0.1), 'E_SCHEMA'); // needs >= 9 rows
    expect(conformalQuantile(Array.from({ length: 9 }, (_, i) => i), 0.1).quantile).toBe(8);
    expectCode(() => conformalQuantile([1, 2], 0), 'E_USAGE');
    expectCode(() => conformalQuantile([1, 2], 1), 'E_USAGE');
    expectCode(() => ConformalRegressor.fit([1, 2, 3], [1, 2], { alpha: 0.5 }), 'E_USAGE');
  });
});

describe('prediction sets and intervals', () => {
  it('a set holds exactly the classes with 1 - p(c) <= quantile; binary rows use p(0) = 1 - p(1)', () => {
    const rand = seededRandom(3);
    const n = 200, K = 4;
    const P = new Float64Array(n * K);
    const y = new Int32Array(n);
    for (let r = 0; r < n; r++) {
      let s = 0;
      for (let c = 0; c < K; c++) s += P[r * K + c] = rand() ** 2;
      for (let c = 0; c < K; c++) P[r * K + c]! /= s;
      y[r] = Math.floor(rand() * K);
    }
    const cp = ConformalClassifier.fit(P, y, { alpha: 0.2 });
    const sorted = Array.from(y, (l, r) => 1 - P[r * K + l]!).sort((a, b) => a - b);
    expect(cp.quantile).toBe(sorted[conformalRank(n, 0.2) - 1]);
    const sets = cp.predictSets(P);
    const lists = setsToLists(sets);
    for (let r = 0; r < n; r++) {
      const want = [0, 1, 2, 3].filter((c) => 1 - P[r * K + c]! <= cp.quantile);
      expect(lists[r]).toEqual(want);
      expect(sets.size[r]).toBe(want.length);
    }
    // Calibration coverage is at least k / n by construction.
    expect(setCoverage(sets, y)).toBeGreaterThanOrEqual(conformalRank(n, 0.2) / n);

    const pb = Float64Array.from({ length: n }, () => rand());
    const yb = Int32Array.from(pb, (p) => (rand() < p ? 1 : 0));
    const bin = ConformalClassifier.fit(pb, yb, { alpha: 0.1 });
    expect(bin.numClass).toBe(2);
    const bl = setsToLists(bin.predictSets(pb));
    pb.forEach((p, r) => expect(bl[r]).toEqual([0, 1].filter((c) => 1 - (c === 1 ? p : 1 - p) <= bin.quantile)));
  });

  it('intervals are prediction -/+ the quantile of absolute residuals', () => {
    const pred = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const y = [1.5, 2, 2, 4.25, 5, 7, 7, 8.1, 9, 13];
    const cr = ConformalRegressor.fit(pred, y, { alpha: 0.1 });
    // residuals 0.5 0 1 0.25 0 1 0 0.1 0 3: k = ceil(11 * 0.9) = 10 -> the largest, 3.
    expect(cr.quantile).toBe(3);
    const cr2 = ConformalRegressor.fit(pred, y, { alpha: 0.3 }); // k = ceil(7.7) = 8 -> 1
    expect(cr2.quantile).toBe(1);
    const iv = cr2.predictIntervals([0, 10]);
    expect(Array.from(iv.lower)).toEqual([-1, 9]);
    expect(Array.from(iv.upper)).toEqual([1, 11]);
    expect(intervalCoverage(iv, [1, 11.5])).toBe(0.5);
  });

  it('round-trips through JSON and refuses inconsistent stored predictors (E_MODEL_FORMAT)', () => {
    const cp = ConformalClassifier.fit([0.9, 0.2, 0.7, 0.4, 0.6, 0.1, 0.8, 0.3, 0.95, 0.5], [1, 0, 1, 0, 1, 0, 0, 1, 1, 0], { alpha: 0.1 });
    const json = JSON.parse(JSON.stringify(cp.toJSON())) as Record<string, unknown>;
    expect(json).toEqual({ kind: 'conformal-classification', version: 1, alpha: 0.1, score: 'one-minus-true-class-probability', numClass: 2, rows: 10, rank: 10, quantile: cp.quantile });
    const back = ConformalClassifier.fromJSON(json);
    expect(JSON.stringify(back.toJSON())).toBe(JSON.stringify(cp.toJSON()));
    expect(Array.from(back.predictSets([0.5, 0.99]).mask)).toEqual(Array.from(cp.predictSets([0.5, 0.99]).mask));
    expectCode(() => ConformalClassifier.fromJSON({ ...json, rank: 9 }), 'E_MODEL_FORMAT');
    expectCode(() => ConformalClassifier.fromJSON({ ...json, rows: 5, rank: 6 }), 'E_MODEL_FORMAT');
    expectCode(() => ConformalClassifier.fromJSON({ ...json, quantile: 1.5 }), 'E_MODEL_FORMAT');
    expectCode(() => ConformalClassifier.fromJSON({ ...json, extra: 1 }), 'E_MODEL_FORMAT');
    expectCode(() => ConformalRegressor.fromJSON(json), 'E_MODEL_FORMAT');
    const cr = ConformalRegressor.fit([1, 2, 3, 4], [1, 2, 3, 5], { alpha: 0.2 });
    expect(ConformalRegressor.fromJSON(JSON.parse(JSON.stringify(cr))).quantile).toBe(1);
    expectCode(() => ConformalRegressor.fromJSON({ ...cr.toJSON(), numClass: 2 }), 'E_MODEL_FORMAT');
  });
});

/**
 * Coverage on held-out rows. The guarantee is marginal: over random calibration and test draws,
 * P(covered) = k / (n + 1) >= 1 - alpha exactly (continuous scores). So each check averages the
 * held-out coverage over many random calibration/test splits of rows the model never trained on,
 * and uses calibration sizes where k / (n + 1) sits clearly above 1 - alpha (n = 18 at alpha 0.1:
 * 18/19; n = 38 at alpha 0.05: 38/39); the mean must be >= 1 - alpha and within 4 standard errors
 * of k / (n + 1) (so an always-everything predictor fails too).
 */
function shuffled(n: number, rand: () => number): Int32Array {
  const idx = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx;
}

const REPS = 400;
const TEST_ROWS = 400;

describe('empirical coverage >= 1 - alpha on held-out data', () => {
  it('classification: multinomial logistic regression on overlapping 3-class blobs', async () => {
    const rand = seededRandom(11);
    const K = 3, cols = 2;
    const make = (rows: number): { X: { values: Float64Array; rows: number; cols: number }; y: Float64Array } => {
      const values = new Float64Array(rows * cols);
      const y = new Float64Array(rows);
      for (let r = 0; r < rows; r++) {
        const c = Math.floor(rand() * K);
        y[r] = c;
        values[r * cols] = Math.cos((2 * Math.PI * c) / K) + 1.2 * gaussian(rand);
        values[r * cols + 1] = Math.sin((2 * Math.PI * c) / K) + 1.2 * gaussian(rand);
      }
      return { X: { values, rows, cols }, y };
    };
    const train = make(1500);
    const model = await new LogisticRegression({}).fit(train.X, train.y);
    const pool = make(6000);
    const P = await model.predict(pool.X);
    for (const [alpha, n] of [[0.1, 18], [0.05, 38], [0.2, 8]] as const) {
      const k = conformalRank(n, alpha);
      const expected = k / (n + 1);
      expect(expected).toBeGreaterThan(1 - alpha);
      let sum = 0, sumSq = 0, meanSize = 0;
      for (let rep = 0; rep < REPS; rep++) {
        const idx = shuffled(pool.X.rows, rand);
        const pick = (from: number, to: number): { p: Float64Array; y: Int32Array } => ({
          p: Float64Array.from({ length: (to - from) * K }, (_, j) => P[idx[from + Math.floor(j / K)]! * K + (j % K)]!),
          y: Int32Array.from({ length: to - from }, (_, j) => pool.y[idx[from + j]!]!),
        });
        const cal = pick(0, n), test = pick(n, n + TEST_ROWS);
        const cp = ConformalClassifier.fit(cal.p, cal.y, { alpha });
        const sets = cp.predictSets(test.p);
        const cov = setCoverage(sets, test.y);
        sum += cov;
        sumSq += cov * cov;
        meanSize += sets.size.reduce((a, b) => a + b, 0) / TEST_ROWS / REPS;
      }
      const mean = sum / REPS;
      const se = Math.sqrt((sumSq / REPS - mean * mean) / REPS);
      expect(mean, `alpha ${alpha}, n ${n}`).toBeGreaterThanOrEqual(1 - alpha);
      expect(Math.abs(mean - expected), `alpha ${alpha}: mean ${mean} vs k/(n+1) ${expected} (se ${se})`).toBeLessThan(4 * se + 1e-3);
      expect(meanSize).toBeLessThan(K); // informative sets, not every class
    }
  });

  it('regression: GBDT with heteroscedastic noise', async () => {
    const rand = seededRandom(5);
    const make = (rows: number): { X: { values: Float64Array; rows: number; cols: number }; y: Float64Array } => {
      const values = Float64Array.from({ length: rows * 2 }, () => rand() * 4 - 2);
      const y = Float64Array.from({ length: rows }, (_, r) => Math.sin(values[r * 2]!) * 3 + values[r * 2 + 1]! + (0.3 + Math.abs(values[r * 2 + 1]!)) * gaussian(rand));
      return { X: { values, rows, cols: 2 }, y };
    };
    const train = make(2000);
    const model = await new GBDT({ objective: 'regression', nEstimators: 40, numLeaves: 8, seed: 1 }).fit(train.X, train.y);
    const pool = make(6000);
    const pred = await model.predict(pool.X);
    for (const [alpha, n] of [[0.1, 18], [0.05, 38]] as const) {
      const expected = conformalRank(n, alpha) / (n + 1);
      let sum = 0, sumSq = 0;
      for (let rep = 0; rep < REPS; rep++) {
        const idx = shuffled(pool.X.rows, rand);
        const cr = ConformalRegressor.fit(Float64Array.from({ length: n }, (_, j) => pred[idx[j]!]!), Float64Array.from({ length: n }, (_, j) => pool.y[idx[j]!]!), { alpha });
        const testIdx = idx.subarray(n, n + TEST_ROWS);
        const cov = intervalCoverage(cr.predictIntervals(Float64Array.from(testIdx, (i) => pred[i]!)), Float64Array.from(testIdx, (i) => pool.y[i]!));
        sum += cov;
        sumSq += cov * cov;
      }
      const mean = sum / REPS;
      const se = Math.sqrt((sumSq / REPS - mean * mean) / REPS);
      expect(mean, `alpha ${alpha}, n ${n}`).toBeGreaterThanOrEqual(1 - alpha);
      expect(Math.abs(mean - expected), `alpha ${alpha}: mean ${mean} vs ${expected} (se ${se})`).toBeLessThan(4 * se + 1e-3);
    }
  });

  it('one large calibration split (n = 2000, alpha 0.1) covers held-out rows at 0.9 +- 0.03', async () => {
    const rand = seededRandom(21);
    const rows = 7000;
    const values = Float64Array.from({ length: rows * 2 }, () => gaussian(rand));
    const y = Float64Array.from({ length: rows }, (_, r) => (rand() < 1 / (1 + Math.exp(-(2 * values[r * 2]! - values[r * 2 + 1]!))) ? 1 : 0));
    const model = await new LogisticRegression({}).fit({ values: values.subarray(0, 2000 * 2), rows: 2000, cols: 2 }, y.subarray(0, 2000));
    const p = await model.predict({ values: values.subarray(2000 * 2), rows: 5000, cols: 2 });
    const yh = y.subarray(2000);
    const cp = ConformalClassifier.fit(p.subarray(0, 2000), yh.subarray(0, 2000), { alpha: 0.1 });
    const cov = setCoverage(cp.predictSets(p.subarray(2000)), yh.subarray(2000));
    expect(Math.abs(cov - 0.9)).toBeLessThan(0.03);
  });
});
