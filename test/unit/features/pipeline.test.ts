// The one-pass native pipeline (buildFeatures on a spec of window, lag and cross features only):
// its files and summary statistics equal the SQL compiler's on an input already in time order
// (streamed without a sort) and on one that is not (restarted from the sorted query), with and
// without an entity; progress reports each pass and its rows; the receipt records the input's
// digest; a missing time fails like the SQL path; cancelling leaves nothing behind.
import { DuckDBInstance } from '@duckdb/node-api';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KilnError } from '../../../bindings/errors.js';
import type { FeaturePipelineProgress } from '../../../bindings/index.js';
import { buildFeatures, buildInputRelation, validateSpec, type FeatureDef, type FeatureSpec } from '../../../src/features/index.js';
import { describeInput } from '../../../src/features/build.js';
import { featurePipeline } from '../../../bindings/index.js';
import { pipelineApplies, pipelineRequest, planNative, runFeaturePipeline, sortMemoryLimit } from '../../../src/features/native.js';
import { sqlString } from '../../../src/io/formats.js';
import { kilnRejection } from '../../helpers/errors.js';
import { readParquetRows, sameCell as same } from '../../helpers/features.js';
import { makeTemp, rmTemp } from '../../helpers/paths.js';

let dir: string;
let unordered: string;
let ordered: string;

const FEATURES: FeatureDef[] = [
  { name: 'ret', kind: 'window', fn: 'pct_change', column: 'p', periods: 1 },
  { name: 'p_mean_10m', kind: 'window', fn: 'mean', column: 'p', window: '10min' },
  { name: 'p_std_5', kind: 'window', fn: 'std', column: 'p', window: 5 },
  { name: 'x_min_15m_ex', kind: 'window', fn: 'min', column: 'x', window: '15min', exclusive: true },
  { name: 'x_max_20m', kind: 'window', fn: 'max', column: 'x', window: '20min' },
  { name: 'x_z_8', kind: 'window', fn: 'zscore', column: 'x', window: 8 },
  { name: 'p_mom_10m', kind: 'window', fn: 'momentum', column: 'p', window: '10min' },
  { name: 'p_vol_20m', kind: 'window', fn: 'volatility', column: 'p', window: '20min' },
  { name: 'z_lag_2', kind: 'lag', column: 'z', periods: 2 },
  { name: 'ret_mean_15m', kind: 'window', fn: 'mean', column: 'ret', window: '15min' },
  { name: 'ab_corr_30m', kind: 'cross', fn: 'correlation', column: 'ret', left: 'A', right: 'B', window: '30min' },
  { name: 'bc_ratio', kind: 'cross', fn: 'ratio', column: 'p', left: 'B', right: 'C' },
  { name: 'a_missing_spread', kind: 'cross', fn: 'spread', column: 'p', left: 'A', right: 'nobody' },
];

// Random walks for entities A, B, C and a NULL entity: shared and unshared minutes, NULL inputs.
// Rows are written grouped by entity (not in time order) or sorted by (ts, sym).
async function makeInputs(): Promise<void> {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  await conn.run(`CREATE TABLE s AS
    SELECT CASE e WHEN 3 THEN NULL ELSE chr(CAST(65 + e AS INTEGER)) END AS sym,
           TIMESTAMP '2024-01-01' + to_minutes(CAST(i * 3 + (hash(e * 31 + i) % 3) AS BIGINT)) AS ts,
           CASE WHEN hash(i * 7 + e) % 17 = 0 THEN NULL ELSE 100 + e * 10 + sin(i / 5.0 + e) * 3 END AS p,
           CASE WHEN hash(i * 11 + e) % 13 = 0 THEN NULL ELSE (hash(i + e * 1000) % 1000) / 10.0 END AS x,
           CAST(hash(i * 5 + e) % 100 AS INTEGER) AS z
    FROM range(4) a(e), range(300) b(i)`);
  await conn.run(`COPY (SELECT * FROM s ORDER BY sym NULLS FIRST, ts) TO ${sqlString(unordered)} (FORMAT parquet)`);
  await conn.run(`COPY (SELECT * FROM s ORDER BY ts, sym NULLS LAST) TO ${sqlString(ordered)} (FORMAT parquet)`);
  conn.closeSync();
  db.closeSync();
}

function spec(features: FeatureDef[], entity = true): FeatureSpec {
  return validateSpec({ version: 1, ...(entity ? { entity: 'sym' } : {}), time: 'ts', features });
}

