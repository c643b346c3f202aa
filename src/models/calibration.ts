/**
 * Probability calibration: Platt scaling (method 'sigmoid') and isotonic regression, as
 * scikit-learn's CalibratedClassifierCV applies them, fitted on a calibration split or on
 * out-of-fold scores, serialisable into a model file (schemas/calibration.schema.json).
 *
 * - sigmoid: P = 1 / (1 + exp(a·f + b)) over the calibrator input f, (a, b) minimising the
 *   log-loss against Platt's smoothed targets (positives (N+ + 1) / (N+ + 2), negatives
 *   1 / (N- + 2)) — the objective of scikit-learn's _sigmoid_calibration — solved by Newton's
 *   method with a backtracking line search (Lin, Lin & Weng 2007), to the exact optimum (scikit-
 *   learn's BFGS stops earlier: the two agree within 1e-6).
 * - isotonic: scikit-learn's IsotonicRegression(increasing=True, out_of_bounds='clip'): inputs
 *   sorted, equal inputs (closer than 1e-15) pooled to their mean, pool-adjacent-violators,
 *   redundant points dropped, then linear interpolation between the kept points (numpy.interp),
 *   clipped to the fitted range. Overfits small sets: fit warns below `minSamples` (1000).
 * - The calibrator input is the model's probability ('probability') or its log-odds
 *   log(p) - log(1 - p) with p clipped to [1e-15, 1 - 1e-15] ('logit', the default for sigmoid:
 *   Platt scaling of the margin, under which an already calibrated model gets a = -1, b = 0).
 * - Binary: one calibrator of P(class 1). Multiclass: one per class, one-vs-rest, then each row
 *   renormalised to sum 1 (uniform when every calibrated value is 0), as scikit-learn.
 */
import { KilnError } from '../../bindings/errors.js';
import {
  assertProbabilities,
  checkOptions,
  intOpt,
  labelVector,
  scoreMatrix,
  usageError,
  valueError,
  type NumberVector,
  type ScoreInput,
} from '../evaluate/input.js';
import { seededRandom } from '../validate/corpus.js';
import { compileSchema, describeAjvError } from '../validate/schema.js';

export type CalibrationMethod = 'sigmoid' | 'isotonic';
/** What the calibrator maps: the probability itself or its log-odds. */
export type CalibrationInput = 'probability' | 'logit';

/** Platt parameters: P = 1 / (1 + exp(a·f + b)). */
export interface SigmoidMap {
  a: number;
  b: number;
}

/** Isotonic step points: linear between them, clipped outside [x[0], x[last]]. */
export interface IsotonicMap {
  x: number[];
  y: number[];
}

/** The calibrator as stored in a model file (schemas/calibration.schema.json). */
export interface CalibrationJson {
  method: CalibrationMethod;
  input: CalibrationInput;
  /** 2 for binary, K for multiclass. */
  numClass: number;
  /** Binary: one map, of P(class 1). Multiclass: one map per class. */
  calibrators: SigmoidMap[] | IsotonicMap[];
  fit: {
    /** Rows the calibrator was fitted on. */
    rows: number;
    /** 'split': a held-out calibration split; 'cross-validation': out-of-fold scores. */
    source: 'split' | 'cross-validation';
    /** Folds of the out-of-fold scores (null for a split). */
    folds: number | null;
  };
}

/** Options of Calibrator.fit. */
export interface CalibratorFitOptions {
  /** Default 'isotonic'. */
  method?: CalibrationMethod;
  /** Default 'logit' for sigmoid, 'probability' for isotonic. */
  input?: CalibrationInput;
  /** Isotonic warns when fitted on fewer rows [1000]. */
  minSamples?: number;
  /** Receives each warning as it is raised (they are also kept in `calibrator.warnings`). */
  onWarning?: (message: string) => void;
  /** Recorded in the model: where the scores came from ['split']. */
  source?: 'split' | 'cross-validation';
  /** Recorded with source 'cross-validation'. */
  folds?: number;
}

