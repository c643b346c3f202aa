// LogisticRegression against scikit-learn fixtures (test/oracle/logreg_*.json, made by
// benchmarks/oracles/make_logreg_fixture.py), determinism across thread counts, the model file,
// and bad input at the TS API and across the native boundary.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { rawAddon } from '../../../bindings/index.js';
import { ColumnBatch, columnFromValues } from '../../../src/batch/column-batch.js';
import { LogisticRegression } from '../../../src/models/linear.js';
import { argmax, expectKilnError, syntheticClasses } from '../../helpers/dense-data.js';
import { ROOT, makeTemp, rmTemp } from '../../helpers/paths.js';

interface OracleCase {
  C: number;
  classWeight: null | 'balanced' | number[];
  classWeightValues: number[];
  mean: number[];
  scale: number[];
  coef: number[][];
  intercept: number[];
  sklearnCoef: number[][];
  sklearnIntercept: number[];
  sklearnMaxAbsDiff: number;
  probaRows: number;
  proba: number[][];
  sklearnProba: number[][];
}

interface OracleFixture {
  rows: number;
  cols: number;
  numClass: number;
  X: number[][];
  y: number[];
  cases: OracleCase[];
}

function fixture(name: string): OracleFixture {
  return JSON.parse(fs.readFileSync(path.join(ROOT, 'test/oracle', name), 'utf8')) as OracleFixture;
}

