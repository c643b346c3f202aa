#!/usr/bin/env node
// One kiln trial of benchmarks/features: buildFeatures(spec.yaml, input CSV) into a temp folder,
// then the mean of every feature column of the output; prints one JSON line (ms, peak RSS, the
// time of each buildFeatures stage, means). `--skip-means` leaves the means out, so that a
// `perf record` of the trial sees only the build:
//
//   perf record -F 499 -g node benchmarks/features/run-kiln.mjs benchmarks/.data/ohlcv-10000000.csv --skip-means
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { buildFeatures } from '../../dist/src/index.js';
import { BENCH_DIR, flag, peakRssMB } from '../lib.mjs';

const input = process.argv[2];
const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-bench-features-'));
const t = performance.now();
const stagesMs = {};
let stage = 'start';
let stageStart = t;
const r = await buildFeatures(path.join(BENCH_DIR, 'features/spec.yaml'), {
  input,
  inputFormat: 'csv',
  outDir: path.join(outDir, 'out'),
  memoryLimit: flag('--memory-limit', '300MB'),
  stream: process.argv.includes('--stream'),
  onProgress: (p) => {
    if (p.stage === stage) return;
    const now = performance.now();
    stagesMs[stage] = Math.round(now - stageStart);
    stage = p.stage;
    stageStart = now;
  },
});
const ms = performance.now() - t;
stagesMs[stage] = Math.round(performance.now() - stageStart);
const rss = peakRssMB();
if (process.argv.includes('--skip-means')) {
  fs.rmSync(outDir, { recursive: true, force: true });
  console.log(JSON.stringify({ rows: r.counts.rows, ms, peakRssMB: rss, stagesMs }));
  process.exit(0);
}
const db = await DuckDBInstance.create(':memory:');
const conn = await db.connect();
const feats = r.schema.columns.filter((c) => c.role === 'feature').map((c) => c.name);
const row = (await conn.runAndReadAll(`SELECT ${feats.map((f) => `avg(CASE WHEN isinf("${f}") THEN NULL ELSE "${f}" END)`).join(', ')} FROM read_parquet('${r.files.features}')`)).getRows()[0];
const means = Object.fromEntries(feats.map((f, i) => [f, Number(row[i])]));
conn.closeSync();
fs.rmSync(outDir, { recursive: true, force: true });
console.log(JSON.stringify({ rows: r.counts.rows, ms, peakRssMB: rss, stagesMs, means }));