const LOGIT_CLIP = 1e-15;
/** scikit-learn's _make_unique pools inputs closer than numpy's float64 resolution. */
const UNIQUE_EPS = 1e-15;
export const ISOTONIC_MIN_SAMPLES = 1000;

/** log(p) - log(1 - p) with p clipped to [1e-15, 1 - 1e-15]. */
export function logit(p: number): number {
  const q = Math.min(1 - LOGIT_CLIP, Math.max(LOGIT_CLIP, p));
  return Math.log(q) - Math.log1p(-q);
}

function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

/** 1 / (1 + exp(z)) without overflow. */
function expitNeg(z: number): number {
  if (z >= 0) {
    const e = Math.exp(-z);
    return e / (1 + e);
  }
  return 1 / (1 + Math.exp(z));
}

/** The result of fitPlatt. */
export interface PlattFit extends SigmoidMap {
  iterations: number;
  /** Max-abs gradient of the summed objective at (a, b). */
  gradient: number;
}

/**
 * Platt scaling of scores f against labels y (0/1): the (a, b) of P = 1 / (1 + exp(a·f + b)) that
 * minimise scikit-learn's _sigmoid_calibration objective (see the module comment), by Newton's
 * method from scikit-learn's starting point (0, log((N- + 1) / (N+ + 1))).
 */
export function fitPlatt(scores: NumberVector, labels: NumberVector): PlattFit {
  const op = 'fitPlatt';
  const f = Float64Array.from(scores);
  const y = labelVector(op, 'y', labels);
  if (f.length !== y.length) throw usageError(`${op}: scores has ${f.length} values but y has ${y.length}`);
  for (let i = 0; i < f.length; i++) if (!Number.isFinite(f[i]!)) throw valueError(`${op}: scores[${i}] is ${f[i]}; expected a finite number`);
  const n = f.length;
  let prior1 = 0;
  for (let i = 0; i < n; i++) {
    if (y[i]! > 1) throw valueError(`${op}: y[${i}] is ${y[i]}; labels must be 0 or 1`);
    prior1 += y[i]!;
  }
  const prior0 = n - prior1;
  const hi = (prior1 + 1) / (prior1 + 2), lo = 1 / (prior0 + 2);
  const t = Float64Array.from(y, (v) => (v > 0 ? hi : lo));
  const objective = (a: number, b: number): number => {
    let s = 0;
    for (let i = 0; i < n; i++) {
      const z = a * f[i]! + b;
      s += softplus(z) - (1 - t[i]!) * z;
    }
    return s;
  };
  let a = 0, b = Math.log((prior0 + 1) / (prior1 + 1));
  let fval = objective(a, b);
  let gradient = Infinity;
  let it = 0;
  for (; it < 100; it++) {
    let ga = 0, gb = 0, h11 = 0, h12 = 0, h22 = 0;
    for (let i = 0; i < n; i++) {
      const p = expitNeg(a * f[i]! + b);
      const r = t[i]! - p;
      const w = p * (1 - p);
      ga += r * f[i]!;
      gb += r;
      h11 += w * f[i]! * f[i]!;
      h12 += w * f[i]!;
      h22 += w;
    }
    gradient = Math.max(Math.abs(ga), Math.abs(gb));
    if (gradient <= 1e-12 * Math.max(1, n)) break;
    // A tiny ridge keeps the 2x2 system solvable when every score is equal.
    const sigma = 1e-12;
    h11 += sigma;
    h22 += sigma;
    const det = h11 * h22 - h12 * h12;
    const da = -(h22 * ga - h12 * gb) / det;
    const db = -(h11 * gb - h12 * ga) / det;
    const slope = ga * da + gb * db;
    let step = 1;
    let accepted = false;
    while (step >= 1e-10) {
      const na = a + step * da, nb = b + step * db;
      const nf = objective(na, nb);
      if (nf < fval + 1e-4 * step * slope) {
        a = na;
        b = nb;
        fval = nf;
        accepted = true;
        break;
      }
      step /= 2;
    }
    // No decrease is possible any more: (a, b) is the optimum to floating-point precision.
    if (!accepted || Math.max(Math.abs(step * da), Math.abs(step * db)) <= 1e-15 * Math.max(1, Math.abs(a), Math.abs(b))) {
      it++;
      break;
    }
  }
  return { a, b, iterations: it, gradient };
}

