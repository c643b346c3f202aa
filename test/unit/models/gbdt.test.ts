// The native GBDT engine through the public API: learning, determinism, model files, constraints,
// early stopping, categorical features, cancellation and bad input.
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { rawAddon } from '../../../bindings/index.js';
import { KilnError } from '../../../bindings/errors.js';
import { ColumnBatch, columnFromValues } from '../../../src/batch/column-batch.js';
import { scanFile } from '../../../src/io/scan.js';
import { GBDT, loadModel, serializeModel, type GbdtModelJson } from '../../../src/index.js';
import { seededRandom } from '../../../src/validate/corpus.js';
import { DATASETS, makeTemp, rmTemp } from '../../helpers/paths.js';

const tmp = makeTemp('kiln-gbdt-');
afterAll(() => rmTemp(tmp));

interface Data {
  X: { values: Float32Array; rows: number; cols: number };
  y: Float64Array;
}

/** Seeded binary data with NaNs: a non-linear signal in f0..f2, noise elsewhere. */
function binaryData(rows: number, cols: number, seed: number, nanRate = 0.03): Data {
  const r = seededRandom(seed);
  const values = new Float32Array(rows * cols);
  const y = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    for (let f = 0; f < cols; f++) values[i * cols + f] = r() < nanRate ? NaN : r() * 2 - 1;
    const a = values[i * cols]! || 0, b = values[i * cols + 1]! || 0, c = values[i * cols + 2]! || 0;
    const s = 2 * Math.sin(3 * a) + 3 * b * c;
    y[i] = r() < 1 / (1 + Math.exp(-2 * s)) ? 1 : 0;
  }
  return { X: { values, rows, cols }, y };
}

function auc(p: Float64Array, y: Float64Array): number {
  const idx = [...p.keys()].sort((a, b) => p[a]! - p[b]!);
  let pos = 0, neg = 0, rank = 0;
  idx.forEach((i, k) => {
    if (y[i] === 1) {
      pos++;
      rank += k + 1;
    } else neg++;
  });
  return (rank - (pos * (pos + 1)) / 2) / (pos * neg);
}

function slice(d: Data, from: number, to: number): Data {
  const c = d.X.cols;
  return { X: { values: d.X.values.slice(from * c, to * c), rows: to - from, cols: c }, y: d.y.slice(from, to) };
}

async function expectKiln(p: Promise<unknown> | (() => unknown), code: string, message?: RegExp): Promise<void> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err, 'expected a KilnError').toBeInstanceOf(KilnError);
  expect((err as KilnError).code).toBe(code);
  if (message) expect((err as KilnError).message).toMatch(message);
}

