#!/usr/bin/env node
// Seeded synthetic binary-classification data for the GBDT benchmarks: rows × cols float32
// features (row-major), 2 % NaN, a non-linear signal (interactions, thresholds, sin, products,
// a categorical-like integer, correlated copies, pure noise) and Bernoulli label noise: the Bayes
// test AUC is ≈ 0.88 (written to meta.json), a 100-tree GBDT reaches ≈ 0.84–0.87. First 80 % of the
// rows are train, the last 20 % test. Deterministic for a given --seed (mulberry32 streams).
//
//   node benchmarks/gbdt/make-data.mjs [--rows 1000000] [--cols 28] [--seed 1] [--out DIR] [--force]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { DATA_DIR } from '../lib.mjs';

/** Bump when the generated values change, so stale data is regenerated. */
const GENERATOR_VERSION = 1;
const NAN_FRACTION = 0.02;
const TRAIN_FRACTION = 0.8;
/** Slope of the label's logistic link: sets how noisy the labels are (Bayes test AUC ≈ 0.88). */
const LABEL_SLOPE = 1.1;
/** Centre of the logistic link: sets the positive rate (≈ 48 %). */
const LABEL_OFFSET = 0.6;
/** Effect of each level of the integer feature f10 (levels 0..9). */
const LEVEL_EFFECT = [-1.0, 0.5, 0.0, 1.2, -0.6, 0.3, 0.9, -1.1, 0.1, 0.6];

const HELP = `make-data.mjs — seeded synthetic GBDT benchmark data (raw little-endian float32 files)

Options:
  --rows N     total rows, first 80 % train (default 1000000)
  --cols N     features; the signal uses f0..f15, f16..f19 are noisy copies, the rest noise (default 28)
  --seed N     PRNG seed (default 1)
  --out DIR    output folder (default benchmarks/.data/gbdt-synth-<rows>)
  --force      regenerate even when meta.json matches
  --help       this text

Writes train_X.f32 (trainRows×cols, row-major), train_y.f32 (0/1), test_X.f32, test_y.f32, meta.json.

Example:
  node benchmarks/gbdt/make-data.mjs --rows 1000000 --seed 1
`;

