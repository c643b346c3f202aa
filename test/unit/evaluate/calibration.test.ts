// Platt and isotonic calibration against scikit-learn (test/oracle/evaluate, made by
// benchmarks/oracles/make_evaluate_fixtures.py), the isotonic small-sample warning, and
// cross-validated calibration.
import fs from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import {
  Calibrator,
  ISOTONIC_MIN_SAMPLES,
  crossValidateCalibration,
  expectedCalibrationError,
  fitIsotonic,
  fitPlatt,
  isotonicPredict,
  logLoss,
  logit,
  stratifiedFoldIds,
  type IsotonicMap,
  type SigmoidMap,
} from '../../../src/index.js';
import { seededRandom } from '../../../src/validate/corpus.js';
import { ROOT } from '../../helpers/paths.js';
import { expectCode } from '../../helpers/errors.js';

const fixture = <T>(name: string): T => JSON.parse(fs.readFileSync(path.join(ROOT, 'test/oracle/evaluate', `${name}.json`), 'utf8')) as T;

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}


describe('Platt scaling (scikit-learn _sigmoid_calibration)', () => {
  const f = fixture<{ F: number[]; y: number[]; sklearnA: number; sklearnB: number; exactA: number; exactB: number; testF: number[]; sklearnPredict: number[]; exactPredict: number[] }>('platt');

  it('reaches the exact optimum of the objective (1e-9) and agrees with scikit-learn\'s BFGS answer (1e-6)', () => {
    const p = fitPlatt(f.F, f.y);
    expect(Math.abs(p.a - f.exactA)).toBeLessThan(1e-9);
    expect(Math.abs(p.b - f.exactB)).toBeLessThan(1e-9);
    expect(Math.abs(p.a - f.sklearnA)).toBeLessThan(1e-6);
    expect(Math.abs(p.b - f.sklearnB)).toBeLessThan(1e-6);
    const cal = Calibrator.fit(Float64Array.from(f.F, (v) => 1 / (1 + Math.exp(-v))), f.y, { method: 'sigmoid', input: 'logit' });
    const map = cal.toJSON().calibrators[0] as SigmoidMap;
    // logit(expit(F)) round-trips F to ~1e-15, so the stored map is the same optimum.
    expect(Math.abs(map.a - f.exactA)).toBeLessThan(1e-8);
    expect(Math.abs(map.b - f.exactB)).toBeLessThan(1e-8);
    const pred = f.testF.map((v) => 1 / (1 + Math.exp(p.a * v + p.b)));
    expect(maxDiff(pred, f.exactPredict)).toBeLessThan(1e-9);
    expect(maxDiff(pred, f.sklearnPredict)).toBeLessThan(1e-6);
  });
});

describe('isotonic regression (scikit-learn IsotonicRegression, out_of_bounds clip)', () => {
  const f = fixture<{ x: number[]; y: number[]; xThresholds: number[]; yThresholds: number[]; testX: number[]; predict: number[] }>('isotonic');

  it('keeps the same points and predicts the same values (1e-9), with ties and out-of-range inputs', () => {
    const m = fitIsotonic(f.x, f.y);
    expect(m.x.length).toBe(f.xThresholds.length);
    expect(maxDiff(m.x, f.xThresholds)).toBeLessThan(1e-9);
    expect(maxDiff(m.y, f.yThresholds)).toBeLessThan(1e-9);
    expect(maxDiff(isotonicPredict(m, f.testX), f.predict)).toBeLessThan(1e-9);
  });

  it('is non-decreasing and minimises squared error among non-decreasing fits (small brute-force check)', () => {
    const x = [0, 1, 2, 3, 4], y = [1, 0, 1, 0, 1];
    const m = fitIsotonic(x, y);
    const fitted = isotonicPredict(m, x);
    for (let i = 1; i < 5; i++) expect(fitted[i]!).toBeGreaterThanOrEqual(fitted[i - 1]!);
    expect(Array.from(fitted)).toEqual([0.5, 0.5, 0.5, 0.5, 1]);
    // No non-decreasing fit on a grid that holds the answer's values does better.
    const sse = (v: ArrayLike<number>): number => y.reduce((s, yi, i) => s + (yi - v[i]!) ** 2, 0);
    let best = Infinity;
    const grid = [0, 1 / 3, 0.5, 2 / 3, 1];
    const rec = (i: number, prev: number, acc: number[]): void => {
      if (i === 5) {
        best = Math.min(best, sse(acc));
        return;
      }
      for (const g of grid) if (g >= prev) rec(i + 1, g, [...acc, g]);
    };
    rec(0, -Infinity, []);
    expect(sse(fitted)).toBeLessThanOrEqual(best + 1e-12);
  });
});

