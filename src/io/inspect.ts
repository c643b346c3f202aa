import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KilnError } from '../../bindings/errors.js';
import { duckdbError, withConnection } from './duckdb.js';
import { resolveFormat, sourceSql, sqlIdent, type DataFormat, type ReadOptions } from './formats.js';
import { planColumn, scanArrowFile, type PlannedColumn } from './scan.js';
import { writeBatches } from './sinks.js';
import type { ColumnType } from '../batch/column-batch.js';

/** Per-column profile of a file. */
export interface ColumnProfile {
  name: string;
  duckdbType: string;
  kilnType: ColumnType;
  nullCount: number;
  min: unknown;
  max: unknown;
}

/** What `kiln data inspect` reports. */
export interface FileProfile {
  file: string;
  format: DataFormat;
  rowCount: number;
  columns: ColumnProfile[];
  sample: Record<string, unknown>[];
}

/** Profiles a file in one DuckDB pass: row count, types, null counts, min/max and a few sample rows. */
export async function inspectFile(file: string, opts: ReadOptions & { sampleRows?: number } = {}): Promise<FileProfile> {
  try {
    await fsp.access(file);
  } catch {
    throw new KilnError('E_IO', `no such file: ${file}`, { file });
  }
  const format = resolveFormat(file, opts);
  if (format === 'arrow') {
    const tmpDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'kiln-inspect-'));
    try {
      const staged = path.join(tmpDir, 'staged.parquet');
      await writeBatches(scanArrowFile(file), staged);
      const profile = await inspectSource(sourceSql(staged), file, opts.sampleRows);
      return { ...profile, file, format };
    } finally {
      await fsp.rm(tmpDir, { recursive: true, force: true });
    }
  }
  return { ...(await inspectSource(sourceSql(file, opts), file, opts.sampleRows)), format };
}

async function inspectSource(source: string, file: string, sampleRows = 5): Promise<Omit<FileProfile, 'format'>> {
  return withConnection(async (conn) => {
    try {
      const described = (await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`)).getRows();
      const plan: PlannedColumn[] = described.map((r) => planColumn(String(r[0]), String(r[1])));
      const aggregates = ['count(*)'];
      for (const p of plan) {
        const id = sqlIdent(p.name);
        const orderable = !/^(STRUCT|MAP|UNION)|\[\]$/.test(p.duckdbType);
        aggregates.push(`count(*) - count(${id})`);
        aggregates.push(orderable ? `min(${id})::VARCHAR` : 'NULL', orderable ? `max(${id})::VARCHAR` : 'NULL');
      }
      const stats = (await conn.runAndReadAll(`SELECT ${aggregates.join(', ')} FROM ${source}`)).getRows()[0]!;
      const columns: ColumnProfile[] = plan.map((p, k) => ({
        name: p.name,
        duckdbType: p.duckdbType,
        kilnType: p.type,
        nullCount: Number(stats[1 + 3 * k]),
        min: parseStat(stats[2 + 3 * k], p.type),
        max: parseStat(stats[3 + 3 * k], p.type),
      }));
      const sample = (await conn.runAndReadAll(`SELECT * FROM ${source} LIMIT ${Math.max(0, Math.trunc(sampleRows))}`)).getRowObjectsJson() as Record<string, unknown>[];
      return { file, rowCount: Number(stats[0]), columns, sample };
    } catch (err) {
      throw duckdbError(err, { file });
    }
  });
}

function parseStat(v: unknown, type: ColumnType): unknown {
  if (v === null || v === undefined) return null;
  const s = String(v);
  if (type === 'float32' || type === 'float64' || type === 'int32') return Number(s);
  if (type === 'int64') {
    const n = Number(s);
    return Number.isSafeInteger(n) ? n : s;
  }
  if (type === 'bool') return s === 'true';
  return s;
}
