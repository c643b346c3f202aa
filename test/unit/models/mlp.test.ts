// MLP: learns real data (sklearn's breast_cancer and digits), early stopping keeps the best epoch,
// determinism across thread counts, the model file, cancellation and bad input (TS API and raw
// native boundary).
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { rawAddon } from '../../../bindings/index.js';
import { MLP } from '../../../src/models/mlp.js';
import { argmax, expectKilnError, gaussian, loadSklearnCsv, selectRows, syntheticClasses, type DenseData } from '../../helpers/dense-data.js';
import { makeTemp, rmTemp } from '../../helpers/paths.js';
import { seededRandom } from '../../../src/validate/corpus.js';

const tmp = makeTemp('kiln-mlp-');
afterAll(() => rmTemp(tmp));

const asX = (d: DenseData) => ({ values: d.values, rows: d.rows, cols: d.cols });

/** Deterministic split: row i % 5 == 0 -> test, == 1 -> valid, else train. */
function split(d: DenseData): { train: DenseData; valid: DenseData; test: DenseData } {
  return { train: selectRows(d, (i) => i % 5 >= 2), valid: selectRows(d, (i) => i % 5 === 1), test: selectRows(d, (i) => i % 5 === 0) };
}

function accuracy(p: Float64Array, y: Float64Array, k: number): number {
  let correct = 0;
  for (let i = 0; i < y.length; i++) {
    const pred = k === 2 ? (p[i]! >= 0.5 ? 1 : 0) : argmax(p, i * k, k);
    if (pred === y[i]) correct++;
  }
  return correct / y.length;
}

describe('learns real data', () => {
  it('breast_cancer (binary): test accuracy >= 0.95, early stopping keeps the best epoch', async () => {
    const { train, valid, test } = split(loadSklearnCsv('breast_cancer.csv'));
    const epochs: number[] = [];
    const model = await new MLP({ hiddenLayers: [32, 16], dropout: 0.1, epochs: 300, earlyStoppingRounds: 15, batchSize: 32, seed: 3 }).fit(asX(train), train.y, {
      valid: { X: asX(valid), y: valid.y },
      onProgress: (p) => epochs.push(p.iteration),
    });
    const t = model.training!;
    expect(accuracy(await model.predict(asX(test)), test.y, 2)).toBeGreaterThanOrEqual(0.95);
    expect(t.earlyStopped).toBe(true);
    expect(t.epochsRun).toBeLessThan(300);
    expect(t.epochsRun - t.bestEpoch).toBe(15);
    const best = Math.min(...t.history.valid);
    expect(t.history.valid.indexOf(best) + 1).toBe(t.bestEpoch);
    expect(t.history.train).toHaveLength(t.epochsRun);
    const p = await model.predict(asX(valid));
    let ll = 0;
    for (let i = 0; i < valid.rows; i++) {
      const q = valid.y[i] === 1 ? p[i]! : 1 - p[i]!;
      ll -= Math.log(q);
    }
    expect(ll / valid.rows).toBeCloseTo(best, 9);
    await new Promise((r) => setTimeout(r, 50));
    expect(epochs[0]).toBe(1);
    expect(epochs.length).toBe(t.epochsRun);
  });

  it('digits (10 classes, softmax): test accuracy >= 0.93 with a held-out validation fraction', async () => {
    const d = loadSklearnCsv('digits.csv.gz', true);
    const train = selectRows(d, (i) => i % 5 !== 0);
    const test = selectRows(d, (i) => i % 5 === 0);
    const model = await new MLP({ objective: 'multiclass', hiddenLayers: [64], epochs: 60, earlyStoppingRounds: 8, validationFraction: 0.15, batchSize: 64, learningRate: 3e-3, seed: 1 }).fit(asX(train), train.y);
    const t = model.training!;
    expect(t.trainRows + t.validRows).toBe(train.rows);
    expect(t.validRows).toBeGreaterThan(150);
    expect(model.numClass).toBe(10);
    const p = await model.predict(asX(test));
    expect(p).toHaveLength(test.rows * 10);
    expect(accuracy(p, test.y, 10)).toBeGreaterThanOrEqual(0.93);
    const one = model.predictSync(test.values.subarray(0, test.cols)) as Float64Array;
    expect(Array.from(one).map((v, j) => Math.abs(v - p[j]!)).every((e) => e < 1e-12)).toBe(true);
  });

  it('regression: fits a smooth function far below the target variance', async () => {
    const rnd = seededRandom(9);
    const rows = 3000;
    const values = new Float64Array(rows * 3);
    const y = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      const a = rnd() * 4 - 2;
      const b = rnd() * 4 - 2;
      values.set([a * 100 + 50, b, rnd()], r * 3);
      y[r] = 10 + 3 * Math.sin(a * 1.5) + b * b + 0.1 * gaussian(rnd);
    }
    const mean = y.reduce((s, v) => s + v, 0) / rows;
    const variance = y.reduce((s, v) => s + (v - mean) ** 2, 0) / rows;
    const model = await new MLP({ objective: 'regression', hiddenLayers: [32, 32], epochs: 80, batchSize: 64, learningRate: 3e-3, seed: 2 }).fit({ values, rows, cols: 3 }, y);
    const t = model.training!;
    expect(t.metric).toBe('mse');
    expect(t.bestEpoch).toBe(t.epochsRun);
    const p = await model.predict({ values, rows, cols: 3 });
    const mse = p.reduce((s, v, i) => s + (v - y[i]!) ** 2, 0) / rows;
    expect(mse).toBeLessThan(0.1 * variance);
    expect(model.predictSync(values.subarray(0, 3))).toBeCloseTo(p[0]!, 10);
  });
});

