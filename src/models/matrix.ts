import { KilnError } from '../../bindings/errors.js';
import { ColumnBatch, isValidBit, type Column } from '../batch/column-batch.js';

/** A dense row-major matrix as models accept it. */
export interface DenseMatrix {
  values: Float32Array | Float64Array;
  rows: number;
  cols: number;
  featureNames?: readonly string[];
}

/** Model input: a ColumnBatch or a dense row-major matrix. */
export type ModelInput = ColumnBatch | DenseMatrix;

/** Raw feature values of one categorical column: strings (utf8 columns) or numbers. */
export type CategoryValue = string | number;

/** A matrix ready for the kernels, plus what categorical columns held before encoding. */
export interface PreparedMatrix {
  values: Float32Array | Float64Array;
  rows: number;
  cols: number;
  layout: 'row' | 'column';
  featureNames: string[];
  /** Per feature: the raw values of a categorical column (null for numeric ones). */
  rawCategorical: (CategoryValue | null)[][] | null;
}

function usage(message: string): KilnError {
  return new KilnError('E_USAGE', message);
}

/** True when x is a dense matrix object (not a ColumnBatch). */
export function isDenseMatrix(x: unknown): x is DenseMatrix {
  return typeof x === 'object' && x !== null && !(x instanceof ColumnBatch) && 'values' in x && 'rows' in x && 'cols' in x;
}

/** Default names f0..f(n-1). */
export function defaultFeatureNames(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `f${i}`);
}

/** Checks a dense matrix's shape and feature names; throws E_USAGE naming the problem. */
export function checkDenseMatrix(x: DenseMatrix, what = 'X'): void {
  if (!(x.values instanceof Float32Array) && !(x.values instanceof Float64Array)) {
    throw usage(`${what}.values must be a Float32Array or Float64Array (row-major)`);
  }
  if (!Number.isInteger(x.rows) || x.rows < 1) throw usage(`${what}.rows must be an integer >= 1 (got ${String(x.rows)}); empty data cannot be used`);
  if (!Number.isInteger(x.cols) || x.cols < 1) throw usage(`${what}.cols must be an integer >= 1 (got ${String(x.cols)})`);
  if (x.values.length !== x.rows * x.cols) {
    throw usage(`${what}.values has ${x.values.length} entries but rows * cols = ${x.rows} * ${x.cols} = ${x.rows * x.cols}`);
  }
  if (x.featureNames !== undefined) {
    if (!Array.isArray(x.featureNames) || x.featureNames.length !== x.cols) {
      throw usage(`${what}.featureNames must have one name per column (${x.cols})`);
    }
    const seen = new Set<string>();
    for (const n of x.featureNames) {
      if (typeof n !== 'string' || n.length === 0) throw usage(`${what}.featureNames must be non-empty strings`);
      if (seen.has(n)) throw usage(`${what}.featureNames has "${n}" twice`);
      seen.add(n);
    }
  }
}

/** Numeric value of row i of a non-utf8 column (null -> NaN). */
function numericAt(c: Column, i: number): number {
  if (!isValidBit(c.validity, i)) return NaN;
  const v = c.values[i]!;
  return typeof v === 'bigint' ? Number(v) : v;
}

/**
 * Turns a model input into a kernel matrix. Dense input is used as is (row-major); a ColumnBatch
 * becomes a column-major Float64Array (nulls -> NaN, bool -> 0/1, dates/timestamps -> numbers),
 * and its utf8 columns are returned as raw categorical values for the model to encode.
 * `columns` selects and orders the batch's columns (by name) when given.
 */
export function prepareInput(x: ModelInput, what = 'X', columns?: readonly string[]): PreparedMatrix {
  if (x instanceof ColumnBatch) {
    const names = columns ? [...columns] : x.columns.map((c) => c.name);
    if (x.numRows < 1) throw usage(`${what} has no rows; empty data cannot be used`);
    if (names.length < 1) throw usage(`${what} has no columns`);
    const rows = x.numRows;
    const values = new Float64Array(rows * names.length);
    let raw: (CategoryValue | null)[][] | null = null;
    names.forEach((name, f) => {
      if (!x.has(name)) throw usage(`${what} has no column "${name}" (the model needs ${names.join(', ')})`);
      const c = x.column(name);
      const out = values.subarray(f * rows, (f + 1) * rows);
      if (c.type === 'utf8') {
        raw ??= names.map(() => []);
        const col: (CategoryValue | null)[] = new Array(rows);
        for (let i = 0; i < rows; i++) col[i] = x.value(c, i) as string | null;
        raw[f] = col;
        out.fill(NaN);
      } else {
        for (let i = 0; i < rows; i++) out[i] = numericAt(c, i);
      }
    });
    return { values, rows, cols: names.length, layout: 'column', featureNames: names, rawCategorical: raw };
  }
  if (!isDenseMatrix(x)) throw usage(`${what} must be a ColumnBatch or { values, rows, cols }`);
  checkDenseMatrix(x, what);
  const featureNames = x.featureNames ? [...x.featureNames] : columns ? [...columns] : defaultFeatureNames(x.cols);
  if (columns) {
    if (columns.length !== x.cols) throw usage(`${what} has ${x.cols} columns but the model has ${columns.length} features`);
    if (featureNames.some((n, i) => n !== columns[i])) throw usage(`${what}.featureNames differ from the model's features (${columns.join(', ')})`);
  }
  return { values: x.values, rows: x.rows, cols: x.cols, layout: 'row', featureNames, rawCategorical: null };
}

/** Labels as a Float64Array of the right length with finite values; throws E_USAGE. */
export function prepareLabels(y: unknown, rows: number, what = 'y'): Float64Array {
  let out: Float64Array;
  if (y instanceof Float64Array) out = y;
  else if (y instanceof Float32Array || y instanceof Int32Array || y instanceof Uint8Array || y instanceof Int8Array || y instanceof Uint32Array || y instanceof Int16Array || y instanceof Uint16Array) out = Float64Array.from(y);
  else if (Array.isArray(y)) out = Float64Array.from(y as number[], (v) => (typeof v === 'number' ? v : typeof v === 'boolean' ? Number(v) : NaN));
  else throw usage(`${what} must be a typed array or an array of numbers`);
  if (out.length !== rows) throw usage(`${what} has ${out.length} labels for ${rows} rows`);
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i]!)) throw usage(`${what}[${i}] is ${String(Array.isArray(y) ? (y as unknown[])[i] : out[i])}; labels must be finite numbers (NaN labels are not allowed)`);
  }
  return out;
}

/** Sorted distinct category values (numbers ascending, then strings by code point). */
export function sortedCategories(values: Iterable<CategoryValue>): CategoryValue[] {
  const nums: number[] = [];
  const strs: string[] = [];
  for (const v of new Set(values)) (typeof v === 'number' ? nums : strs).push(v as never);
  nums.sort((a, b) => a - b);
  strs.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return [...nums, ...strs];
}

/** Raw value of feature f at row r of a prepared matrix (categorical raw values preferred). */
export function rawValue(m: PreparedMatrix, f: number, r: number): CategoryValue | null {
  const raw = m.rawCategorical?.[f];
  if (raw && raw.length > 0) return raw[r] ?? null;
  const v = m.layout === 'row' ? m.values[r * m.cols + f]! : m.values[f * m.rows + r]!;
  return Number.isNaN(v) ? null : v;
}
