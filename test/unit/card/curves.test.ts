import { describe, expect, it } from 'vitest';
import { binEdges, cardCurvesFromPredictions, confusionCounts, histogramCounts, prCurve, reliabilityBins, rocCurve, scoreHistogram } from '../../../src/evaluate/card.js';
import { seededRandom } from '../../../src/validate/corpus.js';
import { KilnError } from '../../../bindings/errors.js';
import { gaussian } from '../../helpers/dense-data.js';

function expectKilnError(fn: () => unknown, code: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected a KilnError').toBeInstanceOf(KilnError);
  expect((caught as KilnError).code, (caught as KilnError).message).toBe(code);
}

/** AUC as the Mann-Whitney statistic: P(score+ > score−) + ½ P(tie). */
function mannWhitney(scores: number[], y: number[]): number {
  let wins = 0;
  let pairs = 0;
  for (let i = 0; i < scores.length; i++) {
    if (y[i] !== 1) continue;
    for (let j = 0; j < scores.length; j++) {
      if (y[j] !== 0) continue;
      pairs++;
      wins += scores[i]! > scores[j]! ? 1 : scores[i] === scores[j] ? 0.5 : 0;
    }
  }
  return wins / pairs;
}

describe('rocCurve / prCurve', () => {
  // scikit-learn: roc_curve([0,0,1,1], [0.1,0.4,0.35,0.8]) -> fpr [0,0,.5,.5,1], tpr [0,.5,.5,1,1],
  // thresholds [inf,.8,.4,.35,.1]; roc_auc_score 0.75; average_precision_score 0.8333…
  const scores = [0.1, 0.4, 0.35, 0.8];
  const y = [0, 0, 1, 1];

  it('matches scikit-learn on the textbook example', () => {
    const roc = rocCurve(scores, y, { label: 'pos' });
    expect(roc.label).toBe('pos');
    expect(roc.fpr).toEqual([0, 0, 0.5, 0.5, 1]);
    expect(roc.tpr).toEqual([0, 0.5, 0.5, 1, 1]);
    expect(roc.thresholds).toEqual([null, 0.8, 0.4, 0.35, 0.1]);
    expect(roc.auc).toBeCloseTo(0.75, 12);
    const pr = prCurve(scores, y);
    expect(pr.averagePrecision).toBeCloseTo(5 / 6, 12);
    expect(pr.recall).toEqual([0, 0.5, 0.5, 1, 1]);
    expect(pr.precision.map((p) => Math.round(p * 1e6) / 1e6)).toEqual([1, 1, 0.5, 0.666667, 0.5]);
    expect(pr.positiveRate).toBe(0.5);
  });

  it('AUC equals the Mann-Whitney statistic, with ties, and thinning keeps it and the end points', () => {
    const rnd = seededRandom(3);
    const n = 3000;
    const yy = Array.from({ length: n }, () => (rnd() < 0.25 ? 1 : 0));
    // Rounded scores: many ties.
    const ss = yy.map((v) => Math.round((v * 0.8 + gaussian(rnd)) * 50) / 50);
    const roc = rocCurve(ss, yy, { maxPoints: 50 });
    expect(roc.auc).toBeCloseTo(mannWhitney(ss, yy), 10);
    expect(roc.fpr.length).toBeLessThanOrEqual(52);
    expect([roc.fpr[0], roc.tpr[0]]).toEqual([0, 0]);
    expect([roc.fpr.at(-1), roc.tpr.at(-1)]).toEqual([1, 1]);
    for (let i = 1; i < roc.fpr.length; i++) {
      expect(roc.fpr[i]).toBeGreaterThanOrEqual(roc.fpr[i - 1]!);
      expect(roc.tpr[i]).toBeGreaterThanOrEqual(roc.tpr[i - 1]!);
    }
    const full = rocCurve(ss, yy, { maxPoints: 1e9 });
    expect(full.auc).toBe(roc.auc);
    const pr = prCurve(ss, yy, { maxPoints: 60 });
    expect(pr.recall.length).toBeLessThanOrEqual(62);
    expect(pr.averagePrecision).toBe(prCurve(ss, yy, { maxPoints: 1e9 }).averagePrecision);
  });

  it('all-equal scores give the diagonal and AUC ½; booleans work as labels', () => {
    const roc = rocCurve([0.3, 0.3, 0.3, 0.3], [true, false, true, false]);
    expect(roc.fpr).toEqual([0, 1]);
    expect(roc.tpr).toEqual([0, 1]);
    expect(roc.auc).toBe(0.5);
  });

  it('one class only: no curve, AUC and AP null', () => {
    const roc = rocCurve([0.1, 0.9], [1, 1]);
    expect(roc).toMatchObject({ fpr: [], tpr: [], auc: null });
    expect(prCurve([0.1, 0.9], [0, 0])).toMatchObject({ recall: [], averagePrecision: null, positiveRate: 0 });
  });

  it('refuses non-finite scores and length mismatches (E_USAGE)', () => {
    expectKilnError(() => rocCurve([0.1, NaN], [0, 1]), 'E_USAGE');
    expectKilnError(() => prCurve([0.1], [0, 1]), 'E_USAGE');
  });
});

