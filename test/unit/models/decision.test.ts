// Calibration and decision threshold inside GBDT, LogisticRegression and MLP models: predict
// applies the calibrator, predictLabels the threshold; both survive save -> load -> save byte for
// byte; models without them are unchanged; bad stored values fail closed (E_MODEL_FORMAT).
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import {
  Calibrator,
  GBDT,
  LogisticRegression,
  MLP,
  loadModel,
  optimizeThreshold,
  type KilnModel,
} from '../../../src/index.js';
import { seededRandom } from '../../../src/validate/corpus.js';
import { ROOT, makeTemp, rmTemp } from '../../helpers/paths.js';
import { expectCode, expectCodeAsync } from '../../helpers/errors.js';

const tmp = makeTemp('kiln-decision-');
afterAll(() => rmTemp(tmp));

const rand = seededRandom(2024);
const rows = 900, cols = 3;
const values = Float64Array.from({ length: rows * cols }, () => rand() * 2 - 1);
const yBin = Float64Array.from({ length: rows }, (_, r) => (rand() < 1 / (1 + Math.exp(-3 * (values[r * cols]! + 0.5 * values[r * cols + 1]!))) ? 1 : 0));
const yMulti = Float64Array.from({ length: rows }, (_, r) => {
  const v = values[r * cols]! + 0.3 * (rand() - 0.5);
  return v < -0.3 ? 0 : v < 0.3 ? 1 : 2;
});
const X = { values, rows, cols };
const row = (r: number): Float64Array => values.subarray(r * cols, (r + 1) * cols);

interface DecisionModel {
  predict(X: unknown, opts?: { calibrated?: boolean }): Promise<Float64Array>;
  predictSync(row: Float64Array): number | Float64Array;
  predictLabels(X: unknown): Promise<Int32Array>;
  predictLabelSync(row: Float64Array): number;
  setCalibration(c: unknown): unknown;
  setThreshold(t: unknown, o?: unknown): unknown;
  readonly threshold: unknown;
  readonly calibration: Calibrator | null;
  save(file: string): Promise<void>;
}

const kinds: [string, (y: Float64Array, multiclass: boolean) => Promise<DecisionModel>][] = [
  ['gbdt', async (y, mc) => (await new GBDT({ nEstimators: 8, numLeaves: 6, ...(mc ? { objective: 'multiclass' } : {}) }).fit(X, y)) as unknown as DecisionModel],
  ['linear', async (y) => (await new LogisticRegression({}).fit(X, y)) as unknown as DecisionModel],
  ['mlp', async (y, mc) => (await new MLP({ hiddenLayers: [6], epochs: 4, seed: 3, ...(mc ? { objective: 'multiclass' } : {}) }).fit(X, y)) as unknown as DecisionModel],
];



