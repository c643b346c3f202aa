// Properties of the quantile-binning kernel, checked through bindings/ against a JS reference.
import { spawnSync } from 'node:child_process';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import {
  MISSING_BIN,
  applyBins,
  fitBins,
  nativeInfo,
  type BinMapper,
  type FloatArray,
  type Layout,
} from '../../bindings/index.js';
import { ROOT } from '../helpers/paths.js';
import { seededRandom } from '../../src/validate/corpus.js';

// ------------------------------------------------------------------------------------------
// Seeded data


type ColumnKind =
  | 'normal'
  | 'fewInts'
  | 'dupHeavy'
  | 'withInf'
  | 'constant'
  | 'allNaN'
  | 'extremes'
  | 'adjacent'
  | 'signedZero';

/** One column of `rows` doubles of the given kind, with `nanRate` NaNs (except where noted). */
function makeColumn(kind: ColumnKind, rows: number, rnd: () => number, nanRate = 0.05): number[] {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    let v: number;
    switch (kind) {
      case 'normal': {
        const u = Math.max(rnd(), 1e-12);
        v = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd()) * 10;
        break;
      }
      case 'fewInts':
        v = Math.floor(rnd() * 7) - 3;
        break;
      case 'dupHeavy':
        v = rnd() < 0.5 ? 0 : rnd() < 0.5 ? 1.5 : rnd() * 100;
        break;
      case 'withInf': {
        const u = rnd();
        v = u < 0.05 ? Infinity : u < 0.1 ? -Infinity : (rnd() - 0.5) * 1000;
        break;
      }
      case 'constant':
        v = 42.25;
        break;
      case 'allNaN':
        v = NaN;
        break;
      case 'extremes': {
        const pool = [1.7e308, -1.7e308, 1e308, -1e308, Number.MAX_VALUE, -Number.MAX_VALUE, 5e-324, -5e-324, 0];
        v = pool[Math.floor(rnd() * pool.length)]!;
        break;
      }
      case 'adjacent': {
        // consecutive doubles: midpoints round to one end, exercising the fallback rule
        const pool = [1, 1 + Number.EPSILON, 1 + 2 * Number.EPSILON, 1 - Number.EPSILON / 2, 2, 3];
        v = pool[Math.floor(rnd() * pool.length)]!;
        break;
      }
      case 'signedZero':
        v = rnd() < 0.5 ? -0 : rnd() < 0.5 ? 0 : rnd() < 0.5 ? -1 : 1;
        break;
    }
    if (kind !== 'constant' && rnd() < nanRate) v = NaN;
    out.push(v);
  }
  return out;
}

