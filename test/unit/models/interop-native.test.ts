import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GBDT } from '../../../src/models/gbdt.js';
import type { GbdtModelJson } from '../../../src/models/format.js';
import { readLightGBMModel } from '../../../src/models/interop/lightgbm.js';
import { readXGBoostModel } from '../../../src/models/interop/xgboost.js';
import { ROOT } from '../../helpers/paths.js';
import { rowsFromFixture } from '../../helpers/tree-reference.js';

const XGB = path.join(ROOT, 'test/oracle/xgboost');
const LGB = path.join(ROOT, 'test/oracle/lightgbm');

interface Expected {
  rows: Array<Array<number | null>>;
  predict: number[] | number[][];
}

function readExpected(file: string): { rows: number[][]; outputs: number[] } {
  const e = JSON.parse(fs.readFileSync(file, 'utf8')) as Expected;
  return { rows: rowsFromFixture(e.rows), outputs: (e.predict as Array<number | number[]>).flat() };
}

/** The first output further than `tolerance` from the expected one, described with its row; null when all match. */
function firstMismatch(got: ArrayLike<number>, want: number[], rows: number[][], tolerance: number): string | null {
  expect(got.length).toBe(want.length);
  const k = want.length / rows.length;
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) < tolerance)) return `row ${Math.floor(i / k)} ${JSON.stringify(rows[Math.floor(i / k)].map((v) => (Number.isNaN(v) ? null : v)))}: got ${got[i]}, expected ${want[i]}`;
  }
  return null;
}

/** Native batch (float64, and float32 when the expectation holds for float32 input) and single-row predictions against expected outputs. */
async function checkNative(model: GbdtModelJson, rows: number[][], want: number[], tolerance: number, float32: boolean): Promise<void> {
  const gbdt = GBDT.fromJSON(model);
  const cols = model.features.length;
  const flat = rows.flat();
  const f64 = await gbdt.predict({ values: Float64Array.from(flat), rows: rows.length, cols });
  expect(firstMismatch(f64, want, rows, tolerance)).toBeNull();
  if (float32) {
    const f32 = await gbdt.predict({ values: Float32Array.from(flat), rows: rows.length, cols });
    expect(firstMismatch(f32, want, rows, tolerance)).toBeNull();
  }
  const single: number[] = [];
  for (const row of rows) {
    const out = gbdt.predictSync(row);
    if (typeof out === 'number') single.push(out);
    else single.push(...out);
  }
  expect(firstMismatch(single, want, rows, tolerance)).toBeNull();
}

describe('native prediction of imported models', () => {
  for (const name of ['binary', 'multiclass', 'regression']) {
    it(`XGBoost ${name}: native predictions match XGBoost's within 1e-6 (float32 and float64 input, NaN rows included)`, async () => {
      const model = await readXGBoostModel(path.join(XGB, `${name}.json`));
      const { rows, outputs } = readExpected(path.join(XGB, `${name}.expected.json`));
      await checkNative(model, rows, outputs, 1e-6, true);
    });
  }

  for (const name of ['binary', 'multiclass', 'regression', 'huber']) {
    it(`LightGBM ${name}: native predictions match the LightGBM evaluator within 1e-9`, async () => {
      const model = await readLightGBMModel(path.join(LGB, `${name}.txt`));
      const { rows, outputs } = readExpected(path.join(LGB, `${name}.expected.json`));
      await checkNative(model, rows, outputs, 1e-9, false);
    });
  }

  for (const name of ['lgb-multiclass', 'lgb-regression']) {
    it(`${name}: native predictions of the LightGBM model match XGBoost's predictions of its export within 1e-6`, async () => {
      const model = await readLightGBMModel(path.join(LGB, `${name.slice(4)}.txt`));
      const { rows, outputs } = readExpected(path.join(XGB, 'exported', `${name}.predictions.json`));
      await checkNative(model, rows, outputs, 1e-6, true);
    });
  }
});
