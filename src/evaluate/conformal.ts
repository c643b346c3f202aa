/**
 * Split-conformal prediction (Vovk et al.; Angelopoulos & Bates 2021, §1–2): fitted on a
 * calibration split the model did not train on, it turns any model's output into prediction sets
 * (classification) or intervals (regression) that contain the true value with probability
 * >= 1 - alpha for a new row exchangeable with the calibration rows.
 *
 * - Nonconformity scores: classification 1 - p(true class) (binary models give p(1) per row and
 *   p(0) = 1 - p(1)); regression |y - prediction|.
 * - Quantile: the k-th smallest of the n calibration scores, k = ceil((n + 1)(1 - alpha)) (the
 *   finite-sample correction). k > n would need an infinite quantile: fit refuses (too few rows
 *   for that alpha: n must be >= ceil(1/alpha) - 1).
 * - Sets hold every class c with 1 - p(c) <= quantile (possibly none, possibly all); intervals are
 *   [prediction - quantile, prediction + quantile].
 * - Stored as JSON (schemas/conformal.schema.json) by toJSON / fromJSON.
 */
import { KilnError } from '../../bindings/errors.js';
import { compileSchema, describeAjvError } from '../validate/schema.js';
import { assertProbabilities, checkOptions, finiteVector, labelVector, sameLength, scoreMatrix, usageError, valueError, type NumberVector, type ScoreInput } from './input.js';

/** Stored form of a conformal predictor (schemas/conformal.schema.json). */
export interface ConformalJson {
  kind: 'conformal-classification' | 'conformal-regression';
  version: 1;
  alpha: number;
  score: 'one-minus-true-class-probability' | 'absolute-residual';
  /** Classes (2 for binary); null for regression. */
  numClass: number | null;
  /** Calibration rows n. */
  rows: number;
  /** k = ceil((n + 1)(1 - alpha)). */
  rank: number;
  /** The k-th smallest calibration score. */
  quantile: number;
}

/** Options of the conformal fits. */
export interface ConformalOptions {
  /** Miscoverage level in (0, 1): coverage >= 1 - alpha [0.1]. */
  alpha?: number;
}

/** Prediction sets of a batch: membership mask rows x numClass (row-major) and set sizes. */
export interface ConformalSets {
  rows: number;
  numClass: number;
  /** mask[r * numClass + c] is 1 when class c is in row r's set. */
  mask: Uint8Array;
  /** Classes in each row's set. */
  size: Int32Array;
}

/** Prediction intervals of a batch. */
export interface ConformalIntervals {
  lower: Float64Array;
  upper: Float64Array;
}

function checkAlpha(op: string, alpha: unknown): number {
  if (typeof alpha !== 'number' || !(alpha > 0 && alpha < 1)) throw usageError(`${op}: alpha must be a number in (0, 1) (got ${String(alpha)})`);
  return alpha;
}

/**
 * The rank k = ceil((n + 1)(1 - alpha)) of the conformal quantile among n calibration scores
 * (the product is rounded to 1e-9 relative first, so 30 * 0.9 gives 27, not 28). May exceed n.
 */
export function conformalRank(n: number, alpha: number): number {
  const op = 'conformalRank';
  if (!Number.isInteger(n) || n < 1) throw usageError(`${op}: n must be an integer >= 1 (got ${String(n)})`);
  checkAlpha(op, alpha);
  const t = (n + 1) * (1 - alpha);
  const r = Math.round(t);
  return Math.abs(t - r) <= 1e-9 * (n + 1) ? r : Math.ceil(t);
}

/** The k-th smallest score, k = conformalRank(n, alpha); E_SCHEMA when k > n (too few scores for alpha). */
export function conformalQuantile(scores: NumberVector, alpha: number): { quantile: number; rank: number } {
  const op = 'conformalQuantile';
  const s = finiteVector(op, 'scores', scores);
  const n = s.length;
  const k = conformalRank(n, alpha);
  if (k > n) {
    throw valueError(`${op}: ${n} calibration rows are too few for alpha ${alpha}: the quantile rank ceil((n + 1)(1 - alpha)) = ${k} exceeds n; use at least ${Math.ceil(1 / alpha) - 1} rows or a larger alpha`);
  }
  s.sort();
  return { quantile: s[k - 1]!, rank: k };
}

