// Building blocks of kiln train: batch row ops, seeded splits, the config, the run store.
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { KilnError } from '../../../bindings/errors.js';
import { ColumnBatch, columnFromValues } from '../../../src/batch/column-batch.js';
import { concatBatches, takeRows } from '../../../src/batch/ops.js';
import { resolveTrainConfig, validateTrainConfig } from '../../../src/train/config.js';
import { splitRows } from '../../../src/train/split.js';
import { compareRuns, flattenParams, getRun, listRuns, recordRun, type RunRecord } from '../../../src/train/store.js';
import { makeTemp, rmTemp } from '../../helpers/paths.js';

const tmp = makeTemp('kiln-train-parts-');
afterAll(() => rmTemp(tmp));

function batch(rows: Array<[number | null, string | null, boolean]>): ColumnBatch {
  return new ColumnBatch(
    [
      columnFromValues('x', 'float64', rows.map((r) => r[0])),
      columnFromValues('s', 'utf8', rows.map((r) => r[1])),
      columnFromValues('b', 'bool', rows.map((r) => r[2])),
    ],
    rows.length,
  );
}

describe('batch row ops', () => {
  const a = batch([[1, 'one', true], [null, 'two', false]]);
  const b = batch([[3, null, true], [4, 'four', false], [5, 'fünf', true]]);

  it('concatBatches keeps values, text and nulls in order', () => {
    const c = concatBatches([a, b]);
    expect(c.numRows).toBe(5);
    expect(c.toRows()).toEqual([...a.toRows(), ...b.toRows()]);
    expect(c.column('x').nullCount).toBe(1);
    expect(c.column('s').nullCount).toBe(1);
  });

  it('takeRows gathers rows in the given order, repeats allowed', () => {
    const c = concatBatches([a, b]);
    const t = takeRows(c, [4, 1, 4, 0]);
    const all = c.toRows();
    expect(t.toRows()).toEqual([all[4], all[1], all[4], all[0]]);
    expect(t.column('x').nullCount).toBe(1);
    expect(() => takeRows(c, [5])).toThrow(KilnError);
  });

  it('concatBatches refuses different columns', () => {
    const other = new ColumnBatch([columnFromValues('x', 'float64', [1])], 1);
    expect(() => concatBatches([a, other])).toThrow(/different columns/);
  });
});

describe('splitRows', () => {
  const n = 1000;
  const labels = Float64Array.from({ length: n }, (_, i) => (i % 10 === 0 ? 1 : 0));

  it('stratified: disjoint, complete, class balance kept, seeded', () => {
    const s = splitRows(n, { valid: 0.15, test: 0.15 }, { kind: 'stratified', seed: 7, labels });
    const all = [...s.train, ...s.valid, ...s.test].sort((x, y) => x - y);
    expect(all).toEqual(Array.from({ length: n }, (_, i) => i));
    const pos = (rows: Int32Array): number => rows.reduce((k, r) => k + labels[r]!, 0);
    expect(pos(s.valid)).toBe(15);
    expect(pos(s.test)).toBe(15);
    expect(s.valid.length).toBe(150);
    expect(s.test.length).toBe(150);
    const again = splitRows(n, { valid: 0.15, test: 0.15 }, { kind: 'stratified', seed: 7, labels });
    expect(again).toEqual(s);
    const other = splitRows(n, { valid: 0.15, test: 0.15 }, { kind: 'stratified', seed: 8, labels });
    expect(other.test).not.toEqual(s.test);
  });

  it('temporal: the newest rows are the test split', () => {
    const time = Float64Array.from({ length: n }, (_, i) => n - i);
    const s = splitRows(n, { valid: 0.1, test: 0.2 }, { kind: 'temporal', seed: 1, time });
    expect(Math.max(...Array.from(s.train, (r) => time[r]!))).toBeLessThan(Math.min(...Array.from(s.valid, (r) => time[r]!)));
    expect(Math.max(...Array.from(s.valid, (r) => time[r]!))).toBeLessThan(Math.min(...Array.from(s.test, (r) => time[r]!)));
    expect(s.test.length).toBe(200);
  });

  it('bad fractions are refused', () => {
    expect(() => splitRows(10, { valid: 0.6, test: 0.5 }, { kind: 'random', seed: 1 })).toThrow(KilnError);
  });
});

