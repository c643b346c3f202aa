import { DuckDBInstance } from '@duckdb/node-api';
import { sqlString } from '../../src/io/formats.js';

/** Rows of a Parquet file (or several) as plain objects; timestamps as ISO strings (no zone). */
export async function readParquetRows(files: string | string[], orderBy?: string): Promise<Record<string, unknown>[]> {
  const list = (Array.isArray(files) ? files : [files]).map(sqlString).join(', ');
  const db = await DuckDBInstance.create(':memory:', { threads: '1' });
  const conn = await db.connect();
  try {
    const r = await conn.runAndReadAll(`SELECT * FROM read_parquet([${list}])${orderBy ? ` ORDER BY ${orderBy}` : ''}`);
    const names = r.columnNames();
    return (r.getRowsJS() as unknown[][]).map((row) => {
      const o: Record<string, unknown> = {};
      names.forEach((n, i) => {
        const v = row[i];
        o[n] = v instanceof Date ? v.toISOString().slice(0, 19) : typeof v === 'bigint' ? Number(v) : v;
      });
      return o;
    });
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}

/** Two cells agree: null only with null, NaN with NaN, infinities exactly, numbers to tol * max(1, |b|), anything else by ===. */
export function sameCell(a: unknown, b: unknown, tol = 1e-9): boolean {
  if (a === null || b === null) return a === b;
  if (typeof a === 'number' && typeof b === 'number') {
    if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
    if (!Number.isFinite(a) || !Number.isFinite(b)) return a === b;
    return Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));
  }
  return a === b;
}

/** |a - b| <= tol * max(1, |b|), null only against null. */
export function closeTo(a: unknown, b: number | null, tol: number): boolean {
  if (b === null) return a === null || a === undefined || (typeof a === 'number' && Number.isNaN(a));
  if (typeof a !== 'number' || !Number.isFinite(a)) return false;
  return Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));
}
