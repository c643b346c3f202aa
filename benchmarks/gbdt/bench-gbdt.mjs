// kiln GBDT vs XGBoost 1.7 hist (and scikit-learn HGB) in one run on one machine: train time,
// test AUC, peak RSS, batch prediction on identical trees (the imported XGBoost model), predictSync
// latency, and real-data AUC on adult / bank_marketing. Every figure is a ratio against the
// anchor measured in the same run. Needs /usr/bin/python3 with xgboost (anchors only).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { DATA_DIR, flag, machine, median } from '../lib.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const PY = process.env.KILN_PYTHON ?? '/usr/bin/python3';

const USAGE = `Usage: node benchmarks/gbdt/bench-gbdt.mjs [--rows 1000000] [--reps 1] [--hgb] [--real] [--out FILE]

Trains kiln and XGBoost 1.7 hist with the same parameters (100 trees, 63 leaves, learning rate 0.1,
255 bins, 2 threads) on benchmarks/.data/gbdt-synth-<rows> (made by make-data.mjs when missing),
each in its own process, and prints kiln/XGBoost ratios. --hgb adds scikit-learn HGB, --real adds
adult and bank_marketing (100 trees, 31 leaves; prep-real.py is run when its output is missing).

Example:
  node benchmarks/gbdt/bench-gbdt.mjs --rows 1000000 --reps 3 --real`;

/** Reads a raw little-endian file into a typed array. */
function readRaw(file, Type) {
  const b = fs.readFileSync(file);
  return new Type(b.buffer, b.byteOffset, b.byteLength / Type.BYTES_PER_ELEMENT);
}

/** Binary AUC with tied scores sharing their mean rank. */
function auc(p, y) {
  const idx = Array.from(p.keys()).sort((a, b) => p[a] - p[b]);
  let pos = 0, neg = 0, rank = 0;
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j < idx.length && p[idx[j]] === p[idx[i]]) j++;
    const r = (i + j - 1) / 2 + 1;
    for (let t = i; t < j; t++) {
      if (y[idx[t]] === 1) {
        pos++;
        rank += r;
      } else neg++;
    }
    i = j;
  }
  return (rank - (pos * (pos + 1)) / 2) / (pos * neg);
}

function logloss(p, y) {
  let s = 0;
  for (let i = 0; i < p.length; i++) {
    const q = Math.min(Math.max(p[i], 1e-15), 1 - 1e-15);
    s -= y[i] === 1 ? Math.log(q) : Math.log(1 - q);
  }
  return s / p.length;
}

/** Child: trains and measures kiln on one data folder; prints one JSON line. */
async function child(dir, leaves, trees, real) {
  const kiln = await import(path.join(ROOT, 'dist/src/index.js'));
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8'));
  const cols = meta.cols;
  const trainX = readRaw(path.join(dir, 'train_X.f32'), Float32Array);
  const trainY = Float64Array.from(readRaw(path.join(dir, 'train_y.f32'), Float32Array));
  const testX = readRaw(path.join(dir, 'test_X.f32'), Float32Array);
  const testY = readRaw(path.join(dir, 'test_y.f32'), Float32Array);
  const names = meta.featureNames;
  const test = { values: testX, rows: testX.length / cols, cols, featureNames: names };
  const params = { nEstimators: trees, numLeaves: leaves, learningRate: 0.1, maxBin: 255, numThreads: 2, minSumHessianInLeaf: 1e-3, lambdaL2: 0, minDataInLeaf: 20, seed: 1 };
  if (real) Object.assign(params, { categorical: meta.categorical ?? [], unseenCategory: 'missing' });
  const m = new kiln.GBDT(params);
  const t0 = performance.now();
  await m.fit({ values: trainX, rows: trainX.length / cols, cols, featureNames: names }, trainY);
  const trainSeconds = (performance.now() - t0) / 1000;
  const rssAfterTrain = process.resourceUsage().maxRSS / 1024;
  const p = await m.predict(test);
  const out = { trainSeconds, auc: auc(p, testY), logloss: logloss(p, testY), peakRssMB: rssAfterTrain };
  if (real) return out;
  const bestOf = async (model, n = 3) => {
    let best = Infinity;
    for (let i = 0; i < n; i++) {
      const s = performance.now();
      await model.predict(test, { numThreads: 2 });
      best = Math.min(best, performance.now() - s);
    }
    return test.rows / (best / 1000);
  };
  out.predictRowsPerSec = await bestOf(m);
  const xgbFile = path.join(dir, 'xgb_model.json');
  if (fs.existsSync(xgbFile)) {
    const imported = await kiln.importXGBoost(xgbFile);
    const ip = await imported.predict({ values: testX, rows: test.rows, cols });
    const want = readRaw(path.join(dir, 'xgb_pred_test.f64'), Float64Array);
    let maxDiff = 0;
    for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ip[i] - want[i]));
    out.imported = { parityMaxAbsDiff: maxDiff, predictRowsPerSec: await bestOf({ predict: (X, o) => imported.predict({ values: X.values, rows: X.rows, cols }, o) }) };
    const lat = [];
    for (let i = 0; i < 22000; i++) {
      const r = testX.subarray((i % 2000) * cols, ((i % 2000) + 1) * cols);
      const s = process.hrtime.bigint();
      imported.predictSync(r);
      if (i >= 2000) lat.push(Number(process.hrtime.bigint() - s) / 1000);
    }
    lat.sort((a, b) => a - b);
    out.imported.singleRowUs = { p50: lat[Math.floor(lat.length * 0.5)], p99: lat[Math.floor(lat.length * 0.99)] };
  }
  return out;
}

