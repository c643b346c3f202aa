#!/usr/bin/env node
// The rolling kernel alone (rollingCreate / rollingProcess, no DuckDB): the 12 window + 2 cross
// features of spec.yaml over generated minute bars of 4 entities, 65,536-row batches, one kernel
// thread, data made in memory first (not timed). Prints one JSON line: the median of `--reps`
// trials and a checksum of the outputs (the same on any build whose arithmetic is the same).
// `--addon-root <dir>` loads the bindings of another checkout (e.g. an older build to compare).
//
//   npm run build:ts
//   node benchmarks/features/bench-kernel.mjs [--rows 10000000] [--reps 3] [--addon-root .]
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { BENCH_DIR, flag, machine, median } from '../lib.mjs';

const rows = Number(flag('--rows', '10000000'));
const reps = Number(flag('--reps', '3'));
const root = path.resolve(flag('--addon-root', path.join(BENCH_DIR, '..')));
const { rollingCreate, rollingProcess } = await import(pathToFileURL(path.join(root, 'dist/bindings/index.js')).href);

const BATCH = 65_536;
const MINUTE = 60e6;
const feature = (name, fn, input, extra = {}) => ({ name, fn, input, timeWindow: false, windowUs: 0, windowRows: 0, exclusive: false, minPeriods: 1, left: 0, right: 1, ...extra });
const minutes = (m) => ({ timeWindow: true, windowUs: m * MINUTE });
// Inputs: 0 close, 1 volume, 2 high, 3 low; input 4 is the first feature (ret_1).
const FEATURES = [
  feature('ret_1', 'pct_change', 0, { windowRows: 1 }),
  feature('close_mean_30m', 'mean', 0, minutes(30)),
  feature('close_std_30m', 'std', 0, minutes(30)),
  feature('close_min_1h', 'min', 0, minutes(60)),
  feature('close_max_1h', 'max', 0, minutes(60)),
  feature('volume_sum_1h', 'sum', 1, minutes(60)),
  feature('volume_mean_4h', 'mean', 1, minutes(240)),
  feature('volume_zscore_1h', 'zscore', 1, minutes(60)),
  feature('high_max_4h', 'max', 2, minutes(240)),
  feature('low_min_4h', 'min', 3, minutes(240)),
  feature('momentum_1h', 'momentum', 0, minutes(60)),
  feature('volatility_1h', 'volatility', 0, minutes(60)),
  feature('s0_s1_ratio', 'ratio', 0),
  feature('s0_s1_corr_1h', 'correlation', 4, minutes(60)),
];

const time = new BigInt64Array(rows);
const entity = new Int32Array(rows);
const inputs = [0, 1, 2, 3].map(() => new Float64Array(rows));
const price = [100, 200, 300, 400];
for (let i = 0; i < rows; i++) {
  const e = i % 4;
  time[i] = BigInt(Math.floor(i / 4) * MINUTE);
  entity[i] = e;
  price[e] *= 1 + (((i * 7919) % 1000) - 500) * 2e-6;
  inputs[0][i] = price[e];
  inputs[1][i] = 1000 + ((i * 7919) % 5000);
  inputs[2][i] = price[e] * 1.001;
  inputs[3][i] = price[e] * 0.999;
}

const trials = [];
let checksum = 0;
for (let r = 0; r < reps; r++) {
  const handle = rollingCreate(FEATURES, inputs.length);
  let sum = 0;
  const t = performance.now();
  for (let s = 0; s < rows; s += BATCH) {
    const e = Math.min(rows, s + BATCH);
    const out = await rollingProcess(handle, { rows: e - s, time: time.subarray(s, e), timeValidity: null, entity: entity.subarray(s, e), rowId: null, inputs: inputs.map((x) => x.subarray(s, e)), validity: inputs.map(() => null) }, e === rows, 1);
    for (const v of out.values) for (let k = 0; k < v.length; k += 997) sum += v[k];
  }
  trials.push((performance.now() - t) / 1000);
  checksum = sum;
  process.stderr.write(`rep ${r + 1}/${reps}: ${trials.at(-1).toFixed(2)} s\n`);
}
console.log(JSON.stringify({ rows, reps, addonRoot: root, medianS: +median(trials).toFixed(2), trialsS: trials.map((x) => +x.toFixed(2)), checksum, machine: machine() }));
