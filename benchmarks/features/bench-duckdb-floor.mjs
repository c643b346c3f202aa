#!/usr/bin/env node
// The floor under bench-features.mjs on this machine: what the work kiln cannot skip costs by
// itself, against the 10× budget (pandas' time / 10) from the anchor measured in the same run.
// DESIGN has DuckDB read every input and write Parquet, and a receipt hashes input and output, so:
//   - DuckDB reading the benchmark CSV through the relation kiln builds, every column the spec uses
//     aggregated (DuckDB's parallel CSV reader on all cores, nothing streamed out);
//   - DuckDB writing the pipeline's output rows (loaded in memory first, not timed) with the
//     pipeline's Parquet options, on all cores;
//   - SHA-256 of the input and of the output file (Node's crypto, as the receipt does).
// Each trial also runs kiln (run-kiln.mjs, the whole build) and the pandas anchor; trials are
// interleaved `--reps` times and medians reported. Prints progress on stderr, one JSON line on stdout.
//
//   npm run build:ts
//   node benchmarks/features/bench-duckdb-floor.mjs [--rows 10000000] [--reps 3]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { buildFeatures, buildInputRelation, loadSpec } from '../../dist/src/features/index.js';
import { PIPELINE_PARQUET_OPTIONS } from '../../dist/src/features/native.js';
import { relationSql } from '../../dist/src/features/plan.js';
import { digestFile } from '../../dist/src/lineage/hash.js';
import { sqlString } from '../../dist/src/io/formats.js';
import { BENCH_DIR, flag, machine, median, trial } from '../lib.mjs';
import { makeData } from './make-data.mjs';

const rows = Number(flag('--rows', '10000000'));
const reps = Number(flag('--reps', '3'));
const file = await makeData(rows);
const specFile = path.join(BENCH_DIR, 'features/spec.yaml');
const spec = loadSpec(specFile);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-bench-floor-'));
process.stderr.write('building the output once (untimed)\n');
const built = await buildFeatures(specFile, { input: file, inputFormat: 'csv', outDir: path.join(dir, 'out'), memoryLimit: '300MB' });
const output = built.files.features;

const db = await DuckDBInstance.create(':memory:', { threads: String(os.availableParallelism()) });
const conn = await db.connect();
await conn.run(`CREATE TABLE pipeline_output AS SELECT * FROM read_parquet(${sqlString(output)})`);
const used = [spec.entity, spec.time, ...new Set(spec.features.map((f) => f.column).filter((c) => c && !spec.features.some((g) => g.name === c)))];
const rel = buildInputRelation(spec, { file, format: 'csv' });
const readSql = `SELECT count(*), ${used.map((c) => `max("${c}")`).join(', ')} FROM (${relationSql(rel)})`;
const copyTo = path.join(dir, 'copy.parquet');

const seconds = async (fn) => {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
};
const runs = { pandas: [], kiln: [], csvRead: [], parquetWrite: [], hashInput: [], hashOutput: [] };
for (let r = 0; r < reps; r++) {
  const py = spawnSync('/usr/bin/python3', [path.join(BENCH_DIR, 'features/anchor_pandas.py'), file], { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (py.status !== 0) throw new Error(`pandas anchor failed:\n${py.stderr}`);
  const p = JSON.parse(py.stdout.trim().split('\n').at(-1));
  runs.pandas.push(p.read_s + p.compute_s);
  runs.kiln.push(trial(path.join(BENCH_DIR, 'features/run-kiln.mjs'), [file, '--memory-limit', '300MB']).ms / 1000);
  runs.csvRead.push(await seconds(() => conn.run(readSql)));
  fs.rmSync(copyTo, { force: true });
  runs.parquetWrite.push(await seconds(() => conn.run(`COPY pipeline_output TO ${sqlString(copyTo)} (${PIPELINE_PARQUET_OPTIONS})`)));
  runs.hashInput.push(await seconds(() => digestFile(file)));
  runs.hashOutput.push(await seconds(() => digestFile(output)));
  process.stderr.write(`rep ${r + 1}/${reps}: ${Object.entries(runs).map(([k, v]) => `${k} ${v.at(-1).toFixed(2)} s`).join(', ')}\n`);
}
conn.closeSync();
fs.rmSync(dir, { recursive: true, force: true });

const med = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, +median(v).toFixed(2)]));
const budget = med.pandas / 10;
const floor = med.csvRead + med.parquetWrite + med.hashInput + med.hashOutput;
// DuckDB's read + write against the budget of the same trial (each trial has its own pandas time).
const duckdbIoOverBudget = runs.pandas.map((p, i) => +((runs.csvRead[i] + runs.parquetWrite[i]) / (p / 10)).toFixed(2));
console.log(
  JSON.stringify({
    rows,
    reps,
    medianS: med,
    trialsS: Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, v.map((x) => +x.toFixed(2))])),
    budgetFor10xS: +budget.toFixed(2),
    floorS: +floor.toFixed(2),
    floorOverBudget: +(floor / budget).toFixed(2),
    duckdbIoS: +(med.csvRead + med.parquetWrite).toFixed(2),
    duckdbIoOverBudgetPerTrial: duckdbIoOverBudget,
    kilnOverFloor: +(med.kiln / floor).toFixed(2),
    kilnRatioVsPandas: +(med.pandas / med.kiln).toFixed(2),
    duckdbThreads: os.availableParallelism(),
    machine: machine(),
  }),
);