/**
 * Isotonic (non-decreasing) regression of y on x, as scikit-learn's IsotonicRegression fit:
 * returns the kept points. Unweighted.
 */
export function fitIsotonic(x: NumberVector, y: NumberVector): IsotonicMap {
  const op = 'fitIsotonic';
  const n = x.length;
  if (n === 0) throw usageError(`${op}: x is empty`);
  if (y.length !== n) throw usageError(`${op}: x has ${n} values but y has ${y.length}`);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(x[i]!)) throw valueError(`${op}: x[${i}] is ${x[i]}; expected a finite number`);
    if (!Number.isFinite(y[i]!)) throw valueError(`${op}: y[${i}] is ${y[i]}; expected a finite number`);
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => x[i]! - x[j]! || y[i]! - y[j]! || i - j);
  // _make_unique: pool runs of inputs within UNIQUE_EPS of the run's first input.
  const ux: number[] = [], uy: number[] = [], uw: number[] = [];
  let cx = x[order[0]!]!, cy = 0, cw = 0;
  for (const i of order) {
    const xi = x[i]!;
    if (xi - cx >= UNIQUE_EPS) {
      ux.push(cx);
      uy.push(cy / cw);
      uw.push(cw);
      cx = xi;
      cw = 1;
      cy = y[i]!;
    } else {
      cw += 1;
      cy += y[i]!;
    }
  }
  ux.push(cx);
  uy.push(cy / cw);
  uw.push(cw);
  const fitted = poolAdjacentViolators(Float64Array.from(uy), Float64Array.from(uw));
  // Keep the first and last points and any point whose value differs from a neighbour's.
  const m = ux.length;
  const keepX: number[] = [], keepY: number[] = [];
  for (let i = 0; i < m; i++) {
    if (i === 0 || i === m - 1 || fitted[i] !== fitted[i - 1] || fitted[i] !== fitted[i + 1]) {
      keepX.push(ux[i]!);
      keepY.push(fitted[i]!);
    }
  }
  return { x: keepX, y: keepY };
}

/** In-place PAVA of scikit-learn's _inplace_contiguous_isotonic_regression (same pooling order). */
function poolAdjacentViolators(y: Float64Array, w: Float64Array): Float64Array {
  const n = y.length;
  const target = Int32Array.from({ length: n }, (_, i) => i);
  let i = 0;
  while (i < n) {
    let k = target[i]! + 1;
    if (k === n) break;
    if (y[i]! < y[k]!) {
      i = k;
      continue;
    }
    let sumWy = w[i]! * y[i]!;
    let sumW = w[i]!;
    for (;;) {
      const prevY = y[k]!;
      sumWy += w[k]! * y[k]!;
      sumW += w[k]!;
      k = target[k]! + 1;
      if (k === n || prevY < y[k]!) {
        y[i] = sumWy / sumW;
        w[i] = sumW;
        target[i] = k - 1;
        target[k - 1] = i;
        if (i > 0) i = target[i - 1]!;
        break;
      }
    }
  }
  i = 0;
  while (i < n) {
    const k = target[i]! + 1;
    for (let j = i + 1; j < k; j++) y[j] = y[i]!;
    i = k;
  }
  return y;
}

/** numpy.interp of v over the points (x ascending), clipped to [x[0], x[last]]. */
function isotonicValue(m: { x: Float64Array; y: Float64Array }, v: number): number {
  const x = m.x, y = m.y;
  const last = x.length - 1;
  if (last === 0) return y[0]!;
  if (v <= x[0]!) return y[0]!;
  if (v >= x[last]!) return y[last]!;
  let lo = 0, hi = last;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (x[mid]! <= v) lo = mid;
    else hi = mid;
  }
  const slope = (y[lo + 1]! - y[lo]!) / (x[lo + 1]! - x[lo]!);
  return slope * (v - x[lo]!) + y[lo]!;
}