describe('determinism and the model file', () => {
  const data = syntheticClasses(3000, 30, 2, 21);
  for (let r = 0; r < data.rows; r += 37) data.values[r * data.cols + (r % data.cols)] = NaN;
  const X = { values: data.values, rows: data.rows, cols: data.cols };
  const options = { hiddenLayers: [64, 32], dropout: 0.2, batchSize: 256, epochs: 6, validationFraction: 0.2, earlyStoppingRounds: 3, seed: 17 };

  it('saves byte-identical models for numThreads 1, 2, 3 and 8', async () => {
    const files: string[] = [];
    for (const numThreads of [1, 2, 3, 8]) {
      const model = await new MLP({ ...options, numThreads }).fit(X, data.y);
      const file = path.join(tmp, `mlp-t${numThreads}.json`);
      await model.save(file);
      files.push(fs.readFileSync(file, 'utf8'));
    }
    expect(new Set(files).size).toBe(1);
    const other = await new MLP({ ...options, seed: 18, numThreads: 2 }).fit(X, data.y);
    expect(JSON.stringify(other.toJSON())).not.toBe(files[0]!.trim());
  });

  it('round-trips save -> fromJSON -> save byte-identically, with identical predictions', async () => {
    const model = await new MLP({ ...options, objective: 'multiclass', hiddenLayers: [16, 8, 4] }).fit(X, data.y);
    const a = path.join(tmp, 'a.json');
    const b = path.join(tmp, 'b.json');
    await model.save(a);
    const loaded = MLP.fromJSON(JSON.parse(fs.readFileSync(a, 'utf8')));
    await loaded.save(b);
    expect(fs.readFileSync(b, 'utf8')).toBe(fs.readFileSync(a, 'utf8'));
    const again = await MLP.load(b, { numThreads: 1 });
    const p = await model.predict(X);
    expect(Array.from(await again.predict(X))).toEqual(Array.from(p));
    for (let r = 0; r < 50; r++) {
      const one = again.predictSync(data.values.subarray(r * data.cols, (r + 1) * data.cols)) as Float64Array;
      expect(Math.abs(one[0]! - p[r * 2]!)).toBeLessThan(1e-12);
      expect(Math.abs(one[1]! - p[r * 2 + 1]!)).toBeLessThan(1e-12);
    }
    const json = model.toJSON();
    expect(json).toMatchObject({ format: 'kiln.model', version: 1, kind: 'mlp', activation: 'relu', objective: { name: 'multiclass', numClass: 2 } });
    expect(json.layers.map((l) => [l.inputs, l.outputs])).toEqual([[30, 16], [16, 8], [8, 4], [4, 2]]);
  });
});

