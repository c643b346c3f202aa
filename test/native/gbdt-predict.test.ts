// Batch prediction paths agree bit for bit: the AVX2 QuickScorer path (trees of <= 64 leaves,
// numeric NaN-missing nodes) against the scalar traversal (KILN_SIMD=scalar in a child process)
// and against a JS reference traversal, over random forests with NaN / +-Infinity inputs,
// thresholds equal to inputs, 1-, 64- and 65-leaf trees, categorical / zero / none missing trees
// (traversal fallback inside the same forest), float32 and float64, both layouts, row counts not a
// multiple of the 32-row groups or 64-row blocks, wide models, and 1 vs 2 threads.
import { spawnSync } from 'node:child_process';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { nativeInfo, rawAddon } from '../../bindings/index.js';
import type { RawForest } from '../../bindings/native.js';
import { ROOT } from '../helpers/paths.js';

// Plain JS shared by this process and the KILN_SIMD=scalar child: builds the forests and data and
// computes every prediction case with the raw addon `a`. `compute(a)` resolves to {key: base64}.
const GEN = `
function rng(seed) {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return s / 4294967296; };
}
const GRID = [-2, -1, -0.5, 0, 0.1, Math.fround(0.1), 0.3, 0.5, 1, 1.5, 2, 1e-40, -1e-40, 2.5e-36, 3e38, -3e38];
// A random binary tree of L leaves (random split order, random leaf ids); kind: 'nan' | 'mixed'.
function addTree(F, L, kind, r, acc, extra) {
  const n0 = acc.splitFeature.length, l0 = acc.leafValue.length;
  const left = [], right = [], slots = [];
  if (L > 1) { left.push(0); right.push(0); slots.push([0, 0], [0, 1]); }
  while (L > 1 && slots.length < L) {
    const i = Math.floor(r() * slots.length);
    const [p, side] = slots[i];
    const n = left.length;
    left.push(0); right.push(0);
    (side === 0 ? left : right)[p] = n;
    slots.splice(i, 1, [n, 0], [n, 1]);
  }
  const ids = slots.map((_, i) => i);
  for (let i = ids.length - 1; i > 0; i--) { const j = Math.floor(r() * (i + 1)); [ids[i], ids[j]] = [ids[j], ids[i]]; }
  slots.forEach(([p, side], i) => { (side === 0 ? left : right)[p] = ~ids[i]; });
  let cats = 0;
  for (let n = 0; n < left.length; n++) {
    acc.splitFeature.push(Math.floor(r() * F));
    let d = 8 | (r() < 0.5 ? 2 : 0);
    let thr = r() < 0.6 ? GRID[Math.floor(r() * GRID.length)] : (r() - 0.5) * 5;
    if (kind === 'mixed') {
      const u = r();
      if (u < 0.15) d = (d & 2) | 4;                 // missing type zero
      else if (u < 0.3) d = d & 2;                   // missing type none
      else if (u < 0.45) {                           // categorical, NaN-missing or not
        d = 1 | (d & 2) | (r() < 0.5 ? 8 : 0);
        thr = cats++;
        for (let w = 0; w < 8; w++) acc.catBits.push(Math.floor(r() * 4294967296) >>> 0);
      }
    }
    if (extra === 'inf' && n === 0) thr = Infinity;
    if (extra === '-inf' && n === 0) thr = -Infinity;
    acc.threshold.push(thr);
    acc.decisionType.push(d);
    acc.leftChild.push(left[n]);
    acc.rightChild.push(right[n]);
  }
  for (let l = 0; l < L; l++) acc.leafValue.push((r() - 0.5) * 2 + l * 1e-3);
  acc.nodeOffset.push(acc.splitFeature.length);
  acc.leafOffset.push(acc.leafValue.length);
  acc.catOffset.push(acc.catOffset[acc.catOffset.length - 1] + cats);
}
function makeForest(seed, F, k, lt, specs) {
  const r = rng(seed);
  const acc = { splitFeature: [], threshold: [], decisionType: [], leftChild: [], rightChild: [], leafValue: [], catBits: [], nodeOffset: [0], leafOffset: [0], catOffset: [0] };
  for (const [L, kind, extra] of specs) addTree(F, L, kind, r, acc, extra);
  return {
    numFeatures: F, treesPerIteration: k, decisionLt: lt,
    baseScore: Float64Array.from({ length: k }, (_, c) => 0.25 - c * 0.1),
    nodeOffset: Int32Array.from(acc.nodeOffset), leafOffset: Int32Array.from(acc.leafOffset), catOffset: Int32Array.from(acc.catOffset),
    splitFeature: Int32Array.from(acc.splitFeature), threshold: Float64Array.from(acc.threshold),
    decisionType: Uint8Array.from(acc.decisionType), leftChild: Int32Array.from(acc.leftChild), rightChild: Int32Array.from(acc.rightChild),
    leafValue: Float64Array.from(acc.leafValue), catBits: Uint32Array.from(acc.catBits), splitGain: new Float64Array(0),
  };
}
function forests() {
  const a = [];
  const r = rng(7);
  for (let t = 0; t < 40; t++) a.push([t === 0 ? 64 : t === 1 ? 1 : t === 2 ? 2 : 1 + Math.floor(r() * 64), 'nan']);
  const b = [[64, 'nan'], [65, 'nan'], [1, 'nan'], [12, 'mixed'], [30, 'nan'], [9, 'nan', 'inf'], [20, 'mixed'], [64, 'nan', '-inf'], [100, 'nan'],
             [5, 'nan'], [40, 'nan'], [3, 'mixed']];
  const c = [];
  for (let t = 0; t < 18; t++) c.push([1 + Math.floor(r() * 64), 'nan', t === 5 ? '-inf' : undefined]);
  return { A: makeForest(11, 7, 1, false, a), B: makeForest(12, 5, 3, true, b), C: makeForest(13, 6, 2, false, c),
    // Wide: QuickScorer transposes only the features its trees use; one-row path past 512 features.
    D: makeForest(14, 600, 1, false, [[10, 'nan'], [33, 'nan'], [64, 'nan'], [1, 'nan']]) };
}
function data(seed, rows, F) {
  const r = rng(seed);
  const v = new Float64Array(rows * F);
  for (let i = 0; i < v.length; i++) {
    const u = r();
    v[i] = u < 0.1 ? NaN : u < 0.13 ? Infinity : u < 0.16 ? -Infinity : u < 0.5 ? GRID[Math.floor(r() * GRID.length)]
      : u < 0.55 ? Math.floor(r() * 300) - 20 : (r() - 0.5) * 6;
  }
  return v;
}
function toColumns(v, rows, F) {
  const c = new v.constructor(v.length);
  for (let i = 0; i < rows; i++) for (let f = 0; f < F; f++) c[f * rows + i] = v[i * F + f];
  return c;
}
const b64 = (x) => Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('base64');
async function compute(a) {
  const out = {};
  for (const [name, forest] of Object.entries(forests())) {
    const h = a.gbdtPredictor(forest);
    const F = forest.numFeatures, k = forest.treesPerIteration, T = forest.nodeOffset.length - 1;
    for (const rows of [1, 15, 16, 17, 31, 33, 63, 64, 65, 200, 5003]) {
      const v64 = data(rows * 31 + F, rows, F);
      const v32 = Float32Array.from(v64);
      for (const [dt, v] of [['f64', v64], ['f32', v32]]) {
        for (const layout of ['row', 'column']) {
          const vals = layout === 'row' ? v : toColumns(v, rows, F);
          for (const numThreads of [1, 2]) {
            for (const numTrees of [T, T - k]) {
              const p = await a.gbdtPredict(h, vals, { rows, cols: F, layout }, { numTrees, numThreads, transform: 0, objective: 'regression' });
              out[[name, rows, dt, layout, numThreads, numTrees].join('/')] = b64(p);
            }
          }
        }
      }
    }
  }
  return out;
}
`;