/** Predictions of fitted isotonic points at each value (clipped to the fitted range). */
export function isotonicPredict(map: IsotonicMap, values: NumberVector): Float64Array {
  const m = { x: Float64Array.from(map.x), y: Float64Array.from(map.y) };
  return Float64Array.from({ length: values.length }, (_, i) => isotonicValue(m, values[i]!));
}

type LiveMap = { kind: 'sigmoid'; a: number; b: number } | { kind: 'isotonic'; x: Float64Array; y: Float64Array };

function liveMap(method: CalibrationMethod, m: SigmoidMap | IsotonicMap): LiveMap {
  if (method === 'sigmoid') return { kind: 'sigmoid', a: (m as SigmoidMap).a, b: (m as SigmoidMap).b };
  return { kind: 'isotonic', x: Float64Array.from((m as IsotonicMap).x), y: Float64Array.from((m as IsotonicMap).y) };
}

function mapValue(m: LiveMap, v: number): number {
  return m.kind === 'sigmoid' ? expitNeg(m.a * v + m.b) : isotonicValue(m, v);
}

function formatError(message: string): KilnError {
  return new KilnError('E_MODEL_FORMAT', `calibration: ${message}`);
}

/** A fitted calibrator: binary (numClass 2) or multiclass one-vs-rest. */
export class Calibrator {
  readonly method: CalibrationMethod;
  readonly input: CalibrationInput;
  readonly numClass: number;
  /** Warnings raised by fit (e.g. isotonic on few rows); not stored in the model file. */
  readonly warnings: string[];
  private readonly json: CalibrationJson;
  private readonly maps: LiveMap[];
  private readonly scratch: Float64Array;

  private constructor(json: CalibrationJson, warnings: string[]) {
    this.json = json;
    this.method = json.method;
    this.input = json.input;
    this.numClass = json.numClass;
    this.warnings = warnings;
    this.maps = json.calibrators.map((m) => liveMap(json.method, m));
    this.scratch = new Float64Array(json.numClass);
  }