describe('GBDT learns', () => {
  it('binary: beats a trivial model on held-out data, batch and predictSync agree', async () => {
    const d = binaryData(6000, 8, 1);
    const train = slice(d, 0, 5000), test = slice(d, 5000, 6000);
    const m = await new GBDT({ nEstimators: 60, numLeaves: 15, seed: 3 }).fit(train.X, train.y);
    const p = await m.predict(test.X);
    expect(auc(p, test.y)).toBeGreaterThan(0.8);
    for (let i = 0; i < 20; i++) {
      const row = Array.from(test.X.values.subarray(i * 8, (i + 1) * 8));
      expect(m.predictSync(row)).toBe(p[i]);
    }
  });

  it('multiclass and regression objectives learn their targets', async () => {
    const r = seededRandom(5);
    const rows = 3000, cols = 4;
    const values = new Float32Array(rows * cols);
    const cls = new Float64Array(rows), reg = new Float64Array(rows);
    for (let i = 0; i < rows; i++) {
      for (let f = 0; f < cols; f++) values[i * cols + f] = r();
      const a = values[i * cols]!, b = values[i * cols + 1]!;
      cls[i] = a < 0.33 ? 0 : b < 0.5 ? 1 : 2;
      reg[i] = 3 * a + Math.sin(6 * b) + 0.05 * (r() - 0.5);
    }
    const X = { values, rows, cols };
    const mc = await new GBDT({ objective: 'multiclass', nEstimators: 30, numLeaves: 7, seed: 1 }).fit(X, cls);
    const probs = await mc.predict(X);
    expect(probs.length).toBe(rows * 3);
    let correct = 0;
    for (let i = 0; i < rows; i++) {
      const row = probs.subarray(i * 3, i * 3 + 3);
      expect(row[0]! + row[1]! + row[2]!).toBeCloseTo(1, 12);
      if (row.indexOf(Math.max(...row)) === cls[i]) correct++;
    }
    expect(correct / rows).toBeGreaterThan(0.97);
    const sync = mc.predictSync(Array.from(values.subarray(0, cols))) as Float64Array;
    expect(Array.from(sync)).toEqual(Array.from(probs.subarray(0, 3)));
    for (const objective of ['regression', 'huber'] as const) {
      const rm = await new GBDT({ objective, nEstimators: 80, numLeaves: 15, seed: 1 }).fit(X, reg);
      const pred = await rm.predict(X);
      let sse = 0, sst = 0;
      const mean = reg.reduce((a, b) => a + b, 0) / rows;
      for (let i = 0; i < rows; i++) {
        sse += (pred[i]! - reg[i]!) ** 2;
        sst += (reg[i]! - mean) ** 2;
      }
      expect(1 - sse / sst, objective).toBeGreaterThan(0.95);
    }
  });

  it('adult (real data, categoricals from text, ? as missing): AUC near the XGBoost anchor', async () => {
    const read = async (file: string): Promise<ColumnBatch> => {
      for await (const b of scanFile(path.join(DATASETS, 'adult', file), { nullStrings: ['?'], batchSize: 100_000 })) return b;
      throw new Error('empty');
    };
    const train = await read('adult.data.csv');
    const test = await read('adult.test.csv');
    const features = train.columns.map((c) => c.name).filter((n) => n !== 'class');
    const label = (b: ColumnBatch): Float64Array => Float64Array.from({ length: b.numRows }, (_, i) => (String(b.value('class', i)).startsWith('>50K') ? 1 : 0));
    const m = new GBDT({ nEstimators: 100, numLeaves: 31, seed: 1, unseenCategory: 'missing' });
    await m.fit(train.select(features), label(train));
    const p = await m.predict(test.select(features));
    // XGBoost 1.7 hist with the same settings reaches 0.9267 (benchmarks/gbdt/prep-real.py).
    expect(auc(p, label(test))).toBeGreaterThan(0.92);
    expect(m.toJSON().features.filter((f) => f.type === 'categorical').length).toBe(8);
  });
});

describe('determinism', () => {
  it('byte-identical model files for 1, 2, 3 and 8 threads (bagging, feature fraction, categorical, NaN, valid set)', async () => {
    const d = binaryData(40_000, 6, 7);
    // Column 5 becomes a categorical code 0..9.
    for (let i = 0; i < d.X.rows; i++) d.X.values[i * 6 + 5] = Math.floor((d.X.values[i * 6 + 5]! + 1) * 5) % 10;
    const train = slice(d, 0, 34_000), valid = slice(d, 34_000, 40_000);
    const texts: string[] = [];
    for (const numThreads of [1, 2, 3, 8]) {
      const m = new GBDT({ nEstimators: 12, numLeaves: 31, baggingFraction: 0.8, baggingFreq: 1, featureFraction: 0.7, categorical: ['f5'], numThreads, seed: 11 });
      await m.fit(train.X, train.y, { valid: { X: valid.X, y: valid.y } });
      texts.push(serializeModel(m.toJSON()));
    }
    expect(new Set(texts).size).toBe(1);
    const other = new GBDT({ nEstimators: 12, numLeaves: 31, baggingFraction: 0.8, baggingFreq: 1, featureFraction: 0.7, categorical: ['f5'], seed: 12 });
    await other.fit(train.X, train.y);
    expect(serializeModel(other.toJSON())).not.toBe(texts[0]);
  });

  it('multiclass models are identical for 1 and 3 threads, and predictions for 1 and 2 threads', async () => {
    const d = binaryData(20_000, 5, 9);
    const y = Float64Array.from(d.X.values.filter((_, i) => i % 5 === 3), (v) => (Number.isNaN(v) ? 0 : v < -0.3 ? 0 : v < 0.3 ? 1 : 2));
    const texts: string[] = [];
    for (const numThreads of [1, 3]) {
      const m = await new GBDT({ objective: 'multiclass', nEstimators: 5, numLeaves: 15, numThreads, seed: 2 }).fit(d.X, y);
      texts.push(serializeModel(m.toJSON()));
      if (numThreads === 3) {
        const a = await m.predict(d.X, { numThreads: 1 });
        const b = await m.predict(d.X, { numThreads: 2 });
        expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
      }
    }
    expect(texts[0]).toBe(texts[1]);
  });
});

