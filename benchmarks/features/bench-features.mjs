#!/usr/bin/env node
// Macro benchmark of feature engineering: generated OHLCV-like minute bars over 4 entities
// (make-data.mjs), the 12 window + 2 cross features of spec.yaml, kiln (buildFeatures: CSV in,
// Parquet out, receipt and manifest, in a fresh process per trial) against pandas `rolling`
// (anchor_pandas.py: read_csv + the same features, no output written), trials interleaved
// kiln / pandas `--reps` times. Prints progress on stderr and one JSON line on stdout: medians of
// both sides' wall times, rows/s, the ratio kiln / pandas (also against pandas' compute alone),
// kiln's peak RSS (max over trials), kiln's stage times of its median trial, and the largest
// relative difference between the two sides' per-feature column means (both computed the same).
//
//   npm run build:ts
// --input-order entity feeds both sides the same bars grouped by entity (kiln then has to sort).
//
//   node benchmarks/features/bench-features.mjs [--rows 10000000] [--reps 3] [--memory-limit 300MB] [--input-order time|entity]
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { BENCH_DIR, flag, machine, median, trial } from '../lib.mjs';
import { makeData } from './make-data.mjs';

const rows = Number(flag('--rows', '10000000'));
const reps = Number(flag('--reps', '3'));
const memoryLimit = flag('--memory-limit', '300MB');
const inputOrder = flag('--input-order', 'time');
const file = await makeData(rows, inputOrder);

const kilnRuns = [];
const pandasRuns = [];
for (let r = 0; r < reps; r++) {
  const k = trial(path.join(BENCH_DIR, 'features/run-kiln.mjs'), [file, '--memory-limit', memoryLimit]);
  kilnRuns.push(k);
  const py = spawnSync('/usr/bin/python3', [path.join(BENCH_DIR, 'features/anchor_pandas.py'), file], { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (py.status !== 0) throw new Error(`pandas anchor failed:\n${py.stderr}`);
  const p = JSON.parse(py.stdout.trim().split('\n').at(-1));
  pandasRuns.push(p);
  process.stderr.write(`rep ${r + 1}/${reps}: kiln ${(k.ms / 1000).toFixed(2)} s (peak RSS ${Math.round(k.peakRssMB)} MB), pandas ${(p.read_s + p.compute_s).toFixed(2)} s\n`);
}

const kilnMs = median(kilnRuns.map((k) => k.ms));
const pandasS = median(pandasRuns.map((p) => p.read_s + p.compute_s));
const pandasComputeS = median(pandasRuns.map((p) => p.compute_s));
const medianKiln = kilnRuns.reduce((best, k) => (Math.abs(k.ms - kilnMs) < Math.abs(best.ms - kilnMs) ? k : best));
let maxRelDiff = 0;
for (const [k, v] of Object.entries(pandasRuns[0].means)) {
  const d = Math.abs(medianKiln.means[k] - v) / Math.max(1e-12, Math.abs(v));
  maxRelDiff = Math.max(maxRelDiff, d);
}
const kilnRowsPerS = rows / (kilnMs / 1000);
console.log(
  JSON.stringify({
    rows,
    reps,
    inputOrder,
    memoryLimit,
    kiln: { medianMs: Math.round(kilnMs), trialsMs: kilnRuns.map((k) => Math.round(k.ms)), rowsPerS: Math.round(kilnRowsPerS), peakRssMB: Math.round(Math.max(...kilnRuns.map((k) => k.peakRssMB))), stagesMs: medianKiln.stagesMs },
    pandas: { medianS: +pandasS.toFixed(2), trialsS: pandasRuns.map((p) => +(p.read_s + p.compute_s).toFixed(2)), computeMedianS: +pandasComputeS.toFixed(2), rowsPerS: Math.round(rows / pandasS), peakRssMB: Math.round(Math.max(...pandasRuns.map((p) => p.peak_rss_mb))), version: pandasRuns[0].pandas },
    ratio: +(kilnRowsPerS / (rows / pandasS)).toFixed(3),
    ratioVsPandasComputeOnly: +(kilnRowsPerS / (rows / pandasComputeS)).toFixed(3),
    maxRelDiffOfMeans: maxRelDiff,
    machine: machine(),
  }),
);
