#!/usr/bin/env node
// Macro benchmark of feature engineering: generated OHLCV-like minute bars over 4 entities
// (make-data.mjs), the 12 window + 2 cross features of spec.yaml, kiln (buildFeatures: CSV in,
// Parquet out, in a fresh process) against pandas `rolling` (anchor_pandas.py: read_csv + the
// same features, no output written) in the same invocation. Prints one JSON line: rows/s of both,
// the ratio kiln / pandas, kiln's peak RSS, and the largest relative difference between the two
// sides' per-feature column means (a check that both computed the same features).
//
//   npm run build:ts
//   node benchmarks/features/bench-features.mjs [--rows 10000000] [--memory-limit 300MB]
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { BENCH_DIR, flag, machine, trial } from '../lib.mjs';
import { makeData } from './make-data.mjs';

const rows = Number(flag('--rows', '10000000'));
const memoryLimit = flag('--memory-limit', '300MB');
const file = await makeData(rows);

const kiln = trial(path.join(BENCH_DIR, 'features/run-kiln.mjs'), [file, '--memory-limit', memoryLimit]);
const py = spawnSync('/usr/bin/python3', [path.join(BENCH_DIR, 'features/anchor_pandas.py'), file], { encoding: 'utf8', maxBuffer: 16 << 20 });
if (py.status !== 0) throw new Error(`pandas anchor failed:\n${py.stderr}`);
const pandas = JSON.parse(py.stdout.trim().split('\n').at(-1));

let maxRelDiff = 0;
for (const [k, v] of Object.entries(pandas.means)) {
  const d = Math.abs(kiln.means[k] - v) / Math.max(1e-12, Math.abs(v));
  maxRelDiff = Math.max(maxRelDiff, d);
}
const kilnRowsPerS = kiln.rows / (kiln.ms / 1000);
const pandasS = pandas.read_s + pandas.compute_s;
console.log(
  JSON.stringify({
    rows,
    memoryLimit,
    kiln: { ms: Math.round(kiln.ms), rowsPerS: Math.round(kilnRowsPerS), peakRssMB: Math.round(kiln.peakRssMB) },
    pandas: { readMs: Math.round(pandas.read_s * 1000), computeMs: Math.round(pandas.compute_s * 1000), rowsPerS: Math.round(pandas.rows / pandasS), peakRssMB: Math.round(pandas.peak_rss_mb), version: pandas.pandas },
    ratio: +(kilnRowsPerS / (pandas.rows / pandasS)).toFixed(3),
    ratioVsPandasComputeOnly: +(kilnRowsPerS / (pandas.rows / pandas.compute_s)).toFixed(3),
    maxRelDiffOfMeans: maxRelDiff,
    machine: machine(),
  }),
);