function maxAbsDiff(a: readonly number[], b: readonly number[]): number {
  expect(a.length).toBe(b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
}

const tmp = makeTemp('kiln-linear-');
afterAll(() => rmTemp(tmp));

describe.each(['logreg_binary.json', 'logreg_multinomial.json'])('matches scikit-learn (%s)', (file) => {
  const fx = fixture(file);
  const X = { values: Float64Array.from(fx.X.flat()), rows: fx.rows, cols: fx.cols };

  it.each(fx.cases.map((c) => [`C=${c.C} classWeight=${JSON.stringify(c.classWeight)}`, c] as const))('%s', async (_label, c) => {
    const model = await new LogisticRegression({ C: c.C, classWeight: c.classWeight, tol: 1e-10 }).fit(X, fx.y);
    expect(model.training!.converged).toBe(true);
    expect(maxAbsDiff(model.toJSON().standardization.mean, c.mean)).toBeLessThan(1e-9);
    expect(maxAbsDiff(model.toJSON().standardization.scale, c.scale)).toBeLessThan(1e-9);
    expect(model.training!.classWeights).toEqual(c.classWeightValues.map((w) => expect.closeTo(w, 12)));
    const coef = model.coefficients.flat();
    // The exact optimum of sklearn's objective (Newton-polished from sklearn's answer).
    expect(maxAbsDiff(coef, c.coef.flat())).toBeLessThan(1e-4);
    expect(maxAbsDiff(model.intercepts, c.intercept)).toBeLessThan(1e-4);
    // sklearn's own answer, which scipy's ftol stops up to sklearnMaxAbsDiff from that optimum.
    const slack = 1e-4 + c.sklearnMaxAbsDiff;
    expect(maxAbsDiff(coef, c.sklearnCoef.flat())).toBeLessThan(slack);
    expect(maxAbsDiff(model.intercepts, c.sklearnIntercept)).toBeLessThan(slack);

    const head = { values: X.values.slice(0, c.probaRows * fx.cols), rows: c.probaRows, cols: fx.cols };
    const p = await model.predict(head);
    const expected = fx.numClass === 2 ? c.proba.map((r) => r[1]!) : c.proba.flat();
    expect(maxAbsDiff(Array.from(p), expected)).toBeLessThan(1e-6);
    const sk = fx.numClass === 2 ? c.sklearnProba.map((r) => r[1]!) : c.sklearnProba.flat();
    expect(maxAbsDiff(Array.from(p), sk)).toBeLessThan(1e-4);
    for (let r = 0; r < c.probaRows; r++) {
      const one = model.predictSync(fx.X[r]!);
      const want = fx.numClass === 2 ? [p[r]!] : Array.from(p.subarray(r * fx.numClass, (r + 1) * fx.numClass));
      expect(maxAbsDiff(typeof one === 'number' ? [one] : Array.from(one), want)).toBeLessThan(1e-12);
    }
  });
});

describe('determinism and the model file', () => {
  const data = syntheticClasses(40_000, 7, 3, 11);
  for (let r = 0; r < data.rows; r += 97) data.values[r * data.cols + (r % data.cols)] = NaN;
  const X = { values: data.values, rows: data.rows, cols: data.cols };

  it('saves byte-identical models for numThreads 1, 2, 3 and 8', async () => {
    const files: string[] = [];
    for (const numThreads of [1, 2, 3, 8]) {
      const model = await new LogisticRegression({ C: 0.5, classWeight: 'balanced', numThreads }).fit(X, data.y);
      const file = path.join(tmp, `multi-t${numThreads}.json`);
      await model.save(file);
      files.push(fs.readFileSync(file, 'utf8'));
    }
    expect(new Set(files).size).toBe(1);
    const binary = Float64Array.from(data.y, (v) => (v === 2 ? 1 : 0));
    const one = await new LogisticRegression({ numThreads: 1 }).fit(X, binary);
    const three = await new LogisticRegression({ numThreads: 3 }).fit(X, binary);
    expect(JSON.stringify(three.toJSON())).toBe(JSON.stringify(one.toJSON()));
  });

  it('round-trips save -> fromJSON -> save byte-identically, with identical predictions', async () => {
    const model = await new LogisticRegression({ C: 2 }).fit(X, data.y);
    const a = path.join(tmp, 'a.json');
    const b = path.join(tmp, 'b.json');
    await model.save(a);
    const loaded = LogisticRegression.fromJSON(JSON.parse(fs.readFileSync(a, 'utf8')));
    await loaded.save(b);
    expect(fs.readFileSync(b, 'utf8')).toBe(fs.readFileSync(a, 'utf8'));
    const again = await LogisticRegression.load(b);
    expect(Array.from(await again.predict(X))).toEqual(Array.from(await model.predict(X)));
    const json = model.toJSON();
    expect(json).toMatchObject({ format: 'kiln.model', version: 1, kind: 'linear', coefficientSpace: 'standardized', missing: 'mean' });
    expect(json.coefficients).toHaveLength(3);
    expect(json.training!.history.length).toBe(json.training!.iterations + 1);
  });

  it('accepts a ColumnBatch (nulls are missing = mean) and reads it by feature name at predict', async () => {
    const rows = 400;
    const a = Array.from({ length: rows }, (_, i) => (i % 13 === 0 ? null : Math.sin(i)));
    const b = Array.from({ length: rows }, (_, i) => (i * 7) % 11);
    const y = a.map((v, i) => ((v ?? 0) + b[i]! / 11 + 0.3 * Math.cos(i * 3) > 0.5 ? 1 : 0));
    const batch = new ColumnBatch([columnFromValues('a', 'float64', a), columnFromValues('b', 'int32', b)], rows);
    const model = await new LogisticRegression().fit(batch, y);
    expect(model.featureNames).toEqual(['a', 'b']);
    const reordered = new ColumnBatch([columnFromValues('b', 'int32', b), columnFromValues('a', 'float64', a)], rows);
    const p = await model.predict(reordered);
    expect(p[0]).toBeCloseTo(model.predictSync([NaN, b[0]!]) as number, 12);
    const mean = model.toJSON().standardization.mean[0]!;
    expect(model.predictSync([NaN, 3])).toBe(model.predictSync([mean, 3]));
    expect(model.predictSync([Infinity, 3])).toBe(model.predictSync([mean, 3]));
    const acc = y.filter((v, i) => (p[i]! > 0.5 ? 1 : 0) === v).length / rows;
    expect(acc).toBeGreaterThan(0.8);
  });

  it('records the validation log-loss and reports progress per iteration', async () => {
    const seen: number[] = [];
    const train = { values: data.values.subarray(0, 30_000 * data.cols), rows: 30_000, cols: data.cols };
    const valid = { X: { values: data.values.subarray(30_000 * data.cols), rows: 10_000, cols: data.cols }, y: data.y.subarray(30_000) };
    const model = await new LogisticRegression().fit(train, data.y.subarray(0, 30_000), { valid, onProgress: (p) => seen.push(p.iteration) });
    const t = model.training!;
    expect(t.validRows).toBe(10_000);
    const p = await model.predict(valid.X);
    let ll = 0;
    for (let i = 0; i < 10_000; i++) ll -= Math.log(p[i * 3 + valid.y[i]!]!);
    expect(t.validLogLoss).toBeCloseTo(ll / 10_000, 9);
    let correct = 0;
    for (let i = 0; i < 10_000; i++) if (argmax(p, i * 3, 3) === valid.y[i]) correct++;
    expect(correct / 10_000).toBeGreaterThan(0.6);
    await new Promise((r) => setTimeout(r, 50));
    expect(seen.length).toBeGreaterThan(0);
    expect(seen[0]).toBe(1);
  });
});

describe('SIMD paths', () => {
  it('KILN_SIMD=scalar in a child process gives bit-identical models (row-major float32 with NaN, 7 columns)', async () => {
    const gen = `
      const rows = 20011, cols = 7, v = new Float32Array(rows * cols), y = new Int32Array(rows);
      let s = 777;
      const u = () => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return s / 4294967296; };
      for (let r = 0; r < rows; r++) {
        let m = 0;
        for (let f = 0; f < cols; f++) { const x = (u() - 0.5) * (f + 1) * 10 + f; v[r * cols + f] = u() < 0.02 ? NaN : x; m += (f % 2 ? 1 : -1) * x / (f + 1); }
        y[r] = (m + (u() - 0.5) * 4 > 0 ? 1 : 0) + (u() < 0.2 ? 1 : 0);
      }`;
    const fit = `a.fitLinear(v, y, Float64Array.from([1, 2, 0.5]), { rows, cols, layout: 'row', numClass: 3, C: 0.7, penalty: 'l2', maxIter: 200, tol: 1e-9, memory: 10, numThreads: 2 }, new Int32Array(1))`;
    const script = `
      const a = require(${JSON.stringify(path.join(ROOT, 'build/Release/kiln.node'))});
      ${gen}
      (async () => {
        const r = await ${fit};
        process.stdout.write(JSON.stringify({ simd: a.nativeInfo().simdLevel, coef: Buffer.from(r.coef.buffer).toString('base64'), mean: Buffer.from(r.mean.buffer).toString('base64') }));
      })();`;
    const child = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, KILN_SIMD: 'scalar' }, encoding: 'utf8' });
    expect(child.status, child.stderr).toBe(0);
    const res = JSON.parse(child.stdout) as { simd: string; coef: string; mean: string };
    expect(res.simd).toBe('scalar');
    const local = new Function('a', `${gen}; return ${fit};`)(rawAddon()) as Promise<{ coef: Float64Array; mean: Float64Array }>;
    const r = await local;
    expect(Buffer.from(r.mean.buffer).toString('base64')).toBe(res.mean);
    expect(Buffer.from(r.coef.buffer).toString('base64')).toBe(res.coef);
  });
});

