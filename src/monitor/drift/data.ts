/**
 * Drift inputs: a ColumnBatch, several batches, an async stream of batches, or a data file read by
 * DuckDB. Numeric columns are accumulated into Float64Arrays (NULL -> NaN); categorical columns
 * (strings, booleans) into category counts. Files are read a group of columns at a time so memory
 * is bounded by rows x group size, not by the width of the file.
 */
import { Buffer } from 'node:buffer';
import fs from 'node:fs';
import { KilnError } from '../../../bindings/errors.js';
import { isValidBit, type Column, type ColumnBatch, type ColumnType } from '../../batch/column-batch.js';
import { withConnection } from '../../io/duckdb.js';
import { resolveFormat, sourceSql, sqlIdent, type ReadOptions } from '../../io/formats.js';
import { planColumn, scanFile } from '../../io/scan.js';

/** What a drift comparison reads: batches, a stream of batches, or a data file (CSV, NDJSON, Parquet, Arrow IPC). */
export type DriftInput = ColumnBatch | readonly ColumnBatch[] | AsyncIterable<ColumnBatch> | string;

/** Kind of a drift feature. */
export type FeatureKind = 'numeric' | 'categorical';

/** A column's name and drift kind. */
export interface ColumnInfo {
  name: string;
  kind: FeatureKind;
  type: ColumnType;
}

/** Category counts of one categorical column (keys are the UTF-8 bytes as latin1 strings). */
export interface CategoryCounts {
  counts: Map<string, number>;
  missing: number;
}

/** The kind a column type is compared as. */
export function kindOfType(type: ColumnType): FeatureKind {
  return type === 'utf8' || type === 'bool' ? 'categorical' : 'numeric';
}

/** A category key back to its display string. */
export function categoryLabel(key: string): string {
  return Buffer.from(key, 'latin1').toString('utf8');
}

function isFile(input: DriftInput): input is string {
  return typeof input === 'string';
}

function isBatch(input: DriftInput): input is ColumnBatch {
  return typeof input === 'object' && input !== null && 'columns' in input && 'numRows' in input && !Array.isArray(input);
}

/** The batches of a non-file input, as an async iterable. */
async function* batchesOf(input: Exclude<DriftInput, string>): AsyncGenerator<ColumnBatch> {
  if (isBatch(input)) {
    yield input;
    return;
  }
  if (Array.isArray(input)) {
    yield* input as ColumnBatch[];
    return;
  }
  yield* input as AsyncIterable<ColumnBatch>;
}

/** A column's values as doubles (NULL -> NaN), written into out[at..]. */
function copyNumeric(c: Column, rows: number, out: Float64Array, at: number): void {
  const v = c.values;
  if (c.type === 'int64' || c.type === 'timestamp_us') {
    const b = v as BigInt64Array;
    for (let i = 0; i < rows; i++) out[at + i] = Number(b[i]!);
  } else if (c.type === 'float64') {
    out.set((v as Float64Array).subarray(0, rows), at);
  } else {
    const a = v as Float32Array | Int32Array;
    for (let i = 0; i < rows; i++) out[at + i] = a[i]!;
  }
  if (c.validity !== null && c.nullCount > 0) {
    for (let i = 0; i < rows; i++) if (!isValidBit(c.validity, i)) out[at + i] = NaN;
  }
}

function countCategories(c: Column, rows: number, into: CategoryCounts): void {
  const m = into.counts;
  if (c.type !== 'utf8' && c.type !== 'bool') {
    const v = c.values;
    for (let i = 0; i < rows; i++) {
      if (!isValidBit(c.validity, i)) into.missing++;
      else {
        const k = String(v[i]!);
        m.set(k, (m.get(k) ?? 0) + 1);
      }
    }
    return;
  }
  if (c.type === 'bool') {
    for (let i = 0; i < rows; i++) {
      if (!isValidBit(c.validity, i)) into.missing++;
      else {
        const k = c.values[i] !== 0 ? 'true' : 'false';
        m.set(k, (m.get(k) ?? 0) + 1);
      }
    }
    return;
  }
  const bytes = c.values as Uint8Array;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const o = c.offsets!;
  for (let i = 0; i < rows; i++) {
    if (!isValidBit(c.validity, i)) {
      into.missing++;
      continue;
    }
    const k = buf.toString('latin1', o[i]!, o[i + 1]!);
    m.set(k, (m.get(k) ?? 0) + 1);
  }
}