describe('cancellation', () => {
  const data = syntheticClasses(20_000, 20, 2, 4);
  const X = { values: data.values, rows: data.rows, cols: data.cols };

  it('rejects with E_CANCELLED when aborted before or during fit', async () => {
    const pre = new AbortController();
    pre.abort();
    await expectKilnError(() => new MLP().fit(X, data.y, { signal: pre.signal }), 'E_CANCELLED');
    const ac = new AbortController();
    const fit = new MLP({ hiddenLayers: [64], epochs: 10_000, seed: 1 }).fit(X, data.y, { signal: ac.signal, onProgress: () => ac.abort() });
    await expectKilnError(() => fit, 'E_CANCELLED', /cancelled/);
  });
});

describe('bad input gives a KilnError, never a crash', () => {
  const X = { values: Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8]), rows: 4, cols: 2 };

  it.each([
    ['unknown option', { hidden: [3] }, /unknown option 'hidden'/],
    ['no hidden layer', { hiddenLayers: [] }, /option hiddenLayers/],
    ['four hidden layers', { hiddenLayers: [4, 4, 4, 4] }, /option hiddenLayers/],
    ['zero width', { hiddenLayers: [8, 0] }, /option hiddenLayers/],
    ['dropout 1', { dropout: 1 }, /option dropout/],
    ['learningRate 0', { learningRate: 0 }, /option learningRate/],
    ['batchSize 0', { batchSize: 0 }, /option batchSize/],
    ['epochs 1.5', { epochs: 1.5 }, /option epochs/],
    ['objective bogus', { objective: 'poisson' }, /option objective must be one of/],
    ['patience conflict', { patience: 3, earlyStoppingRounds: 4 }, /disagree/],
    ['seed negative', { seed: -1 }, /option seed/],
  ])('options: %s -> E_USAGE', async (_name, opts, message) => {
    await expectKilnError(() => new MLP(opts as never), 'E_USAGE', message);
  });

  it('rejects bad targets and call shapes', async () => {
    await expectKilnError(() => new MLP().fit(X, [0, 1, 2, 1]), 'E_NATIVE_INPUT', /objective 'binary' needs labels 0 and 1/);
    await expectKilnError(() => new MLP().fit(X, [0, 1, NaN, 1]), 'E_NATIVE_INPUT', /y\[2\] must be a finite number/);
    await expectKilnError(() => new MLP({ objective: 'multiclass' }).fit(X, [0, 0, 0, 0]), 'E_NATIVE_INPUT', /single class/);
    await expectKilnError(() => new MLP({ objective: 'regression' }).fit(X, [1, 2, Infinity, 3]), 'E_NATIVE_INPUT', /y\[2\]/);
    await expectKilnError(() => new MLP().fit(X, [0, 1, 0]), 'E_NATIVE_INPUT', /3 values but X has 4 rows/);
    await expectKilnError(() => new MLP({ earlyStoppingRounds: 5 }).fit(X, [0, 1, 0, 1]), 'E_USAGE', /needs validation rows/);
    await expectKilnError(() => new MLP({ validationFraction: 0.5 }).fit(X, [0, 1, 0, 1], { valid: { X, y: [0, 1, 0, 1] } }), 'E_USAGE', /not both/);
    await expectKilnError(() => new MLP().fit(X, [0, 1, 0, 1], { valid: { X, y: [0, 1, 3, 1] } }), 'E_NATIVE_INPUT', /valid.y has label 3/);
    await expectKilnError(() => new MLP().fit(X, [0, 1, 0, 1], { valid: { X: { values: new Float64Array(3), rows: 1, cols: 3 }, y: [0] } }), 'E_NATIVE_INPUT', /X has 3 columns, the model has 2/);
  });

  it('trains through NaN and infinite features', async () => {
    const values = Float64Array.from([NaN, 1, Infinity, 2, -Infinity, 3, NaN, NaN, 1e300, 4, 5, -1e300]);
    const model = await new MLP({ epochs: 5 }).fit({ values, rows: 6, cols: 2 }, [0, 1, 0, 1, 0, 1]);
    const p = await model.predict({ values, rows: 6, cols: 2 });
    expect(Array.from(p).every((v) => v >= 0 && v <= 1)).toBe(true);
  });

  it('fromJSON refuses anything but a valid mlp model with E_MODEL_FORMAT', async () => {
    const good = (await new MLP({ hiddenLayers: [3], epochs: 2 }).fit(X, [0, 1, 0, 1])).toJSON();
    const layer0 = good.layers[0]!;
    const bad: Array<[unknown, RegExp]> = [
      [{ ...good, version: 0 }, /version 0 is not supported/],
      [{ ...good, format: 'onnx' }, /format is "onnx"/],
      [{ ...good, activation: 'tanh' }, /activation/],
      [{ ...good, layers: [{ ...layer0, weights: layer0.weights.slice(1) }, good.layers[1]] }, /weights \/ biases do not match/],
      [{ ...good, layers: [good.layers[1], layer0] }, /layers\[0\] has 3 inputs, expected 2/],
      [{ ...good, target: { mean: 0, scale: -1 } }, /scale/],
      [{ ...good, objective: { name: 'binary', numClass: 3 } }, /does not match numClass/],
      [{ ...good, layers: [{ ...layer0, biases: [Infinity, 0, 0] }, good.layers[1]] }, /is Infinity/],
    ];
    for (const [obj, message] of bad) {
      await expectKilnError(() => MLP.fromJSON(obj), 'E_MODEL_FORMAT', message);
    }
  });

  it('raw addon: fitMlp / predictMlp validate everything again', async () => {
    const raw = rawAddon() as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const opts = { rows: 4, cols: 2, layout: 'row', numThreads: 1, objective: 'binary', numClass: 2, hiddenLayers: Int32Array.from([3]), dropout: 0, learningRate: 0.01, l2: 0, batchSize: 2, epochs: 2, patience: 0, validationFraction: 0, seed: 0 };
    const y = Float64Array.from([0, 1, 0, 1]);
    const flag = new Int32Array(1);
    await expectKilnError(() => raw.fitMlp!(X.values, y, { ...opts, hiddenLayers: Int32Array.from([]) }, null, flag), 'E_NATIVE_INPUT', /hiddenLayers must have 1 to 3 entries/);
    await expectKilnError(() => raw.fitMlp!(X.values, y, { ...opts, hiddenLayers: [3] }, null, flag), 'E_NATIVE_INPUT', /hiddenLayers must be a Int32Array/);
    await expectKilnError(() => raw.fitMlp!(X.values, Float64Array.from([0, 1, 2, 1]), opts, null, flag), 'E_NATIVE_INPUT', /targets\[2\] = 2\.0+ is not a class index/);
    await expectKilnError(() => raw.fitMlp!(X.values, new Float32Array(4), opts, null, flag), 'E_NATIVE_INPUT', /targets must be a Float64Array/);
    await expectKilnError(() => raw.fitMlp!(X.values, y, { ...opts, dropout: 1 }, null, flag), 'E_NATIVE_INPUT', /options.dropout/);
    await expectKilnError(() => raw.fitMlp!(X.values, y, opts, { values: X.values, targets: y, rows: 4, cols: 3, layout: 'row' }, flag), 'E_NATIVE_INPUT', /valid.values.length is 8/);
    await expectKilnError(() => raw.fitMlp!(X.values, y, { ...opts, validationFraction: 0.5 }, { values: X.values, targets: y, rows: 4, cols: 2, layout: 'row' }, flag), 'E_NATIVE_INPUT', /not both/);
    const fit = (await raw.fitMlp!(X.values, y, opts, null, flag)) as Record<string, unknown>;
    const popts = { rows: 4, cols: 2, layout: 'row', numThreads: 1 };
    const layers = fit.layers as Array<Record<string, unknown>>;
    await expectKilnError(() => raw.predictMlp!(X.values, popts, { ...fit, layers: [layers[0]] }), 'E_NATIVE_INPUT', /2 to 4 layers/);
    await expectKilnError(() => raw.predictMlp!(X.values, popts, { ...fit, layers: [{ ...layers[0], outputs: 4 }, layers[1]] }), 'E_NATIVE_INPUT', /do not match its shape/);
    await expectKilnError(() => raw.predictMlp!(X.values, popts, { ...fit, objective: 'multiclass', numClass: 3 }), 'E_NATIVE_INPUT', /output layer has 1 units, expected 3/);
    await expectKilnError(() => raw.predictMlp!(X.values, popts, { ...fit, layers: 'x' }), 'E_NATIVE_INPUT', /model.layers must be an Array/);
    const p = (await raw.predictMlp!(X.values, popts, fit)) as Float64Array;
    expect(p).toHaveLength(4);
  });
});
