/**
 * Inputs of the dense models (logistic regression, MLP): a feature matrix given as a ColumnBatch
 * or a row-major typed array, and the targets. Validation errors name the argument and use
 * E_NATIVE_INPUT (bad data) or E_USAGE (a wrong call shape), never crash.
 */
import { KilnError } from '../../bindings/errors.js';
import type { FloatArray, Layout } from '../../bindings/index.js';
import { ColumnBatch, isValidBit, type Column } from '../batch/column-batch.js';

import type { DenseMatrix } from './matrix.js';

/** A dense matrix: values[r * cols + f] (row-major); one definition shared with the tree models. */
export type { DenseMatrix };

/** Features accepted by fit / predict. ColumnBatch columns are numeric; nulls become NaN (missing). */
export type FeatureInput = ColumnBatch | DenseMatrix;

/** Targets: class indices 0..K-1 (classification) or real values (regression). */
export type TargetInput = Float64Array | Float32Array | Int32Array | readonly number[];

/** A matrix ready for the native kernels. */
export interface PreparedMatrix {
  values: FloatArray;
  rows: number;
  cols: number;
  layout: Layout;
  featureNames: string[];
}

const NUMERIC_TYPES = new Set(['float32', 'float64', 'int32', 'int64', 'bool']);

function dataError(op: string, message: string): KilnError {
  return new KilnError('E_NATIVE_INPUT', `${op}: ${message}`);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'Array';
  if (ArrayBuffer.isView(v)) return Object.prototype.toString.call(v).slice(8, -1);
  return typeof v === 'object' ? ((v as object).constructor?.name ?? 'object') : typeof v;
}

/** Default feature names f0..f{cols-1}. */
export function defaultFeatureNames(cols: number): string[] {
  return Array.from({ length: cols }, (_, i) => `f${i}`);
}

/** One numeric column as float64 values of its first `rows` rows, nulls -> NaN. */
function columnAsFloat64(op: string, c: Column, rows: number, out: Float64Array, offset: number): void {
  if (!NUMERIC_TYPES.has(c.type)) {
    throw dataError(op, `column "${c.name}" has type ${c.type}; only numeric columns (float32, float64, int32, int64, bool) can be features`);
  }
  if (c.type === 'int64') {
    const v = c.values as BigInt64Array;
    for (let r = 0; r < rows; r++) out[offset + r] = Number(v[r]!);
  } else {
    out.set((c.values as Float64Array | Float32Array | Int32Array | Uint8Array).subarray(0, rows), offset);
  }
  if (c.validity !== null && c.nullCount !== 0) {
    for (let r = 0; r < rows; r++) if (!isValidBit(c.validity, r)) out[offset + r] = NaN;
  }
}

/**
 * The feature matrix of X. With `names` (a fitted model's features), a ColumnBatch is read by
 * column name in that order and a DenseMatrix must have exactly that many columns.
 */
