#!/usr/bin/env node
// Logistic regression: kiln (L-BFGS, numThreads 2) vs scikit-learn's
// make_pipeline(StandardScaler(), LogisticRegression(solver='lbfgs')) on the same seeded
// 1M x 28 float32 binary matrix (written once to benchmarks/.data/ as raw .f32 + .u8 files for
// the Python anchor). Rounds alternate kiln / sklearn; medians are compared. Reported: the time
// ratio kiln / sklearn (target <= 0.5) and the difference of mean training log-loss (target
// within 1e-4). sklearn's fit time is measured inside Python (data already loaded).
//
//   npx node-gyp rebuild -j 2 && npm run build:ts
//   node benchmarks/linear/bench-logreg.mjs [--rows 1000000] [--cols 28] [--rounds 3] [--C 1]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { nativeInfo } from '../../dist/bindings/index.js';
import { LogisticRegression } from '../../dist/src/models/linear.js';
import { BENCH_DIR, ensureDataDir, machine, median } from '../lib.mjs';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    cols: { type: 'string', default: '28' },
    rounds: { type: 'string', default: '3' },
    seed: { type: 'string', default: '1' },
    C: { type: 'string', default: '1' },
    python: { type: 'string', default: '/usr/bin/python3' },
  },
});
const rows = Number(args.rows);
const cols = Number(args.cols);
const rounds = Number(args.rounds);
const C = Number(args.C);
const MAX_ITER = 1000;

/** Seeded data: features of mixed scale / offset / skew; labels from a noisy logistic model. */
function makeData(seed) {
  let a = seed >>> 0;
  const rnd = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const w = Array.from({ length: cols }, (_, f) => (f % 3 === 0 ? 0 : (rnd() - 0.5) * 1.2));
  const values = new Float32Array(rows * cols);
  const y = new Uint8Array(rows);
  const z = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    let m = -0.3;
    for (let f = 0; f < cols; f++) {
      const u = (rnd() + rnd() + rnd() - 1.5) * 2;
      z[f] = f % 4 === 3 ? Math.exp(u * 0.5) : u;
      m += w[f] * z[f];
      const scale = 1 + f * 2.5;
      values[r * cols + f] = f % 4 === 2 ? Math.floor(z[f] * 3) : z[f] * scale + f * 7;
    }
    y[r] = rnd() < 1 / (1 + Math.exp(-m)) ? 1 : 0;
  }
  return { values, y };
}

function meanLogLoss(p, y) {
  let s = 0;
  for (let i = 0; i < y.length; i++) {
    const q = y[i] === 1 ? p[i] : 1 - p[i];
    s -= Math.log(Math.min(1 - 1e-15, Math.max(1e-15, q)));
  }
  return s / y.length;
}

const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

const t0 = performance.now();
const { values, y } = makeData(Number(args.seed));
const genMs = performance.now() - t0;
const dir = ensureDataDir();
const base = path.join(dir, `logreg-${rows}x${cols}-s${args.seed}`);
fs.writeFileSync(`${base}.f32`, values);
fs.writeFileSync(`${base}.u8`, y);
const labels = Float64Array.from(y);
const X = { values, rows, cols };

function runKiln() {
  const model = new LogisticRegression({ C, numThreads: 2, maxIter: MAX_ITER });
  const start = performance.now();
  return model.fit(X, labels).then((m) => ({ ms: performance.now() - start, model: m }));
}

function runSklearn() {
  const script = path.join(BENCH_DIR, 'linear', 'sklearn_logreg.py');
  const r = spawnSync(args.python, [script, `${base}.f32`, `${base}.u8`, String(rows), String(cols), String(C), String(MAX_ITER)], { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.status !== 0) throw new Error(`sklearn anchor failed (${r.status}):\n${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

await runKiln(); // warm-up (page-in, thread start)
const kilnMs = [];
const sklearnMs = [];
let kiln;
let sk;
for (let i = 0; i < rounds; i++) {
  kiln = await runKiln();
  kilnMs.push(kiln.ms);
  sk = runSklearn();
  sklearnMs.push(sk.fitSeconds * 1000);
}

const model = kiln.model;
const p = await model.predict(X);
const kilnLogLoss = meanLogLoss(p, y);
const coef = model.coefficients[0];
const coefMaxAbsDiff = Math.max(...coef.map((c, i) => Math.abs(c - sk.coef[i])), Math.abs(model.intercepts[0] - sk.intercept));
const kMed = median(kilnMs);
const sMed = median(sklearnMs);
const ratio = kMed / sMed;
const logLossDiff = kilnLogLoss - sk.logLoss;

console.log(
  JSON.stringify({
    bench: 'logreg',
    rows,
    cols,
    dtype: 'float32',
    layout: 'row',
    C,
    rounds,
    machine: machine(),
    simdLevel: nativeInfo().simdLevel,
    sklearn: sk.sklearn,
    genMs: round(genMs),
    kiln: { medianMs: round(kMed), samplesMs: kilnMs.map((v) => round(v)), iterations: model.training.iterations, converged: model.training.converged, gradNorm: model.training.gradNorm, logLoss: kilnLogLoss },
    sklearnAnchor: { medianMs: round(sMed), samplesMs: sklearnMs.map((v) => round(v)), iterations: sk.nIter, logLoss: sk.logLoss },
    ratioKilnOverSklearn: round(ratio, 3),
    ratioTarget: 0.5,
    logLossDiff,
    logLossTarget: 1e-4,
    coefMaxAbsDiff,
    pass: ratio <= 0.5 && Math.abs(logLossDiff) <= 1e-4,
  }),
);