describe('Calibrator vs CalibratedClassifierCV(cv="prefit")', () => {
  const f = fixture<{
    numClass: number;
    yCal: number[];
    pCal: number[];
    pTest: number[];
    yBinaryCal: number[];
    pBinaryCal: number[];
    pBinaryTest: number[];
    isotonic: { multiclass: number[]; binary: number[] };
    sigmoid: { multiclass: number[]; binary: number[] };
  }>('calibrated_classifier');

  it('isotonic on probabilities, binary and multiclass one-vs-rest with renormalisation (1e-9)', () => {
    const bin = Calibrator.fit(f.pBinaryCal, f.yBinaryCal, { method: 'isotonic', minSamples: 0 });
    expect(maxDiff(bin.apply(f.pBinaryTest), f.isotonic.binary)).toBeLessThan(1e-9);
    const multi = Calibrator.fit(f.pCal, f.yCal, { method: 'isotonic', minSamples: 0 });
    expect(multi.numClass).toBe(3);
    expect(maxDiff(multi.apply(f.pTest), f.isotonic.multiclass)).toBeLessThan(1e-9);
  });

  it('sigmoid on log-odds (Platt on the margin): equal to scikit-learn within its BFGS tolerance (1e-6)', () => {
    const bin = Calibrator.fit(f.pBinaryCal, f.yBinaryCal, { method: 'sigmoid' });
    expect(bin.input).toBe('logit');
    expect(maxDiff(bin.apply(f.pBinaryTest), f.sigmoid.binary)).toBeLessThan(1e-6);
    const multi = Calibrator.fit(f.pCal, f.yCal, { method: 'sigmoid' });
    expect(maxDiff(multi.apply(f.pTest), f.sigmoid.multiclass)).toBeLessThan(1e-6);
    // And exactly the Platt optimum of each one-vs-rest column.
    const maps = multi.toJSON().calibrators as SigmoidMap[];
    for (let k = 0; k < 3; k++) {
      const p = fitPlatt(f.yCal.map((_, r) => logit(f.pCal[r * 3 + k]!)), f.yCal.map((l) => (l === k ? 1 : 0)));
      expect(maps[k]).toEqual({ a: p.a, b: p.b });
    }
  });

  it('applyOne / applyRow (serving path) equal apply', () => {
    const bin = Calibrator.fit(f.pBinaryCal, f.yBinaryCal, { method: 'isotonic', minSamples: 0 });
    const batch = bin.apply(f.pBinaryTest);
    f.pBinaryTest.forEach((p, i) => expect(bin.applyOne(p)).toBe(batch[i]));
    const multi = Calibrator.fit(f.pCal, f.yCal, { method: 'sigmoid' });
    const mb = multi.apply(f.pTest);
    for (let r = 0; r < 10; r++) expect(Array.from(multi.applyRow(f.pTest.slice(r * 3, r * 3 + 3), new Float64Array(3)))).toEqual(Array.from(mb.subarray(r * 3, r * 3 + 3)));
  });
});

describe('isotonic minimum sample size', () => {
  const rand = seededRandom(1);
  const make = (n: number): { p: Float64Array; y: Int32Array } => {
    const p = Float64Array.from({ length: n }, () => rand());
    return { p, y: Int32Array.from(p, (v) => (rand() < v * v ? 1 : 0)) };
  };

  it(`warns below minSamples (default ${ISOTONIC_MIN_SAMPLES}) through onWarning and calibrator.warnings; not at or above it; never for sigmoid`, () => {
    const small = make(300);
    const seen: string[] = [];
    const c = Calibrator.fit(small.p, small.y, { method: 'isotonic', onWarning: (m) => seen.push(m) });
    expect(seen.length).toBe(1);
    expect(seen[0]).toMatch(/isotonic calibration fitted on 300 rows, fewer than minSamples 1000/);
    expect(c.warnings).toEqual(seen);
    expect(Calibrator.fit(small.p, small.y, { method: 'isotonic', minSamples: 300 }).warnings).toEqual([]);
    expect(Calibrator.fit(small.p, small.y, { method: 'isotonic', minSamples: 301 }).warnings.length).toBe(1);
    expect(Calibrator.fit(small.p, small.y, { method: 'sigmoid' }).warnings).toEqual([]);
    const big = make(ISOTONIC_MIN_SAMPLES);
    expect(Calibrator.fit(big.p, big.y).warnings).toEqual([]);
    // Warnings are not part of the stored calibrator.
    expect(JSON.stringify(c.toJSON())).not.toMatch(/warn/);
  });
});