describe('model files', () => {
  it('save -> load -> save is byte-identical and predictions survive', async () => {
    const d = binaryData(3000, 5, 2);
    const m = await new GBDT({ nEstimators: 20, numLeaves: 8, seed: 1 }).fit(d.X, d.y);
    const a = path.join(tmp, 'a.json'), b = path.join(tmp, 'b.json');
    await m.save(a);
    const loaded = await loadModel(a);
    await loaded.save(b);
    expect(fs.readFileSync(b, 'utf8')).toBe(fs.readFileSync(a, 'utf8'));
    expect(Array.from(await loaded.predict(d.X))).toEqual(Array.from(await m.predict(d.X)));
    const json = JSON.parse(fs.readFileSync(a, 'utf8')) as GbdtModelJson;
    expect(json.format).toBe('kiln.model');
    expect(json.features.map((f) => f.name)).toEqual(['f0', 'f1', 'f2', 'f3', 'f4']);
    expect(json.binMapper?.numBins.length).toBe(5);
  });

  it('refuses newer versions, unknown kinds, corrupt and truncated files, broken trees', async () => {
    const d = binaryData(500, 3, 4);
    const m = await new GBDT({ nEstimators: 3, numLeaves: 4, minDataInLeaf: 5, seed: 1 }).fit(d.X, d.y);
    const good = m.toJSON();
    const write = (name: string, text: string): string => {
      const f = path.join(tmp, name);
      fs.writeFileSync(f, text);
      return f;
    };
    await expectKiln(loadModel(write('v2.json', JSON.stringify({ ...good, version: 2 }))), 'E_MODEL_FORMAT', /newer kiln/);
    await expectKiln(loadModel(write('kind.json', JSON.stringify({ ...good, kind: 'forest' }))), 'E_MODEL_FORMAT', /unknown model kind/);
    await expectKiln(loadModel(write('trunc.json', serializeModel(good).slice(0, 200))), 'E_MODEL_FORMAT', /not valid JSON/);
    await expectKiln(loadModel(write('null.json', 'null')), 'E_MODEL_FORMAT');
    await expectKiln(loadModel(write('xgb.json', JSON.stringify({ learner: {} }))), 'E_MODEL_FORMAT', /importXGBoost/);
    await expectKiln(loadModel(path.join(tmp, 'missing.json')), 'E_IO');
    const tree = good.trees[0]!;
    const cyclic = { ...good, trees: [{ ...tree, leftChild: [1, 2, ~1], rightChild: [~0, 1, ~2] }, ...good.trees.slice(1)] };
    await expectKiln(loadModel(write('cycle.json', JSON.stringify(cyclic))), 'E_MODEL_FORMAT');
    const badFeature = { ...good, trees: [{ ...tree, splitFeature: tree.splitFeature.map(() => 7) }, ...good.trees.slice(1)] };
    await expectKiln(loadModel(write('feat.json', JSON.stringify(badFeature))), 'E_MODEL_FORMAT');
    const nanLeaf = serializeModel(good).replace(/"leafValue":\[[^,\]]+/, '"leafValue":[1e999');
    await expectKiln(loadModel(write('inf.json', nanLeaf)), 'E_MODEL_FORMAT');
    const count = { ...good, numIterations: good.numIterations + 1 };
    await expectKiln(loadModel(write('count.json', JSON.stringify(count))), 'E_MODEL_FORMAT');
  });
});

