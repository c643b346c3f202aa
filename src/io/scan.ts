import duckdbRaw from '@duckdb/node-bindings';
import type { DuckDBConnection, DuckDBDataChunk } from '@duckdb/node-api';
import * as arrow from 'apache-arrow';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { nativeScanAvailable, scanClose, scanNext, scanOpen } from '../../bindings/index.js';
import { KilnError } from '../../bindings/errors.js';
import { ColumnBatch, countNulls, valuesConstructorFor, type Column, type ColumnType, type ColumnValues } from '../batch/column-batch.js';
import { batchFromArrow } from '../batch/arrow.js';
import { duckdb, duckdbError } from './duckdb.js';
import { resolveFormat, sourceSql, sqlIdent, type ReadOptions } from './formats.js';

/** Default rows per ColumnBatch. */
export const DEFAULT_BATCH_SIZE = 65_536;

/** Options of a streaming scan. */
export interface ScanOptions extends ReadOptions {
  /** Rows per batch (default 65,536); memory is bounded by this, not by the input. */
  batchSize?: number;
  /** Only these columns, in this order. */
  columns?: string[];
  /** Stop after this many rows (streamed: the rest is never read). */
  limit?: number;
  /**
   * 'native' copies DuckDB vectors into batch buffers in C++ off the JS thread; 'js' goes through
   * @duckdb/node-api chunk by chunk; 'auto' (default) uses native when the addon and libduckdb load.
   */
  engine?: 'auto' | 'native' | 'js';
  /** Native engine: bytes DuckDB may decode ahead of the consumer (default 32 MiB; more is faster, uses more memory). */
  streamBufferBytes?: number;
  /**
   * Native engine, for consumers that drop each batch before asking for the next (sinks, stats,
   * binning): numeric buffers are recycled, so a batch is valid only until the next is requested.
   * Default false: every batch owns its memory.
   */
  reuseBuffers?: boolean;
}

/** A column of a query as kiln will deliver it: its kiln type and the SQL that yields it. */
export interface PlannedColumn {
  name: string;
  duckdbType: string;
  type: ColumnType;
  expr: string;
}

/** Maps a DuckDB type to the kiln column type and the cast that produces its physical layout. */
export function planColumn(name: string, duckdbType: string): PlannedColumn {
  const id = sqlIdent(name);
  const t = duckdbType.toUpperCase();
  const plan = (type: ColumnType, expr = id): PlannedColumn => ({ name, duckdbType, type, expr: `${expr} AS ${id}` });
  if (t === 'BOOLEAN') return plan('bool');
  if (t === 'INTEGER') return plan('int32');
  if (t === 'TINYINT' || t === 'SMALLINT' || t === 'UTINYINT' || t === 'USMALLINT') return plan('int32', `CAST(${id} AS INTEGER)`);
  if (t === 'BIGINT') return plan('int64');
  if (t === 'UINTEGER') return plan('int64', `CAST(${id} AS BIGINT)`);
  if (t === 'FLOAT') return plan('float32');
  if (t === 'DOUBLE') return plan('float64');
  if (t === 'UBIGINT' || t === 'HUGEINT' || t === 'UHUGEINT' || t.startsWith('DECIMAL')) return plan('float64', `CAST(${id} AS DOUBLE)`);
  if (t === 'DATE') return plan('date32');
  if (t === 'TIMESTAMP') return plan('timestamp_us');
  if (t === 'TIMESTAMP WITH TIME ZONE') return plan('timestamp_us', `timezone('UTC', ${id})`);
  if (t.startsWith('TIMESTAMP')) return plan('timestamp_us', `CAST(${id} AS TIMESTAMP)`);
  if (t === 'VARCHAR') return plan('utf8');
  return plan('utf8', `CAST(${id} AS VARCHAR)`);
}

/** Describes a query's output columns as kiln will deliver them. */
export async function planQuery(conn: DuckDBConnection, sql: string): Promise<PlannedColumn[]> {
  const rows = (await conn.runAndReadAll(`DESCRIBE ${sql}`)).getRows();
  return rows.map((r) => planColumn(String(r[0]), String(r[1])));
}

/** The SELECT that reads a file with kiln's options, projected to the requested columns. */
export function fileQuery(file: string, opts: ScanOptions = {}): string {
  const cols = opts.columns?.length ? opts.columns.map(sqlIdent).join(', ') : '*';
  return `SELECT ${cols} FROM ${sourceSql(file, opts)}`;
}