describe('reliability bins, histograms, confusion counts', () => {
  it('reliability bins: mean prediction and observed frequency per non-empty bin', () => {
    const bins = reliabilityBins([0.05, 0.15, 0.12, 0.95, 1], [0, 1, 0, 1, 1], 10);
    expect(bins).toEqual([
      { lower: 0, upper: 0.1, meanPredicted: 0.05, observedFrequency: 0, count: 1 },
      { lower: 0.1, upper: 0.2, meanPredicted: (0.15 + 0.12) / 2, observedFrequency: 0.5, count: 2 },
      { lower: 0.9, upper: 1, meanPredicted: 0.975, observedFrequency: 1, count: 2 },
    ]);
    expectKilnError(() => reliabilityBins([1.2], [1]), 'E_USAGE');
    expectKilnError(() => reliabilityBins([0.2], [1], 0), 'E_USAGE');
  });

  it('score histogram counts every row once, by actual class', () => {
    const h = scoreHistogram([0, 0.5, 0.99, 1, 0.25], [0, 1, 1, 0, 1], ['a', 'b'], { bins: 4, score: 'P(b)' });
    expect(h.edges).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(h.series).toEqual([
      { label: 'a', counts: [1, 0, 0, 1] },
      { label: 'b', counts: [0, 1, 1, 1] },
    ]);
    expectKilnError(() => scoreHistogram([0.5], [2], ['a', 'b']), 'E_USAGE');
  });

  it('bin edges and counts, degenerate range widened', () => {
    expect(binEdges(2, 2, 2)).toEqual([1.5, 2, 2.5]);
    expect(histogramCounts([-5, 0, 1, 9], binEdges(0, 1, 2))).toEqual([2, 2]);
  });

  it('confusion counts are matrix[actual][predicted]', () => {
    expect(confusionCounts([0, 0, 1, 2, 2], [0, 1, 1, 2, 0], 3)).toEqual([
      [1, 1, 0],
      [0, 1, 0],
      [1, 0, 1],
    ]);
    expectKilnError(() => confusionCounts([3], [0], 3), 'E_USAGE');
  });
});

describe('cardCurvesFromPredictions', () => {
  it('binary: one ROC/PR/reliability curve for the positive class, confusion at the threshold', () => {
    const r = cardCurvesFromPredictions({ task: 'binary', classes: ['neg', 'pos'], labels: [0, 1, 1, 0], probabilities: [0.2, 0.7, 0.45, 0.6], threshold: 0.5 });
    expect(r.curves.roc!.map((c) => c.label)).toEqual(['pos']);
    expect(r.curves.pr!).toHaveLength(1);
    expect(r.curves.reliability![0]!.label).toBe('pos');
    expect(r.curves.scoreHistogram!.score).toBe('P(pos)');
    expect(r.confusionMatrix).toEqual({ labels: ['neg', 'pos'], matrix: [[1, 1], [1, 1]], threshold: 0.5 });
  });

  it('multiclass: one-vs-rest curves per class, argmax confusion; more than 10 classes: curves omitted with a note', () => {
    const K = 3;
    const probs = [0.7, 0.2, 0.1, 0.1, 0.8, 0.1, 0.2, 0.3, 0.5, 0.6, 0.3, 0.1];
    const r = cardCurvesFromPredictions({ task: 'multiclass', classes: ['a', 'b', 'c'], labels: [0, 1, 2, 1], probabilities: probs });
    expect(r.curves.roc!.map((c) => c.label)).toEqual(['a', 'b', 'c']);
    expect(r.confusionMatrix!.matrix).toEqual([
      [1, 0, 0],
      [1, 1, 0],
      [0, 0, 1],
    ]);
    expect(r.curves.reliability![0]!.label).toBe('top-label');
    expect(r.notes).toEqual([]);
    expect(r.curves.roc).toHaveLength(K);
    const K2 = 11;
    const many = cardCurvesFromPredictions({ task: 'multiclass', classes: Array.from({ length: K2 }, (_, k) => `c${k}`), labels: [0, 5], probabilities: Array.from({ length: 2 * K2 }, (_, i) => (i % K2 === (i < K2 ? 0 : 5) ? 0.5 : 0.05)) });
    expect(many.curves.roc).toEqual([]);
    expect(many.notes[0]).toMatch(/ROC and PR curves omitted: 11 classes/);
    expectKilnError(() => cardCurvesFromPredictions({ task: 'multiclass', classes: ['a', 'b', 'c'], labels: [0], probabilities: [1, 0] }), 'E_USAGE');
  });

  it('regression: residual histogram over every row and an even-stride scatter sample', () => {
    const actual = Array.from({ length: 100 }, (_, i) => i);
    const predicted = actual.map((v) => v + ((v % 3) - 1));
    const r = cardCurvesFromPredictions({ task: 'regression', actual, predicted, bins: 3, maxPoints: 30 });
    expect(r.curves.residualHistogram!.counts.reduce((a, b) => a + b, 0)).toBe(100);
    r.curves.residualHistogram!.edges.forEach((e, i) => expect(e).toBeCloseTo([-1, -1 / 3, 1 / 3, 1][i]!, 12));
    expect(r.curves.residualHistogram!.counts).toEqual([33, 33, 34]); // residual 1 - v % 3: -1 (33×), 0 (33×), 1 (34×)
    expect(r.curves.predictedVsActual!.actual).toEqual(actual.filter((_, i) => i % 4 === 0));
    expect(r.curves.predictedVsActual!.totalRows).toBe(100);
    expect(r.notes[0]).toMatch(/one row in 4/);
    expectKilnError(() => cardCurvesFromPredictions({ task: 'regression', actual: [1, NaN], predicted: [1, 2] }), 'E_USAGE');
  });
});
