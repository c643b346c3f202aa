// benchmarkModel in-process: multiclass and binary models, models without class names, and the
// failures that must become failed entries (regression model, missing column, missing file).
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ColumnBatch, columnFromValues } from '../../../src/batch/column-batch.js';
import { benchmarkModel, type ValidationData } from '../../../src/evaluate/bench-models.js';
import { precisionRecallF1 } from '../../../src/evaluate/metrics.js';
import { GBDT } from '../../../src/models/gbdt.js';
import { LogisticRegression } from '../../../src/models/linear.js';
import { seededRandom } from '../../../src/validate/corpus.js';
import { makeTemp, rmTemp } from '../../helpers/paths.js';

const tmp = makeTemp('kiln-bench-models-');
afterAll(() => rmTemp(tmp));

const N = 600;
const rand = seededRandom(21);
const a = Array.from({ length: N }, () => rand());
const b = Array.from({ length: N }, () => rand());
const cls = a.map((v, i) => (v + 0.1 * b[i]! < 0.35 ? 0 : v < 0.7 ? 1 : 2));
const names = ['lo', 'mid', 'hi'];
const features = new ColumnBatch([columnFromValues('a', 'float64', a), columnFromValues('b', 'float64', b)], N);

function data(labels: unknown[], type: 'utf8' | 'int32'): ValidationData {
  const batch = new ColumnBatch([...features.columns, columnFromValues('label', type, labels)], N);
  return { batch, target: 'label', info: { path: '/v.csv', sha256: '0'.repeat(64), rows: N, dropped_unlabeled: 0, target: 'label', symbol: null } };
}

const fast = { warmup: 5, repetitions: 50, throughputReps: 1 };
let multiFile: string;
let binaryFile: string;
let regressionFile: string;
let multi: GBDT;

beforeAll(async () => {
  multi = await new GBDT({ objective: 'multiclass', numClass: 3, nEstimators: 10, numLeaves: 8, seed: 1, numThreads: 1 }).fit(features, Float64Array.from(cls));
  multi.setClasses(names);
  multiFile = path.join(tmp, 'multi.json');
  await multi.save(multiFile);
  const yb = Float64Array.from(cls, (c) => (c === 2 ? 1 : 0));
  const lr = await new LogisticRegression({ numThreads: 1 }).fit(features, yb);
  binaryFile = path.join(tmp, 'binary.json');
  await lr.save(binaryFile);
  const reg = await new GBDT({ objective: 'regression', nEstimators: 5, seed: 1, numThreads: 1 }).fit(features, Float64Array.from(a));
  regressionFile = path.join(tmp, 'regression.json');
  await reg.save(regressionFile);
});

describe('benchmarkModel', () => {
  it('multiclass: labels by class name, macro F1, full confusion matrix, no binary components', async () => {
    const e = await benchmarkModel({ name: 'multi', ref: multiFile, path: multiFile }, data(cls.map((c) => names[c]), 'utf8'), fast);
    expect(e.status).toBe('ok');
    expect(e).toMatchObject({ task: 'multiclass', classes: names, positive_class: null, threshold: null, confusion: null, rows: N, kind: 'gbdt' });
    const pred = await multi.predictLabels(features);
    expect(e.f1_score).toBeCloseTo(precisionRecallF1(cls, pred, { average: 'macro', labels: [0, 1, 2] }).f1, 12);
    expect(e.confusion_matrix!.flat().reduce((s, v) => s + v, 0)).toBe(N);
    expect(e.confusion_matrix!.map((row, i) => row[i]!).reduce((s, v) => s + v, 0) / N).toBeCloseTo(e.accuracy!, 12);
    expect(e.auc!).toBeGreaterThan(0.9);
    expect(e.latency!.repetitions).toBe(50);
    expect(e.model_sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a model without class names takes integer labels; binary components add up', async () => {
    const e = await benchmarkModel({ name: 'bin', ref: binaryFile, path: binaryFile }, data(cls.map((c) => (c === 2 ? 1 : 0)), 'int32'), fast);
    expect(e.status).toBe('ok');
    expect(e).toMatchObject({ task: 'binary', classes: null, positive_class: '1', threshold: 0.5, kind: 'linear' });
    const { tp, fp, tn, fn } = e.confusion!;
    expect(tp + fp + tn + fn).toBe(N);
    expect(e.recall).toBeCloseTo(tp / (tp + fn), 12);
  });

  it('labels the model does not know fail that model only', async () => {
    const e = await benchmarkModel({ name: 'multi', ref: multiFile, path: multiFile }, data(cls.map((c) => ['x', 'y', 'z'][c]), 'utf8'), fast);
    expect(e.status).toBe('failed');
    expect(e.error).toMatchObject({ code: 'E_SCHEMA', message: expect.stringMatching(/label "[xyz]" at row 1 .* not a class/) });
  });

  it('a regression model, a missing column or a missing file is a failed entry, not a throw', async () => {
    const reg = await benchmarkModel({ name: 'reg', ref: regressionFile, path: regressionFile }, data(cls, 'int32'), fast);
    expect(reg).toMatchObject({ status: 'failed', error: { code: 'E_USAGE', message: expect.stringMatching(/regression model; kiln bench measures classifiers/) } });
    const narrow: ValidationData = { ...data(cls.map((c) => names[c]), 'utf8') };
    narrow.batch = narrow.batch.select(['a', 'label']);
    const col = await benchmarkModel({ name: 'multi', ref: multiFile, path: multiFile }, narrow, fast);
    expect(col).toMatchObject({ status: 'failed', error: { code: 'E_SCHEMA', message: expect.stringMatching(/column "b" that multi needs/) } });
    const missing = path.join(tmp, 'nope.json');
    const gone = await benchmarkModel({ name: 'gone', ref: missing, path: missing }, data(cls, 'int32'), fast);
    expect(gone.status).toBe('failed');
    expect(gone.model_sha256).toBeNull();
    expect(gone.f1_score).toBeNull();
  });
});