/** Streams a file (CSV, NDJSON, Parquet through DuckDB; Arrow IPC through apache-arrow) as ColumnBatches. */
export async function* scanFile(file: string, opts: ScanOptions = {}): AsyncGenerator<ColumnBatch> {
  if (!fs.existsSync(file)) throw new KilnError('E_IO', `no such file: ${file}`, { file });
  if (resolveFormat(file, opts) === 'arrow') {
    yield* scanArrowFile(file, opts);
    return;
  }
  yield* scanQuery(fileQuery(file, opts), { ...opts, context: { file } });
}

/** Streams the result of any DuckDB SELECT as ColumnBatches of at most `batchSize` rows. */
export async function* scanQuery(sql: string, opts: ScanOptions & { context?: Record<string, unknown> } = {}): AsyncGenerator<ColumnBatch> {
  const batchSize = checkBatchSize(opts.batchSize);
  const limit = opts.limit ?? Infinity;
  const context = opts.context ?? { sql };
  const project = (plan: PlannedColumn[]): string =>
    `SELECT ${plan.map((p) => p.expr).join(', ')} FROM (${sql})${Number.isFinite(limit) ? ` LIMIT ${Math.trunc(limit)}` : ''}`;
  if (opts.engine !== 'js') {
    const lib = duckdbLibraryPath();
    if (lib !== null && nativeScanAvailable()) {
      const plan = await nativePlan(lib, sql, context);
      yield* nativeScan(lib, project(plan), plan, batchSize, context, opts.streamBufferBytes, undefined, opts.reuseBuffers ?? false);
      return;
    }
    if (opts.engine === 'native') throw new KilnError('E_NATIVE_MISSING', 'native scan unavailable: the kiln addon or libduckdb could not be loaded');
  }
  yield* withConnectionGen((conn) => scanConnection(conn, sql, opts));
}

/**
 * Streams a SELECT run on a given @duckdb/node-api connection as ColumnBatches (for callers that
 * own a configured DuckDB instance, e.g. feature builds with a memory limit and spill directory).
 */
export async function* scanConnection(conn: DuckDBConnection, sql: string, opts: ScanOptions & { context?: Record<string, unknown> } = {}): AsyncGenerator<ColumnBatch> {
  const batchSize = checkBatchSize(opts.batchSize);
  const limit = opts.limit ?? Infinity;
  const context = opts.context ?? { sql };
  const project = (plan: PlannedColumn[]): string =>
    `SELECT ${plan.map((p) => p.expr).join(', ')} FROM (${sql})${Number.isFinite(limit) ? ` LIMIT ${Math.trunc(limit)}` : ''}`;
  let plan: PlannedColumn[];
  try {
    plan = await planQuery(conn, sql);
  } catch (err) {
    throw duckdbError(err, context);
  }
  let result;
  try {
    result = await conn.stream(project(plan));
  } catch (err) {
    throw duckdbError(err, context);
  }
  let builder = new BatchBuilder(plan, batchSize);
  for (;;) {
    let chunk: DuckDBDataChunk | null;
    try {
      chunk = await result.fetchChunk();
    } catch (err) {
      throw duckdbError(err, context);
    }
    if (!chunk || chunk.rowCount === 0) break;
    let from = 0;
    while (from < chunk.rowCount) {
      from = builder.appendChunk(chunk, from);
      if (builder.full) {
        yield builder.finish();
        builder = new BatchBuilder(plan, batchSize);
      }
    }
  }
  if (builder.rows > 0) yield builder.finish();
}

/** Plans a query with the native engine's own DuckDB (DESCRIBE), so a native scan never starts a second instance. */
async function nativePlan(lib: string, sql: string, context: Record<string, unknown>): Promise<PlannedColumn[]> {
  const plan: PlannedColumn[] = [];
  const describeKinds = new Int32Array(6).fill(KIND_CODE.utf8);
  for await (const batch of nativeScan(lib, `DESCRIBE ${sql}`, ['column_name', 'column_type', 'null', 'key', 'default', 'extra'].map((name) => ({ name, duckdbType: 'VARCHAR', type: 'utf8' as const, expr: name })), 1024, context, 0, describeKinds)) {
    for (let i = 0; i < batch.numRows; i++) plan.push(planColumn(String(batch.value('column_name', i)), String(batch.value('column_type', i))));
  }
  return plan;
}