describe('cross-validated calibration', () => {
  const rand = seededRandom(9);
  const n = 3000;
  // An overconfident model: true P(1) = expit(z), reported expit(2.5 z).
  const z = Float64Array.from({ length: n }, () => 2 * (rand() * 2 - 1));
  const y = Int32Array.from(z, (v) => (rand() < 1 / (1 + Math.exp(-v)) ? 1 : 0));
  const p = Float64Array.from(z, (v) => 1 / (1 + Math.exp(-2.5 * v)));

  it('stratified folds: seeded, deterministic, each fold gets its share of each class', () => {
    const ids = stratifiedFoldIds(y, 5, 3);
    expect(Array.from(stratifiedFoldIds(y, 5, 3))).toEqual(Array.from(ids));
    expect(Array.from(stratifiedFoldIds(y, 5, 4))).not.toEqual(Array.from(ids));
    const pos = y.reduce((a, b) => a + b, 0);
    for (let k = 0; k < 5; k++) {
      let rows = 0, posK = 0;
      ids.forEach((id, i) => {
        if (id === k) {
          rows++;
          posK += y[i]!;
        }
      });
      expect(Math.abs(rows - n / 5)).toBeLessThanOrEqual(1);
      expect(Math.abs(posK - pos / 5)).toBeLessThanOrEqual(1);
    }
  });

  it('each row is calibrated by a calibrator fitted on the other folds; the stored one is fitted on all rows', () => {
    for (const method of ['sigmoid', 'isotonic'] as const) {
      const cv = crossValidateCalibration(p, y, { method, folds: 4, seed: 2 });
      expect(cv.folds).toBe(4);
      const stored = cv.calibrator.toJSON();
      expect(stored.fit).toEqual({ rows: n, source: 'cross-validation', folds: 4 });
      expect(stored.calibrators).toEqual(Calibrator.fit(p, y, { method }).toJSON().calibrators);
      for (let k = 0; k < 4; k++) {
        const tr = [...cv.foldIds.keys()].filter((i) => cv.foldIds[i] !== k);
        const te = [...cv.foldIds.keys()].filter((i) => cv.foldIds[i] === k);
        const c = Calibrator.fit(tr.map((i) => p[i]!), tr.map((i) => y[i]!), { method, minSamples: 0 });
        const want = c.apply(te.map((i) => p[i]!));
        te.forEach((i, j) => expect(cv.calibrated[i]).toBe(want[j]));
      }
      // Out-of-fold calibration repairs the overconfidence.
      expect(expectedCalibrationError(y, cv.calibrated)).toBeLessThan(expectedCalibrationError(y, p) / 3);
      expect(logLoss(y, cv.calibrated)).toBeLessThan(logLoss(y, p));
    }
  });

  it('accepts given fold ids, and the fold-size warning is the final calibrator\'s only', () => {
    const ids = Int32Array.from({ length: n }, (_, i) => i % 3);
    const warnings: string[] = [];
    const cv = crossValidateCalibration(p.subarray(0, 600), y.subarray(0, 600), { method: 'isotonic', folds: ids.subarray(0, 600), onWarning: (m) => warnings.push(m) });
    expect(cv.folds).toBe(3);
    expect(warnings.length).toBe(1);
    expect(cv.warnings).toEqual(warnings);
    expect(cv.calibrator.toJSON().fit.folds).toBe(3);
  });
});

describe('stored calibrators', () => {
  it('round-trip through JSON and refuse invalid maps (E_MODEL_FORMAT)', () => {
    const rand = seededRandom(4);
    const p = Float64Array.from({ length: 500 }, () => rand());
    const y = Int32Array.from(p, (v) => (rand() < v ? 1 : 0));
    const iso = Calibrator.fit(p, y, { method: 'isotonic', minSamples: 0 });
    const j = JSON.parse(JSON.stringify(iso.toJSON()));
    const back = Calibrator.fromJSON(j);
    expect(JSON.stringify(back.toJSON())).toBe(JSON.stringify(iso.toJSON()));
    expect(Array.from(back.apply(p))).toEqual(Array.from(iso.apply(p)));
    const m = j.calibrators[0] as IsotonicMap;
    const mutate = (fn: (o: ReturnType<typeof structuredClone<typeof j>>) => void): unknown => {
      const o = structuredClone(j);
      fn(o);
      return o;
    };
    expectCode(() => Calibrator.fromJSON(mutate((o) => (o.calibrators[0].x = [...m.x].reverse()))), 'E_MODEL_FORMAT');
    expectCode(() => Calibrator.fromJSON(mutate((o) => o.calibrators[0].y.pop())), 'E_MODEL_FORMAT');
    expectCode(() => Calibrator.fromJSON(mutate((o) => (o.calibrators[0].y[0] = 1.5))), 'E_MODEL_FORMAT');
    expectCode(() => Calibrator.fromJSON(mutate((o) => (o.method = 'sigmoid'))), 'E_MODEL_FORMAT');
    expectCode(() => Calibrator.fromJSON(mutate((o) => (o.numClass = 3))), 'E_MODEL_FORMAT');
    expectCode(() => Calibrator.fromJSON(mutate((o) => (o.fit.folds = 5))), 'E_MODEL_FORMAT');
    expectCode(() => Calibrator.fromJSON(mutate((o) => (o.extra = 1))), 'E_MODEL_FORMAT');
    expectCode(() => Calibrator.fromJSON(null), 'E_MODEL_FORMAT');
  });

  it('refuses bad fit input', () => {
    expectCode(() => Calibrator.fit([0.2, 0.4], [0, 0], { method: 'sigmoid' }), 'E_SCHEMA');
    expectCode(() => Calibrator.fit([0.2, 1.4], [0, 1]), 'E_SCHEMA');
    expectCode(() => Calibrator.fit([0.2, 0.4], [0, 1], { method: 'beta' as 'sigmoid' }), 'E_USAGE');
    expectCode(() => Calibrator.fit([0.2, 0.4], [0, 1], { source: 'cross-validation' }), 'E_USAGE');
  });
});