describe.each(kinds)('%s binary', (kind, make) => {
  it('predict applies the calibrator, predictLabels the threshold; round-trip is byte-stable; clearing restores the original file', async () => {
    const model = await make(yBin, false);
    const plain = path.join(tmp, `${kind}-plain.json`);
    await model.save(plain);
    const plainText = fs.readFileSync(plain, 'utf8');
    const plainObj = JSON.parse(plainText) as Record<string, unknown>;
    expect('calibration' in plainObj || 'threshold' in plainObj).toBe(false);
    expect(model.calibration).toBeNull();
    expect(model.threshold).toBeNull();

    const raw = await model.predict(X);
    expect(Array.from(await model.predictLabels(X))).toEqual(Array.from(raw, (p) => (p >= 0.5 ? 1 : 0)));
    // Calibrate on the first half, choose the threshold on the calibrated second half.
    const half = rows / 2;
    const cal = Calibrator.fit(raw.subarray(0, half), yBin.subarray(0, half), { method: 'isotonic', minSamples: 0 });
    model.setCalibration(cal);
    const calibrated = await model.predict(X);
    expect(Array.from(calibrated)).toEqual(Array.from(cal.apply(raw)));
    expect(Array.from(calibrated)).not.toEqual(Array.from(raw));
    expect(Array.from(await model.predict(X, { calibrated: false }))).toEqual(Array.from(raw));
    for (let r = 0; r < 20; r++) expect(model.predictSync(row(r))).toBe(calibrated[r]);

    const choice = optimizeThreshold(yBin.subarray(half), calibrated.subarray(half), { objective: 'profit', costs: { tp: 5, fp: -1, tn: 0, fn: -2 } });
    model.setThreshold(choice);
    expect(model.threshold).toEqual({ value: choice.threshold, objective: 'profit', objectiveValue: choice.value, costs: { tp: 5, fp: -1, tn: 0, fn: -2 }, appliesTo: 'calibrated' });
    const labels = await model.predictLabels(X);
    expect(Array.from(labels)).toEqual(Array.from(calibrated, (p) => (p >= choice.threshold ? 1 : 0)));
    for (let r = 0; r < 20; r++) expect(model.predictLabelSync(row(r))).toBe(labels[r]);

    const a = path.join(tmp, `${kind}-cal.json`), b = path.join(tmp, `${kind}-cal-again.json`);
    await model.save(a);
    const loaded = (await loadModel(a)) as unknown as DecisionModel;
    await loaded.save(b);
    expect(fs.readFileSync(b, 'utf8')).toBe(fs.readFileSync(a, 'utf8'));
    expect(Array.from(await loaded.predict(X))).toEqual(Array.from(calibrated));
    expect(Array.from(await loaded.predictLabels(X))).toEqual(Array.from(labels));
    expect(loaded.threshold).toEqual(model.threshold);
    expect(loaded.calibration!.toJSON()).toEqual(cal.toJSON());
    const stored = JSON.parse(fs.readFileSync(a, 'utf8'));
    expect(stored.calibration).toEqual(cal.toJSON());

    // A threshold on uncalibrated probabilities compares the raw output even with a calibrator.
    loaded.setThreshold(null);
    loaded.setThreshold(0.35, { appliesTo: 'uncalibrated' });
    expect(Array.from(await loaded.predictLabels(X))).toEqual(Array.from(raw, (p) => (p >= 0.35 ? 1 : 0)));
    expect(loaded.predictLabelSync(row(3))).toBe(raw[3]! >= 0.35 ? 1 : 0);

    // Changing the calibration under a threshold chosen on calibrated output is refused.
    expectCode(() => model.setCalibration(null), 'E_USAGE');
    model.setThreshold(null);
    model.setCalibration(null);
    const cleared = path.join(tmp, `${kind}-cleared.json`);
    await model.save(cleared);
    expect(fs.readFileSync(cleared, 'utf8')).toBe(plainText);
    expect(Array.from(await model.predict(X))).toEqual(Array.from(raw));
  });

  it('a manual threshold without a calibrator; bad thresholds are refused', async () => {
    const model = await make(yBin, false);
    expectCode(() => model.setThreshold(Number.NaN), 'E_USAGE');
    expectCode(() => model.setThreshold(0.5, { appliesTo: 'calibrated' }), 'E_USAGE');
    model.setThreshold(0.7);
    expect(model.threshold).toEqual({ value: 0.7, objective: 'manual', objectiveValue: null, costs: null, appliesTo: 'uncalibrated' });
    const raw = await model.predict(X);
    expect(Array.from(await model.predictLabels(X))).toEqual(Array.from(raw, (p) => (p >= 0.7 ? 1 : 0)));
    const file = path.join(tmp, `${kind}-manual.json`);
    await model.save(file);
    const loaded = (await loadModel(file)) as unknown as DecisionModel;
    expect(loaded.threshold).toEqual(model.threshold);
  });

  it('fails closed on a bad stored calibration or threshold (E_MODEL_FORMAT)', async () => {
    const model = await make(yBin, false);
    const raw = await model.predict(X);
    model.setCalibration(Calibrator.fit(raw, yBin, { method: 'sigmoid' }));
    model.setThreshold(0.4);
    const file = path.join(tmp, `${kind}-good.json`);
    await model.save(file);
    const good = JSON.parse(fs.readFileSync(file, 'utf8'));
    const bad: [string, (m: Record<string, any>) => void, RegExp?][] = [
      ['calibration for 3 classes', (m) => (m.calibration.numClass = 3)],
      ['unknown calibration method', (m) => (m.calibration.method = 'beta')],
      ['calibration map of the wrong shape', (m) => (m.calibration.calibrators = [{ x: [0, 1], y: [0, 1] }])],
      ['threshold on calibrated output without a calibrator', (m) => delete m.calibration, /calibrat/],
      ['costs without profit', (m) => (m.threshold.costs = { tp: 1, fp: 0, tn: 0, fn: 0 })],
      ['threshold value missing', (m) => delete m.threshold.value],
      ['unknown objective', (m) => (m.threshold.objective = 'accuracy')],
    ];
    for (const [what, mutate, pattern] of bad) {
      const m = structuredClone(good);
      mutate(m);
      const f = path.join(tmp, `${kind}-bad.json`);
      fs.writeFileSync(f, JSON.stringify(m));
      await expectCodeAsync(() => loadModel(f), 'E_MODEL_FORMAT', pattern).catch((e) => {
        throw new Error(`${what}: ${(e as Error).message}`);
      });
    }
  });
});

