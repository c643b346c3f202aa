// The native window engine against the SQL compiler (the reference) on random series: several
// entities (one NULL), shared and unshared times with gaps, NULLs, NaN and inf, constant runs,
// time and row windows, exclusive windows, min_periods, features over features, cross features
// with time and row windows and an absent entity, and batch boundaries inside windows and inside
// time groups (batch size 7). Also: any batch size and thread count give identical bytes, and
// both engines fail the same way on NaN in a std window and on duplicated (entity, time) rows.
import { DuckDBInstance } from '@duckdb/node-api';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KilnError } from '../../../bindings/errors.js';
import { buildFeatures, validateSpec, type FeatureDef, type FeatureSpec } from '../../../src/features/index.js';
import { sqlString } from '../../../src/io/formats.js';
import { kilnRejection } from '../../helpers/errors.js';
import { readParquetRows, sameCell as same } from '../../helpers/features.js';
import { makeTemp, rmTemp } from '../../helpers/paths.js';

let dir: string;
let input: string;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const sqlNum = (v: number | null, type = 'DOUBLE'): string => (v === null ? `CAST(NULL AS ${type})` : Number.isNaN(v) ? `CAST('nan' AS ${type})` : !Number.isFinite(v) ? `CAST('${v > 0 ? 'inf' : '-inf'}' AS ${type})` : `CAST(${v} AS ${type})`);

async function makeInput(file: string, seed: number, opts: { duplicate?: boolean } = {}): Promise<void> {
  const r = rng(seed);
  const rows: string[] = [];
  const t0 = Date.UTC(2024, 0, 1);
  for (const e of ['A', 'B', 'C', 'D', null]) {
    let minute = Math.floor(r() * 3);
    let x = 10;
    let y = 50;
    let p = 100;
    const n = e === null ? 40 : 150;
    for (let i = 0; i < n; i++) {
      minute += [1, 1, 1, 2, 3, 5, 30][Math.floor(r() * 7)]!;
      x += r() - 0.5;
      if (r() > 0.3) y = 50 + Math.round(r() * 8);
      p *= 1 + (r() - 0.5) * 0.02;
      const u = r();
      const xv = u < 0.05 ? null : u < 0.08 ? NaN : u < 0.09 ? Infinity : u < 0.1 ? 0 : x;
      const yv = r() < 0.05 ? null : y;
      const pv = r() < 0.04 ? null : p;
      const zv = r() < 0.1 ? null : Math.floor(r() * 100);
      const ts = new Date(t0 + minute * 60_000).toISOString().replace('T', ' ').replace('Z', '');
      rows.push(`(${e === null ? 'NULL' : sqlString(e)}, TIMESTAMP '${ts}', ${sqlNum(xv)}, ${sqlNum(yv)}, ${sqlNum(pv)}, ${zv === null ? 'NULL' : zv})`);
    }
  }
  if (opts.duplicate) rows.push(rows[17]!);
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  await conn.run(`COPY (SELECT * FROM (VALUES ${rows.join(', ')}) t(sym, ts, x, y, p, z)) TO ${sqlString(file)} (FORMAT parquet)`);
  conn.closeSync();
  db.closeSync();
}

const FEATURES: FeatureDef[] = [
  { name: 'x_mean_10m', kind: 'window', fn: 'mean', column: 'x', window: '10min' },
  { name: 'x_sum_5', kind: 'window', fn: 'sum', column: 'x', window: 5 },
  { name: 'x_min_15m_ex', kind: 'window', fn: 'min', column: 'x', window: '15min', exclusive: true },
  { name: 'x_max_4_ex', kind: 'window', fn: 'max', column: 'x', window: 4, exclusive: true },
  { name: 'x_max_20m', kind: 'window', fn: 'max', column: 'x', window: '20min' },
  { name: 'x_min_3', kind: 'window', fn: 'min', column: 'x', window: 3 },
  { name: 'x_mean_3_mp2', kind: 'window', fn: 'mean', column: 'x', window: 3, min_periods: 2 },
  { name: 'x_pct_2', kind: 'window', fn: 'pct_change', column: 'x', periods: 2 },
  { name: 'x_mom_10m', kind: 'window', fn: 'momentum', column: 'x', window: '10min' },
  { name: 'x_mom_3', kind: 'window', fn: 'momentum', column: 'x', window: 3 },
  { name: 'x_lag_1', kind: 'lag', column: 'x' },
  { name: 'z_lag_2', kind: 'lag', column: 'z', periods: 2 },
  { name: 'y_std_10m', kind: 'window', fn: 'std', column: 'y', window: '10min' },
  { name: 'y_z_8', kind: 'window', fn: 'zscore', column: 'y', window: 8 },
  { name: 'y_z_10m_ex', kind: 'window', fn: 'zscore', column: 'y', window: '10min', exclusive: true },
  { name: 'y_std_5_ex_mp3', kind: 'window', fn: 'std', column: 'y', window: 5, exclusive: true, min_periods: 3 },
  { name: 'y_sum_1h_ex', kind: 'window', fn: 'sum', column: 'y', window: '1h', exclusive: true },
  { name: 'p_vol_20m', kind: 'window', fn: 'volatility', column: 'p', window: '20min' },
  { name: 'p_vol_6', kind: 'window', fn: 'volatility', column: 'p', window: 6 },
  { name: 'ret', kind: 'window', fn: 'pct_change', column: 'p', periods: 1 },
  { name: 'ret_mean_15m', kind: 'window', fn: 'mean', column: 'ret', window: '15min' },
  { name: 'ab_corr_30m', kind: 'cross', fn: 'correlation', column: 'p', left: 'A', right: 'B', window: '30min' },
  { name: 'ac_ret_corr_10', kind: 'cross', fn: 'correlation', column: 'ret', left: 'A', right: 'C', window: 10 },
  { name: 'ab_spread', kind: 'cross', fn: 'spread', column: 'x', left: 'A', right: 'B' },
  { name: 'bc_ratio', kind: 'cross', fn: 'ratio', column: 'p', left: 'B', right: 'C' },
  { name: 'az_spread', kind: 'cross', fn: 'spread', column: 'p', left: 'A', right: 'ZZ' },
];