describe('cancellation', () => {
  const big = syntheticClasses(120_000, 12, 2, 5);
  const X = { values: big.values, rows: big.rows, cols: big.cols };

  it('rejects at once when the signal is already aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    await expectKilnError(() => new LogisticRegression().fit(X, big.y, { signal: ac.signal }), 'E_CANCELLED');
  });

  it('stops a running fit with E_CANCELLED when aborted', async () => {
    const ac = new AbortController();
    const fit = new LogisticRegression({ penalty: 'none', tol: 1e-300, maxIter: 100_000 }).fit(X, big.y, {
      signal: ac.signal,
      onProgress: (p) => {
        if (p.iteration >= 2) ac.abort();
      },
    });
    await expectKilnError(() => fit, 'E_CANCELLED');
  });

  it('rejects with the error a progress callback throws', async () => {
    const boom = new Error('progress failed');
    await expect(
      new LogisticRegression({ penalty: 'none', tol: 1e-300, maxIter: 100_000 }).fit(X, big.y, {
        onProgress: () => {
          throw boom;
        },
      }),
    ).rejects.toBe(boom);
  });
});

describe('bad input gives a KilnError, never a crash', () => {
  const X = { values: Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8]), rows: 4, cols: 2 };
  const y = [0, 1, 0, 1];

  it.each([
    ['unknown option', { foo: 1 }, /unknown option 'foo'/],
    ['C = 0', { C: 0 }, /option C must be a finite number/],
    ['C = NaN', { C: NaN }, /option C/],
    ['penalty l1', { penalty: 'l1' }, /penalty 'l1' is not supported/],
    ['penalty bogus', { penalty: 'elastic' }, /option penalty must be one of/],
    ['classWeight bad', { classWeight: [1, -1] }, /option classWeight/],
    ['maxIter 0', { maxIter: 0 }, /option maxIter/],
    ['tol negative', { tol: -1 }, /option tol/],
    ['numThreads 1000', { numThreads: 1000 }, /option numThreads/],
  ])('options: %s -> E_USAGE', async (_name, opts, message) => {
    await expectKilnError(() => new LogisticRegression(opts as never), 'E_USAGE', message);
  });

  it.each([
    ['y too short', X, [0, 1, 0], /y has 3 values but X has 4 rows/],
    ['NaN label', X, [0, 1, NaN, 1], /y\[2\] must be a finite number/],
    ['fractional label', X, [0, 1, 0.5, 1], /y\[2\] = 0.5 is not a class index/],
    ['negative label', X, [0, 1, -1, 1], /is not a class index/],
    ['single class', X, [0, 0, 0, 0], /single class/],
    ['missing class', X, [0, 2, 0, 2], /class 1 has no rows/],
    ['empty data', { values: new Float64Array(0), rows: 0, cols: 2 }, [], /X.rows must be an integer >= 1/],
    ['length mismatch', { values: new Float64Array(7), rows: 4, cols: 2 }, y, /X.values.length is 7/],
    ['Int32 values', { values: new Int32Array(8), rows: 4, cols: 2 }, y, /Float32Array or Float64Array/],
    ['string column', new ColumnBatch([columnFromValues('s', 'utf8', ['a', 'b', 'c', 'd'])], 4), y, /only numeric columns/],
  ])('data: %s -> E_NATIVE_INPUT', async (_name, x, labels, message) => {
    await expectKilnError(() => new LogisticRegression().fit(x as never, labels), 'E_NATIVE_INPUT', message);
  });

  it('refuses a classWeight array of the wrong length, and a fit call with unknown keys', async () => {
    await expectKilnError(() => new LogisticRegression({ classWeight: [1, 2, 3] }).fit(X, y), 'E_USAGE', /3 weights but y has 2 classes/);
    await expectKilnError(() => new LogisticRegression().fit(X, y, { bogus: 1 } as never), 'E_USAGE', /unknown option 'bogus'/);
  });

  it('trains on all-NaN and constant features without crashing', async () => {
    const values = Float64Array.from([NaN, 5, 1, NaN, 5, 2, NaN, 5, 3, NaN, 5, 4]);
    const model = await new LogisticRegression().fit({ values, rows: 4, cols: 3 }, y);
    const json = model.toJSON();
    expect(json.standardization.mean[0]).toBe(0);
    expect(json.standardization.scale.slice(0, 2)).toEqual([1, 1]);
    expect(json.coefficients[0]![0]).toBe(0);
    const p = await model.predict({ values: Float64Array.from([NaN, NaN, NaN, Infinity, -Infinity, 1e308]), rows: 2, cols: 3 });
    expect(Array.from(p).every(Number.isFinite)).toBe(true);
  });

  it('needs a fitted model, and matching columns at predict', async () => {
    await expectKilnError(() => new LogisticRegression().predict(X), 'E_USAGE', /not fitted/);
    const model = await new LogisticRegression().fit(X, y);
    await expectKilnError(() => model.predict({ values: new Float64Array(3), rows: 1, cols: 3 }), 'E_NATIVE_INPUT', /X has 3 columns, the model has 2/);
    await expectKilnError(() => model.predict({ values: new Float64Array(2), rows: 1, cols: 2, featureNames: ['x', 'y'] }), 'E_NATIVE_INPUT', /differ from the model's features/);
    expect(() => model.predictSync([1])).toThrow(/row must have 2 values/);
  });

  it('fromJSON refuses anything but a valid linear model with E_MODEL_FORMAT', async () => {
    const good = (await new LogisticRegression().fit(X, y)).toJSON();
    const bad: Array<[string, unknown, RegExp]> = [
      ['not an object', 'model', /must be a JSON object/],
      ['version 2', { ...good, version: 2 }, /version 2 is not supported/],
      ['other kind', { ...good, kind: 'gbdt' }, /kind is "gbdt"/],
      ['extra property', { ...good, extra: 1 }, /unexpected property "extra"/],
      ['NaN coefficient', { ...good, coefficients: [[NaN, 1]] }, /is NaN/],
      ['short coefficients', { ...good, coefficients: [[1]] }, /coefficients must be 1 row/],
      ['zero scale', { ...good, standardization: { mean: [0, 0], scale: [0, 1] } }, /scale/],
      ['missing training', { ...good, training: undefined }, /training/],
    ];
    for (const [, obj, message] of bad) {
      await expectKilnError(() => LogisticRegression.fromJSON(obj), 'E_MODEL_FORMAT', message);
    }
  });
});

