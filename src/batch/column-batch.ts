import type * as arrow from 'apache-arrow';
import { KilnError } from '../../bindings/errors.js';
import { batchFromArrow, batchToArrow } from './arrow.js';

/** Logical column types of a ColumnBatch; each has one Arrow-compatible physical layout. */
export type ColumnType = 'bool' | 'int32' | 'int64' | 'float32' | 'float64' | 'date32' | 'timestamp_us' | 'utf8';

/** Physical value buffer of a column (utf8: the UTF-8 bytes, indexed by `offsets`). */
export type ColumnValues = Uint8Array | Int32Array | BigInt64Array | Float32Array | Float64Array;

/** One column: typed values, optional validity bitmap (LSB-first, bit 1 = valid; null = all valid). */
export interface Column {
  readonly name: string;
  readonly type: ColumnType;
  readonly values: ColumnValues;
  /** utf8 only: `length + 1` byte offsets into `values`. */
  readonly offsets?: Int32Array;
  readonly validity: Uint8Array | null;
  readonly nullCount: number;
}

const decoder = new TextDecoder();

/** The typed-array constructor that holds each column type's values. */
export function valuesConstructorFor(type: ColumnType): { new (n: number): ColumnValues } {
  switch (type) {
    case 'bool':
    case 'utf8':
      return Uint8Array;
    case 'int32':
    case 'date32':
      return Int32Array;
    case 'int64':
    case 'timestamp_us':
      return BigInt64Array;
    case 'float32':
      return Float32Array;
    case 'float64':
      return Float64Array;
  }
}

/** Reads bit `i` of an LSB-first validity bitmap (null bitmap = valid). */
export function isValidBit(validity: Uint8Array | null, i: number): boolean {
  return validity === null || (validity[i >> 3]! & (1 << (i & 7))) !== 0;
}

/** Counts the zero bits among the first `length` bits of a bitmap. */
export function countNulls(validity: Uint8Array | null, length: number): number {
  if (validity === null) return 0;
  let valid = 0;
  const fullBytes = length >> 3;
  for (let b = 0; b < fullBytes; b++) valid += POPCOUNT[validity[b]!]!;
  for (let i = fullBytes << 3; i < length; i++) if (isValidBit(validity, i)) valid++;
  return length - valid;
}

const POPCOUNT = (() => {
  const t = new Uint8Array(256);
  for (let i = 0; i < 256; i++) t[i] = (i & 1) + t[i >> 1]!;
  return t;
})();

/** A set of equally long named columns: kiln's in-memory unit between stages. */
export class ColumnBatch {
  readonly numRows: number;
  readonly columns: readonly Column[];
  private readonly byName: Map<string, Column>;

  /** Validates lengths and names; the buffers are adopted, not copied. */
  constructor(columns: readonly Column[], numRows: number) {
    this.numRows = numRows;
    this.columns = columns;
    this.byName = new Map();
    for (const c of columns) {
      if (this.byName.has(c.name)) throw new KilnError('E_SCHEMA', `duplicate column name "${c.name}"`);
      const physical = c.type === 'utf8' ? (c.offsets?.length ?? 0) - 1 : c.values.length;
      if (physical < numRows) {
        throw new KilnError('E_SCHEMA', `column "${c.name}" has ${physical} values, batch has ${numRows} rows`);
      }
      if (c.validity !== null && c.validity.length * 8 < numRows) {
        throw new KilnError('E_SCHEMA', `column "${c.name}" validity bitmap is shorter than ${numRows} rows`);
      }
      this.byName.set(c.name, c);
    }
  }

  /** Column names in order. */
  get names(): string[] {
    return this.columns.map((c) => c.name);
  }

  /** The named column, or a KilnError naming the missing column. */
  column(name: string): Column {
    const c = this.byName.get(name);
    if (!c) throw new KilnError('E_SCHEMA', `no column "${name}" (have: ${this.names.join(', ')})`);
    return c;
  }