describe.each(kinds)('%s multiclass', (kind, make) => {
  it('calibrates all classes (rows renormalised), labels are the calibrated argmax, no threshold', async () => {
    const model = await make(yMulti, true);
    const raw = await model.predict(X);
    const cal = Calibrator.fit(raw, yMulti, { method: 'sigmoid' });
    expect(cal.numClass).toBe(3);
    model.setCalibration(cal);
    const p = await model.predict(X);
    expect(Array.from(p)).toEqual(Array.from(cal.apply(raw)));
    for (let r = 0; r < rows; r += 97) expect(Math.abs(p[r * 3]! + p[r * 3 + 1]! + p[r * 3 + 2]! - 1)).toBeLessThan(1e-12);
    // The one-row path computes the raw probabilities in its own loop (equal to ~1 ulp).
    const sync = model.predictSync(row(5)) as Float64Array;
    for (let c = 0; c < 3; c++) expect(Math.abs(sync[c]! - p[15 + c]!)).toBeLessThan(1e-12);
    const labels = await model.predictLabels(X);
    for (let r = 0; r < rows; r++) {
      const q = p.subarray(r * 3, r * 3 + 3);
      expect(labels[r]).toBe(q.indexOf(Math.max(...q)));
    }
    expect(model.predictLabelSync(row(5))).toBe(labels[5]);
    expectCode(() => model.setThreshold(0.3), 'E_USAGE');
    expectCode(() => model.setCalibration(Calibrator.fit(raw.filter((_, i) => i % 3 === 0), yMulti.map((v) => (v > 0 ? 1 : 0)), { method: 'sigmoid' })), 'E_USAGE');
    const a = path.join(tmp, `${kind}-mc.json`), b = path.join(tmp, `${kind}-mc-again.json`);
    await model.save(a);
    const loaded = (await loadModel(a)) as unknown as DecisionModel;
    await loaded.save(b);
    expect(fs.readFileSync(b, 'utf8')).toBe(fs.readFileSync(a, 'utf8'));
    expect(Array.from(await loaded.predict(X))).toEqual(Array.from(p));
    // A threshold in a multiclass model file is refused on load.
    const m = JSON.parse(fs.readFileSync(a, 'utf8'));
    m.threshold = { value: 0.5, objective: 'manual', objectiveValue: null, costs: null, appliesTo: 'uncalibrated' };
    fs.writeFileSync(b, JSON.stringify(m));
    await expectCodeAsync(() => loadModel(b), 'E_MODEL_FORMAT', /binary/);
  });
});