describe('native boundary (raw addon, no TS validation)', () => {
  const raw = () => rawAddon() as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const values = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
  const opts = { rows: 4, cols: 2, layout: 'row', numClass: 2, C: 1, penalty: 'l2', maxIter: 50, tol: 1e-8, memory: 10, numThreads: 1 };
  const labels = Int32Array.from([0, 1, 0, 1]);
  const weights = Float64Array.from([1, 1]);
  const flag = new Int32Array(1);

  it.each([
    ['values Int32Array', [new Int32Array(8), labels, weights, opts, flag], /values must be a Float32Array or Float64Array/],
    ['labels Float64Array', [values, new Float64Array(4), weights, opts, flag], /labels must be an Int32Array/],
    ['labels too short', [values, Int32Array.from([0, 1]), weights, opts, flag], /labels.length is 2/],
    ['label out of range', [values, Int32Array.from([0, 1, 2, 1]), weights, opts, flag], /labels\[2\] = 2 is outside \[0, 1\]/],
    ['NaN class weight', [values, labels, Float64Array.from([1, NaN]), opts, flag], /classWeights\[1\] is not finite/],
    ['zero class weight', [values, labels, Float64Array.from([1, 0]), opts, flag], /classWeights\[1\] must be a finite number > 0/],
    ['C NaN', [values, labels, weights, { ...opts, C: NaN }, flag], /options.C must be a finite number/],
    ['missing option', [values, labels, weights, { ...opts, tol: undefined }, flag], /options.tol is required/],
    ['no cancel flag', [values, labels, weights, opts, null], /cancelFlag must be an Int32Array/],
    ['bad progress', [values, labels, weights, opts, flag, 42], /onProgress must be a function/],
  ])('fitLinear: %s -> E_NATIVE_INPUT', async (_name, args, message) => {
    await expectKilnError(() => raw().fitLinear!(...(args as unknown[])), 'E_NATIVE_INPUT', message);
  });

  it('predictLinear rejects inconsistent models', async () => {
    const model = { numClass: 2, mean: new Float64Array(2), scale: Float64Array.from([1, 1]), coef: new Float64Array(2), intercept: new Float64Array(1) };
    const popts = { rows: 4, cols: 2, layout: 'row', numThreads: 1 };
    await expectKilnError(() => raw().predictLinear!(values, popts, { ...model, coef: new Float64Array(3) }), 'E_NATIVE_INPUT', /coef has 3 entries/);
    await expectKilnError(() => raw().predictLinear!(values, popts, { ...model, scale: Float64Array.from([1, 0]) }), 'E_NATIVE_INPUT', /scale\[1\] must be finite and > 0/);
    await expectKilnError(() => raw().predictLinear!(values, popts, { ...model, intercept: Float64Array.from([NaN]) }), 'E_NATIVE_INPUT', /not finite/);
    await expectKilnError(() => raw().predictLinear!(values, { ...popts, cols: 4, rows: 2 }, model), 'E_NATIVE_INPUT', /the model has 2 features/);
    const p = (await raw().predictLinear!(values, popts, model)) as Float64Array;
    expect(Array.from(p)).toEqual([0.5, 0.5, 0.5, 0.5]);
  });
});