  /** True when the batch has a column of that name. */
  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** Value at row `i` as a JS value (number, bigint, string, boolean) or null. */
  value(name: string | Column, i: number): number | bigint | string | boolean | null {
    const c = typeof name === 'string' ? this.column(name) : name;
    if (!isValidBit(c.validity, i)) return null;
    switch (c.type) {
      case 'bool':
        return c.values[i] !== 0;
      case 'utf8': {
        const o = c.offsets!;
        return decoder.decode((c.values as Uint8Array).subarray(o[i]!, o[i + 1]!));
      }
      default:
        return c.values[i]!;
    }
  }

  /** The first `limit` rows as plain objects (for display and tests, never for hot paths). */
  toRows(limit = this.numRows): Record<string, unknown>[] {
    const n = Math.min(limit, this.numRows);
    const rows: Record<string, unknown>[] = [];
    for (let i = 0; i < n; i++) {
      const row: Record<string, unknown> = {};
      for (const c of this.columns) row[c.name] = this.value(c, i);
      rows.push(row);
    }
    return rows;
  }

  /** A batch of the named columns only (buffers shared). */
  select(names: readonly string[]): ColumnBatch {
    return new ColumnBatch(names.map((n) => this.column(n)), this.numRows);
  }

  /** This batch as an Arrow RecordBatch (numeric buffers shared). */
  toArrow(): arrow.RecordBatch {
    return batchToArrow(this);
  }

  /** A batch copied from an Arrow RecordBatch. */
  static fromArrow(rb: arrow.RecordBatch): ColumnBatch {
    return batchFromArrow(rb);
  }

  /** Rows [start, end) as a new batch with copied buffers. */
  slice(start: number, end = this.numRows): ColumnBatch {
    const lo = Math.max(0, Math.min(start, this.numRows));
    const hi = Math.max(lo, Math.min(end, this.numRows));
    return new ColumnBatch(this.columns.map((c) => sliceColumn(c, lo, hi)), hi - lo);
  }
}

/** Copies rows [lo, hi) of a column into fresh buffers. */
export function sliceColumn(c: Column, lo: number, hi: number): Column {
  const n = hi - lo;
  let validity: Uint8Array | null = null;
  if (c.validity !== null) {
    validity = new Uint8Array((n + 7) >> 3);
    for (let i = 0; i < n; i++) if (isValidBit(c.validity, lo + i)) validity[i >> 3]! |= 1 << (i & 7);
  }
  const nullCount = countNulls(validity, n);
  if (c.type === 'utf8') {
    const o = c.offsets!;
    const base = o[lo]!;
    const offsets = new Int32Array(n + 1);
    for (let i = 0; i <= n; i++) offsets[i] = o[lo + i]! - base;
    const values = (c.values as Uint8Array).slice(base, o[hi]!);
    return { name: c.name, type: c.type, values, offsets, validity, nullCount };
  }
  return { name: c.name, type: c.type, values: c.values.slice(lo, hi), validity, nullCount };
}

/** Builds a column from JS values (null/undefined = missing); for tests, fixtures and small data. */
export function columnFromValues(name: string, type: ColumnType, input: readonly unknown[]): Column {
  const n = input.length;
  const validity = new Uint8Array((n + 7) >> 3);
  let nullCount = 0;
  const setValid = (i: number): void => {
    validity[i >> 3]! |= 1 << (i & 7);
  };
  if (type === 'utf8') {
    const enc = new TextEncoder();
    const parts: Uint8Array[] = [];
    const offsets = new Int32Array(n + 1);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const v = input[i];
      if (v === null || v === undefined) nullCount++;
      else {
        setValid(i);
        const bytes = enc.encode(String(v));
        parts.push(bytes);
        total += bytes.length;
      }
      offsets[i + 1] = total;
    }
    const values = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      values.set(p, at);
      at += p.length;
    }
    return { name, type, values, offsets, validity: nullCount ? validity : null, nullCount };
  }
  const Ctor = valuesConstructorFor(type);
  const values = new Ctor(n);
  for (let i = 0; i < n; i++) {
    const v = input[i];
    if (v === null || v === undefined) {
      nullCount++;
      continue;
    }
    setValid(i);
    if (values instanceof BigInt64Array) values[i] = BigInt(v as bigint | number);
    else if (type === 'bool') values[i] = v ? 1 : 0;
    else (values as Float64Array)[i] = Number(v);
  }
  return { name, type, values, validity: nullCount ? validity : null, nullCount };
}