export function prepareFeatures(op: string, X: unknown, names?: readonly string[]): PreparedMatrix {
  if (X instanceof ColumnBatch) {
    const rows = X.numRows;
    if (rows < 1) throw dataError(op, 'X has no rows');
    const columns = names === undefined ? X.columns : names.map((n) => {
      if (!X.has(n)) throw dataError(op, `X has no column "${n}" (the model's features: ${names.join(', ')})`);
      return X.column(n);
    });
    if (columns.length < 1) throw dataError(op, 'X has no columns');
    const values = new Float64Array(rows * columns.length);
    columns.forEach((c, f) => columnAsFloat64(op, c, rows, values, f * rows));
    return { values, rows, cols: columns.length, layout: 'column', featureNames: columns.map((c) => c.name) };
  }
  if (X === null || typeof X !== 'object') {
    throw new KilnError('E_USAGE', `${op}: X must be a ColumnBatch or { values, rows, cols } (got ${typeName(X)})`);
  }
  const m = X as Partial<DenseMatrix>;
  const isFloat = ArrayBuffer.isView(m.values) && (m.values instanceof Float32Array || m.values instanceof Float64Array);
  if (!isFloat) throw dataError(op, `X.values must be a Float32Array or Float64Array (got ${typeName(m.values)})`);
  if (typeof m.rows !== 'number' || !Number.isInteger(m.rows) || m.rows < 1) throw dataError(op, `X.rows must be an integer >= 1 (got ${String(m.rows)})`);
  if (typeof m.cols !== 'number' || !Number.isInteger(m.cols) || m.cols < 1) throw dataError(op, `X.cols must be an integer >= 1 (got ${String(m.cols)})`);
  const values = m.values as FloatArray;
  if (values.length !== m.rows * m.cols) {
    throw dataError(op, `X.values.length is ${values.length} but X.rows * X.cols = ${m.rows} * ${m.cols} = ${m.rows * m.cols}`);
  }
  let featureNames: string[];
  if (m.featureNames !== undefined) {
    if (!Array.isArray(m.featureNames) || m.featureNames.length !== m.cols || !m.featureNames.every((n) => typeof n === 'string' && n !== '')) {
      throw dataError(op, `X.featureNames must be ${m.cols} non-empty strings`);
    }
    if (new Set(m.featureNames).size !== m.featureNames.length) throw dataError(op, 'X.featureNames has duplicates');
    featureNames = [...m.featureNames];
  } else {
    featureNames = names !== undefined && names.length === m.cols ? [...names] : defaultFeatureNames(m.cols);
  }
  if (names !== undefined) {
    if (m.cols !== names.length) throw dataError(op, `X has ${m.cols} columns, the model has ${names.length} features`);
    if (featureNames.some((n, i) => n !== names[i])) {
      throw dataError(op, `X.featureNames (${featureNames.join(', ')}) differ from the model's features (${names.join(', ')})`);
    }
  }
  return { values, rows: m.rows, cols: m.cols, layout: 'row', featureNames };
}

/** The targets as float64, checked against the row count. */
export function prepareTargets(op: string, y: unknown, rows: number, what = 'y'): Float64Array {
  const ok = Array.isArray(y) || y instanceof Float64Array || y instanceof Float32Array || y instanceof Int32Array;
  if (!ok) throw dataError(op, `${what} must be a Float64Array, Float32Array, Int32Array or number[] (got ${typeName(y)})`);
  const arr = y as ArrayLike<unknown>;
  if (arr.length !== rows) throw dataError(op, `${what} has ${arr.length} values but X has ${rows} rows`);
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const v = arr[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw dataError(op, `${what}[${i}] must be a finite number (got ${typeof v === 'number' ? String(v) : typeName(v)})`);
    out[i] = v;
  }
  return out;
}

/**
 * Class indices of targets: integers >= 0. numClass = largest label + 1 (or the given one);
 * every class 0..numClass-1 must occur and there must be at least two.
 */
export function classLabels(op: string, targets: Float64Array, what = 'y', numClass?: number): { labels: Int32Array; numClass: number; counts: number[] } {
  let max = -1;
  for (let i = 0; i < targets.length; i++) {
    const v = targets[i]!;
    if (!Number.isInteger(v) || v < 0) throw dataError(op, `${what}[${i}] = ${v} is not a class index (an integer >= 0)`);
    if (v > max) max = v;
  }
  const k = numClass ?? max + 1;
  if (max >= k) throw dataError(op, `${what} has label ${max}, outside 0..${k - 1}`);
  if (k > 1024) throw dataError(op, `${what} has ${k} classes, at most 1024 are supported`);
  const counts = new Array<number>(k).fill(0);
  for (let i = 0; i < targets.length; i++) counts[targets[i]!]!++;
  if (numClass === undefined) {
    if (k < 2) throw dataError(op, `${what} has a single class (0); at least two classes are needed`);
    const missing = counts.findIndex((c) => c === 0);
    if (missing >= 0) throw dataError(op, `class ${missing} has no rows in ${what} (labels must be 0..K-1 with every class present)`);
  }
  return { labels: Int32Array.from(targets), numClass: k, counts };
}
