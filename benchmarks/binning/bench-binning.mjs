#!/usr/bin/env node
// Micro-benchmark of the quantile-binning kernel: fitBins + applyBins on a seeded 1M x 28 float32
// matrix (column layout, 2% NaN), AVX2 vs scalar (per-call `simd` option) and 1 vs 2 threads.
// Configurations are interleaved round by round and the median is reported, so drift on a
// shared machine hits all of them alike. Prints one JSON line (results + ratios).
//
//   npm run build:native && npx tsc -p tsconfig.json
//   node benchmarks/binning/bench-binning.mjs [--rows 1000000] [--cols 28] [--rounds 5]
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { applyBins, fitBins, nativeInfo } from '../../dist/bindings/index.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    cols: { type: 'string', default: '28' },
    rounds: { type: 'string', default: '5' },
    seed: { type: 'string', default: '1' },
  },
});
const rows = Number(args.rows);
const cols = Number(args.cols);
const rounds = Number(args.rounds);
const NAN_RATE = 0.02;

/** Seeded matrix: mixed feature shapes (gaussian-ish, uniform, skewed, low-cardinality ints). */
function makeData(seed) {
  let a = seed >>> 0;
  const rnd = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const v = new Float32Array(rows * cols);
  for (let f = 0; f < cols; f++) {
    const kind = f % 4;
    const scale = 1 + f * 3.7;
    const base = f * rows;
    for (let r = 0; r < rows; r++) {
      const u = rnd();
      let x;
      if (kind === 0) x = (u + rnd() + rnd() - 1.5) * scale;
      else if (kind === 1) x = u * scale;
      else if (kind === 2) x = Math.exp(u * 8) - 1;
      else x = Math.floor(u * 12);
      v[base + r] = rnd() < NAN_RATE ? NaN : x;
    }
  }
  return v;
}

const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round2 = (x) => Math.round(x * 100) / 100;

async function time(fn) {
  const t0 = performance.now();
  const out = await fn();
  return { ms: performance.now() - t0, out };
}

const info = nativeInfo();
const t0 = performance.now();
const values = makeData(Number(args.seed));
const genMs = performance.now() - t0;
const base = { rows, cols, layout: 'column' };

const autoLabel = info.simdLevel; // 'avx2' unless the CPU lacks it or KILN_SIMD=scalar
const configs = [
  { name: 'fit_t1', run: () => fitBins(values, { ...base, numThreads: 1 }) },
  { name: 'fit_t2', run: () => fitBins(values, { ...base, numThreads: 2 }) },
];
const mapper = await fitBins(values, { ...base, numThreads: 2 }); // warm-up + mapper for apply
for (const [simd, label] of [['auto', autoLabel], ['scalar', 'scalar']]) {
  if (simd === 'auto' && label === 'scalar') continue; // nothing to compare against
  for (const t of [1, 2]) {
    configs.push({ name: `apply_${label}_t${t}`, run: () => applyBins(values, { ...base, numThreads: t, simd }, mapper) });
  }
}

const samples = Object.fromEntries(configs.map((c) => [c.name, []]));
let reference;
let identical = true;
for (const c of configs) await c.run(); // warm-up round
for (let i = 0; i < rounds; i++) {
  for (const c of configs) {
    const { ms, out } = await time(c.run);
    samples[c.name].push(ms);
    if (out instanceof Uint8Array) {
      if (reference === undefined) reference = out;
      else if (!Buffer.from(out).equals(Buffer.from(reference))) identical = false;
    }
  }
}

const med = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, round2(median(v))]));
const ratios = { fit_t1_over_t2: round2(med.fit_t1 / med.fit_t2) };
if (med.apply_avx2_t1 !== undefined) {
  ratios.apply_scalar_over_avx2_t1 = round2(med.apply_scalar_t1 / med.apply_avx2_t1);
  ratios.apply_scalar_over_avx2_t2 = round2(med.apply_scalar_t2 / med.apply_avx2_t2);
  ratios.apply_avx2_t1_over_t2 = round2(med.apply_avx2_t1 / med.apply_avx2_t2);
}
ratios.apply_scalar_t1_over_t2 = round2(med.apply_scalar_t1 / med.apply_scalar_t2);
const mvals = (ms) => round2((rows * cols) / ms / 1000);
const throughputMValuesPerS = Object.fromEntries(
  Object.entries(med).filter(([k]) => k.startsWith('apply')).map(([k, ms]) => [k, mvals(ms)]),
);

console.log(
  JSON.stringify({
    bench: 'binning',
    rows,
    cols,
    dtype: 'float32',
    layout: 'column',
    nanRate: NAN_RATE,
    maxBin: 255,
    sampleSize: 200000,
    rounds,
    node: process.version,
    simdLevel: info.simdLevel,
    hardwareConcurrency: info.hardwareConcurrency,
    totalBins: Array.from(mapper.numBins).reduce((a, b) => a + b, 0),
    outputsIdentical: identical,
    genMs: round2(genMs),
    medianMs: med,
    throughputMValuesPerS,
    ratios,
    samplesMs: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, v.map(round2)])),
  }),
);
if (!identical) process.exitCode = 1;