/** Runs anchor.py for one library; returns its JSON document. */
function anchor(args) {
  const r = spawnSync(PY, [path.join(HERE, 'anchor.py'), ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`anchor.py ${args.join(' ')} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Runs this script as a kiln child process. */
function kilnTrial(dir, leaves, trees, real) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', dir, '--leaves', String(leaves), '--trees', String(trees), ...(real ? ['--real-child'] : [])], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`kiln trial failed:\n${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

const ratio = (a, b) => +(a / b).toFixed(3);

async function main() {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    console.log(USAGE);
    return;
  }
  if (process.argv.includes('--child')) {
    const res = await child(flag('--child'), Number(flag('--leaves', '63')), Number(flag('--trees', '100')), process.argv.includes('--real-child'));
    console.log(JSON.stringify(res));
    return;
  }
  const rows = Number(flag('--rows', '1000000'));
  const reps = Number(flag('--reps', '1'));
  const dir = path.join(DATA_DIR, `gbdt-synth-${rows}`);
  if (!fs.existsSync(path.join(dir, 'meta.json'))) {
    console.error(`making ${dir} …`);
    const r = spawnSync(process.execPath, [path.join(HERE, 'make-data.mjs'), '--rows', String(rows)], { stdio: 'inherit' });
    if (r.status !== 0) process.exit(1);
  }
  const xgb = [], hgb = [], kiln = [];
  for (let i = 0; i < reps; i++) {
    console.error(`rep ${i + 1}/${reps}: XGBoost …`);
    xgb.push(anchor(['--data', dir, '--only', 'xgboost', '--reps', '1']).xgboost);
    if (process.argv.includes('--hgb')) {
      console.error(`rep ${i + 1}/${reps}: HGB …`);
      hgb.push(anchor(['--data', dir, '--only', 'hgb', '--reps', '1']).sklearnHgb);
    }
    console.error(`rep ${i + 1}/${reps}: kiln …`);
    kiln.push(kilnTrial(dir, 63, 100, false));
  }
  const med = (xs, f) => median(xs.map(f));
  const x = {
    train: med(xgb, (r) => r.trainSeconds), auc: med(xgb, (r) => r.auc), rss: med(xgb, (r) => r.peakRssMB),
    predict: med(xgb, (r) => r.predictRowsPerSec.inplace), predictDMatrix: med(xgb, (r) => r.predictRowsPerSec.dmatrix),
    p50: med(xgb, (r) => r.singleRowUs.p50), p99: med(xgb, (r) => r.singleRowUs.p99),
  };
  const k = {
    train: med(kiln, (r) => r.trainSeconds), auc: med(kiln, (r) => r.auc), rss: med(kiln, (r) => r.peakRssMB),
    predictOwn: med(kiln, (r) => r.predictRowsPerSec), predictImported: med(kiln, (r) => r.imported.predictRowsPerSec),
    parity: Math.max(...kiln.map((r) => r.imported.parityMaxAbsDiff)),
    p50: med(kiln, (r) => r.imported.singleRowUs.p50), p99: med(kiln, (r) => r.imported.singleRowUs.p99),
  };
  const report = {
    machine: machine(), rows, reps, xgboost: x, kiln: k,
    ratios: {
      trainTimeKilnOverXgb: ratio(k.train, x.train),
      aucKilnMinusXgb: +(k.auc - x.auc).toFixed(5),
      peakRssKilnOverXgb: ratio(k.rss, x.rss),
      predictImportedKilnOverXgbInplace: ratio(k.predictImported, x.predict),
      predictImportedKilnOverXgbDMatrix: ratio(k.predictImported, x.predictDMatrix),
      predictSyncP50Us: +k.p50.toFixed(2), predictSyncP99Us: +k.p99.toFixed(2),
      predictSyncP50KilnOverXgb: ratio(k.p50, x.p50),
    },
    hgb: hgb.length ? { train: med(hgb, (r) => r.trainSeconds), auc: med(hgb, (r) => r.auc), trainTimeKilnOverHgb: ratio(k.train, med(hgb, (r) => r.trainSeconds)) } : undefined,
  };
  if (process.argv.includes('--real')) {
    const anchorsFile = path.join(DATA_DIR, 'real-anchors.json');
    if (!fs.existsSync(anchorsFile)) {
      const r = spawnSync(PY, [path.join(HERE, 'prep-real.py')], { stdio: ['ignore', 'ignore', 'inherit'] });
      if (r.status !== 0) throw new Error('prep-real.py failed');
    }
    const anchors = JSON.parse(fs.readFileSync(anchorsFile, 'utf8'));
    report.real = {};
    for (const name of ['adult', 'bank_marketing']) {
      const kr = kilnTrial(path.join(DATA_DIR, name), 31, 100, true);
      const xa = anchors[name]?.xgboost?.codes?.auc ?? anchors[name]?.xgboostCodes?.auc ?? anchors[name]?.xgboost?.auc;
      report.real[name] = { kilnAuc: +kr.auc.toFixed(5), xgboostAuc: xa, aucKilnMinusXgb: xa === undefined ? null : +(kr.auc - xa).toFixed(5), kilnTrainSeconds: +kr.trainSeconds.toFixed(3) };
    }
  }
  const out = flag('--out', path.join(DATA_DIR, 'gbdt-bench.json'));
  fs.writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  console.log(JSON.stringify(report, null, 2));
}

await main();
