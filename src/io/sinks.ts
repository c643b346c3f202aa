import * as arrow from 'apache-arrow';
import fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import { once } from 'node:events';
import { KilnError } from '../../bindings/errors.js';
import { isValidBit, type ColumnBatch, type Column, type ColumnType } from '../batch/column-batch.js';
import { batchToArrow } from '../batch/arrow.js';
import { tempPathFor, writeAtomically } from './atomic.js';
import { duckdbError, withConnection } from './duckdb.js';
import { detectFormat, sqlIdent, sqlString, type DataFormat } from './formats.js';

/** Options of a batch sink. */
export interface SinkOptions {
  /** Default: by the output file's extension. */
  format?: DataFormat;
  /** CSV separator (default ','). */
  delimiter?: string;
}

/** What a sink wrote. */
export interface SinkResult {
  file: string;
  rows: number;
  format: DataFormat;
}

/**
 * Writes a stream of batches to `file` atomically (temp name, fsync, rename): readers never see a
 * half-written file, and on error the previous file (if any) is untouched.
 */
export async function writeBatches(batches: AsyncIterable<ColumnBatch> | Iterable<ColumnBatch>, file: string, opts: SinkOptions = {}): Promise<SinkResult> {
  const format = opts.format ?? detectFormat(file);
  const rows = await writeAtomically(file, async (tmp) => {
    switch (format) {
      case 'ndjson':
        return writeText(batches, tmp, ndjsonWriter());
      case 'csv':
        return writeText(batches, tmp, csvWriter(opts.delimiter ?? ',', 'plain'));
      case 'arrow':
        return writeArrow(batches, tmp);
      case 'parquet':
        return writeParquet(batches, tmp);
    }
  });
  return { file, rows, format };
}

interface TextWriter {
  header(batch: ColumnBatch): string;
  rows(batch: ColumnBatch): string;
}

async function writeText(batches: AsyncIterable<ColumnBatch> | Iterable<ColumnBatch>, tmp: string, writer: TextWriter): Promise<number> {
  const out = fs.createWriteStream(tmp);
  const failed = new Promise<never>((_, reject) => out.once('error', reject));
  failed.catch(() => undefined);
  let rows = 0;
  let first = true;
  try {
    for await (const batch of batches) {
      const chunk = (first ? writer.header(batch) : '') + writer.rows(batch);
      first = false;
      rows += batch.numRows;
      if (!out.write(chunk)) await Promise.race([once(out, 'drain'), failed]);
    }
    out.end();
    await Promise.race([once(out, 'finish'), failed]);
  } finally {
    if (!out.closed) out.destroy();
  }
  return rows;
}

function ndjsonWriter(): TextWriter {
  return {
    header: () => '',
    rows(batch) {
      const parts: string[] = [];
      const names = batch.columns.map((c) => JSON.stringify(c.name));
      for (let i = 0; i < batch.numRows; i++) {
        let line = '{';
        batch.columns.forEach((c, k) => {
          line += `${k ? ',' : ''}${names[k]}:${jsonValue(batch, c, i)}`;
        });
        parts.push(line + '}\n');
      }
      return parts.join('');
    },
  };
}

function jsonValue(batch: ColumnBatch, c: Column, i: number): string {
  if (!isValidBit(c.validity, i)) return 'null';
  switch (c.type) {
    case 'int64':
      return String(c.values[i]);
    case 'float32':
    case 'float64': {
      const v = c.values[i] as number;
      return Number.isFinite(v) ? String(v) : 'null';
    }
    case 'date32':
      return JSON.stringify(formatDate(c.values[i] as number));
    case 'timestamp_us':
      return JSON.stringify(formatTimestamp(c.values[i] as bigint, 'T') + 'Z');
    default:
      return JSON.stringify(batch.value(c, i));
  }
}

/** CSV rows; 'typed' quotes every string and writes NULL as \N (for DuckDB's typed re-read). */
function csvWriter(delimiter: string, mode: 'plain' | 'typed'): TextWriter {
  const needsQuote = new RegExp(`[${delimiter.replace(/[\\\]^-]/g, '\\$&')}"\\r\\n]`);
  const quote = (s: string): string => (mode === 'typed' || needsQuote.test(s) || s === '' ? `"${s.replace(/"/g, '""')}"` : s);
  const nullText = mode === 'typed' ? '\\N' : '';
  return {
    header: (batch) => batch.columns.map((c) => quote(c.name)).join(delimiter) + '\n',
    rows(batch) {
      const parts: string[] = [];
      for (let i = 0; i < batch.numRows; i++) {
        const fields = batch.columns.map((c) => {
          if (!isValidBit(c.validity, i)) return nullText;
          switch (c.type) {
            case 'utf8':
              return quote(batch.value(c, i) as string);
            case 'bool':
              return c.values[i] ? 'true' : 'false';
            case 'date32':
              return formatDate(c.values[i] as number);
            case 'timestamp_us':
              return formatTimestamp(c.values[i] as bigint, ' ');
            case 'float32':
            case 'float64': {
              const v = c.values[i] as number;
              return Number.isNaN(v) ? 'nan' : v === Infinity ? 'inf' : v === -Infinity ? '-inf' : String(v);
            }
            default:
              return String(c.values[i]);
          }
        });
        parts.push(fields.join(delimiter) + '\n');
      }
      return parts.join('');
    },
  };
}