  /**
   * Fits on model probabilities and labels: binary, P(class 1) per row with labels 0/1;
   * multiclass, rows x K probabilities (flat row-major or per row) with labels 0..K-1.
   */
  static fit(probs: ScoreInput, y: NumberVector, options?: CalibratorFitOptions): Calibrator {
    const op = 'Calibrator.fit';
    const o = checkOptions(op, options, ['method', 'input', 'minSamples', 'onWarning', 'source', 'folds']);
    const method = o.method ?? 'isotonic';
    if (method !== 'sigmoid' && method !== 'isotonic') throw usageError(`${op}: option method must be 'sigmoid' or 'isotonic' (got ${String(method)})`);
    const input = o.input ?? (method === 'sigmoid' ? 'logit' : 'probability');
    if (input !== 'probability' && input !== 'logit') throw usageError(`${op}: option input must be 'probability' or 'logit' (got ${String(input)})`);
    const minSamples = intOpt(op, 'minSamples', o.minSamples, ISOTONIC_MIN_SAMPLES, 0, Number.MAX_SAFE_INTEGER);
    if (o.onWarning !== undefined && typeof o.onWarning !== 'function') throw usageError(`${op}: option onWarning must be a function`);
    const source = o.source ?? 'split';
    if (source !== 'split' && source !== 'cross-validation') throw usageError(`${op}: option source must be 'split' or 'cross-validation'`);
    const folds = source === 'cross-validation' ? intOpt(op, 'folds', o.folds, 0, 2, 1_000_000) : null;
    if (source === 'cross-validation' && o.folds === undefined) throw usageError(`${op}: source 'cross-validation' needs option folds`);
    const labels = labelVector(op, 'y', y);
    const m = scoreMatrix(op, 'probs', probs, labels.length);
    assertProbabilities(op, 'probs', m.values);
    const numClass = m.cols === 1 ? 2 : m.cols;
    const counts = new Array<number>(numClass).fill(0);
    for (let i = 0; i < labels.length; i++) {
      if (labels[i]! >= numClass) throw valueError(`${op}: y[${i}] is ${labels[i]} but probs ${m.cols === 1 ? 'is binary (P(class 1) per row)' : `has ${numClass} classes`}`);
      counts[labels[i]!]!++;
    }
    if (m.cols === 1 && (counts[0] === 0 || counts[1] === 0)) throw valueError(`${op}: y holds only class ${counts[0] === 0 ? 1 : 0}; calibration needs both classes`);
    const warnings: string[] = [];
    const warn = (msg: string): void => {
      warnings.push(msg);
      o.onWarning?.(msg);
    };
    const rows = labels.length;
    if (method === 'isotonic' && rows < minSamples) {
      warn(`isotonic calibration fitted on ${rows} rows, fewer than minSamples ${minSamples}: isotonic regression overfits small calibration sets; prefer method 'sigmoid' or more calibration rows`);
    }
    const missing = counts.findIndex((c) => c === 0);
    if (missing >= 0) warn(`class ${missing} has no rows in the calibration data; its calibrated probability is fitted on negatives only`);
    const transform = input === 'logit' ? logit : (v: number): number => v;
    const columns = m.cols === 1 ? [1] : Array.from({ length: numClass }, (_, k) => k);
    const calibrators = columns.map((k) => {
      const f = new Float64Array(rows);
      const yk = new Int32Array(rows);
      for (let i = 0; i < rows; i++) {
        f[i] = transform(m.cols === 1 ? m.values[i]! : m.values[i * m.cols + k]!);
        yk[i] = labels[i] === k ? 1 : 0;
      }
      if (method === 'sigmoid') {
        const p = fitPlatt(f, yk);
        return { a: p.a, b: p.b };
      }
      return fitIsotonic(f, yk);
    });
    const json: CalibrationJson = { method, input, numClass, calibrators: calibrators as SigmoidMap[] | IsotonicMap[], fit: { rows, source, folds } };
    return new Calibrator(json, warnings);
  }

  /** Rebuilds a calibrator from its JSON (as stored in a model file); E_MODEL_FORMAT if invalid. */
  static fromJSON(obj: unknown): Calibrator {
    const { validate } = compileSchema('builtin:calibration', { allErrors: false });
    if (!validate(obj)) {
      const e = validate.errors?.[0];
      const d = e ? describeAjvError(e) : { pointer: '', message: 'invalid' };
      throw formatError(`does not match schemas/calibration.schema.json: ${d.pointer || '/'}: ${d.message}`);
    }
    const j = obj as CalibrationJson;
    const expected = j.numClass === 2 ? 1 : j.numClass;
    if (j.calibrators.length !== expected) throw formatError(`numClass ${j.numClass} needs ${expected} calibrator(s), got ${j.calibrators.length}`);
    const calibrators = j.calibrators.map((m, i) => {
      if (j.method === 'sigmoid') {
        if (!('a' in m)) throw formatError(`calibrators[${i}] is not a sigmoid map { a, b }`);
        if (!Number.isFinite(m.a) || !Number.isFinite(m.b)) throw formatError(`calibrators[${i}] holds a non-finite number`);
        return { a: m.a, b: m.b };
      }
      if (!('x' in m)) throw formatError(`calibrators[${i}] is not an isotonic map { x, y }`);
      if (m.x.length !== m.y.length) throw formatError(`calibrators[${i}] has ${m.x.length} x and ${m.y.length} y values`);
      for (let k = 0; k < m.x.length; k++) {
        if (!Number.isFinite(m.x[k]!) || !Number.isFinite(m.y[k]!)) throw formatError(`calibrators[${i}] holds a non-finite number`);
        if (k > 0 && !(m.x[k]! > m.x[k - 1]!)) throw formatError(`calibrators[${i}].x must increase strictly (index ${k})`);
        if (k > 0 && !(m.y[k]! >= m.y[k - 1]!)) throw formatError(`calibrators[${i}].y must not decrease (index ${k})`);
      }
      return { x: [...m.x], y: [...m.y] };
    });
    if ((j.fit.source === 'split') !== (j.fit.folds === null)) throw formatError(`fit.folds must be null for source 'split' and a fold count for 'cross-validation'`);
    const json: CalibrationJson = {
      method: j.method,
      input: j.input,
      numClass: j.numClass,
      calibrators: calibrators as SigmoidMap[] | IsotonicMap[],
      fit: { rows: j.fit.rows, source: j.fit.source, folds: j.fit.folds },
    };
    return new Calibrator(json, []);
  }