/** Parses the command line into numbers and the output folder. */
function parseCli() {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '1000000' },
      cols: { type: 'string', default: '28' },
      seed: { type: 'string', default: '1' },
      out: { type: 'string' },
      force: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const rows = Number(values.rows);
  const cols = Number(values.cols);
  const seed = Number(values.seed);
  if (!Number.isInteger(rows) || rows < 10) throw new Error(`--rows must be an integer ≥ 10, got ${values.rows}`);
  if (!Number.isInteger(cols) || cols < 1) throw new Error(`--cols must be an integer ≥ 1, got ${values.cols}`);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed must be a non-negative integer, got ${values.seed}`);
  const out = values.out ?? path.join(DATA_DIR, `gbdt-synth-${rows}`);
  return { rows, cols, seed, out, force: values.force };
}

/** mulberry32: a 32-bit seeded PRNG returning uniforms in [0, 1). */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Derives an independent stream seed from (seed, stream id) with a splitmix32-style finaliser. */
function streamSeed(seed, stream) {
  let z = (Math.imul(seed >>> 0, 0x9e3779b9) + Math.imul(stream + 1, 0x85ebca6b)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}

/** Standard-normal sampler (Box–Muller, both outputs used) over a uniform source. */
function gaussianFrom(rnd) {
  let spare = NaN;
  return () => {
    if (!Number.isNaN(spare)) {
      const s = spare;
      spare = NaN;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(1 - rnd()));
    const theta = 2 * Math.PI * rnd();
    spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  };
}

/** Feature names f0..f{cols-1}. */
function featureNames(cols) {
  return Array.from({ length: cols }, (_, i) => `f${i}`);
}

/** Role of each feature, recorded in meta.json so readers know what carries signal. */
function featureRoles(cols) {
  const roles = [];
  for (let f = 0; f < cols; f++) roles.push(f < 16 ? 'signal' : f < 20 ? 'noisy-copy' : 'noise');
  return roles;
}

/**
 * Fills one row of clean feature values into `x` (length cols) and returns the latent score.
 * The score only uses f0..f15 (terms whose features are beyond cols are dropped).
 */
function sampleRow(x, cols, rnd, gauss) {
  const v = new Array(Math.max(cols, 20));
  v[0] = gauss();
  v[1] = gauss();
  v[2] = rnd();
  v[3] = gauss();
  v[4] = gauss();
  v[5] = (rnd() * 2 - 1) * Math.PI;
  v[6] = gauss();
  v[7] = gauss();
  v[8] = rnd() * 2;
  v[9] = Math.exp(0.8 * gauss()); // log-normal, skewed
  v[10] = Math.floor(rnd() * 10); // integer levels 0..9 (categorical-like)
  v[11] = gauss();
  v[12] = gauss();
  v[13] = rnd() * 2 - 1;
  v[14] = rnd() * 2 - 1;
  v[15] = Math.floor(rnd() * 4); // integer levels 0..3
  v[16] = v[0] + 0.7 * gauss(); // noisy copies of signal features
  v[17] = 2 * v[9] + 0.5 * gauss();
  v[18] = v[5] + 0.4 * gauss();
  v[19] = 0.5 * v[11] - 0.5 * v[12] + 0.5 * gauss();
  for (let f = 20; f < cols; f++) {
    const kind = f % 4; // pure noise of varied shapes
    v[f] = kind === 0 ? gauss() : kind === 1 ? rnd() * 10 : kind === 2 ? Math.exp(gauss()) : Math.floor(rnd() * 6);
  }
  const has = (...fs) => fs.every((f) => f < cols);
  let score = 0;
  if (has(0, 1)) score += 1.0 * v[0] * v[1]; // pairwise interaction
  if (has(2)) score += v[2] > 0.6 ? 1.2 : -0.3; // threshold
  if (has(3, 4)) score += v[3] < -0.3 && v[4] > 0.2 ? 1.5 : 0; // box
  if (has(5)) score += 1.0 * Math.sin(2 * v[5]); // periodic
  if (has(6)) score += 0.5 * (v[6] * v[6] - 1); // quadratic
  if (has(7, 8)) score += 0.8 * Math.abs(v[7]) * (v[8] - 1); // product with |.|
  if (has(9)) score += 0.7 * Math.tanh(v[9] - 1.5); // saturating on a skewed feature
  if (has(10)) score += LEVEL_EFFECT[v[10]]; // level effects
  if (has(11, 12)) score += 0.5 * v[11] - 0.4 * v[12]; // linear
  if (has(13, 14, 15)) score += 1.5 * v[13] * v[14] * (v[15] >= 2 ? 1 : -1); // 3-way interaction
  for (let f = 0; f < cols; f++) x[f] = v[f];
  return score;
}

/** Logistic function. */
function sigmoid(z) {
  return 1 / (1 + Math.exp(-z));
}

/** ROC AUC of scores against 0/1 labels (ties get half credit). */
function rocAuc(scores, labels) {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let rankSumPos = 0;
  let positives = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]] === scores[order[i]]) j++;
    const midRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (labels[order[k]] === 1) (rankSumPos += midRank), positives++;
    i = j + 1;
  }
  const negatives = n - positives;
  return (rankSumPos - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Writes a typed array as raw little-endian bytes. */
function writeRawLE(file, typed) {
  if (os.endianness() !== 'LE') throw new Error('big-endian host: byte swapping is not implemented');
  fs.writeFileSync(file, new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength));
}

/** True when meta.json in `out` describes the same parameters and all data files are complete. */
function isUpToDate(out, rows, cols, seed) {
  const metaFile = path.join(out, 'meta.json');
  if (!fs.existsSync(metaFile)) return false;
  let meta;
  try {
    meta = JSON.parse(fs.readFileSync(metaFile, 'utf8'));
  } catch {
    return false;
  }
  if (meta.rows !== rows || meta.cols !== cols || meta.seed !== seed || meta.nanFraction !== NAN_FRACTION) return false;
  if (meta.generatorVersion !== GENERATOR_VERSION) return false;
  const expected = {
    'train_X.f32': meta.trainRows * cols * 4,
    'train_y.f32': meta.trainRows * 4,
    'test_X.f32': meta.testRows * cols * 4,
    'test_y.f32': meta.testRows * 4,
  };
  return Object.entries(expected).every(([f, bytes]) => fs.existsSync(path.join(out, f)) && fs.statSync(path.join(out, f)).size === bytes);
}

/** Generates the data set and writes it to `out`. */
function generate({ rows, cols, seed, out }) {
  const t0 = performance.now();
  const trainRows = Math.floor(rows * TRAIN_FRACTION);
  const testRows = rows - trainRows;
  const featureRnd = mulberry32(streamSeed(seed, 0));
  const gauss = gaussianFrom(featureRnd);
  const nanRnd = mulberry32(streamSeed(seed, 1));
  const labelRnd = mulberry32(streamSeed(seed, 2));

  const X = new Float32Array(rows * cols);
  const y = new Float32Array(rows);
  const trueProbTest = new Float64Array(testRows);
  const row = new Float64Array(cols);
  let nanCount = 0;
  let positives = 0;
  const progressEvery = Math.max(1, Math.floor(rows / 10));
  for (let r = 0; r < rows; r++) {
    const score = sampleRow(row, cols, featureRnd, gauss);
    const p = sigmoid(LABEL_SLOPE * (score - LABEL_OFFSET));
    const label = labelRnd() < p ? 1 : 0;
    y[r] = label;
    positives += label;
    if (r >= trainRows) trueProbTest[r - trainRows] = p;
    const base = r * cols;
    for (let f = 0; f < cols; f++) {
      const missing = nanRnd() < NAN_FRACTION; // drawn for every value, so the pattern only depends on the seed
      X[base + f] = missing ? NaN : row[f];
      nanCount += missing ? 1 : 0;
    }
    if ((r + 1) % progressEvery === 0) process.stderr.write(`  generated ${(r + 1).toLocaleString('en-US')} / ${rows.toLocaleString('en-US')} rows\n`);
  }
  const genSeconds = (performance.now() - t0) / 1000;

  fs.mkdirSync(out, { recursive: true });
  fs.rmSync(path.join(out, 'meta.json'), { force: true }); // an interrupted write must not look complete
  process.stderr.write(`  writing ${out}\n`);
  writeRawLE(path.join(out, 'train_X.f32'), X.subarray(0, trainRows * cols));
  writeRawLE(path.join(out, 'train_y.f32'), y.subarray(0, trainRows));
  writeRawLE(path.join(out, 'test_X.f32'), X.subarray(trainRows * cols));
  writeRawLE(path.join(out, 'test_y.f32'), y.subarray(trainRows));

  const testLabels = Array.from(y.subarray(trainRows));
  const bayesTestAuc = rocAuc(Array.from(trueProbTest), testLabels);
  const meta = {
    generator: 'benchmarks/gbdt/make-data.mjs',
    generatorVersion: GENERATOR_VERSION,
    rows,
    cols,
    trainRows,
    testRows,
    seed,
    featureNames: featureNames(cols),
    featureRoles: featureRoles(cols),
    nanFraction: NAN_FRACTION,
    observedNanFraction: +(nanCount / (rows * cols)).toFixed(5),
    positiveRate: +(positives / rows).toFixed(5),
    bayesTestAuc: +bayesTestAuc.toFixed(5),
    layout: 'row-major',
    dtype: 'float32',
    byteOrder: 'little-endian',
    files: { trainX: 'train_X.f32', trainY: 'train_y.f32', testX: 'test_X.f32', testY: 'test_y.f32' },
    labelLink: { slope: LABEL_SLOPE, offset: LABEL_OFFSET },
  };
  fs.writeFileSync(path.join(out, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
  return { meta, genSeconds, totalSeconds: (performance.now() - t0) / 1000 };
}

const cli = parseCli();
if (!cli.force && isUpToDate(cli.out, cli.rows, cli.cols, cli.seed)) {
  process.stderr.write(`up to date: ${cli.out} (meta.json matches; --force to regenerate)\n`);
  const meta = JSON.parse(fs.readFileSync(path.join(cli.out, 'meta.json'), 'utf8'));
  console.log(JSON.stringify({ out: cli.out, regenerated: false, rows: meta.rows, cols: meta.cols, seed: meta.seed, positiveRate: meta.positiveRate, bayesTestAuc: meta.bayesTestAuc }));
} else {
  process.stderr.write(`generating ${cli.rows.toLocaleString('en-US')} × ${cli.cols} (seed ${cli.seed}) → ${cli.out}\n`);
  const { meta, genSeconds, totalSeconds } = generate(cli);
  console.log(
    JSON.stringify({
      out: cli.out,
      regenerated: true,
      rows: meta.rows,
      cols: meta.cols,
      seed: meta.seed,
      positiveRate: meta.positiveRate,
      observedNanFraction: meta.observedNanFraction,
      bayesTestAuc: meta.bayesTestAuc,
      genSeconds: +genSeconds.toFixed(2),
      totalSeconds: +totalSeconds.toFixed(2),
    }),
  );
}