/** A generated forest: RawForest without split gains. */
type Forest = Omit<RawForest, 'splitGain'>;
interface Gen {
  forests: () => Record<string, Forest>;
  data: (seed: number, rows: number, F: number) => Float64Array;
  compute: (a: unknown) => Promise<Record<string, string>>;
}
const gen = new Function(`${GEN}; return { forests, data, compute };`)() as Gen;

/** The model-file semantics, node by node (LightGBM decision types), in plain JS doubles. */
function referenceMargins(f: Forest, x: ArrayLike<number>, rows: number, numTrees: number): Float64Array {
  const F = f.numFeatures;
  const k = f.treesPerIteration;
  const out = new Float64Array(rows * k);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < k; c++) out[r * k + c] = f.baseScore[c]!;
    for (let t = 0; t < numTrees; t++) {
      const n0 = f.nodeOffset[t]!;
      const l0 = f.leafOffset[t]!;
      let n = f.nodeOffset[t + 1]! === n0 ? -1 : 0;
      while (n >= 0) {
        const i = n0 + n;
        const d = f.decisionType[i]!;
        const dl = (d & 2) !== 0;
        const missing = (d >> 2) & 3;
        let v = x[r * F + f.splitFeature[i]!]!;
        let left: boolean;
        if (d & 1) {
          if (Number.isNaN(v) && missing === 2) left = dl;
          else {
            if (Number.isNaN(v)) v = 0;
            if (v < 0 || v >= 256) left = false;
            else {
              const code = Math.trunc(v);
              const set = f.catOffset[t]! + f.threshold[i]!;
              left = ((f.catBits[set * 8 + (code >>> 5)]! >>> (code & 31)) & 1) === 1;
            }
          }
        } else {
          let miss = false;
          if (missing === 2) miss = Number.isNaN(v);
          else if (missing === 0 && Number.isNaN(v)) v = 0;
          else if (missing === 1) miss = Number.isNaN(v) || (v > -1e-35 && v <= 1e-35);
          const thr = f.threshold[i]!;
          left = miss ? dl : f.decisionLt ? v < thr : v <= thr;
        }
        n = left ? f.leftChild[i]! : f.rightChild[i]!;
      }
      out[r * k + (t % k)] += f.leafValue[l0 + ~n]!;
    }
  }
  return out;
}