  /** The JSON stored in model files (fixed key order). */
  toJSON(): CalibrationJson {
    return structuredClone(this.json);
  }

  /** Rows the calibrator was fitted on. */
  get rows(): number {
    return this.json.fit.rows;
  }

  private transform(p: number): number {
    return this.input === 'logit' ? logit(p) : p;
  }

  /** Calibrated P(class 1) of one binary probability (no checks; for serving). */
  applyOne(p: number): number {
    const v = mapValue(this.maps[0]!, this.transform(p));
    return v > 1 && v <= 1 + 1e-5 ? 1 : v;
  }

  /** Calibrates one multiclass row of K probabilities into `out` (may be `row`). */
  applyRow(row: ArrayLike<number>, out: Float64Array): Float64Array {
    const k = this.numClass;
    const tmp = this.scratch;
    let sum = 0;
    for (let c = 0; c < k; c++) {
      tmp[c] = mapValue(this.maps[c]!, this.transform(row[c]!));
      sum += tmp[c]!;
    }
    for (let c = 0; c < k; c++) {
      const v = sum !== 0 ? tmp[c]! / sum : 1 / k;
      out[c] = v > 1 && v <= 1 + 1e-5 ? 1 : v;
    }
    return out;
  }

  /** Calibrates model output in place: binary P(class 1) per row, or rows x K (row-major). */
  applyInPlace(values: Float64Array): Float64Array {
    if (this.numClass === 2) {
      for (let i = 0; i < values.length; i++) values[i] = this.applyOne(values[i]!);
      return values;
    }
    const k = this.numClass;
    if (values.length % k !== 0) throw usageError(`Calibrator: ${values.length} values are not rows of ${k} class probabilities`);
    for (let r = 0; r < values.length; r += k) this.applyRow(values.subarray(r, r + k), values.subarray(r, r + k));
    return values;
  }

  /**
   * Calibrated probabilities of model probabilities (a new array): binary, P(class 1) per row;
   * multiclass, rows x K, flat row-major or one array per row (returned flat).
   */
  apply(probs: ScoreInput): Float64Array {
    const op = 'Calibrator.apply';
    const rows = Array.isArray(probs) && probs.length > 0 && typeof probs[0] === 'object' ? probs.length : this.numClass === 2 ? (probs as ArrayLike<number>).length : Math.floor((probs as ArrayLike<number>).length / this.numClass);
    const m = scoreMatrix(op, 'probs', probs, rows);
    const cols = this.numClass === 2 ? 1 : this.numClass;
    if (m.cols !== cols) throw usageError(`${op}: the calibrator expects ${cols === 1 ? 'one P(class 1) per row' : `${cols} probabilities per row`}`);
    assertProbabilities(op, 'probs', m.values);
    return this.applyInPlace(m.values);
  }
}

/** Options of crossValidateCalibration. */
export interface CrossValidateCalibrationOptions extends Omit<CalibratorFitOptions, 'source' | 'folds'> {
  /** Fold count (stratified, seeded) [5], or a fold id 0..k-1 per row. */
  folds?: number | NumberVector;
  seed?: number;
}

/** Result of crossValidateCalibration. */
export interface CrossValidatedCalibration {
  /** Fitted on all rows: the calibrator to store in the model. */
  calibrator: Calibrator;
  /** Each row calibrated by a calibrator fitted on the other folds (honest for ECE / log-loss). */
  calibrated: Float64Array;
  foldIds: Int32Array;
  folds: number;
  warnings: string[];
}