async function compareWithSql(name: string, s: FeatureSpec, input: string): Promise<void> {
  const sql = await buildFeatures(s, { input, outDir: path.join(dir, `${name}-sql`), engine: 'sql' });
  const nat = await buildFeatures(s, { input, outDir: path.join(dir, `${name}-native`), batchSize: 50 });
  const [a, b] = [await readParquetRows(nat.files.features!), await readParquetRows(sql.files.features!)];
  expect(a.length).toBe(b.length);
  expect(Object.keys(a[0]!)).toEqual(Object.keys(b[0]!));
  for (let i = 0; i < b.length; i++) {
    for (const c of Object.keys(b[i]!)) {
      if (!same(a[i]![c], b[i]![c])) expect.fail(`${name} row ${i} ${c}: pipeline ${String(a[i]![c])} vs sql ${String(b[i]![c])}`);
    }
  }
  expect(nat.schema.columns).toEqual(sql.schema.columns);
  expect(nat.counts).toEqual(sql.counts);
  // The input is hashed while the pipeline runs; the receipt still records its digest.
  const receipt = JSON.parse(fs.readFileSync(nat.receiptFile, 'utf8')) as { inputs: unknown[] };
  const bytes = fs.readFileSync(input);
  expect(receipt.inputs).toEqual([{ path: path.resolve(input), size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') }]);
  for (const [col, st] of Object.entries(sql.schema.stats)) {
    const got = nat.schema.stats[col]!;
    expect(got.count, col).toBe(st.count);
    expect(got.missing, col).toBe(st.missing);
    for (const k of ['mean', 'std', 'min', 'max'] as const) {
      if (!same(got[k], st[k])) expect.fail(`${name} stats ${col}.${k}: pipeline ${String(got[k])} vs sql ${String(st[k])}`);
    }
  }
}

async function pipelineRun(s: FeatureSpec, input: string, file: string, signal?: AbortSignal, onProgress?: (p: FeaturePipelineProgress) => void) {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  try {
    const rel = buildInputRelation(s, { file: input });
    const cols = await describeInput(conn, rel);
    const plan = planNative(s, cols)!;
    expect(pipelineApplies(s, plan, cols)).toBe(true);
    return await runFeaturePipeline(s, rel, cols, plan, { file, threads: 2, memoryLimit: '200MB', tempDirectory: path.join(dir, 'spill'), seriesError: async () => null, signal, onProgress });
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}

beforeAll(async () => {
  dir = makeTemp('kiln-pipeline-');
  unordered = path.join(dir, 'by-entity.parquet');
  ordered = path.join(dir, 'by-time.parquet');
  await makeInputs();
});
afterAll(() => rmTemp(dir));

describe('native feature pipeline', () => {
  it('streams an input already in (time, entity) order without sorting, and sorts one that is not', async () => {
    const s = spec(FEATURES);
    const heardA: FeaturePipelineProgress[] = [];
    const heardB: FeaturePipelineProgress[] = [];
    const a = await pipelineRun(s, ordered, path.join(dir, 'a.parquet'), undefined, (p) => heardA.push(p));
    const b = await pipelineRun(s, unordered, path.join(dir, 'b.parquet'), undefined, (p) => heardB.push(p));
    expect(a.sortedOnInput).toBe(true);
    expect(b.sortedOnInput).toBe(false);
    expect(a.rows).toBe(1200);
    // Progress: each pass announced at 0 rows, counts never go back within a pass, the last is the total.
    expect(heardA[0]).toEqual({ phase: 'stream', rowsWritten: 0 });
    expect(heardA.at(-1)).toEqual({ phase: 'stream', rowsWritten: 1200 });
    expect(heardA.every((p, i) => p.phase === 'stream' && (i === 0 || p.rowsWritten >= heardA[i - 1]!.rowsWritten))).toBe(true);
    expect([...new Set(heardB.map((p) => p.phase))]).toEqual(['stream', 'sort', 'stream sorted']);
    expect(heardB.find((p) => p.phase === 'stream sorted')).toEqual({ phase: 'stream sorted', rowsWritten: 0 });
    expect(heardB.at(-1)).toEqual({ phase: 'stream sorted', rowsWritten: 1200 });
    // Same rows, same bytes: output chunks are full whatever the batches were.
    expect(fs.readFileSync(path.join(dir, 'b.parquet')).equals(fs.readFileSync(path.join(dir, 'a.parquet')))).toBe(true);
    // The sorted copy of the input is gone.
    expect(fs.readdirSync(path.join(dir, 'spill')).filter((f) => f.startsWith('sorted-'))).toEqual([]);
  });

  it('sorts under a lower memory limit (DuckDB overshoots its limit while sorting), falling back to the build limit', async () => {
    expect(sortMemoryLimit('300MB')).toBe('150000000B');
    expect(sortMemoryLimit('1GB')).toBe(`${1e9 - 2 ** 28}B`);
    expect(sortMemoryLimit(' 1.5 GiB ')).toBe(`${1.5 * 2 ** 30 - 2 ** 28}B`);
    expect(sortMemoryLimit('200mb')).toBe('100000000B');
    for (const v of ['80%', 'none', '', '1 parsec']) expect(sortMemoryLimit(v)).toBeNull();
    const s = spec(FEATURES);
    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    const request = async (input: string) => {
      const rel = buildInputRelation(s, { file: input });
      const cols = await describeInput(conn, rel);
      return pipelineRequest(s, rel, cols, planNative(s, cols)!, { file: out, threads: 2, memoryLimit: '200MB', tempDirectory: path.join(dir, 'spill') });
    };
    const out = path.join(dir, 'sort-limit.parquet');
    try {
      const req = await request(unordered);
      expect(req.sortSettings).toEqual(["SET memory_limit = '100000000B'"]);
      expect(req.afterSortSettings).toEqual(["SET memory_limit = '200MB'"]);
      await expect(featurePipeline(req)).resolves.toMatchObject({ rows: 1200, sortedOnInput: false });
      const bytes = fs.readFileSync(out);
      // A sort that runs out of memory under its own limit runs again under the build's: same bytes.
      fs.rmSync(out);
      await expect(featurePipeline({ ...req, sortSettings: ["SET memory_limit = '256KB'"] })).resolves.toMatchObject({ rows: 1200, sortedOnInput: false });
      expect(fs.readFileSync(out).equals(bytes)).toBe(true);
      // Other failures of the sort's settings are not retried; a build that never sorts never runs them.
      const refused = ["SET memory_limit = 'not a size'"];
      await expect(featurePipeline({ ...(await request(ordered)), sortSettings: refused })).resolves.toMatchObject({ rows: 1200, sortedOnInput: true });
      await expect(featurePipeline({ ...req, sortSettings: refused })).rejects.toMatchObject({ code: 'E_IO', message: expect.stringMatching(/memory/i) });
    } finally {
      conn.closeSync();
      db.closeSync();
    }
  });

  it('writes identical bytes for any batch size, thread count, input format and input order (several row groups)', async () => {
    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    const big = (order: string, file: string): string =>
      `COPY (SELECT 'E' || e AS sym, TIMESTAMP '2024-01-01' + to_minutes(CAST(i AS BIGINT)) AS ts, 100 + e + sin(i / 7.0 + e) AS p, ` +
      `CASE WHEN i % 97 = 0 THEN NULL ELSE (i * 7919 + e) % 1000 END AS x, CAST(i % 50 AS INTEGER) AS z FROM range(4) a(e), range(65536) b(i) ORDER BY ${order}) ` +
      `TO ${sqlString(file)} (FORMAT ${file.endsWith('.csv') ? 'csv' : 'parquet'})`;
    const byTime = path.join(dir, 'big-by-time.parquet');
    const byTimeCsv = path.join(dir, 'big-by-time.csv');
    const byEntity = path.join(dir, 'big-by-entity.parquet');
    await conn.run(big('ts, sym', byTime));
    await conn.run(big('ts, sym', byTimeCsv));
    await conn.run(big('sym, ts', byEntity));
    const features = [
      ...FEATURES.filter((f) => ['ret', 'p_mean_10m', 'x_max_20m'].includes(f.name)),
      { name: 'p_lag_2', kind: 'lag', column: 'p', periods: 2 } as FeatureDef,
      { name: 'e0_e1_corr_30m', kind: 'cross', fn: 'correlation', column: 'ret', left: 'E0', right: 'E1', window: '30min' } as FeatureDef,
    ];
    const s = spec(features);
    const build = async (name: string, input: string, batchSize: number, threads: number): Promise<string> => {
      const r = await buildFeatures(s, { input, outDir: path.join(dir, name), batchSize, threads });
      return r.files.features!;
    };
    const a = await build('bytes-1', byTime, 1000, 1);
    // DuckDB hands out a CSV scan in chunks of other sizes than a Parquet scan.
    const b = await build('bytes-2', byTimeCsv, 65_536, 2);
    const c = await build('bytes-3', byEntity, 4096, 2);
    const groups = await conn.runAndReadAll(`SELECT count(DISTINCT row_group_id) FROM parquet_metadata(${sqlString(a)})`);
    conn.closeSync();
    db.closeSync();
    expect(Number(groups.getRows()[0]![0])).toBeGreaterThan(1);
    expect(fs.readFileSync(b).equals(fs.readFileSync(a))).toBe(true);
    expect(fs.readFileSync(c).equals(fs.readFileSync(a))).toBe(true);
  });

  it('equals the SQL compiler (rows, types, counts and summary statistics) on ordered and unordered input', async () => {
    await compareWithSql('ordered', spec(FEATURES), ordered);
    await compareWithSql('unordered', spec(FEATURES), unordered);
  });

  it('equals the SQL compiler without an entity', async () => {
    const noEntity = path.join(dir, 'one-series.parquet');
    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    await conn.run(`COPY (SELECT * EXCLUDE (sym) FROM read_parquet(${sqlString(ordered)}) WHERE sym = 'A') TO ${sqlString(noEntity)} (FORMAT parquet)`);
    conn.closeSync();
    db.closeSync();
    await compareWithSql('no-entity', spec(FEATURES.filter((f) => f.kind !== 'cross'), false), noEntity);
  });

  it('leaves an INTEGER entity to the staged native path, which also equals the SQL compiler', async () => {
    const intEntity = path.join(dir, 'int-entity.parquet');
    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    await conn.run(`COPY (SELECT CAST(ascii(sym) AS INTEGER) AS sym, * EXCLUDE (sym) FROM read_parquet(${sqlString(unordered)})) TO ${sqlString(intEntity)} (FORMAT parquet)`);
    const features: FeatureDef[] = [...FEATURES.filter((f) => f.kind !== 'cross'), { name: 'ab_ratio', kind: 'cross', fn: 'ratio', column: 'p', left: '65', right: '66' }];
    const s = spec(features);
    const rel = buildInputRelation(s, { file: intEntity });
    const cols = await describeInput(conn, rel);
    conn.closeSync();
    db.closeSync();
    expect(pipelineApplies(s, planNative(s, cols)!, cols)).toBe(false);
    await compareWithSql('int-entity', s, intEntity);
  });

  it('fails like the SQL path on a missing time, leaving no output folder', async () => {
    const bad = path.join(dir, 'null-time.parquet');
    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    await conn.run(`COPY (SELECT sym, CASE WHEN sym = 'B' AND ts = (SELECT ts FROM read_parquet(${sqlString(ordered)}) WHERE sym = 'B' ORDER BY ts LIMIT 1 OFFSET 40) THEN NULL ELSE ts END AS ts, p, x, z FROM read_parquet(${sqlString(ordered)})) TO ${sqlString(bad)} (FORMAT parquet)`);
    conn.closeSync();
    db.closeSync();
    const s = spec(FEATURES.slice(0, 3));
    const errOf = (engine: 'native' | 'sql'): Promise<KilnError> => kilnRejection(buildFeatures(s, { input: bad, outDir: path.join(dir, `null-${engine}`), engine }));
    const [n, q] = [await errOf('native'), await errOf('sql')];
    expect(n.code).toBe('E_VALIDATION');
    expect(n.message).toBe(q.message);
    expect(n.message).toMatch(/column ts is missing at input row \d+/);
    expect(fs.existsSync(path.join(dir, 'null-native'))).toBe(false);
  });

  it('stops with E_CANCELLED when the signal aborts during the pass, leaving nothing behind', async () => {
    const ac = new AbortController();
    const out = path.join(dir, 'cancelled');
    const err = await kilnRejection(
      buildFeatures(spec(FEATURES), {
        input: ordered,
        outDir: out,
        signal: ac.signal,
        onProgress: (p) => {
          if (p.stage === 'compute features') ac.abort();
        },
      }),
    );
    expect(err.code).toBe('E_CANCELLED');
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('.cancelled'))).toEqual([]);
    // The pass itself stops (not only the build around it): an aborted signal rejects the pipeline.
    const stopped = await kilnRejection(pipelineRun(spec(FEATURES), ordered, path.join(dir, 'cancelled.parquet'), AbortSignal.abort()));
    expect(stopped.code).toBe('E_CANCELLED');
  });
});