/** Packs columns into a typed array in the requested layout. */
function pack(columns: number[][], layout: Layout, f32 = false): FloatArray {
  const rows = columns[0]!.length;
  const cols = columns.length;
  const out = f32 ? new Float32Array(rows * cols) : new Float64Array(rows * cols);
  for (let f = 0; f < cols; f++) {
    for (let r = 0; r < rows; r++) {
      out[layout === 'column' ? f * rows + r : r * cols + f] = columns[f]![r]!;
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------------
// JS reference of the documented rules

/** Threshold between distinct a < b: the midpoint when a <= m < b, else a (overflow, adjacent doubles, ±Inf). */
function mid(a: number, b: number): number {
  const m = (a + b) / 2;
  return m < b && m >= a ? m : a;
}

/** Reference thresholds for one feature from its (sampled) values, per the documented rule. */
function refThresholds(values: ArrayLike<number>, maxBin: number): number[] {
  const s = Float64Array.from(Array.from(values).filter((v) => !Number.isNaN(v))).sort();
  const n = s.length;
  if (n === 0) return [];
  let distinct = 1;
  for (let i = 1; i < n; i++) if (s[i]! > s[i - 1]!) distinct++;
  const out: number[] = [];
  if (distinct <= maxBin) {
    for (let i = 1; i < n; i++) if (s[i]! > s[i - 1]!) out.push(mid(s[i - 1]!, s[i]!));
    return out;
  }
  for (let i = 1; i < maxBin; i++) {
    const r = Math.floor((i * n) / maxBin);
    const a = s[r]!;
    let j = r;
    while (j < n && !(s[j]! > a)) j++;
    if (j === n) break;
    const t = mid(a, s[j]!);
    if (out.length === 0 || t > out[out.length - 1]!) out.push(t);
  }
  return out;
}

function refFit(columns: number[][], maxBin: number, sampleRows?: number[]): number[][] {
  return columns.map((c) => refThresholds(sampleRows ? sampleRows.map((r) => c[r]!) : c, maxBin));
}

/** bin(v) = #{t : t < v}; NaN -> 255. */
function refBin(thresholds: ArrayLike<number>, v: number): number {
  if (Number.isNaN(v)) return MISSING_BIN;
  let b = 0;
  for (let i = 0; i < thresholds.length; i++) if (thresholds[i]! < v) b++;
  return b;
}

function featureThresholds(m: BinMapper, f: number): Float64Array {
  return m.thresholds.subarray(m.offsets[f]!, m.offsets[f + 1]!);
}

function mapperToArrays(m: BinMapper): number[][] {
  return Array.from(m.numBins, (_, f) => Array.from(featureThresholds(m, f)));
}

/** Structural invariants every mapper must satisfy. */
function expectWellFormed(m: BinMapper, cols: number, maxBin: number): void {
  expect(m.numBins).toBeInstanceOf(Int32Array);
  expect(m.thresholds).toBeInstanceOf(Float64Array);
  expect(m.offsets).toBeInstanceOf(Int32Array);
  expect(m.numBins.length).toBe(cols);
  expect(m.offsets.length).toBe(cols + 1);
  expect(m.offsets[0]).toBe(0);
  expect(m.offsets[cols]).toBe(m.thresholds.length);
  for (let f = 0; f < cols; f++) {
    const t = featureThresholds(m, f);
    expect(m.numBins[f]).toBe(t.length + 1);
    expect(m.numBins[f]).toBeGreaterThanOrEqual(1);
    expect(m.numBins[f]).toBeLessThanOrEqual(maxBin);
    for (let i = 0; i < t.length; i++) {
      expect(Number.isNaN(t[i]!)).toBe(false);
      if (i > 0) expect(t[i - 1]! < t[i]!).toBe(true);
    }
  }
}

/** Checks out (column-major) against the reference bin rule for every value. */
function expectBinsMatch(out: Uint8Array, columns: number[][], m: BinMapper): void {
  const rows = columns[0]!.length;
  expect(out.length).toBe(rows * columns.length);
  for (let f = 0; f < columns.length; f++) {
    const t = featureThresholds(m, f);
    for (let r = 0; r < rows; r++) {
      const got = out[f * rows + r]!;
      const want = refBin(t, columns[f]![r]!);
      if (got !== want) {
        throw new Error(`feature ${f} row ${r} value ${columns[f]![r]}: bin ${got}, expected ${want}`);
      }
    }
  }
}

// Counter-based sample of FitBins, re-implemented with BigInt (pins the sampling contract).
const MASK = (1n << 64n) - 1n;
function mix64(z: bigint): bigint {
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK;
  return z ^ (z >> 31n);
}
function refSampleRows(rows: number, sampleSize: number, seed: number): number[] {
  const key = mix64(mix64(BigInt(seed) ^ 0x6a09e667f3bcc909n) ^ ((1n * 0xd1b54a32d192ed03n) & MASK));
  const p = sampleSize / rows;
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    const h = mix64((key + BigInt(r + 1) * 0x9e3779b97f4a7c15n) & MASK);
    if (Number(h >> 11n) * 2 ** -53 < p) out.push(r);
  }
  return out;
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

// ------------------------------------------------------------------------------------------

describe('nativeInfo', () => {
  it('reports version, SIMD level, CUDA flag and cores', () => {
    const info = nativeInfo();
    expect(info.version).toBe('0.1.0');
    expect(['avx2', 'scalar']).toContain(info.simdLevel);
    expect(typeof info.cudaCompiled).toBe('boolean');
    expect(info.hardwareConcurrency).toBeGreaterThanOrEqual(1);
    expect(MISSING_BIN).toBe(255);
  });
});

describe('fitBins matches the reference rule (all rows)', () => {
  const kinds: ColumnKind[] = ['normal', 'fewInts', 'dupHeavy', 'withInf', 'constant', 'allNaN', 'extremes', 'adjacent', 'signedZero'];
  for (const maxBin of [2, 3, 16, 255]) {
    it(`maxBin=${maxBin}: thresholds, edges and every bin`, async () => {
      const rnd = seededRandom(1000 + maxBin);
      const rows = 3001;
      const columns = kinds.map((k) => makeColumn(k, rows, rnd));
      const values = pack(columns, 'column');
      const m = await fitBins(values, { rows, cols: columns.length, maxBin });
      expectWellFormed(m, columns.length, maxBin);
      expect(mapperToArrays(m)).toEqual(refFit(columns, maxBin));
      // constant and all-NaN columns: one value bin, no thresholds
      expect(m.numBins[kinds.indexOf('constant')]).toBe(1);
      expect(m.numBins[kinds.indexOf('allNaN')]).toBe(1);
      const out = await applyBins(values, { rows, cols: columns.length }, m);
      expectBinsMatch(out, columns, m);
      for (let f = 0; f < columns.length; f++) {
        for (let r = 0; r < rows; r++) {
          const b = out[f * rows + r]!;
          if (Number.isNaN(columns[f]![r]!)) expect(b).toBe(MISSING_BIN);
          else expect(b).toBeLessThan(m.numBins[f]!);
        }
      }
    });
  }

  it('gives one bin per distinct value when distinct <= maxBin, midpoints between them', async () => {
    const col = [5, 1, 3, 3, 1, NaN, 5, 9, -Infinity, Infinity];
    const m = await fitBins(Float64Array.from(col), { rows: col.length, cols: 1, maxBin: 255 });
    // distinct: -inf, 1, 3, 5, 9, +inf -> thresholds: mid(-inf,1) = -inf, 2, 4, 7, mid(9,inf) = inf -> 9
    expect(Array.from(m.thresholds)).toEqual([-Infinity, 2, 4, 7, 9]);
    expect(Array.from(m.numBins)).toEqual([6]);
    const out = await applyBins(Float64Array.from(col), { rows: col.length, cols: 1 }, m);
    expect(Array.from(out)).toEqual([3, 1, 2, 2, 1, 255, 3, 4, 0, 5]);
  });

  it('quantile cuts: at most maxBin roughly balanced bins; a heavy value keeps its own bin', async () => {
    const rnd = seededRandom(7);
    const rows = 20000;
    const uniform = Array.from({ length: rows }, () => rnd());
    const heavy = Array.from({ length: rows }, () => (rnd() < 0.4 ? 0 : rnd()));
    const columns = [uniform, heavy];
    const m = await fitBins(pack(columns, 'column'), { rows, cols: 2, maxBin: 16 });
    expectWellFormed(m, 2, 16);
    expect(mapperToArrays(m)).toEqual(refFit(columns, 16));
    expect(m.numBins[0]).toBe(16);
    const out = await applyBins(pack(columns, 'column'), { rows, cols: 2 }, m);
    const counts = new Array<number>(16).fill(0);
    for (let r = 0; r < rows; r++) counts[out[r]!]!++;
    for (const c of counts) expect(c).toBeGreaterThan((rows / 16) * 0.8);
    // the 40% zeros fill bin 0 alone: threshold 0 < t < smallest positive value
    const t1 = featureThresholds(m, 1);
    expect(t1[0]!).toBeGreaterThan(0);
    expect(out.subarray(rows).filter((b, r) => b === 0 && heavy[r] !== 0).length).toBe(0);
  });

  it('±Infinity, extreme and adjacent doubles stay in order (midpoint fallback)', async () => {
    const col = [-Infinity, -Number.MAX_VALUE, -1e308, 1, 1 + Number.EPSILON, 1e308, Number.MAX_VALUE, Infinity];
    const m = await fitBins(Float64Array.from(col), { rows: col.length, cols: 1 });
    expect(Array.from(m.thresholds)).toEqual(refThresholds(col, 255));
    expect(m.numBins[0]).toBe(8);
    const out = await applyBins(Float64Array.from(col), { rows: col.length, cols: 1 }, m);
    expect(Array.from(out)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });
});

describe('applyBins', () => {
  it('bins unseen values (outside the fitted range, ±Inf, NaN) by the rule', async () => {
    const rnd = seededRandom(99);
    const train = [makeColumn('normal', 2000, rnd), makeColumn('fewInts', 2000, rnd), makeColumn('withInf', 2000, rnd)];
    const m = await fitBins(pack(train, 'column'), { rows: 2000, cols: 3, maxBin: 32 });
    const test = train.map((c) => c.map((v, i) => (i % 7 === 0 ? v * 1e3 : i % 11 === 0 ? -v - 0.5 : v + 0.25)));
    test[0]![1] = Infinity;
    test[0]![2] = -Infinity;
    test[1]![3] = NaN;
    const out = await applyBins(pack(test, 'row'), { rows: 2000, cols: 3, layout: 'row' }, m);
    expectBinsMatch(out, test, m);
  });

  it('uses any valid mapper: 254 thresholds, -Infinity and +Infinity thresholds, empty features', async () => {
    const t0 = Array.from({ length: 254 }, (_, i) => i - 127);
    const t1 = [-Infinity, 0, Infinity];
    const mapper: BinMapper = {
      numBins: Int32Array.from([255, 4, 1]),
      thresholds: Float64Array.from([...t0, ...t1]),
      offsets: Int32Array.from([0, 254, 257, 257]),
    };
    const rnd = seededRandom(3);
    const rows = 5003;
    const columns = [0, 1, 2].map(() =>
      Array.from({ length: rows }, () => {
        const u = rnd();
        return u < 0.02 ? NaN : u < 0.04 ? Infinity : u < 0.06 ? -Infinity : u < 0.1 ? Math.round((rnd() - 0.5) * 300) : (rnd() - 0.5) * 300;
      }),
    );
    for (const simd of ['auto', 'scalar'] as const) {
      for (const f32 of [false, true]) {
        const cols = f32 ? columns.map((c) => c.map(Math.fround)) : columns;
        const out = await applyBins(pack(cols, 'column', f32), { rows, cols: 3, simd }, mapper);
        expectBinsMatch(out, cols, mapper);
      }
    }
  });
});

describe('determinism', () => {
  const rows = 50_000; // > 3 row blocks of 16384
  const rnd = seededRandom(2024);
  const columns = [makeColumn('normal', rows, rnd), makeColumn('dupHeavy', rows, rnd), makeColumn('withInf', rows, rnd), makeColumn('allNaN', rows, rnd), makeColumn('fewInts', rows, rnd)];
  const cols = columns.length;
  const colValues = pack(columns, 'column');
  const rowValues = pack(columns, 'row');

  it('1 vs 2 vs 3 threads: identical mapper and bins', async () => {
    const mappers = await Promise.all([1, 2, 3].map((numThreads) => fitBins(colValues, { rows, cols, numThreads })));
    for (const m of mappers.slice(1)) expect(m).toEqual(mappers[0]);
    const outs = await Promise.all([1, 2, 3].map((numThreads) => applyBins(colValues, { rows, cols, numThreads }, mappers[0]!)));
    for (const o of outs.slice(1)) expect(sameBytes(o, outs[0]!)).toBe(true);
    expectBinsMatch(outs[0]!, columns, mappers[0]!);
  });

  it('row vs column layout: identical mapper and (column-major) bins', async () => {
    const mc = await fitBins(colValues, { rows, cols, layout: 'column', maxBin: 63 });
    const mr = await fitBins(rowValues, { rows, cols, layout: 'row', maxBin: 63 });
    expect(mr).toEqual(mc);
    const oc = await applyBins(colValues, { rows, cols, layout: 'column' }, mc);
    const or = await applyBins(rowValues, { rows, cols, layout: 'row' }, mc);
    expect(sameBytes(oc, or)).toBe(true);
  });

  it('Float32 vs Float64 agree on float-representable data', async () => {
    const f32cols = columns.map((c) => c.map(Math.fround));
    const m64 = await fitBins(pack(f32cols, 'column'), { rows, cols });
    const m32 = await fitBins(pack(f32cols, 'column', true), { rows, cols });
    expect(m32).toEqual(m64);
    const o64 = await applyBins(pack(f32cols, 'row'), { rows, cols, layout: 'row' }, m64);
    const o32 = await applyBins(pack(f32cols, 'row', true), { rows, cols, layout: 'row' }, m64);
    expect(sameBytes(o32, o64)).toBe(true);
  });

  it('simd scalar vs auto (AVX2 when available): identical bins for f32/f64, both layouts, ragged sizes', async () => {
    const m = await fitBins(colValues, { rows, cols, maxBin: 200 });
    for (const n of [rows, 1, 3, 7, 9, 16385]) {
      const sub = columns.map((c) => c.slice(0, n));
      for (const layout of ['column', 'row'] as const) {
        for (const f32 of [false, true]) {
          const v = pack(sub, layout, f32);
          const a = await applyBins(v, { rows: n, cols, layout, simd: 'auto' }, m);
          const s = await applyBins(v, { rows: n, cols, layout, simd: 'scalar' }, m);
          expect(sameBytes(a, s)).toBe(true);
          if (n <= 16385 && !f32) expectBinsMatch(s, sub, m);
        }
      }
    }
  });

  it('KILN_SIMD=scalar in a child process forces the scalar path with identical output', async () => {
    // The child uses the raw addon directly on data generated by the same inline code.
    const gen = `
      const rows = 20011, cols = 4, v = new Float32Array(rows * cols);
      let s = 12345;
      for (let i = 0; i < v.length; i++) {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        const u = s / 4294967296;
        v[i] = u < 0.03 ? NaN : u < 0.04 ? Infinity : (u - 0.5) * 1000;
      }`;
    const script = `
      const a = require(${JSON.stringify(path.join(ROOT, 'build/Release/kiln.node'))});
      ${gen}
      (async () => {
        const m = await a.fitBins(v, { rows, cols, layout: 'column', maxBin: 255, sampleSize: 200000, seed: 0, numThreads: 2 });
        const out = await a.applyBins(v, { rows, cols, layout: 'column', numThreads: 2, simd: 'auto' }, m);
        process.stdout.write(JSON.stringify({ simd: a.nativeInfo().simdLevel, bins: Buffer.from(out).toString('base64') }));
      })();`;
    const child = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, KILN_SIMD: 'scalar' }, encoding: 'utf8' });
    expect(child.status, child.stderr).toBe(0);
    const res = JSON.parse(child.stdout) as { simd: string; bins: string };
    expect(res.simd).toBe('scalar');

    const local = new Function(`${gen}; return { rows, cols, v };`)() as { rows: number; cols: number; v: Float32Array };
    const m = await fitBins(local.v, { rows: local.rows, cols: local.cols });
    const auto = await applyBins(local.v, { rows: local.rows, cols: local.cols, simd: 'auto' }, m);
    expect(Buffer.from(auto).toString('base64')).toBe(res.bins);
  });
});

describe('sampling (rows > sampleSize)', () => {
  const rows = 40_000;
  const rnd = seededRandom(555);
  const base = Array.from({ length: rows }, () => (rnd() - 0.5) * 1e4);
  base[17] = NaN;
  // feature 1 = -feature 0 (exact): same sampled rows => thresholds mirror exactly
  const columns = [base, base.map((v) => -v), makeColumn('fewInts', rows, rnd)];
  const cols = columns.length;

  it('samples rows by the counter hash of (seed, row): equals the reference on the sampled rows', async () => {
    for (const seed of [0, 1, 987654321]) {
      const sample = refSampleRows(rows, 3000, seed);
      expect(sample.length).toBeGreaterThan(2700);
      expect(sample.length).toBeLessThan(3300);
      const m = await fitBins(pack(columns, 'column'), { rows, cols, sampleSize: 3000, seed, maxBin: 64 });
      expectWellFormed(m, cols, 64);
      expect(mapperToArrays(m)).toEqual(refFit(columns, 64, sample));
    }
  });

  it('uses the same rows for every feature (mirrored feature has mirrored thresholds)', async () => {
    const m = await fitBins(pack(columns, 'column'), { rows, cols, sampleSize: 150, maxBin: 255 });
    const t0 = Array.from(featureThresholds(m, 0));
    const t1 = Array.from(featureThresholds(m, 1));
    expect(t0.length).toBeGreaterThan(90); // ~150 distinct sampled values, one bin each
    expect(t0.length).toBeLessThan(210);
    expect(t1).toEqual(t0.map((t) => -t).reverse());
  });

  it('is deterministic: same seed -> same mapper for any threads/layout; seed changes the sample', async () => {
    const opts = { rows, cols, sampleSize: 5000, seed: 42, maxBin: 255 };
    const a = await fitBins(pack(columns, 'column'), { ...opts, numThreads: 1 });
    const b = await fitBins(pack(columns, 'row'), { ...opts, layout: 'row', numThreads: 3 });
    const c = await fitBins(pack(columns, 'column'), { ...opts, numThreads: 2 });
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    const d = await fitBins(pack(columns, 'column'), { ...opts, seed: 43 });
    expect(Array.from(d.thresholds)).not.toEqual(Array.from(a.thresholds));
    const full = await fitBins(pack(columns, 'column'), { ...opts, sampleSize: rows });
    expect(Array.from(full.thresholds)).not.toEqual(Array.from(a.thresholds));
    expect(mapperToArrays(full)).toEqual(refFit(columns, 255));
  });
});

describe('concurrency', () => {
  it('many overlapping calls settle with identical results', async () => {
    const rnd = seededRandom(77);
    const rows = 20_000;
    const columns = [makeColumn('normal', rows, rnd), makeColumn('withInf', rows, rnd)];
    const v = pack(columns, 'row', true);
    const mappers = await Promise.all(Array.from({ length: 8 }, (_, i) => fitBins(v, { rows, cols: 2, layout: 'row', numThreads: (i % 3) + 1 })));
    for (const m of mappers) expect(m).toEqual(mappers[0]);
    const outs = await Promise.all(
      Array.from({ length: 12 }, (_, i) => applyBins(v, { rows, cols: 2, layout: 'row', numThreads: (i % 3) + 1, simd: i % 2 ? 'scalar' : 'auto' }, mappers[0]!)),
    );
    for (const o of outs) expect(sameBytes(o, outs[0]!)).toBe(true);
  });
});
