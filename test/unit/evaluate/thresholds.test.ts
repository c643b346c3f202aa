// optimizeThreshold against a brute-force search over every candidate threshold.
import { describe, expect, it } from 'vitest';

import { optimizeThreshold, thresholdCandidates, type CostMatrix, type ThresholdObjective } from '../../../src/index.js';
import { seededRandom } from '../../../src/validate/corpus.js';
import { expectCode } from '../../helpers/errors.js';

/** Objective of predicting 1 where score >= t, computed from scratch. */
function bruteObjective(y: number[], s: number[], t: number, objective: ThresholdObjective, costs?: CostMatrix): { v: number; tp: number; fp: number; tn: number; fn: number } {
  let tp = 0, fp = 0, tn = 0, fn = 0;
  s.forEach((v, i) => {
    const pred = v >= t;
    if (pred && y[i] === 1) tp++;
    else if (pred) fp++;
    else if (y[i] === 1) fn++;
    else tn++;
  });
  let v: number;
  if (objective === 'f1') v = 2 * tp + fp + fn === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
  else if (objective === 'youden') v = tp / (tp + fn) - fp / (fp + tn);
  else v = (tp * costs!.tp + fp * costs!.fp + tn * costs!.tn + fn * costs!.fn) / s.length;
  return { v, tp, fp, tn, fn };
}


describe('optimizeThreshold equals brute force', () => {
  const rand = seededRandom(17);
  const cases = Array.from({ length: 60 }, (_, c) => {
    const n = 5 + Math.floor(rand() * 150);
    const prev = 0.05 + rand() * 0.6;
    const y = Array.from({ length: n }, () => (rand() < prev ? 1 : 0));
    y[0] = 1;
    y[1] = 0;
    // Coarse grids give many ties on even cases.
    const grid = c % 2 === 0 ? 10 : 1e6;
    const s = y.map((l) => Math.round(Math.min(1, Math.max(0, 0.3 * l + 0.35 + 0.3 * (rand() - 0.5) * 2)) * grid) / grid);
    return { y, s };
  });
  const costs: CostMatrix[] = [
    { tp: 100, fp: -5, tn: 0, fn: -100 },
    { tp: 1, fp: -3, tn: 0.5, fn: -0.2 },
  ];

  for (const objective of ['f1', 'youden', 'profit'] as const) {
    it(`${objective}: best value over every threshold (each distinct score and one above the top); ties go to the largest threshold`, () => {
      for (const { y, s } of cases) {
        for (const c of objective === 'profit' ? costs : [undefined]) {
          const got = optimizeThreshold(y, s, c ? { objective, costs: c } : { objective });
          const candidates = [...new Set(s)].sort((a, b) => b - a);
          const all = [Math.max(...s) + 1, ...candidates];
          const vals = all.map((t) => bruteObjective(y, s, t, objective, c).v);
          const best = Math.max(...vals);
          expect(got.value).toBeCloseTo(best, 12);
          expect(got.candidates).toBe(candidates.length + 1);
          // The chosen threshold achieves the best value and no larger candidate does.
          const at = bruteObjective(y, s, got.threshold, objective, c);
          expect(at.v).toBeCloseTo(best, 12);
          expect({ tp: got.tp, fp: got.fp, tn: got.tn, fn: got.fn }).toEqual({ tp: at.tp, fp: at.fp, tn: at.tn, fn: at.fn });
          for (const t of candidates) if (t > got.threshold) expect(bruteObjective(y, s, t, objective, c).v).toBeLessThan(best - 1e-12);
          expect(got.costs).toEqual(c ?? null);
        }
      }
    });
  }

  it('is independent of row order', () => {
    const { y, s } = cases[4]!;
    const order = y.map((_, i) => i).reverse();
    for (const objective of ['f1', 'youden'] as const) {
      const a = optimizeThreshold(y, s, { objective });
      const b = optimizeThreshold(order.map((i) => y[i]!), order.map((i) => s[i]!), { objective });
      expect(b).toEqual(a);
    }
  });

  it('profit moves the threshold the way the costs say', () => {
    const { y, s } = cases[1]!;
    const cheapFp = optimizeThreshold(y, s, { objective: 'profit', costs: { tp: 10, fp: -1, tn: 0, fn: -10 } });
    const dearFp = optimizeThreshold(y, s, { objective: 'profit', costs: { tp: 10, fp: -50, tn: 0, fn: -10 } });
    expect(dearFp.threshold).toBeGreaterThanOrEqual(cheapFp.threshold);
    expect(dearFp.fp).toBeLessThanOrEqual(cheapFp.fp);
  });
});

describe('thresholdCandidates and errors', () => {
  it('lists counts from nothing positive to everything positive', () => {
    const pts = thresholdCandidates([0, 1, 1, 0], [0.2, 0.8, 0.5, 0.5]);
    expect(pts.map((p) => [p.tp, p.fp])).toEqual([[0, 0], [1, 0], [2, 1], [2, 2]]);
    expect(pts[0]!.threshold).toBeGreaterThan(0.8);
    expect(pts.slice(1).map((p) => p.threshold)).toEqual([0.8, 0.5, 0.2]);
  });

  it('refuses single-class labels and bad options', () => {
    expectCode(() => optimizeThreshold([0, 0], [0.1, 0.2]), 'E_SCHEMA');
    expectCode(() => optimizeThreshold([1, 1], [0.1, 0.2], { objective: 'youden' }), 'E_SCHEMA');
    expectCode(() => optimizeThreshold([0, 1], [0.1, 0.2], { objective: 'profit' }), 'E_USAGE');
    expectCode(() => optimizeThreshold([0, 1], [0.1, 0.2], { objective: 'f1', costs: { tp: 1, fp: 0, tn: 0, fn: 0 } }), 'E_USAGE');
    expectCode(() => optimizeThreshold([0, 1], [0.1, Number.NaN]), 'E_SCHEMA');
  });
});