function formatError(message: string): KilnError {
  return new KilnError('E_MODEL_FORMAT', `conformal: ${message}`);
}

function validateJson(obj: unknown, kind: ConformalJson['kind']): ConformalJson {
  const { validate } = compileSchema('builtin:conformal', { allErrors: false });
  if (!validate(obj)) {
    const e = validate.errors?.[0];
    const d = e ? describeAjvError(e) : { pointer: '', message: 'invalid' };
    throw formatError(`does not match schemas/conformal.schema.json: ${d.pointer || '/'}: ${d.message}`);
  }
  const j = obj as ConformalJson;
  if (j.kind !== kind) throw formatError(`expected kind '${kind}', got '${j.kind}'`);
  const classification = kind === 'conformal-classification';
  if (j.score !== (classification ? 'one-minus-true-class-probability' : 'absolute-residual')) throw formatError(`score '${j.score}' does not go with kind '${kind}'`);
  if (classification !== (j.numClass !== null)) throw formatError(classification ? 'numClass is required for classification' : 'numClass must be null for regression');
  if (j.rank !== conformalRank(j.rows, j.alpha) || j.rank > j.rows) throw formatError(`rank ${j.rank} is not ceil((rows + 1)(1 - alpha)) <= rows for rows ${j.rows}, alpha ${j.alpha}`);
  if (!Number.isFinite(j.quantile) || (classification && j.quantile > 1)) throw formatError(`quantile ${j.quantile} is out of range`);
  return { kind: j.kind, version: 1, alpha: j.alpha, score: j.score, numClass: j.numClass, rows: j.rows, rank: j.rank, quantile: j.quantile };
}

/** Probability of class c in row r of a score matrix (cols 1: binary P(class 1)). */
function classProb(values: Float64Array, cols: number, r: number, c: number): number {
  if (cols === 1) return c === 1 ? values[r]! : 1 - values[r]!;
  return values[r * cols + c]!;
}

/** Split-conformal prediction sets over a classifier's probabilities. */
export class ConformalClassifier {
  private constructor(private readonly json: ConformalJson) {}

  /**
   * Fits on calibration rows: probabilities (binary P(class 1) per row, or rows x K) and true
   * labels. The rows must not have been used to train the model.
   */
  static fit(probs: ScoreInput, y: NumberVector, options?: ConformalOptions): ConformalClassifier {
    const op = 'ConformalClassifier.fit';
    const o = checkOptions(op, options, ['alpha']);
    const alpha = checkAlpha(op, o.alpha ?? 0.1);
    const labels = labelVector(op, 'y', y);
    const m = scoreMatrix(op, 'probs', probs, labels.length);
    assertProbabilities(op, 'probs', m.values);
    const numClass = m.cols === 1 ? 2 : m.cols;
    const scores = new Float64Array(labels.length);
    for (let r = 0; r < labels.length; r++) {
      if (labels[r]! >= numClass) throw valueError(`${op}: y[${r}] is ${labels[r]} but probs has ${numClass} classes`);
      scores[r] = 1 - classProb(m.values, m.cols, r, labels[r]!);
    }
    const { quantile, rank } = conformalQuantile(scores, alpha);
    return new ConformalClassifier({ kind: 'conformal-classification', version: 1, alpha, score: 'one-minus-true-class-probability', numClass, rows: labels.length, rank, quantile });
  }

  /** Rebuilds from toJSON's object; E_MODEL_FORMAT when it is invalid. */
  static fromJSON(obj: unknown): ConformalClassifier {
    return new ConformalClassifier(validateJson(obj, 'conformal-classification'));
  }

  get alpha(): number {
    return this.json.alpha;
  }
  get quantile(): number {
    return this.json.quantile;
  }
  get numClass(): number {
    return this.json.numClass!;
  }
  get rows(): number {
    return this.json.rows;
  }

