// The feature pipeline's request for spec.yaml over one benchmark CSV (what buildFeatures would run),
// shared by the benchmarks that time parts of it.
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { buildInputRelation, loadSpec } from '../../dist/src/features/index.js';
import { describeInput } from '../../dist/src/features/build.js';
import { pipelineRequest, planNative } from '../../dist/src/features/native.js';
import { BENCH_DIR } from '../lib.mjs';

/** pipelineRequest(spec.yaml, file as CSV) writing to `out`, spilling under `dir`/spill, 300MB limit. */
export async function benchPipelineRequest(file, out, dir, threads) {
  const spec = loadSpec(path.join(BENCH_DIR, 'features/spec.yaml'));
  const rel = buildInputRelation(spec, { file, format: 'csv' });
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  const cols = await describeInput(conn, rel);
  conn.closeSync();
  return pipelineRequest(spec, rel, cols, planNative(spec, cols), { file: out, threads, memoryLimit: '300MB', tempDirectory: path.join(dir, 'spill') });
}
