#!/usr/bin/env node
// Where the one-pass feature pipeline spends its time, on the data and spec of bench-features.mjs:
// the same pipeline request (pipelineRequest) with its output statement or features swapped —
// scan only (no features, SELECT count(*)), scan + kernel (SELECT count(*)), and the full COPY
// under several Parquet option sets (the pipeline's choice is PIPELINE_PARQUET_OPTIONS). Variants
// interleaved `--reps` times, medians; prints progress on stderr and one JSON line on stdout.
// `--only <name>` runs one variant (e.g. under `perf record`).
//
//   npm run build:ts
//   node benchmarks/features/bench-pipeline-parts.mjs [--rows 10000000] [--reps 2] [--only 'scan only']
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { featurePipeline } from '../../dist/bindings/index.js';
import { PIPELINE_PARQUET_OPTIONS } from '../../dist/src/features/native.js';
import { flag, machine, median } from '../lib.mjs';
import { benchPipelineRequest } from './bench-request.mjs';
import { makeData } from './make-data.mjs';

const rows = Number(flag('--rows', '10000000'));
const reps = Number(flag('--reps', '2'));
const file = await makeData(rows);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-bench-parts-'));
const out = path.join(dir, 'features.parquet');
const base = await benchPipelineRequest(file, out, dir, os.availableParallelism());
const copyWith = (options) => base.outputSql.replace(`(${PIPELINE_PARQUET_OPTIONS})`, `(${options})`);

const variants = {
  'scan only': { ...base, features: [], crossEntities: [], outputSql: 'SELECT count(*) FROM {fn}' },
  'scan only, 2 DuckDB threads': { ...base, features: [], crossEntities: [], outputSql: 'SELECT count(*) FROM {fn}', streamThreads: 2 },
  'scan + kernel': { ...base, outputSql: 'SELECT count(*) FROM {fn}' },
  'COPY parquet (DuckDB defaults: snappy, dictionary)': { ...base, outputSql: copyWith('FORMAT parquet') },
  'COPY snappy, no dictionary': { ...base, outputSql: copyWith('FORMAT parquet, DICTIONARY_SIZE_LIMIT 1') },
  [`COPY ${PIPELINE_PARQUET_OPTIONS} (chosen)`]: base,
  'COPY uncompressed, no dictionary': { ...base, outputSql: copyWith('FORMAT parquet, COMPRESSION uncompressed, DICTIONARY_SIZE_LIMIT 1') },
  'COPY zstd, no dictionary': { ...base, outputSql: copyWith('FORMAT parquet, COMPRESSION zstd, DICTIONARY_SIZE_LIMIT 1') },
};
const only = flag('--only', null);
if (only !== null) {
  if (!variants[only]) throw new Error(`--only: no variant "${only}"; variants: ${Object.keys(variants).join(' | ')}`);
  for (const k of Object.keys(variants)) if (k !== only) delete variants[k];
}
const times = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
const sizes = {};
for (let r = 0; r < reps; r++) {
  for (const [name, req] of Object.entries(variants)) {
    fs.rmSync(out, { force: true });
    const t = performance.now();
    const res = await featurePipeline(req);
    times[name].push(performance.now() - t);
    if (res.rows !== rows) throw new Error(`${name}: ${res.rows} rows, expected ${rows}`);
    if (fs.existsSync(out)) sizes[name] = fs.statSync(out).size;
    process.stderr.write(`rep ${r + 1}/${reps} ${name}: ${((performance.now() - t) / 1000).toFixed(2)} s\n`);
  }
}
fs.rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({
  rows,
  reps,
  variants: Object.fromEntries(Object.keys(variants).map((k) => [k, { medianMs: Math.round(median(times[k])), trialsMs: times[k].map(Math.round), ...(sizes[k] ? { bytes: sizes[k] } : {}) }])),
  machine: machine(),
}));