describe('regression models', () => {
  it('refuse a calibrator, a threshold and predictLabels', async () => {
    const y = Float64Array.from({ length: rows }, (_, r) => values[r * cols]! * 2 + values[r * cols + 2]!);
    const g = await new GBDT({ objective: 'regression', nEstimators: 4 }).fit(X, y);
    const cal = Calibrator.fit([0.1, 0.9, 0.4, 0.6], [0, 1, 0, 1], { method: 'sigmoid' });
    expectCode(() => g.setCalibration(cal), 'E_USAGE');
    expectCode(() => g.setThreshold(0.5), 'E_USAGE');
    await expectCodeAsync(() => g.predictLabels(X), 'E_USAGE');
    const file = path.join(tmp, 'reg.json');
    await g.save(file);
    const m = JSON.parse(fs.readFileSync(file, 'utf8'));
    m.calibration = cal.toJSON();
    fs.writeFileSync(file, JSON.stringify(m));
    await expectCodeAsync(() => loadModel(file), 'E_MODEL_FORMAT', /regression/);
  });
});

it('the model schemas embed calibration.schema.json unchanged', () => {
  const read = (f: string): Record<string, any> => JSON.parse(fs.readFileSync(path.join(ROOT, 'schemas', f), 'utf8'));
  const { $schema: _s, $id: _i, ...cal } = read('calibration.schema.json');
  for (const f of ['model-gbdt.schema.json', 'model-linear.schema.json', 'model-mlp.schema.json']) {
    const s = read(f);
    expect(s.$defs.calibration, f).toEqual(cal);
    expect(s.properties.calibration.$ref, f).toBe('#/$defs/calibration');
    expect(s.properties.threshold.$ref, f).toBe('#/$defs/threshold');
    expect(s.$defs.threshold, f).toEqual(read('model-gbdt.schema.json').$defs.threshold);
  }
});

// KilnModel is the union loadModel returns; every classification member has the decision API.
const _check: (m: KilnModel) => unknown = (m) => m.setThreshold;
void _check;

describe.each(kinds)('%s class names', (kind, make) => {
  it('are stored in the model file, survive load -> save byte for byte, and bad ones are refused', async () => {
    const model = (await make(yMulti, true)) as unknown as DecisionModel & { classes: string[] | null; setClasses(n: readonly string[] | null): unknown };
    expect(model.classes).toBeNull();
    expectCode(() => model.setClasses(['a', 'b']), 'E_USAGE');
    expectCode(() => model.setClasses(['a', 'a', 'b']), 'E_USAGE');
    expectCode(() => model.setClasses(['a', '', 'b']), 'E_USAGE');
    model.setClasses(['low', 'mid', 'high']);
    const a = path.join(tmp, `${kind}-classes.json`), b = path.join(tmp, `${kind}-classes-again.json`);
    await model.save(a);
    const stored = JSON.parse(fs.readFileSync(a, 'utf8'));
    expect(stored.classes).toEqual(['low', 'mid', 'high']);
    const loaded = (await loadModel(a)) as unknown as typeof model;
    expect(loaded.classes).toEqual(['low', 'mid', 'high']);
    await loaded.save(b);
    expect(fs.readFileSync(b, 'utf8')).toBe(fs.readFileSync(a, 'utf8'));
    fs.writeFileSync(b, JSON.stringify({ ...stored, classes: ['low', 'mid'] }));
    await expectCodeAsync(() => loadModel(b), 'E_MODEL_FORMAT', /2 class names for a model of 3 classes/);
    model.setClasses(null);
    expect('classes' in JSON.parse(JSON.stringify((model as unknown as { toJSON(): unknown }).toJSON()))).toBe(false);
  });
});
