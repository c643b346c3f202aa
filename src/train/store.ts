/**
 * The run store: a DuckDB file (default `.kiln/kiln.duckdb`, or `$KILN_HOME/kiln.duckdb`) with one
 * row per run in `runs`, its flattened parameters in `params` and its metrics in `metrics`, so
 * history can be queried with plain SQL. Each call opens the file, does its work and closes it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

import { KilnError } from '../../bindings/errors.js';

/** The default run store file: $KILN_HOME/kiln.duckdb, else ./.kiln/kiln.duckdb. */
export function defaultRunStore(): string {
  const home = process.env.KILN_HOME;
  return home ? path.join(home, 'kiln.duckdb') : path.resolve('.kiln/kiln.duckdb');
}

/** One recorded run. */
export interface RunRecord {
  runId: string;
  name: string;
  command: string;
  status: string;
  startedAt: string;
  endedAt: string;
  dir: string;
  modelKind: string;
  task: string;
  seed: number;
  dataSha256: string;
  datasetId: string;
  modelSha256: string | null;
  kilnVersion: string;
  gitCommit: string | null;
}

/** A run with its parameters and metrics. */
export interface RunDetails extends RunRecord {
  params: Record<string, string>;
  metrics: Record<string, number>;
}

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS runs (run_id VARCHAR PRIMARY KEY, name VARCHAR, command VARCHAR, status VARCHAR, started_at TIMESTAMP,
     ended_at TIMESTAMP, dir VARCHAR, model_kind VARCHAR, task VARCHAR, seed BIGINT, data_sha256 VARCHAR, dataset_id VARCHAR,
     model_sha256 VARCHAR, kiln_version VARCHAR, git_commit VARCHAR)`,
  'CREATE TABLE IF NOT EXISTS params (run_id VARCHAR, key VARCHAR, value VARCHAR)',
  'CREATE TABLE IF NOT EXISTS metrics (run_id VARCHAR, split VARCHAR, name VARCHAR, value DOUBLE)',
  `CREATE TABLE IF NOT EXISTS benchmarks (bench_id VARCHAR, created_at TIMESTAMP, model VARCHAR, ref VARCHAR, model_sha256 VARCHAR,
     status VARCHAR, error VARCHAR, data_path VARCHAR, data_sha256 VARCHAR, symbol VARCHAR, rows BIGINT, regressed BOOLEAN,
     gate_passed BOOLEAN, kiln_version VARCHAR)`,
  'CREATE TABLE IF NOT EXISTS benchmark_metrics (bench_id VARCHAR, model VARCHAR, name VARCHAR, value DOUBLE)',
];

async function withStore<T>(file: string, fn: (conn: DuckDBConnection) => Promise<T>, create: boolean): Promise<T> {
  if (!create && !fs.existsSync(file)) throw new KilnError('E_IO', `no run store at ${file} (train a model first, or set KILN_HOME / --store)`, { file });
  fs.mkdirSync(path.dirname(file), { recursive: true });
  let db: DuckDBInstance;
  try {
    db = await DuckDBInstance.create(file, { threads: '1' });
  } catch (err) {
    throw new KilnError('E_IO', `cannot open the run store ${file}: ${(err as Error).message}`, { file });
  }
  const conn = await db.connect();
  try {
    for (const s of SCHEMA) await conn.run(s);
    return await fn(conn);
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}

/** Flattens a config object into dotted keys with JSON values ("model.params.numLeaves" -> "31"). */
export function flattenParams(value: unknown, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const k of Object.keys(value as object).sort()) flattenParams((value as Record<string, unknown>)[k], prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) {
    out[prefix] = JSON.stringify(value ?? null);
  }
  return out;
}

/** Records a run, its parameters and its metrics ({ split: { name: value } }) in one transaction. */
export async function recordRun(file: string, run: RunRecord, params: Record<string, string>, metrics: Record<string, Record<string, number>>): Promise<void> {
  await withStore(
    file,
    async (conn) => {
      await conn.run('BEGIN TRANSACTION');
      try {
        await conn.run('DELETE FROM runs WHERE run_id = $1', [run.runId]);
        await conn.run('DELETE FROM params WHERE run_id = $1', [run.runId]);
        await conn.run('DELETE FROM metrics WHERE run_id = $1', [run.runId]);
        await conn.run('INSERT INTO runs VALUES ($1, $2, $3, $4, CAST($5 AS TIMESTAMP), CAST($6 AS TIMESTAMP), $7, $8, $9, $10, $11, $12, $13, $14, $15)', [
          run.runId, run.name, run.command, run.status, run.startedAt, run.endedAt, run.dir, run.modelKind, run.task, run.seed,
          run.dataSha256, run.datasetId, run.modelSha256, run.kilnVersion, run.gitCommit,
        ]);
        for (const [k, v] of Object.entries(params)) await conn.run('INSERT INTO params VALUES ($1, $2, $3)', [run.runId, k, v]);
        for (const [split, values] of Object.entries(metrics)) {
          for (const [name, v] of Object.entries(values)) {
            if (Number.isFinite(v)) await conn.run('INSERT INTO metrics VALUES ($1, $2, $3, $4)', [run.runId, split, name, v]);
          }
        }
        await conn.run('COMMIT');
      } catch (err) {
        await conn.run('ROLLBACK');
        throw err;
      }
    },
    true,
  );
}

function toRecord(r: Record<string, unknown>): RunRecord {
  const ts = (v: unknown): string => (v instanceof Date ? v.toISOString() : v === null || v === undefined ? '' : new Date(`${String(v).replace(' ', 'T')}Z`).toISOString());
  return {
    runId: String(r.run_id),
    name: String(r.name),
    command: String(r.command),
    status: String(r.status),
    startedAt: ts(r.started_at),
    endedAt: ts(r.ended_at),
    dir: String(r.dir),
    modelKind: String(r.model_kind),
    task: String(r.task),
    seed: Number(r.seed),
    dataSha256: String(r.data_sha256),
    datasetId: String(r.dataset_id),
    modelSha256: r.model_sha256 === null ? null : String(r.model_sha256),
    kilnVersion: String(r.kiln_version),
    gitCommit: r.git_commit === null ? null : String(r.git_commit),
  };
}

/** One model's row of a recorded benchmark (table `benchmarks`) with its metrics (table `benchmark_metrics`). */
export interface BenchmarkRecord {
  benchId: string;
  createdAt: string;
  model: string;
  ref: string;
  modelSha256: string | null;
  status: 'ok' | 'failed';
  error: string | null;
  dataPath: string;
  dataSha256: string;
  symbol: string | null;
  rows: number | null;
  regressed: boolean;
  gatePassed: boolean;
  kilnVersion: string;
  metrics: Record<string, number>;
}

/** Records the models of one benchmark run in one transaction (replacing an earlier record of the same bench id). */
export async function recordBenchmark(file: string, records: BenchmarkRecord[]): Promise<void> {
  await withStore(
    file,
    async (conn) => {
      await conn.run('BEGIN TRANSACTION');
      try {
        for (const id of new Set(records.map((r) => r.benchId))) {
          await conn.run('DELETE FROM benchmarks WHERE bench_id = $1', [id]);
          await conn.run('DELETE FROM benchmark_metrics WHERE bench_id = $1', [id]);
        }
        for (const r of records) {
          await conn.run('INSERT INTO benchmarks VALUES ($1, CAST($2 AS TIMESTAMP), $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)', [
            r.benchId, r.createdAt, r.model, r.ref, r.modelSha256, r.status, r.error, r.dataPath, r.dataSha256, r.symbol, r.rows, r.regressed, r.gatePassed, r.kilnVersion,
          ]);
          for (const [name, v] of Object.entries(r.metrics)) {
            if (Number.isFinite(v)) await conn.run('INSERT INTO benchmark_metrics VALUES ($1, $2, $3, $4)', [r.benchId, r.model, name, v]);
          }
        }
        await conn.run('COMMIT');
      } catch (err) {
        await conn.run('ROLLBACK');
        throw err;
      }
    },
    true,
  );
}

/** Recorded benchmarks, newest first (of one model when given), each with its metrics. */
export async function listBenchmarks(file: string, opts: { model?: string; limit?: number } = {}): Promise<BenchmarkRecord[]> {
  return withStore(
    file,
    async (conn) => {
      const limit = Math.max(1, Math.trunc(opts.limit ?? 100));
      const rows = (
        opts.model === undefined
          ? await conn.runAndReadAll(`SELECT * FROM benchmarks ORDER BY created_at DESC, bench_id, model LIMIT ${limit}`)
          : await conn.runAndReadAll(`SELECT * FROM benchmarks WHERE model = $1 ORDER BY created_at DESC, bench_id LIMIT ${limit}`, [opts.model])
      ).getRowObjectsJS();
      const out: BenchmarkRecord[] = [];
      for (const r of rows) {
        const metrics = Object.fromEntries(
          (await conn.runAndReadAll('SELECT name, value FROM benchmark_metrics WHERE bench_id = $1 AND model = $2 ORDER BY name', [String(r.bench_id), String(r.model)]))
            .getRowObjectsJS()
            .map((m) => [String(m.name), Number(m.value)]),
        );
        const ts = r.created_at instanceof Date ? r.created_at.toISOString() : new Date(`${String(r.created_at).replace(' ', 'T')}Z`).toISOString();
        out.push({
          benchId: String(r.bench_id),
          createdAt: ts,
          model: String(r.model),
          ref: String(r.ref),
          modelSha256: r.model_sha256 === null ? null : String(r.model_sha256),
          status: r.status === 'ok' ? 'ok' : 'failed',
          error: r.error === null ? null : String(r.error),
          dataPath: String(r.data_path),
          dataSha256: String(r.data_sha256),
          symbol: r.symbol === null ? null : String(r.symbol),
          rows: r.rows === null ? null : Number(r.rows),
          regressed: Boolean(r.regressed),
          gatePassed: Boolean(r.gate_passed),
          kilnVersion: String(r.kiln_version),
          metrics,
        });
      }
      return out;
    },
    false,
  );
}

/** Runs, newest first, each with its headline metrics (test split, else valid). */
export async function listRuns(file: string, opts: { limit?: number } = {}): Promise<Array<RunRecord & { metrics: Record<string, number> }>> {
  return withStore(
    file,
    async (conn) => {
      const rows = (await conn.runAndReadAll(`SELECT * FROM runs ORDER BY started_at DESC, run_id LIMIT ${Math.max(1, Math.trunc(opts.limit ?? 50))}`)).getRowObjectsJS();
      const out: Array<RunRecord & { metrics: Record<string, number> }> = [];
      for (const r of rows) {
        const rec = toRecord(r as Record<string, unknown>);
        out.push({ ...rec, metrics: await headlineMetrics(conn, rec.runId) });
      }
      return out;
    },
    false,
  );
}

async function headlineMetrics(conn: DuckDBConnection, runId: string): Promise<Record<string, number>> {
  const rows = (await conn.runAndReadAll('SELECT split, name, value FROM metrics WHERE run_id = $1 ORDER BY name', [runId])).getRowObjectsJS();
  const split = rows.some((r) => r.split === 'test') ? 'test' : 'valid';
  return Object.fromEntries(rows.filter((r) => r.split === split).map((r) => [String(r.name), Number(r.value)]));
}

/** One run by id, unique id prefix (at least 4 characters) or "latest", with parameters and all metrics ("split.name"). */
export async function getRun(file: string, idOrPrefix: string): Promise<RunDetails> {
  return withStore(
    file,
    async (conn) => {
      const latest = idOrPrefix === 'latest';
      if (!latest && idOrPrefix.length < 4) throw new KilnError('E_USAGE', `run id "${idOrPrefix}" is too short; give at least 4 characters`);
      const rows = latest
        ? (await conn.runAndReadAll('SELECT * FROM runs ORDER BY started_at DESC, run_id LIMIT 1')).getRowObjectsJS()
        : (await conn.runAndReadAll('SELECT * FROM runs WHERE run_id = $1 OR starts_with(run_id, $1) ORDER BY run_id', [idOrPrefix])).getRowObjectsJS();
      const exact = rows.filter((r) => r.run_id === idOrPrefix);
      const hits = exact.length === 1 ? exact : rows;
      if (hits.length === 0) throw new KilnError('E_USAGE', latest ? `no runs in ${file} yet` : `no run "${idOrPrefix}" in ${file} (kiln runs list shows them)`, { file });
      if (hits.length > 1) throw new KilnError('E_USAGE', `run id prefix "${idOrPrefix}" matches ${hits.length} runs; give more characters`, { file });
      const rec = toRecord(hits[0] as Record<string, unknown>);
      const params = Object.fromEntries(
        (await conn.runAndReadAll('SELECT key, value FROM params WHERE run_id = $1 ORDER BY key', [rec.runId])).getRowObjectsJS().map((r) => [String(r.key), String(r.value)]),
      );
      const metrics = Object.fromEntries(
        (await conn.runAndReadAll('SELECT split, name, value FROM metrics WHERE run_id = $1 ORDER BY split, name', [rec.runId]))
          .getRowObjectsJS()
          .map((r) => [`${String(r.split)}.${String(r.name)}`, Number(r.value)]),
      );
      return { ...rec, params, metrics };
    },
    false,
  );
}

/** Two runs side by side: parameters that differ and every metric of either, with b − a. */
export async function compareRuns(file: string, a: string, b: string): Promise<{
  a: RunDetails;
  b: RunDetails;
  params: Array<{ key: string; a: string | null; b: string | null }>;
  metrics: Array<{ name: string; a: number | null; b: number | null; delta: number | null }>;
}> {
  const ra = await getRun(file, a);
  const rb = await getRun(file, b);
  const keys = [...new Set([...Object.keys(ra.params), ...Object.keys(rb.params)])].sort();
  const params = keys.filter((k) => ra.params[k] !== rb.params[k]).map((k) => ({ key: k, a: ra.params[k] ?? null, b: rb.params[k] ?? null }));
  const names = [...new Set([...Object.keys(ra.metrics), ...Object.keys(rb.metrics)])].sort();
  const metrics = names.map((n) => {
    const va = ra.metrics[n] ?? null, vb = rb.metrics[n] ?? null;
    return { name: n, a: va, b: vb, delta: va !== null && vb !== null ? vb - va : null };
  });
  return { a: ra, b: rb, params, metrics };
}