describe('training internals', () => {
  it('histogram sums equal the packed gradient sums (all rows and a row subset)', () => {
    const r = seededRandom(3);
    const rows = 5000, cols = 4;
    const bins = new Uint8Array(rows * cols);
    const packed = new BigInt64Array(rows);
    for (let i = 0; i < rows; i++) {
      for (let f = 0; f < cols; f++) bins[i * cols + f] = r() < 0.05 ? 255 : Math.floor(r() * (f === 0 ? 3 : 200));
      const g = BigInt(Math.floor(r() * 20001) - 10000), h = BigInt(Math.floor(r() * 10001));
      packed[i] = g * 4294967296n + h;
    }
    const subset = Uint32Array.from({ length: 1200 }, (_, k) => k * 4 + 1);
    for (const idx of [new Uint32Array(0), subset]) {
      const hist = rawAddon().gbdtDebugHistogram(bins, rows, cols, packed, idx);
      const chosen = idx.length ? Array.from(idx) : [...Array(rows).keys()];
      let total = 0n;
      for (const i of chosen) total += packed[i]!;
      for (let f = 0; f < cols; f++) {
        let sum = 0n;
        for (let s = 0; s < 256; s++) sum += hist[f * 256 + s]!;
        expect(sum).toBe(total);
      }
      const want = new Map<number, bigint>();
      for (const i of chosen) want.set(bins[i * cols + 1]!, (want.get(bins[i * cols + 1]!) ?? 0n) + packed[i]!);
      for (let s = 0; s < 256; s++) expect(hist[256 + s]).toBe(want.get(s) ?? 0n);
    }
  });

  it('a stump picks the split with the best gain among all candidates', async () => {
    const r = seededRandom(8);
    const rows = 400, cols = 3;
    const values = new Float32Array(rows * cols);
    const y = new Float64Array(rows);
    for (let i = 0; i < rows; i++) {
      for (let f = 0; f < cols; f++) values[i * cols + f] = Math.floor(r() * 12);
      y[i] = (values[i * cols + 1]! > 6 ? 2 : 0) + (values[i * cols + 2]! > 3 ? 1.5 : 0) + r();
    }
    const lambda = 1;
    const m = await new GBDT({ objective: 'regression', nEstimators: 1, numLeaves: 2, learningRate: 1, minDataInLeaf: 1, minSumHessianInLeaf: 0, lambdaL2: lambda, seed: 1 }).fit({ values, rows, cols }, y);
    const json = m.toJSON();
    const base = json.baseScore[0]!;
    const g = Array.from(y, (v) => base - v);
    const G = g.reduce((a, b) => a + b, 0);
    const score = (gl: number, hl: number): number => (gl * gl) / (hl + lambda) + ((G - gl) * (G - gl)) / (rows - hl + lambda) - (G * G) / (rows + lambda);
    const candidates: { f: number; t: number; gain: number }[] = [];
    const mp = json.binMapper!;
    for (let f = 0; f < cols; f++) {
      for (let j = mp.offsets[f]!; j < mp.offsets[f + 1]!; j++) {
        const t = mp.thresholds[j]!;
        let gl = 0, hl = 0;
        for (let i = 0; i < rows; i++) if (values[i * cols + f]! <= t) {
          gl += g[i]!;
          hl += 1;
        }
        if (hl > 0 && hl < rows) candidates.push({ f, t, gain: score(gl, hl) });
      }
    }
    candidates.sort((a, b) => b.gain - a.gain);
    const best = candidates[0]!;
    expect(candidates[1]!.gain).toBeLessThan(best.gain * 0.999);
    const tree = json.trees[0]!;
    expect(tree.splitFeature[0]).toBe(best.f);
    expect(tree.threshold[0]).toBe(best.t);
    expect(tree.splitGain[0]! / best.gain).toBeCloseTo(1, 5);
  });

  it('early stopping keeps every tree and serves the best validation iteration', async () => {
    const d = binaryData(5000, 6, 21, 0);
    // Label noise makes the validation loss turn up after a while.
    for (let i = 0; i < d.y.length; i += 3) d.y[i] = 1 - d.y[i]!;
    const train = slice(d, 0, 2500), valid = slice(d, 2500, 5000);
    const rounds: number[] = [];
    const m = new GBDT({ nEstimators: 400, numLeaves: 63, minDataInLeaf: 2, learningRate: 0.3, seed: 1 });
    await m.fit(train.X, train.y, { valid: { X: valid.X, y: valid.y }, earlyStoppingRounds: 10, onProgress: (p) => rounds.push(p.round) });
    const json = m.toJSON();
    const hist = json.training!.history.valid;
    const best = hist.indexOf(Math.min(...hist)) + 1;
    expect(json.training!.earlyStopped).toBe(true);
    expect(json.bestIteration).toBe(best);
    expect(json.numIterations).toBe(best + 10);
    expect(json.trees.length).toBe(best + 10);
    expect(rounds).toEqual([...Array(best + 10).keys()].map((i) => i + 1));
    const served = await m.predict(valid.X);
    const explicit = await m.predict(valid.X, { numIteration: best });
    const all = await m.predict(valid.X, { numIteration: json.numIterations });
    expect(Array.from(served)).toEqual(Array.from(explicit));
    expect(Array.from(all)).not.toEqual(Array.from(served));
    const file = path.join(tmp, 'es.json');
    await m.save(file);
    const loaded = (await loadModel(file)).toJSON();
    expect(loaded.trees.length).toBe(best + 10);
    expect(loaded.bestIteration).toBe(best);
  });

  it('monotone constraints hold over a grid of inputs', async () => {
    const r = seededRandom(13);
    const rows = 4000, cols = 3;
    const values = new Float32Array(rows * cols);
    const y = new Float64Array(rows);
    for (let i = 0; i < rows; i++) {
      for (let f = 0; f < cols; f++) values[i * cols + f] = r() * 4 - 2;
      const a = values[i * cols]!, b = values[i * cols + 1]!, c = values[i * cols + 2]!;
      y[i] = Math.sin(2 * a) + a + Math.cos(3 * b) - b + c * c + 0.3 * (r() - 0.5);
    }
    const m = await new GBDT({ objective: 'regression', nEstimators: 60, numLeaves: 31, minDataInLeaf: 5, monotone: { f0: 1, f1: -1 }, seed: 4 }).fit({ values, rows, cols }, y);
    const grid = Array.from({ length: 81 }, (_, k) => -2.2 + k * 0.055);
    for (let base = 0; base < 30; base++) {
      const row = [r() * 4 - 2, r() * 4 - 2, r() * 4 - 2];
      for (const [f, sign] of [[0, 1], [1, -1]] as const) {
        let prev = sign > 0 ? -Infinity : Infinity;
        for (const v of grid) {
          const x = [...row];
          x[f] = v;
          const p = m.predictSync(x) as number;
          if (sign > 0) expect(p).toBeGreaterThanOrEqual(prev);
          else expect(p).toBeLessThanOrEqual(prev);
          prev = p;
        }
      }
    }
    // Without the constraint the same data gives a non-monotone f0 response.
    const free = await new GBDT({ objective: 'regression', nEstimators: 60, numLeaves: 31, minDataInLeaf: 5, seed: 4 }).fit({ values, rows, cols }, y);
    let drops = 0, prev = -Infinity;
    for (const v of grid) {
      const p = free.predictSync([v, 0, 0]) as number;
      if (p < prev) drops++;
      prev = p;
    }
    expect(drops).toBeGreaterThan(0);
  });
});