const KIND_CODE: Record<ColumnType, number> = { bool: 0, int32: 1, int64: 2, float32: 3, float64: 4, date32: 5, timestamp_us: 6, utf8: 7 };

let libraryPath: string | null | undefined;

/** Path of the libduckdb shared library shipped by @duckdb/node-bindings for this platform, or null. */
export function duckdbLibraryPath(): string | null {
  if (libraryPath !== undefined) return libraryPath;
  libraryPath = null;
  try {
    const require = createRequire(import.meta.url);
    const pkg = require.resolve(`@duckdb/node-bindings-${process.platform}-${process.arch}/package.json`);
    const file = path.join(path.dirname(pkg), process.platform === 'darwin' ? 'libduckdb.dylib' : process.platform === 'win32' ? 'duckdb.dll' : 'libduckdb.so');
    if (fs.existsSync(file)) libraryPath = file;
  } catch {
    libraryPath = null;
  }
  return libraryPath;
}

/** Streams a planned query through the native scanner: one async call per batch, memcpy of DuckDB vectors. */
async function* nativeScan(
  lib: string,
  sql: string,
  plan: PlannedColumn[],
  batchSize: number,
  context: Record<string, unknown>,
  streamBufferBytes?: number,
  kinds = Int32Array.from(plan.map((p) => KIND_CODE[p.type])),
  reuseBuffers = false,
): AsyncGenerator<ColumnBatch> {
  let handle;
  try {
    handle = await scanOpen(lib, sql, kinds, 0, streamBufferBytes, reuseBuffers);
  } catch (err) {
    throw err instanceof KilnError && (err.code === 'E_IO' || err.code === 'E_SCHEMA') ? new KilnError(err.code, err.message, context) : err;
  }
  try {
    for (;;) {
      const raw = await scanNext(handle, batchSize);
      if (raw === null) return;
      const columns: Column[] = plan.map((p, c) => {
        const r = raw.columns[c]!;
        const Ctor = valuesConstructorFor(p.type) as unknown as { new (b: ArrayBuffer, offset?: number, length?: number): ColumnValues };
        return {
          name: p.name,
          type: p.type,
          values: p.type === 'utf8' ? new Ctor(r.values) : new Ctor(r.values, 0, raw.rows),
          ...(r.offsets ? { offsets: new Int32Array(r.offsets) } : {}),
          validity: r.validity ? new Uint8Array(r.validity) : null,
          nullCount: r.nullCount,
        };
      });
      yield new ColumnBatch(columns, raw.rows);
    }
  } finally {
    scanClose(handle);
  }
}

/** Runs a generator body with its own connection, closed when the consumer stops or finishes. */
async function* withConnectionGen<T>(body: (conn: DuckDBConnection) => AsyncGenerator<T>): AsyncGenerator<T> {
  const conn = await (await duckdb()).connect();
  try {
    yield* body(conn);
  } finally {
    conn.closeSync();
  }
}

function checkBatchSize(n: number | undefined): number {
  const size = n ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(size) || size < 1 || size > 16_777_216) {
    throw new KilnError('E_USAGE', `batchSize must be an integer in 1..16777216, got ${String(n)}`);
  }
  return size;
}

const BYTE_WIDTH: Record<Exclude<ColumnType, 'utf8'>, number> = {
  bool: 1,
  int32: 4,
  date32: 4,
  int64: 8,
  timestamp_us: 8,
  float32: 4,
  float64: 8,
};

/** Accumulates DuckDB chunks into batch-sized typed buffers (copies, never per-value boxing for numbers). */
class BatchBuilder {
  rows = 0;
  private readonly values: ColumnValues[];
  private readonly validity: Uint8Array[];
  private readonly strings: Array<{ bytes: Uint8Array; offsets: Int32Array; used: number } | null>;
  private readonly encoder = new TextEncoder();

  constructor(
    private readonly plan: PlannedColumn[],
    private readonly capacity: number,
  ) {
    this.values = plan.map((p) => new (valuesConstructorFor(p.type))(p.type === 'utf8' ? 0 : capacity));
    this.validity = plan.map(() => new Uint8Array((capacity + 7) >> 3).fill(0xff));
    this.strings = plan.map((p) => (p.type === 'utf8' ? { bytes: new Uint8Array(1024), offsets: new Int32Array(capacity + 1), used: 0 } : null));
  }

