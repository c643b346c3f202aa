#!/usr/bin/env node
// Generates OHLCV-like minute bars: 4 entities (S0..S3) × rows/4 minutes, seeded random walks,
// written as CSV to benchmarks/.data/ohlcv-<rows>.csv in time order (or, with --input-order
// entity, to ohlcv-<rows>-by-entity.csv grouped by entity, then time). pandas here has no Parquet
// engine, so both sides read the same CSV. Deterministic: the same arguments give the same bytes.
//
//   node benchmarks/features/make-data.mjs [--rows 10000000] [--input-order time|entity]
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { ensureDataDir, flag } from '../lib.mjs';

export async function makeData(rows, order = 'time') {
  if (order !== 'time' && order !== 'entity') throw new Error(`--input-order must be time or entity, got ${order}`);
  const file = path.join(ensureDataDir(), order === 'time' ? `ohlcv-${rows}.csv` : `ohlcv-${rows}-by-entity.csv`);
  if (fs.existsSync(file)) return file;
  const per = Math.floor(rows / 4);
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  const tmp = `${file}.tmp-${process.pid}`;
  // Step returns from a hash of (entity, minute); close = 100·(1+e)·exp(cumsum(step)).
  await conn.run(`COPY (
    WITH steps AS (
      SELECT e, i, (CAST(hash(e * 1000003 + i) % 2000001 AS BIGINT) - 1000000) / 1e6 * 0.002 AS r
      FROM range(4) t(e), range(${per}) u(i)
    ), walk AS (
      SELECT e, i, 100.0 * (1 + e) * exp(sum(r) OVER (PARTITION BY e ORDER BY i)) AS close,
             (hash(e * 7 + i * 13) % 1000) / 1000.0 AS u
      FROM steps
    )
    SELECT 'S' || e AS symbol, TIMESTAMP '2020-01-01' + to_minutes(i) AS ts,
           round(close * (1 - 0.0005 * u), 6) AS open, round(close * (1 + 0.001 * u), 6) AS high,
           round(close * (1 - 0.001 * u), 6) AS low, round(close, 6) AS close,
           round(1000 + 5000 * u + 100 * e, 3) AS volume
    FROM walk ORDER BY ${order === 'time' ? 'i, e' : 'e, i'}
  ) TO '${tmp}' (FORMAT csv, HEADER true)`);
  conn.closeSync();
  fs.renameSync(tmp, file);
  return file;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const t = Date.now();
  const f = await makeData(Number(flag('--rows', '10000000')), flag('--input-order', 'time'));
  console.log(JSON.stringify({ file: f, bytes: fs.statSync(f).size, ms: Date.now() - t }));
}