describe('categorical features', () => {
  it('learns category sets from text columns and applies the unseen policy', async () => {
    const r = seededRandom(17);
    const rows = 3000;
    const cities = ['ams', 'ber', 'cph', 'dub', 'edi', 'fra', 'gva', 'hel'];
    const city: (string | null)[] = [], amount: number[] = [], y: number[] = [];
    for (let i = 0; i < rows; i++) {
      const c = cities[Math.floor(r() * cities.length)]!;
      city.push(r() < 0.05 ? null : c);
      amount.push(r());
      y.push((['ber', 'edi', 'hel'].includes(c) ? 0.8 : 0.15) > r() ? 1 : 0);
    }
    const batch = new ColumnBatch([columnFromValues('city', 'utf8', city), columnFromValues('amount', 'float64', amount)], rows);
    const m = await new GBDT({ nEstimators: 20, numLeaves: 4, seed: 1 }).fit(batch, y);
    const p = await m.predict(batch);
    expect(auc(p, Float64Array.from(y))).toBeGreaterThan(0.75);
    const json = m.toJSON();
    expect(json.features[0]).toMatchObject({ name: 'city', type: 'categorical', categories: cities, unseen: 'error' });
    expect(json.trees[0]!.catSets.length).toBeGreaterThan(0);
    const unseen = new ColumnBatch([columnFromValues('city', 'utf8', ['zrh']), columnFromValues('amount', 'float64', [0.5])], 1);
    await expectKiln(m.predict(unseen), 'E_SCHEMA', /never saw/);
    expect(() => m.predictSync(['zrh', 0.5])).toThrow(/never saw/);
    const lenient = await new GBDT({ nEstimators: 20, numLeaves: 4, seed: 1, unseenCategory: 'missing' }).fit(batch, y);
    const pu = await lenient.predict(unseen);
    expect(lenient.lastUnseenCounts).toEqual({ city: 1 });
    expect(lenient.predictSync([null, 0.5])).toBe(pu[0]);
  });
});