  get full(): boolean {
    return this.rows === this.capacity;
  }

  /** Copies rows [from, …) of the chunk until the batch is full; returns the next unread row. */
  appendChunk(chunk: DuckDBDataChunk, from: number): number {
    const n = Math.min(chunk.rowCount - from, this.capacity - this.rows);
    const total = chunk.rowCount;
    for (let c = 0; c < this.plan.length; c++) {
      const p = this.plan[c]!;
      const vec = duckdbRaw.data_chunk_get_vector(chunk.chunk, c);
      const validBytes = duckdbRaw.vector_get_validity(vec, Math.ceil(total / 64) * 8) as Uint8Array | null;
      const bitmap = this.validity[c]!;
      if (validBytes) {
        for (let i = 0; i < n; i++) {
          const src = from + i;
          if ((validBytes[src >> 3]! & (1 << (src & 7))) === 0) {
            const dst = this.rows + i;
            bitmap[dst >> 3]! &= ~(1 << (dst & 7));
          }
        }
      }
      if (p.type === 'utf8') {
        const s = this.strings[c]!;
        const vector = chunk.getColumnVector(c);
        for (let i = 0; i < n; i++) {
          const v = vector.getItem(from + i);
          if (v !== null) {
            const bytes = this.encoder.encode(String(v));
            if (s.used + bytes.length > s.bytes.length) {
              const grown = new Uint8Array(Math.max(s.bytes.length * 2, s.used + bytes.length));
              grown.set(s.bytes.subarray(0, s.used));
              s.bytes = grown;
            }
            s.bytes.set(bytes, s.used);
            s.used += bytes.length;
          }
          s.offsets[this.rows + i + 1] = s.used;
        }
        continue;
      }
      const width = BYTE_WIDTH[p.type];
      const raw = duckdbRaw.vector_get_data(vec, total * width) as Uint8Array;
      const dst = this.values[c]!;
      const Ctor = dst.constructor as { new (b: ArrayBufferLike, o: number, n: number): ColumnValues };
      const src = new Ctor(raw.buffer, raw.byteOffset + from * width, n);
      (dst as Float64Array).set(src as Float64Array, this.rows);
    }
    this.rows += n;
    return from + n;
  }

  /** The batch of the rows appended so far. */
  finish(): ColumnBatch {
    const n = this.rows;
    const columns: Column[] = this.plan.map((p, c) => {
      const bitmap = this.validity[c]!.subarray(0, (n + 7) >> 3);
      const nullCount = countNulls(bitmap, n);
      const validity = nullCount > 0 ? bitmap : null;
      if (p.type === 'utf8') {
        const s = this.strings[c]!;
        return { name: p.name, type: p.type, values: s.bytes.subarray(0, s.used), offsets: s.offsets.subarray(0, n + 1), validity, nullCount };
      }
      return { name: p.name, type: p.type, values: this.values[c]!.subarray(0, n), validity, nullCount };
    });
    return new ColumnBatch(columns, n);
  }
}

/** Streams an Arrow IPC file (file or stream format) batch by batch. */
export async function* scanArrowFile(file: string, opts: ScanOptions = {}): AsyncGenerator<ColumnBatch> {
  const batchSize = checkBatchSize(opts.batchSize);
  let remaining = opts.limit ?? Infinity;
  let reader: AsyncIterable<arrow.RecordBatch>;
  try {
    reader = await arrow.RecordBatchReader.from(fs.createReadStream(file));
  } catch (err) {
    throw new KilnError('E_IO', `cannot read Arrow IPC file ${file}: ${(err as Error).message}`, { file });
  }
  for await (const rb of reader) {
    let batch = batchFromArrow(rb);
    if (opts.columns?.length) batch = batch.select(opts.columns);
    for (let start = 0; start < batch.numRows && remaining > 0; start += batchSize) {
      const end = Math.min(batch.numRows, start + batchSize, start + remaining);
      const part = start === 0 && end === batch.numRows ? batch : batch.slice(start, end);
      remaining -= part.numRows;
      yield part;
    }
    if (remaining <= 0) return;
  }
}