function spec(features: FeatureDef[]): FeatureSpec {
  return validateSpec({ version: 1, entity: 'sym', time: 'ts', features });
}

async function build(name: string, s: FeatureSpec, engine: 'native' | 'sql', extra: { batchSize?: number; threads?: number; file?: string } = {}): Promise<Record<string, unknown>[]> {
  const r = await buildFeatures(s, { input: extra.file ?? input, outDir: path.join(dir, name), engine, batchSize: extra.batchSize, threads: extra.threads });
  return readParquetRows(r.files.features!);
}

beforeAll(async () => {
  dir = makeTemp('kiln-native-engine-');
  input = path.join(dir, 'series.parquet');
  await makeInput(input, 7);
});
afterAll(() => rmTemp(dir));

describe('native window engine', () => {
  it('equals the SQL compiler on random series with NULLs, NaN, gaps and small batches', async () => {
    const s = spec(FEATURES);
    const sql = await build('sql', s, 'sql');
    const native = await build('native7', s, 'native', { batchSize: 7, threads: 2 });
    expect(native.length).toBe(sql.length);
    expect(sql.length).toBeGreaterThan(600);
    const cols = Object.keys(sql[0]!);
    expect(Object.keys(native[0]!)).toEqual(cols);
    let nonNull = 0;
    let nulls = 0;
    for (let i = 0; i < sql.length; i++) {
      for (const c of cols) {
        const a = native[i]![c];
        const b = sql[i]![c];
        if (!same(a, b)) expect.fail(`row ${i} (${String(sql[i]!.sym)} ${String(sql[i]!.ts)}) ${c}: native ${String(a)} vs sql ${String(b)}`);
        if (b === null) nulls++;
        else nonNull++;
      }
    }
    // The data exercises values in every feature, NULLs in most, NaN and inf in some.
    for (const f of FEATURES) {
      if (f.name === 'az_spread') continue;
      expect(sql.some((r) => typeof r[f.name] === 'number' && Number.isFinite(r[f.name] as number)), f.name).toBe(true);
    }
    expect(FEATURES.filter((f) => sql.some((r) => r[f.name] === null)).length).toBeGreaterThanOrEqual(FEATURES.length - 3);
    expect(FEATURES.filter((f) => sql.some((r) => typeof r[f.name] === 'number' && !Number.isFinite(r[f.name] as number))).length).toBeGreaterThanOrEqual(4);
    expect(sql.every((r) => r.az_spread === null)).toBe(true);
    expect(typeof sql.find((r) => r.z_lag_2 !== null)!.z_lag_2).toBe('number');
    expect(nonNull).toBeGreaterThan(nulls);
  });

  it('gives identical output for any batch size and thread count', async () => {
    const s = spec(FEATURES);
    const a = await build('n1', s, 'native', { batchSize: 1, threads: 1 });
    const b = await build('n2', s, 'native', { batchSize: 65_536, threads: 2 });
    const c = await build('n3', s, 'native', { batchSize: 13, threads: 4 });
    const key = (rows: Record<string, unknown>[]): string => JSON.stringify(rows, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));
    expect(key(a)).toBe(key(b));
    expect(key(a)).toBe(key(c));
  });

  it('keeps the column types of the SQL path (lag of an INTEGER stays INTEGER)', async () => {
    const s = spec(FEATURES.filter((f) => f.name === 'z_lag_2' || f.name === 'x_mean_10m'));
    const types = async (engine: 'native' | 'sql'): Promise<string[]> => {
      const r = await buildFeatures(s, { input, outDir: path.join(dir, `types-${engine}`), engine });
      return r.schema.columns.map((c) => `${c.name}:${c.duckdbType}`);
    };
    expect(await types('native')).toEqual(await types('sql'));
  });

  it('fails like the SQL path on NaN in a std window and on duplicated (entity, time) rows', async () => {
    const bad = spec([{ name: 'x_std', kind: 'window', fn: 'std', column: 'x', window: 5 }]);
    await expect(build('nan-sql', bad, 'sql')).rejects.toThrow(/out of range/i);
    await expect(build('nan-native', bad, 'native')).rejects.toThrow(/x_std.*NaN or infinite/);
    const dup = path.join(dir, 'dup.parquet');
    await makeInput(dup, 7, { duplicate: true });
    const s = spec(FEATURES.slice(0, 3));
    const errOf = (engine: 'native' | 'sql'): Promise<KilnError> => kilnRejection(build(`dup-${engine}`, s, engine, { file: dup, batchSize: 5 }));
    const [n, q] = [await errOf('native'), await errOf('sql')];
    expect(n.code).toBe('E_VALIDATION');
    expect(n.message).toBe(q.message);
    expect(n.message).toMatch(/2 rows share sym=A/);
    expect(fs.existsSync(path.join(dir, 'dup-native'))).toBe(false);
  });
});