describe('progress and cancellation', () => {
  it('reports every round and stops on abort with E_CANCELLED', async () => {
    const d = binaryData(20_000, 8, 5);
    const seen: number[] = [];
    const m = new GBDT({ nEstimators: 8, numLeaves: 15, seed: 1 });
    await m.fit(d.X, d.y, { onProgress: (p) => {
      seen.push(p.round);
      expect(p.rowsPerSecond).toBeGreaterThan(0);
      expect(Number.isFinite(p.trainMetric)).toBe(true);
    } });
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const ac = new AbortController();
    const slow = new GBDT({ nEstimators: 100_000, numLeaves: 31, seed: 1 });
    const run = slow.fit(d.X, d.y, { signal: ac.signal, onProgress: (p) => p.round === 3 && ac.abort() });
    await expectKiln(run, 'E_CANCELLED');
    expect(slow.fitted).toBe(false);
    const pre = new AbortController();
    pre.abort();
    await expectKiln(new GBDT().fit(d.X, d.y, { signal: pre.signal }), 'E_CANCELLED');
  });
});

describe('bad input', () => {
  const d = binaryData(200, 3, 1);
  it('options are checked in TS, naming the option', () => {
    expect(() => new GBDT({ numLeaves: 1 })).toThrow(/numLeaves/);
    expect(() => new GBDT({ learningRate: -1 })).toThrow(/learningRate/);
    expect(() => new GBDT({ objective: 'poisson' as never })).toThrow(/objective/);
    expect(() => new GBDT({ numLeafs: 3 } as never)).toThrow(/unknown GBDT option "numLeafs"/);
    expect(() => new GBDT({ monotone: { f0: 2 as never } })).toThrow(/monotone\.f0/);
    expect(() => new GBDT({ metric: 'auc', objective: 'regression' })).toThrow(/auc/);
  });
  it('bad data gives KilnErrors, never a crash', async () => {
    const m = (): GBDT => new GBDT({ nEstimators: 2 });
    await expectKiln(m().fit(d.X, d.y.slice(1)), 'E_USAGE', /199 labels for 200 rows/);
    await expectKiln(m().fit({ ...d.X, rows: 201 }, d.y), 'E_USAGE', /rows \* cols/);
    await expectKiln(m().fit({ values: new Float32Array(0), rows: 0, cols: 3 }, []), 'E_USAGE', /empty/);
    const nanY = d.y.slice();
    nanY[5] = NaN;
    await expectKiln(m().fit(d.X, nanY), 'E_USAGE', /y\[5\]/);
    await expectKiln(m().fit(d.X, new Float64Array(200).fill(1)), 'E_USAGE', /single class/);
    await expectKiln(m().fit(d.X, d.y.map((v) => v * 2)), 'E_USAGE', /0 or 1/);
    await expectKiln(new GBDT({ objective: 'multiclass', numClass: 3 }).fit(d.X, d.y.map((v, i) => (i % 4))), 'E_USAGE', /numClass is 3/);
    await expectKiln(new GBDT({ objective: 'multiclass' }).fit(d.X, d.y.map((v) => v - 0.5)), 'E_USAGE', /integers/);
    await expectKiln(new GBDT({ categorical: ['nope'] }).fit(d.X, d.y), 'E_USAGE', /nope/);
    await expectKiln(m().fit(d.X, d.y, { earlyStoppingRounds: 3 }), 'E_USAGE', /validation set/);
    await expectKiln(() => m().predictSync([1, 2, 3]), 'E_USAGE', /not trained/);
    const trained = await m().fit(d.X, d.y);
    await expectKiln(trained.predict({ values: new Float32Array(4), rows: 2, cols: 2 }), 'E_USAGE', /columns/);
    await expectKiln(() => trained.predictSync([1, 2]), 'E_USAGE', /3 features/);
    await expectKiln(trained.predict(d.X, { numIteration: 99 }), 'E_USAGE', /numIteration/);
  });
  it('constant features train to a constant model', async () => {
    const X = { values: new Float32Array(600).fill(0.5), rows: 200, cols: 3 };
    const m = await new GBDT({ nEstimators: 5 }).fit(X, d.y);
    const p = await m.predict(X);
    expect(new Set(p).size).toBe(1);
    const mean = d.y.reduce((a, b) => a + b, 0) / 200;
    expect(p[0]).toBeCloseTo(mean, 6);
    expect(m.toJSON().trees.every((t) => t.numLeaves === 1)).toBe(true);
  });
});