describe('train config', () => {
  it('defaults, file and flags merge in that order', () => {
    const cfg = resolveTrainConfig(validateTrainConfig({ seed: 5, model: { kind: 'logreg' }, split: { valid: 0.2 } }), { seed: 9 }, false);
    expect(cfg.seed).toBe(9);
    expect(cfg.model.kind).toBe('logreg');
    expect(cfg.split).toEqual({ kind: 'stratified', valid: 0.2, test: 0.15 });
    expect(cfg.calibration.method).toBe('isotonic');
    expect(cfg.threshold.objective).toBe('f1');
    expect(resolveTrainConfig({}, {}, true).split.test).toBe(0);
  });

  it('bad configs name the field', () => {
    expect(() => validateTrainConfig({ model: { kind: 'forest' } })).toThrow(/\/model\/kind/);
    expect(() => validateTrainConfig({ bogus: 1 })).toThrow(/bogus/);
    expect(() => validateTrainConfig({ threshold: { objective: 'profit' } })).toThrow(/costs/);
    expect(() => validateTrainConfig({ split: { kind: 'temporal' } })).toThrow(/data.time/);
    expect(() => validateTrainConfig({ split: { valid: 0.5, test: 0.5 } })).toThrow(/below 1/);
  });
});

describe('run store', () => {
  const store = path.join(tmp, 'store', 'kiln.duckdb');
  const run = (id: string, seed: number, started: string): RunRecord => ({
    runId: id, name: 'demo', command: 'train', status: 'ok', startedAt: started, endedAt: started, dir: `/tmp/${id}`,
    modelKind: 'gbdt', task: 'binary', seed, dataSha256: 'a'.repeat(64), datasetId: 'ds_aaaaaaaaaaaaaaaa', modelSha256: 'b'.repeat(64),
    kilnVersion: '0.1.0', gitCommit: null,
  });

  it('records, lists newest first, shows by prefix and compares', async () => {
    await expect(listRuns(store)).rejects.toThrow(/no run store/);
    await recordRun(store, run('11111111-aaaa', 1, '2026-11-23T08:00:00.000Z'), flattenParams({ seed: 1, model: { params: { numLeaves: 31 } } }), { valid: { auc: 0.8 }, test: { auc: 0.79, f1: 0.5 } });
    await recordRun(store, run('22222222-bbbb', 2, '2026-11-23T09:00:00.000Z'), flattenParams({ seed: 2, model: { params: { numLeaves: 63 } } }), { valid: { auc: 0.85 }, test: { auc: 0.84, f1: 0.55 } });
    const list = await listRuns(store);
    expect(list.map((r) => r.runId)).toEqual(['22222222-bbbb', '11111111-aaaa']);
    expect(list[0]!.metrics).toEqual({ auc: 0.84, f1: 0.55 });
    expect(list[0]!.startedAt).toBe('2026-11-23T09:00:00.000Z');
    const one = await getRun(store, '1111');
    expect(one.params['model.params.numLeaves']).toBe('31');
    expect(one.metrics['valid.auc']).toBe(0.8);
    await expect(getRun(store, '9999')).rejects.toThrow(/no run/);
    await expect(getRun(store, '1')).rejects.toThrow(/too short/);
    expect((await getRun(store, 'latest')).runId).toBe('22222222-bbbb');
    const c = await compareRuns(store, '1111', '2222');
    expect(c.params.map((p) => p.key)).toEqual(['model.params.numLeaves', 'seed']);
    const auc = c.metrics.find((m) => m.name === 'test.auc')!;
    expect(auc.delta).toBeCloseTo(0.05, 12);
    // Recording the same run id again replaces it.
    await recordRun(store, run('11111111-aaaa', 1, '2026-11-23T08:00:00.000Z'), {}, { test: { auc: 0.5 } });
    expect((await getRun(store, '11111111-aaaa')).metrics).toEqual({ 'test.auc': 0.5 });
    expect(fs.existsSync(store)).toBe(true);
  });
});
