#!/usr/bin/env node
// How far DuckDB's sort goes past its memory_limit: the feature pipeline's own sort (the ordered
// query of pipelineRequest, COPY to a temporary Parquet file, as the pipeline runs it) of the
// benchmark bars grouped by entity (make-data.mjs --input-order entity), in a fresh process per
// (memory limit, threads) pair. Prints one JSON line: per pair the wall time and the process's
// peak RSS, or DuckDB's error (an out-of-memory under a limit too low for the sort).
//
//   npm run build:ts
//   node benchmarks/features/bench-sort-memory.mjs [--rows 10000000] [--limits 300MB,150MB,100MB] [--threads 2,1]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { sqlString } from '../../dist/src/io/formats.js';
import { flag, machine } from '../lib.mjs';
import { benchPipelineRequest } from './bench-request.mjs';
import { makeData } from './make-data.mjs';

// Child: one sort under one limit; prints {ms, peakRssMB} or {error}.
if (process.argv[2] === '--child') {
  const [, , , orderedSql, limit, threads, dir] = process.argv;
  const db = await DuckDBInstance.create(':memory:', { threads, memory_limit: limit, temp_directory: path.join(dir, 'spill'), preserve_insertion_order: 'true' });
  const conn = await db.connect();
  const t = performance.now();
  try {
    await conn.run(`COPY (${orderedSql}) TO ${sqlString(path.join(dir, 'sorted.parquet'))} (FORMAT parquet, COMPRESSION lz4)`);
    console.log(JSON.stringify({ ms: Math.round(performance.now() - t), peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024) }));
  } catch (err) {
    console.log(JSON.stringify({ error: String(err.message).split('\n')[0] }));
  }
  process.exit(0);
}

const rows = Number(flag('--rows', '10000000'));
const limits = flag('--limits', '300MB,150MB,100MB').split(',');
const threadCounts = flag('--threads', '2,1').split(',');
const file = await makeData(rows, 'entity');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-bench-sort-'));
const { orderedSql } = await benchPipelineRequest(file, path.join(dir, 'unused.parquet'), dir, 2);
const results = [];
for (const threads of threadCounts) {
  for (const limit of limits) {
    fs.rmSync(path.join(dir, 'spill'), { recursive: true, force: true });
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', orderedSql, limit, threads, dir], { encoding: 'utf8', maxBuffer: 16 << 20 });
    if (child.status !== 0) throw new Error(`sort child failed:\n${child.stderr}`);
    const r = { limit, threads: Number(threads), ...JSON.parse(child.stdout.trim().split('\n').at(-1)) };
    results.push(r);
    process.stderr.write(`${JSON.stringify(r)}\n`);
  }
}
fs.rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({ rows, input: path.basename(file), results, machine: machine() }));
