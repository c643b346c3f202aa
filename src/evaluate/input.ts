/**
 * Argument checks shared by the metrics, curves, thresholds, calibrators and conformal predictors.
 * Wrong call shapes (empty input, length mismatch, bad options) are E_USAGE; bad values (NaN,
 * non-integer or unknown labels, probabilities outside [0, 1]) are E_SCHEMA. Messages name the
 * argument and the first offending index.
 */
import { KilnError } from '../../bindings/errors.js';

/** A vector of numbers: a plain array or any numeric typed array. */
export type NumberVector = ArrayLike<number>;

/**
 * Class probabilities or scores: one value per row (binary: P(class 1)), a row-major rows x K
 * flat vector (what `predict` returns for multiclass), or one array per row.
 */
export type ScoreInput = ArrayLike<number> | readonly ArrayLike<number>[];

/** Scores as a flat row-major matrix. */
export interface ScoreMatrix {
  values: Float64Array;
  rows: number;
  /** 1 for one score per row (binary), else the number of classes. */
  cols: number;
}

export function usageError(message: string): KilnError {
  return new KilnError('E_USAGE', message);
}

export function valueError(message: string): KilnError {
  return new KilnError('E_SCHEMA', message);
}

function isVector(v: unknown): v is ArrayLike<number> {
  if (ArrayBuffer.isView(v)) return !(v instanceof DataView) && !(v instanceof BigInt64Array) && !(v instanceof BigUint64Array);
  return Array.isArray(v);
}

/** Copies `v` to a Float64Array; every value must be a finite number. */
export function finiteVector(op: string, name: string, v: unknown, opts: { allowEmpty?: boolean } = {}): Float64Array {
  if (!isVector(v)) throw usageError(`${op}: ${name} must be an array or a numeric typed array`);
  const n = v.length;
  if (n === 0 && !opts.allowEmpty) throw usageError(`${op}: ${name} is empty`);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const x = v[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) {
      throw valueError(`${op}: ${name}[${i}] is ${typeof x === 'number' ? String(x) : JSON.stringify(x) ?? String(x)}; expected a finite number`);
    }
    out[i] = x;
  }
  return out;
}

/** Class labels: integers >= 0. */
export function labelVector(op: string, name: string, v: unknown): Int32Array {
  if (!isVector(v)) throw usageError(`${op}: ${name} must be an array or a numeric typed array of class labels`);
  const n = v.length;
  if (n === 0) throw usageError(`${op}: ${name} is empty`);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const x = v[i];
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > 2 ** 31 - 1) {
      throw valueError(`${op}: ${name}[${i}] is ${typeof x === 'number' ? String(x) : JSON.stringify(x) ?? String(x)}; class labels must be integers >= 0`);
    }
    out[i] = x;
  }
  return out;
}

/** Binary labels: 0 or 1. */
export function binaryLabels(op: string, name: string, v: unknown): Int32Array {
  const y = labelVector(op, name, v);
  for (let i = 0; i < y.length; i++) {
    if (y[i]! > 1) throw valueError(`${op}: ${name}[${i}] is ${y[i]}; binary labels must be 0 or 1 (for more classes give one score per class)`);
  }
  return y;
}

export function sameLength(op: string, a: string, na: number, b: string, nb: number): void {
  if (na !== nb) throw usageError(`${op}: ${a} has ${na} values but ${b} has ${nb}`);
}

/**
 * Reads scores for `rows` rows: a vector of `rows` values (cols 1), a flat vector of rows x K
 * values (K >= 2) or `rows` arrays of K values.
 */
export function scoreMatrix(op: string, name: string, v: unknown, rows: number): ScoreMatrix {
  if (Array.isArray(v) && v.length > 0 && isVector(v[0])) {
    if (v.length !== rows) throw usageError(`${op}: ${name} has ${v.length} rows but there are ${rows} labels`);
    const k = (v[0] as ArrayLike<number>).length;
    if (k < 2) throw usageError(`${op}: ${name} rows must hold one score per class (at least 2)`);
    const out = new Float64Array(rows * k);
    for (let r = 0; r < rows; r++) {
      const row = v[r] as unknown;
      if (!isVector(row) || row.length !== k) throw usageError(`${op}: ${name}[${r}] must be an array of ${k} scores`);
      for (let c = 0; c < k; c++) {
        const x = row[c];
        if (typeof x !== 'number' || !Number.isFinite(x)) throw valueError(`${op}: ${name}[${r}][${c}] is ${String(x)}; expected a finite number`);
        out[r * k + c] = x;
      }
    }
    return { values: out, rows, cols: k };
  }
  const flat = finiteVector(op, name, v);
  if (flat.length === rows) return { values: flat, rows, cols: 1 };
  if (rows > 0 && flat.length % rows === 0 && flat.length / rows >= 2) return { values: flat, rows, cols: flat.length / rows };
  throw usageError(`${op}: ${name} has ${flat.length} values for ${rows} labels; give one score per row (binary) or rows x K class scores`);
}

/** Throws E_SCHEMA unless every value is a probability in [0, 1]. */
export function assertProbabilities(op: string, name: string, values: Float64Array): void {
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    if (!(x >= 0 && x <= 1)) throw valueError(`${op}: ${name} value ${i} is ${x}; probabilities must be in [0, 1]`);
  }
}

/** Checks option keys of an options object (E_USAGE naming an unknown one). */
export function checkOptions<T extends object>(op: string, opts: T | undefined, allowed: readonly string[]): Partial<T> {
  if (opts === undefined) return {};
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) throw usageError(`${op}: options must be an object`);
  for (const k of Object.keys(opts)) if (!allowed.includes(k)) throw usageError(`${op}: unknown option '${k}' (known: ${allowed.join(', ')})`);
  return opts;
}

/** An integer option in [min, max]. */
export function intOpt(op: string, name: string, v: unknown, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw usageError(`${op}: option ${name} must be an integer in [${min}, ${max}] (got ${String(v)})`);
  return v;
}

/** Sorted distinct values of one or more label vectors. */
export function distinctLabels(...vs: Int32Array[]): number[] {
  const set = new Set<number>();
  for (const v of vs) for (let i = 0; i < v.length; i++) set.add(v[i]!);
  return [...set].sort((a, b) => a - b);
}

/** The smallest double greater than x (x finite). */
export function nextUp(x: number): number {
  if (Number.isNaN(x) || x === Infinity) return x;
  if (x === 0) return Number.MIN_VALUE;
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, x);
  const bits = buf.getBigUint64(0);
  buf.setBigUint64(0, x > 0 ? bits + 1n : bits - 1n);
  return buf.getFloat64(0);
}