describe('growth and weighting parameters', () => {
  const d = binaryData(3000, 6, 17);
  /** Depth of every leaf of a tree (root depth 0). */
  const leafDepths = (t: GbdtModelJson['trees'][number]): number[] => {
    const out: number[] = [];
    const walk = (node: number, depth: number): void => {
      if (node < 0) {
        out.push(depth);
        return;
      }
      walk(t.leftChild[node]!, depth + 1);
      walk(t.rightChild[node]!, depth + 1);
    };
    if (t.numLeaves === 1) return [0];
    walk(0, 0);
    return out;
  };

  it('maxDepth, numLeaves, minDataInLeaf and minGainToSplit bound the trees', async () => {
    const deep = (await new GBDT({ nEstimators: 3, numLeaves: 31, seed: 1 }).fit(d.X, d.y)).toJSON();
    expect(Math.max(...deep.trees.flatMap(leafDepths))).toBeGreaterThan(3);
    const shallow = (await new GBDT({ nEstimators: 3, numLeaves: 31, maxDepth: 3, seed: 1 }).fit(d.X, d.y)).toJSON();
    for (const t of shallow.trees) {
      expect(Math.max(...leafDepths(t))).toBeLessThanOrEqual(3);
      expect(t.numLeaves).toBeLessThanOrEqual(8);
    }
    const few = (await new GBDT({ nEstimators: 3, numLeaves: 5, seed: 1 }).fit(d.X, d.y)).toJSON();
    expect(few.trees.every((t) => t.numLeaves === 5)).toBe(true);
    const big = (await new GBDT({ nEstimators: 3, numLeaves: 31, minDataInLeaf: 150, seed: 1 }).fit(d.X, d.y)).toJSON();
    for (const t of big.trees) {
      expect(t.leafCount.reduce((a, b) => a + b, 0)).toBe(3000);
      expect(Math.min(...t.leafCount)).toBeGreaterThanOrEqual(150);
    }
    expect(Math.min(...deep.trees.flatMap((t) => t.leafCount))).toBeLessThan(150);
    const stumps = (await new GBDT({ nEstimators: 3, minGainToSplit: 1e12, seed: 1 }).fit(d.X, d.y)).toJSON();
    expect(stumps.trees.every((t) => t.numLeaves === 1)).toBe(true);
  });

  it("classWeight 'balanced' and scalePosWeight lift the minority class's probabilities", async () => {
    // Imbalanced: keep every negative and one positive in five.
    const keep: number[] = [];
    for (let i = 0; i < d.X.rows; i++) if (d.y[i] === 0 || i % 5 === 0) keep.push(i);
    const c = d.X.cols;
    const X = { values: new Float32Array(keep.length * c), rows: keep.length, cols: c };
    const y = new Float64Array(keep.length);
    keep.forEach((r, i) => {
      X.values.set(d.X.values.subarray(r * c, (r + 1) * c), i * c);
      y[i] = d.y[r]!;
    });
    const pos = y.reduce((a, b) => a + b, 0);
    /** Mean probability with each class's rows counted half (the class-balanced mean). */
    const balancedMeanP = async (opts: ConstructorParameters<typeof GBDT>[0]): Promise<number> => {
      const p = await (await new GBDT({ nEstimators: 20, numLeaves: 7, seed: 3, ...opts }).fit(X, y)).predict(X);
      let sp = 0, sn = 0;
      p.forEach((v, i) => (y[i] === 1 ? (sp += v) : (sn += v)));
      return 0.5 * (sp / pos) + 0.5 * (sn / (y.length - pos));
    };
    const plain = await balancedMeanP({});
    const balanced = await balancedMeanP({ classWeight: 'balanced' });
    const scaled = await balancedMeanP({ scalePosWeight: (y.length - pos) / pos });
    expect(plain).toBeLessThan(0.4);
    // Weighted log-loss training centres the weighted mean probability on 1/2.
    expect(Math.abs(balanced - 0.5)).toBeLessThan(0.03);
    expect(Math.abs(scaled - 0.5)).toBeLessThan(0.03);
  });

  it('feature importance: split counts match the trees, gain ranks the informative features first', async () => {
    const m = await new GBDT({ nEstimators: 10, numLeaves: 7, seed: 2 }).fit(d.X, d.y);
    const json = m.toJSON();
    const splits = m.featureImportance('split');
    const counts = new Array<number>(d.X.cols).fill(0);
    for (const t of json.trees) for (const f of t.splitFeature) counts[f]!++;
    expect(splits.map((s) => s.importance)).toEqual(counts);
    const gain = m.featureImportance('gain');
    const sumGain = new Array<number>(d.X.cols).fill(0);
    for (const t of json.trees) t.splitFeature.forEach((f, j) => (sumGain[f]! += t.splitGain[j]!));
    gain.forEach((g, i) => expect(g.importance).toBeCloseTo(sumGain[i]!, 6));
    const top3 = [...gain].sort((a, b) => b.importance - a.importance).slice(0, 3).map((g) => g.feature).sort();
    expect(top3).toEqual([json.features[0]!.name, json.features[1]!.name, json.features[2]!.name].sort());
  });
});
