// Model-card inputs built from seeded synthetic predictions (no native addon needed), for the
// card unit tests. The browser test builds its cards from real GBDT runs instead.
import { cardCurvesFromPredictions, type CardInput } from '../../src/evaluate/card.js';
import type { EnvironmentSnapshot } from '../../src/lineage/environment.js';
import { seededRandom } from '../../src/validate/corpus.js';
import { gaussian } from './dense-data.js';

/** A feature name that would run code if the page did not escape it. */
export const HOSTILE_NAME = `<script>alert("pwned")</script><img src=x onerror=alert(1)> & 'quotes'`;

/** A fixed environment snapshot (so rendering tests do not depend on the machine). */
export const FIXED_ENV: EnvironmentSnapshot = {
  node: 'v20.0.0',
  platform: 'linux',
  arch: 'x64',
  cpuModel: 'Test CPU <model>',
  cores: 2,
  memoryBytes: 8 * 2 ** 30,
  simdLevel: 'avx2',
  cudaCompiled: false,
  gpu: null,
  packages: { kiln: '0.1.0', ajv: '8.0.0', '@duckdb/node-api': null },
  env: { KILN_THREADS: '2' },
};

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

function common(task: CardInput['task']): Pick<CardInput, 'runId' | 'startedAt' | 'endedAt' | 'environment' | 'git' | 'task'> {
  return {
    runId: `run-${task}-0001`,
    startedAt: '2024-05-01T10:00:00.000Z',
    endedAt: '2024-05-01T10:02:30.500Z',
    task,
    environment: FIXED_ENV,
    git: { commit: 'a'.repeat(40), branch: 'main', dirty: false },
  };
}

/** A binary card from 2,000 seeded rows (30 % positive, informative but noisy scores). */
export function binaryCardInput(featureNames = ['age', 'income', HOSTILE_NAME, 'tenure', 'score_2']): CardInput {
  const rnd = seededRandom(7);
  const n = 2000;
  const labels = new Float64Array(n);
  const probs = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = rnd() < 0.3 ? 1 : 0;
    probs[i] = sigmoid(-1 + 2.2 * labels[i]! + 1.1 * gaussian(rnd));
  }
  const classes = ['no', 'yes'];
  const { curves, confusionMatrix, notes } = cardCurvesFromPredictions({ task: 'binary', classes, labels, probabilities: probs, threshold: 0.4 });
  const pos = labels.reduce((a, b) => a + b, 0);
  return {
    ...common('binary'),
    classes,
    model: { kind: 'gbdt', objective: 'binary', params: { numLeaves: 31, learningRate: 0.1, nEstimators: 200, seed: 42 }, bestIteration: 87, modelHash: 'b'.repeat(64) },
    metrics: { 'test.auc': curves.roc![0]!.auc, 'test.accuracy': 0.81, 'test.logloss': 0.42, 'test.brier': 0.13, 'test.ece': 0.021, 'test.undefined_metric': NaN },
    classReport: [
      { label: 'no', precision: 0.85, recall: 0.9, f1: 0.874, support: n - pos },
      { label: 'yes', precision: 0.7, recall: 0.6, f1: 0.646, support: pos },
    ],
    confusionMatrix,
    curves,
    featureImportance: { measure: 'total gain', features: featureNames.map((name, i) => ({ name, gain: (featureNames.length - i) * 10.5 + (i === 2 ? 100 : 0), splits: 3 * (i + 1) })) },
    data: {
      target: 'y',
      featureCount: featureNames.length,
      evaluatedOn: 'test',
      splits: [
        { name: 'train', rows: 8000, classCounts: { no: 5600, yes: 2400 } },
        { name: 'test', rows: n, classCounts: { no: n - pos, yes: pos } },
      ],
      datasets: [{ role: 'train', path: '/data/train.csv', sha256: 'c'.repeat(64), versionId: 'ds_123' }],
    },
    calibration: { method: 'isotonic', fittedOn: 'calibration', rows: 1000, before: { ece: 0.05, brier: 0.14 }, after: { ece: 0.021, brier: 0.13 } },
    threshold: { objective: 'f1', value: 0.4, objectiveValue: 0.646 },
    conformal: { alpha: 0.1, kind: 'sets', calibrationRows: 1000, coverage: 0.91, meanSetSize: 1.2 },
    notes,
  };
}

/** A multiclass card (K classes, 1,500 rows, softmax of noisy class scores). */
export function multiclassCardInput(K = 3): CardInput {
  const rnd = seededRandom(11);
  const n = 1500;
  const classes = Array.from({ length: K }, (_, k) => `class_${k}`);
  const labels = new Float64Array(n);
  const probs = new Float64Array(n * K);
  for (let i = 0; i < n; i++) {
    const y = Math.floor(rnd() * K);
    labels[i] = y;
    const z = classes.map((_, k) => (k === y ? 1.5 : 0) + gaussian(rnd));
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    e.forEach((v, k) => (probs[i * K + k] = v / s));
  }
  const { curves, confusionMatrix, notes } = cardCurvesFromPredictions({ task: 'multiclass', classes, labels, probabilities: probs });
  return {
    ...common('multiclass'),
    classes,
    model: { kind: 'gbdt', objective: 'multiclass', params: { numClass: K }, bestIteration: 40, modelHash: null },
    metrics: { accuracy: 0.6 },
    confusionMatrix,
    curves,
    featureImportance: { features: [{ name: 'f0', gain: 3, splits: 4 }, { name: 'f1', gain: 5, splits: 2 }] },
    data: { target: 'label', featureCount: 2, evaluatedOn: 'valid', splits: [{ name: 'valid', rows: n, classCounts: Object.fromEntries(classes.map((c, k) => [c, labels.filter((v) => v === k).length])) }] },
    notes,
  };
}

/** A regression card (1,200 rows, y = 3x + noise, a slightly biased model). */
export function regressionCardInput(): CardInput {
  const rnd = seededRandom(5);
  const n = 1200;
  const actual = new Float64Array(n);
  const predicted = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const x = rnd() * 10;
    actual[i] = 3 * x + gaussian(rnd) * 2;
    predicted[i] = 3 * x + 0.3 + gaussian(rnd) * 0.5;
  }
  const { curves, notes } = cardCurvesFromPredictions({ task: 'regression', actual, predicted, maxPoints: 500 });
  return {
    ...common('regression'),
    model: { kind: 'gbdt', objective: 'regression', params: { numLeaves: 15 }, bestIteration: 120, modelHash: 'd'.repeat(64) },
    metrics: { rmse: 2.1, mae: 1.7, r2: 0.94 },
    curves,
    featureImportance: { features: [{ name: 'x', gain: 100, splits: 300 }] },
    data: { target: 'y', featureCount: 1, evaluatedOn: 'test', splits: [{ name: 'test', rows: n }] },
    conformal: { alpha: 0.1, kind: 'intervals', calibrationRows: 400, coverage: 0.9, meanIntervalWidth: 6.6 },
    notes,
  };
}