  /** Prediction sets of probabilities shaped as at fit (binary P(class 1) per row, or rows x K). */
  predictSets(probs: ScoreInput): ConformalSets {
    const op = 'ConformalClassifier.predictSets';
    const k = this.numClass;
    const isRows = Array.isArray(probs) && probs.length > 0 && typeof probs[0] === 'object';
    const n = isRows ? probs.length : k === 2 ? (probs as ArrayLike<number>).length : Math.floor((probs as ArrayLike<number>).length / k);
    const m = scoreMatrix(op, 'probs', probs, n);
    if (m.cols !== (k === 2 ? 1 : k) && !(k === 2 && m.cols === 2)) throw usageError(`${op}: the predictor was fitted on ${k} classes; give ${k === 2 ? 'one P(class 1) per row' : `${k} probabilities per row`}`);
    assertProbabilities(op, 'probs', m.values);
    const mask = new Uint8Array(n * k);
    const size = new Int32Array(n);
    const q = this.json.quantile;
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < k; c++) {
        if (1 - classProb(m.values, m.cols, r, c) <= q) {
          mask[r * k + c] = 1;
          size[r]!++;
        }
      }
    }
    return { rows: n, numClass: k, mask, size };
  }

  /** The stored form (fixed key order). */
  toJSON(): ConformalJson {
    return { ...this.json };
  }
}

/** Split-conformal intervals around a regressor's predictions. */
export class ConformalRegressor {
  private constructor(private readonly json: ConformalJson) {}

  /** Fits on calibration rows: the model's predictions and the true values. */
  static fit(predictions: NumberVector, y: NumberVector, options?: ConformalOptions): ConformalRegressor {
    const op = 'ConformalRegressor.fit';
    const o = checkOptions(op, options, ['alpha']);
    const alpha = checkAlpha(op, o.alpha ?? 0.1);
    const p = finiteVector(op, 'predictions', predictions);
    const t = finiteVector(op, 'y', y);
    sameLength(op, 'predictions', p.length, 'y', t.length);
    const scores = Float64Array.from(p, (v, i) => Math.abs(t[i]! - v));
    const { quantile, rank } = conformalQuantile(scores, alpha);
    return new ConformalRegressor({ kind: 'conformal-regression', version: 1, alpha, score: 'absolute-residual', numClass: null, rows: p.length, rank, quantile });
  }

  /** Rebuilds from toJSON's object; E_MODEL_FORMAT when it is invalid. */
  static fromJSON(obj: unknown): ConformalRegressor {
    return new ConformalRegressor(validateJson(obj, 'conformal-regression'));
  }

  get alpha(): number {
    return this.json.alpha;
  }
  get quantile(): number {
    return this.json.quantile;
  }
  get rows(): number {
    return this.json.rows;
  }

  /** Intervals [prediction - quantile, prediction + quantile]. */
  predictIntervals(predictions: NumberVector): ConformalIntervals {
    const p = finiteVector('ConformalRegressor.predictIntervals', 'predictions', predictions);
    const q = this.json.quantile;
    return { lower: Float64Array.from(p, (v) => v - q), upper: Float64Array.from(p, (v) => v + q) };
  }

  /** The stored form (fixed key order). */
  toJSON(): ConformalJson {
    return { ...this.json };
  }
}

/** Share of rows whose prediction set holds the true label. */
export function setCoverage(sets: ConformalSets, y: NumberVector): number {
  const op = 'setCoverage';
  const labels = labelVector(op, 'y', y);
  sameLength(op, 'sets', sets.rows, 'y', labels.length);
  let hit = 0;
  for (let r = 0; r < labels.length; r++) {
    if (labels[r]! >= sets.numClass) throw valueError(`${op}: y[${r}] is ${labels[r]} but the sets have ${sets.numClass} classes`);
    hit += sets.mask[r * sets.numClass + labels[r]!]!;
  }
  return hit / labels.length;
}

/** Share of rows whose interval [lower, upper] holds the true value. */
export function intervalCoverage(intervals: ConformalIntervals, y: NumberVector): number {
  const op = 'intervalCoverage';
  const t = finiteVector(op, 'y', y);
  sameLength(op, 'intervals', intervals.lower.length, 'y', t.length);
  let hit = 0;
  for (let i = 0; i < t.length; i++) if (t[i]! >= intervals.lower[i]! && t[i]! <= intervals.upper[i]!) hit++;
  return hit / t.length;
}

/** The classes in each row's set, as lists (for reports; predictSets' mask is the compact form). */
export function setsToLists(sets: ConformalSets): number[][] {
  const out: number[][] = [];
  for (let r = 0; r < sets.rows; r++) {
    const row: number[] = [];
    for (let c = 0; c < sets.numClass; c++) if (sets.mask[r * sets.numClass + c]) row.push(c);
    out.push(row);
  }
  return out;
}