/**
 * Fold ids 0..k-1 per row, stratified by label: each class's rows are shuffled by a seeded
 * generator and dealt round-robin, so every fold gets floor or ceil of its share of each class.
 */
export function stratifiedFoldIds(y: NumberVector, folds: number, seed = 0): Int32Array {
  const op = 'stratifiedFoldIds';
  const labels = labelVector(op, 'y', y);
  const k = intOpt(op, 'folds', folds, 5, 2, labels.length);
  const rand = seededRandom(intOpt(op, 'seed', seed, 0, 0, 2 ** 32 - 1));
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (!byClass.has(l)) byClass.set(l, []);
    byClass.get(l)!.push(i);
  }
  const out = new Int32Array(labels.length);
  let offset = 0;
  for (const cls of [...byClass.keys()].sort((a, b) => a - b)) {
    const rows = byClass.get(cls)!;
    for (let i = rows.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [rows[i], rows[j]] = [rows[j]!, rows[i]!];
    }
    rows.forEach((r, i) => (out[r] = (offset + i) % k));
    offset += rows.length;
  }
  return out;
}

/**
 * Cross-validated calibration over out-of-fold model probabilities (each row scored by a model
 * that did not train on it): one calibrator fitted on all rows (source 'cross-validation', as
 * scikit-learn's CalibratedClassifierCV(ensemble=False)), plus every row calibrated by a
 * calibrator fitted on the other folds, to measure what calibration does without bias.
 */
export function crossValidateCalibration(oofProbs: ScoreInput, y: NumberVector, options?: CrossValidateCalibrationOptions): CrossValidatedCalibration {
  const op = 'crossValidateCalibration';
  const o = checkOptions(op, options, ['method', 'input', 'minSamples', 'onWarning', 'folds', 'seed']);
  const labels = labelVector(op, 'y', y);
  const m = scoreMatrix(op, 'oofProbs', oofProbs, labels.length);
  let foldIds: Int32Array;
  if (o.folds === undefined || typeof o.folds === 'number') {
    foldIds = stratifiedFoldIds(labels, o.folds ?? 5, o.seed ?? 0);
  } else {
    foldIds = labelVector(op, 'folds', o.folds);
    if (foldIds.length !== labels.length) throw usageError(`${op}: folds has ${foldIds.length} fold ids for ${labels.length} rows`);
  }
  const k = Math.max(...foldIds) + 1;
  if (k < 2) throw usageError(`${op}: cross-validation needs at least 2 folds`);
  const fitOpts: CalibratorFitOptions = {};
  if (o.method !== undefined) fitOpts.method = o.method;
  if (o.input !== undefined) fitOpts.input = o.input;
  if (o.minSamples !== undefined) fitOpts.minSamples = o.minSamples;
  const warnings: string[] = [];
  const calibrator = Calibrator.fit(m.values, labels, {
    ...fitOpts,
    source: 'cross-validation',
    folds: k,
    onWarning: (w) => {
      warnings.push(w);
      o.onWarning?.(w);
    },
  });
  const cols = m.cols;
  const calibrated = new Float64Array(m.values.length);
  for (let fold = 0; fold < k; fold++) {
    const train: number[] = [], test: number[] = [];
    for (let i = 0; i < labels.length; i++) (foldIds[i] === fold ? test : train).push(i);
    if (test.length === 0) throw usageError(`${op}: fold ${fold} has no rows`);
    const pick = (idx: number[]): Float64Array => {
      const out = new Float64Array(idx.length * cols);
      idx.forEach((r, j) => out.set(m.values.subarray(r * cols, (r + 1) * cols), j * cols));
      return out;
    };
    // Fold calibrators only score held-out rows; their size warnings are not the final model's.
    const c = Calibrator.fit(pick(train), Int32Array.from(train, (r) => labels[r]!), { ...fitOpts, minSamples: 0 });
    const out = c.applyInPlace(pick(test));
    test.forEach((r, j) => calibrated.set(out.subarray(j * cols, (j + 1) * cols), r * cols));
  }
  return { calibrator, calibrated, foldIds, folds: k, warnings };
}