/** Loaded columns of one side of a comparison. */
export interface LoadedColumns {
  rows: number;
  numeric: Map<string, Float64Array>;
  categorical: Map<string, CategoryCounts>;
}

/** Growable Float64 column (doubling), trimmed at the end. */
class Grow {
  buf = new Float64Array(1 << 16);
  n = 0;
  reserve(extra: number): void {
    if (this.n + extra <= this.buf.length) return;
    let cap = this.buf.length;
    while (cap < this.n + extra) cap *= 2;
    const next = new Float64Array(cap);
    next.set(this.buf.subarray(0, this.n));
    this.buf = next;
  }
  done(): Float64Array {
    return this.n === this.buf.length ? this.buf : this.buf.slice(0, this.n);
  }
}

/** Reads the named columns of batches (numeric into Float64Arrays, categorical into counts). */
async function loadFromBatches(batches: AsyncIterable<ColumnBatch>, cols: readonly ColumnInfo[], source: string): Promise<LoadedColumns> {
  const grow = new Map(cols.filter((c) => c.kind === 'numeric').map((c) => [c.name, new Grow()]));
  const categorical = new Map(cols.filter((c) => c.kind === 'categorical').map((c) => [c.name, { counts: new Map<string, number>(), missing: 0 }]));
  let rows = 0;
  for await (const b of batches) {
    for (const info of cols) {
      if (!b.has(info.name)) throw new KilnError('E_SCHEMA', `${source}: no column "${info.name}" (have: ${b.names.join(', ')})`, { source, field: info.name });
      const c = b.column(info.name);
      if (info.kind === 'numeric' && kindOfType(c.type) !== 'numeric') {
        throw new KilnError('E_SCHEMA', `${source}: column "${info.name}" is ${c.type}, expected a ${info.kind} column`, { source, field: info.name });
      }
      if (info.kind === 'numeric') {
        const g = grow.get(info.name)!;
        g.reserve(b.numRows);
        copyNumeric(c, b.numRows, g.buf, g.n);
        g.n += b.numRows;
      } else countCategories(c, b.numRows, categorical.get(info.name)!);
    }
    rows += b.numRows;
  }
  return { rows, numeric: new Map([...grow].map(([k, g]) => [k, g.done()])), categorical };
}

/** The columns of the first batch of a non-file input (and that batch stream, replayable). */
async function describeBatches(input: Exclude<DriftInput, string>): Promise<{ columns: ColumnInfo[]; replay: () => AsyncIterable<ColumnBatch> }> {
  if (isBatch(input) || Array.isArray(input)) {
    const list = isBatch(input) ? [input] : (input as ColumnBatch[]);
    if (list.length === 0) throw new KilnError('E_USAGE', 'drift input has no batches');
    const columns = list[0]!.columns.map((c) => ({ name: c.name, type: c.type, kind: kindOfType(c.type) }));
    return { columns, replay: () => batchesOf(list) };
  }
  // A one-shot stream: buffer it so both the schema and the data come from it.
  const all: ColumnBatch[] = [];
  for await (const b of input as AsyncIterable<ColumnBatch>) all.push(b);
  if (all.length === 0) throw new KilnError('E_USAGE', 'drift input stream yielded no batches');
  return describeBatches(all);
}

/** Read options of a drift file. */
export interface DriftReadOptions extends ReadOptions {
  /** Rows per scanned batch. */
  batchSize?: number;
}

/** A drift source: its columns, row count and a loader of a subset of its columns. */
export interface DriftSource {
  label: string;
  columns: ColumnInfo[];
  /** Row count (null until known for stream inputs). */
  rows(): Promise<number>;
  /** Loads the given columns; numeric ones into `into` (one array per numeric column, rows long) when given. */
  load(cols: readonly ColumnInfo[], into?: Float64Array[]): Promise<LoadedColumns>;
  /** Category counts of a categorical column (files: a DuckDB GROUP BY). */
}