const b64 = (x: Float64Array): string => Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('base64');

describe('GBDT batch prediction paths', () => {
  it('the default (QuickScorer) path equals the KILN_SIMD=scalar traversal bit for bit', async () => {
    const script = `
      const a = require(${JSON.stringify(path.join(ROOT, 'build/Release/kiln.node'))});
      ${GEN}
      compute(a).then((out) => process.stdout.write(JSON.stringify({ simd: a.nativeInfo().simdLevel, out })));`;
    const child = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, KILN_SIMD: 'scalar' }, encoding: 'utf8', maxBuffer: 1 << 28 });
    expect(child.status, child.stderr).toBe(0);
    const res = JSON.parse(child.stdout) as { simd: string; out: Record<string, string> };
    expect(res.simd).toBe('scalar');
    const local = await gen.compute(rawAddon());
    expect(Object.keys(local).length).toBe(Object.keys(res.out).length);
    const diff = Object.keys(local).filter((key) => local[key] !== res.out[key]);
    expect(diff).toEqual([]);
  });

  it('matches a JS reference traversal, any thread count and layout', async () => {
    const a = rawAddon();
    for (const [name, forest] of Object.entries(gen.forests())) {
      const h = a.gbdtPredictor(forest as never);
      const F = forest.numFeatures;
      const T = forest.nodeOffset.length - 1;
      for (const rows of [1, 17, 64, 5003]) {
        const v64 = gen.data(rows * 7 + 1, rows, F);
        const v32 = Float32Array.from(v64);
        for (const v of [v64, v32]) {
          const want = b64(referenceMargins(forest, v, rows, T));
          for (const numThreads of [1, 2]) {
            const got = await a.gbdtPredict(h, v, { rows, cols: F, layout: 'row' }, { numTrees: T, numThreads, transform: 0, objective: 'regression' });
            expect(b64(got), `${name} rows=${rows} ${v.constructor.name} threads=${numThreads}`).toBe(want);
          }
        }
      }
    }
  });

  it('gbdtPredictRow (one row, trees interleaved) equals the batch margins', async () => {
    const a = rawAddon();
    for (const forest of Object.values(gen.forests())) {
      const h = a.gbdtPredictor(forest as never);
      const F = forest.numFeatures;
      const k = forest.treesPerIteration;
      const T = forest.nodeOffset.length - 1;
      const rows = 300;
      const v = gen.data(99, rows, F);
      for (const numTrees of [T, T - k, k, 0]) {
        const batch = await a.gbdtPredict(h, v, { rows, cols: F, layout: 'row' }, { numTrees, numThreads: 1, transform: 0, objective: 'regression' });
        const out = new Float64Array(k);
        for (let r = 0; r < rows; r++) {
          a.gbdtPredictRow(h, v.slice(r * F, (r + 1) * F), numTrees, out);
          expect(b64(out)).toBe(b64(batch.subarray(r * k, (r + 1) * k)));
        }
      }
    }
  });

  it('reports the SIMD level the default path ran with', () => {
    expect(['avx2', 'scalar']).toContain(nativeInfo().simdLevel);
  });
});