/** 'YYYY-MM-DD' of days since the epoch. */
export function formatDate(days: number): string {
  return new Date(days * 86_400_000).toISOString().slice(0, 10);
}

/** 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC) of microseconds since the epoch. */
export function formatTimestamp(us: bigint, sep: ' ' | 'T'): string {
  const ms = us / 1000n - (us % 1000n < 0n ? 1n : 0n);
  const micros = Number(((us % 1_000_000n) + 1_000_000n) % 1_000_000n);
  const iso = new Date(Number(ms)).toISOString();
  return `${iso.slice(0, 10)}${sep}${iso.slice(11, 19)}.${String(micros).padStart(6, '0')}`;
}

async function writeArrow(batches: AsyncIterable<ColumnBatch> | Iterable<ColumnBatch>, tmp: string): Promise<number> {
  const writer = new arrow.RecordBatchFileWriter();
  const out = fs.createWriteStream(tmp);
  const done = new Promise<void>((resolve, reject) => {
    out.once('finish', () => resolve());
    out.once('error', reject);
  });
  done.catch(() => undefined);
  writer.pipe(out);
  let rows = 0;
  try {
    for await (const batch of batches) {
      writer.write(batchToArrow(batch));
      rows += batch.numRows;
    }
  } finally {
    writer.finish();
    writer.close();
  }
  await done;
  return rows;
}

/** The DuckDB type that holds each kiln column type exactly. */
export const DUCKDB_TYPE: Record<ColumnType, string> = {
  bool: 'BOOLEAN',
  int32: 'INTEGER',
  int64: 'BIGINT',
  float32: 'FLOAT',
  float64: 'DOUBLE',
  date32: 'DATE',
  timestamp_us: 'TIMESTAMP',
  utf8: 'VARCHAR',
};

/** Streams batches through a typed temp CSV that DuckDB converts to Parquet (bounded memory, exact values). */
async function writeParquet(batches: AsyncIterable<ColumnBatch> | Iterable<ColumnBatch>, tmp: string): Promise<number> {
  const staging = tempPathFor(tmp) + '.csv';
  let schema: Column[] | null = null;
  const capture = async function* () {
    for await (const b of batches) {
      schema ??= [...b.columns];
      yield b;
    }
  };
  try {
    const rows = await writeText(capture(), staging, csvWriter(',', 'typed'));
    if (!schema) throw new KilnError('E_IO', 'nothing to write: the input produced no batches');
    const cols = (schema as Column[]).map((c) => `${sqlString(c.name)}: ${sqlString(DUCKDB_TYPE[c.type])}`).join(', ');
    const select = (schema as Column[]).map((c) => sqlIdent(c.name)).join(', ');
    const sql =
      `COPY (SELECT ${select} FROM read_csv(${sqlString(staging)}, header=true, delim=',', quote='"', escape='"', ` +
      `nullstr='\\N', allow_quoted_nulls=false, columns={${cols}})) TO ${sqlString(tmp)} (FORMAT parquet)`;
    await withConnection(async (conn) => {
      try {
        await conn.run(sql);
      } catch (err) {
        throw duckdbError(err, { file: tmp });
      }
    });
    return rows;
  } finally {
    await fsp.rm(staging, { force: true });
  }
}

/** Runs `COPY (<select>) TO file` atomically: the SQL path for DuckDB-to-file without passing through JS. */
export async function copyQueryToFile(select: string, file: string, format: DataFormat = detectFormat(file)): Promise<void> {
  if (format === 'arrow') throw new KilnError('E_USAGE', 'copyQueryToFile cannot write Arrow IPC; use writeBatches');
  const fmt = format === 'ndjson' ? '(FORMAT json)' : format === 'csv' ? '(FORMAT csv, HEADER true)' : '(FORMAT parquet)';
  await writeAtomically(file, (tmp) =>
    withConnection(async (conn) => {
      try {
        await conn.run(`COPY (${select}) TO ${sqlString(tmp)} ${fmt}`);
      } catch (err) {
        throw duckdbError(err, { file });
      }
    }),
  );
}