/** Opens a drift input for column-subset loading. */
export async function openDriftSource(input: DriftInput, read: DriftReadOptions = {}, label?: string): Promise<DriftSource> {
  if (isFile(input)) return openFile(input, read, label ?? input);
  const { columns, replay } = await describeBatches(input);
  let rowCount: number | null = null;
  return {
    label: label ?? 'batches',
    columns,
    async rows() {
      if (rowCount === null) {
        rowCount = 0;
        for await (const b of replay()) rowCount += b.numRows;
      }
      return rowCount;
    },
    load: (cols) => loadFromBatches(replay(), cols, label ?? 'batches'),
  };
}

async function openFile(file: string, read: DriftReadOptions, label: string): Promise<DriftSource> {
  if (!fs.existsSync(file)) throw new KilnError('E_IO', `no such file: ${file}`, { file });
  const format = resolveFormat(file, read);
  if (format === 'arrow') {
    const stream = (cols?: string[]): AsyncIterable<ColumnBatch> => scanFile(file, { ...read, columns: cols, batchSize: read.batchSize });
    const it = stream()[Symbol.asyncIterator]();
    const first = await it.next();
    await it.return?.(undefined);
    if (first.done) throw new KilnError('E_DATASET', `${file} has no rows`, { file });
    const columns = first.value.columns.map((c) => ({ name: c.name, type: c.type, kind: kindOfType(c.type) }));
    let rowCount: number | null = null;
    return {
      label,
      columns,
      async rows() {
        if (rowCount === null) {
          rowCount = 0;
          for await (const b of stream([columns[0]!.name])) rowCount += b.numRows;
        }
        return rowCount;
      },
      load: (cols) => loadFromBatches(stream(cols.map((c) => c.name)), cols, file),
    };
  }
  const from = sourceSql(file, read);
  const described = await withConnection(async (conn) => {
    try {
      return (await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${from}`)).getRows();
    } catch (err) {
      throw new KilnError('E_IO', `cannot read ${file}: ${(err as Error).message}`, { file });
    }
  });
  const columns = described.map((r) => {
    const p = planColumn(String(r[0]), String(r[1]));
    return { name: p.name, type: p.type, kind: kindOfType(p.type) };
  });
  let rowCount: number | null = null;
  const rows = async (): Promise<number> => {
    if (rowCount === null) {
      rowCount = await withConnection(async (conn) => Number((await conn.runAndReadAll(`SELECT count(*) FROM ${from}`)).getRows()[0]![0]));
    }
    return rowCount;
  };
  return {
    label,
    columns,
    rows,
    async load(cols, into) {
      const numericCols = cols.filter((c) => c.kind === 'numeric');
      const catCols = cols.filter((c) => c.kind === 'categorical');
      const n = await rows();
      const numeric = new Map<string, Float64Array>();
      if (numericCols.length > 0) {
        const arrays = numericCols.map((_, i) => (into?.[i]?.length === n ? into[i]! : new Float64Array(n)));
        let at = 0;
        for await (const b of scanFile(file, { ...read, columns: numericCols.map((c) => c.name), batchSize: read.batchSize ?? 262_144, reuseBuffers: true })) {
          if (at + b.numRows > n) throw new KilnError('E_DATA_CHANGED', `${file} changed while it was read (more than ${n} rows)`, { file });
          numericCols.forEach((c, i) => copyNumeric(b.column(c.name), b.numRows, arrays[i]!, at));
          at += b.numRows;
        }
        if (at !== n) throw new KilnError('E_DATA_CHANGED', `${file} changed while it was read (${at} rows, expected ${n})`, { file });
        numericCols.forEach((c, i) => numeric.set(c.name, arrays[i]!));
      }
      const categorical = new Map<string, CategoryCounts>();
      if (catCols.length > 0) {
        await withConnection(async (conn) => {
          for (const c of catCols) {
            const id = sqlIdent(c.name);
            const expr = c.type === 'bool' ? `CASE WHEN ${id} THEN 'true' WHEN NOT ${id} THEN 'false' END` : `CAST(${id} AS VARCHAR)`;
            const res = (await conn.runAndReadAll(`SELECT ${expr} AS k, count(*) AS n FROM ${from} GROUP BY 1`)).getRows();
            const out: CategoryCounts = { counts: new Map(), missing: 0 };
            for (const [k, cnt] of res) {
              if (k === null) out.missing += Number(cnt);
              else out.counts.set(Buffer.from(String(k), 'utf8').toString('latin1'), Number(cnt));
            }
            categorical.set(c.name, out);
          }
        });
      }
      return { rows: n, numeric, categorical };
    },
  };
}
