/**
 * Classification and regression metrics that equal scikit-learn's (1.2; oracle fixtures in
 * test/oracle/evaluate, made by benchmarks/oracles/make_evaluate_fixtures.py, agree within 1e-9).
 *
 * Labels are class indices 0..K-1 (binary: 0/1, class 1 positive). Scores are one value per row
 * (binary: P(class 1) or any score where larger means more positive), or rows x K class
 * probabilities, flat row-major (what `model.predict` returns) or one array per row.
 *
 * Bad input fails closed: empty input, mismatched lengths and bad options are E_USAGE; NaN,
 * non-integer labels, labels outside the classes, and probabilities outside [0, 1] are E_SCHEMA.
 * Where scikit-learn warns and returns a value (precision with nothing predicted positive) kiln
 * returns the same value; where a metric is undefined (AUC with one class in y) kiln throws.
 */
import {
  assertProbabilities,
  binaryLabels,
  checkOptions,
  distinctLabels,
  finiteVector,
  intOpt,
  labelVector,
  sameLength,
  scoreMatrix,
  usageError,
  valueError,
  type NumberVector,
  type ScoreInput,
  type ScoreMatrix,
} from './input.js';

/**
 * How per-class scores are combined. binary: class 1 only (labels must be 0/1); macro: unweighted
 * mean over classes; weighted: mean weighted by each class's count in yTrue; micro: from the
 * summed counts (equals accuracy for single-label data).
 */
export type Average = 'binary' | 'macro' | 'weighted' | 'micro';

/** Options of precision / recall / F1 and the per-class report. */
export interface ClassMetricOptions {
  /** Default 'binary' (as scikit-learn): multiclass labels need 'macro', 'weighted' or 'micro'. */
  average?: Average;
  /**
   * The classes, in order (default: the sorted union of the labels in yTrue and yPred). A label
   * outside them is an E_SCHEMA error (scikit-learn would silently ignore it).
   */
  labels?: readonly number[];
  /**
   * Value of a ratio whose denominator is 0: precision of a class never predicted, recall of a
   * class never present. 0 by default, which is scikit-learn's default ('warn' returns 0). F1 is
   * computed from precision and recall as 2PR / (P + R), and is 0 when P + R = 0.
   */
  zeroDivision?: 0 | 1;
}

/** Precision, recall and F1 of one class or one average. */
export interface PrecisionRecallF1 {
  precision: number;
  recall: number;
  f1: number;
}

/** A row of the per-class report. */
export interface ClassReportRow extends PrecisionRecallF1 {
  label: number;
  /** Rows of this class in yTrue. */
  support: number;
}

/** Like scikit-learn's classification_report(output_dict=True), in camelCase. */
export interface ClassificationReport {
  classes: ClassReportRow[];
  accuracy: number;
  macroAvg: PrecisionRecallF1 & { support: number };
  weightedAvg: PrecisionRecallF1 & { support: number };
}

/** Rows: true class, columns: predicted class, in the order of `labels`. */
export interface ConfusionMatrix {
  labels: number[];
  matrix: number[][];
}

/** Sum with Neumaier compensation (order-independent to ~1 ulp, close to numpy's pairwise sum). */
export function stableSum(values: ArrayLike<number>, n = values.length): number {
  let sum = 0;
  let c = 0;
  for (let i = 0; i < n; i++) {
    const x = values[i]!;
    const t = sum + x;
    c += Math.abs(sum) >= Math.abs(x) ? sum - t + x : x - t + sum;
    sum = t;
  }
  return sum + c;
}

/** Running compensated sum for loops that produce terms one by one. */
class Summer {
  private sum = 0;
  private c = 0;
  add(x: number): void {
    const t = this.sum + x;
    this.c += Math.abs(this.sum) >= Math.abs(x) ? this.sum - t + x : x - t + this.sum;
    this.sum = t;
  }
  get value(): number {
    return this.sum + this.c;
  }
}

function pair(op: string, yTrue: NumberVector, yPred: NumberVector): { t: Int32Array; p: Int32Array } {
  const t = labelVector(op, 'yTrue', yTrue);
  const p = labelVector(op, 'yPred', yPred);
  sameLength(op, 'yTrue', t.length, 'yPred', p.length);
  return { t, p };
}

function resolveLabels(op: string, given: readonly number[] | undefined, ...vs: Int32Array[]): number[] {
  if (given === undefined) return distinctLabels(...vs);
  if (!Array.isArray(given) || given.length === 0) throw usageError(`${op}: option labels must be a non-empty array of class labels`);
  const seen = new Set<number>();
  for (const l of given) {
    if (typeof l !== 'number' || !Number.isInteger(l) || l < 0) throw usageError(`${op}: option labels holds ${String(l)}; labels are integers >= 0`);
    if (seen.has(l)) throw usageError(`${op}: option labels repeats ${l}`);
    seen.add(l);
  }
  const names = ['yTrue', 'yPred'];
  vs.forEach((v, k) => {
    for (let i = 0; i < v.length; i++) {
      if (!seen.has(v[i]!)) throw valueError(`${op}: ${names[k] ?? 'y'}[${i}] is ${v[i]}, which is not one of the classes [${given.join(', ')}]`);
    }
  });
  return [...given];
}

/** Per-class true-positive, predicted and true counts, in the order of `labels`. */
function classCounts(t: Int32Array, p: Int32Array, labels: number[]): { tp: Float64Array; pred: Float64Array; truth: Float64Array } {
  const index = new Map(labels.map((l, i) => [l, i]));
  const k = labels.length;
  const tp = new Float64Array(k), pred = new Float64Array(k), truth = new Float64Array(k);
  for (let i = 0; i < t.length; i++) {
    const a = index.get(t[i]!), b = index.get(p[i]!);
    if (a !== undefined) truth[a]!++;
    if (b !== undefined) pred[b]!++;
    if (a !== undefined && a === b) tp[a]!++;
  }
  return { tp, pred, truth };
}

function divide(num: number, den: number, zeroDivision: number): number {
  return den === 0 ? zeroDivision : num / den;
}

function f1Of(precision: number, recall: number): number {
  const den = precision + recall;
  return den === 0 ? 0 : (2 * precision * recall) / den;
}

function mean(values: number[], weights?: number[]): number {
  if (!weights) return stableSum(values) / values.length;
  let num = 0, den = 0;
  for (let i = 0; i < values.length; i++) {
    num += values[i]! * weights[i]!;
    den += weights[i]!;
  }
  return num / den;
}

const CLASS_OPTION_KEYS = ['average', 'labels', 'zeroDivision'] as const;

function zeroDivisionOpt(op: string, v: unknown): 0 | 1 {
  if (v === undefined) return 0;
  if (v !== 0 && v !== 1) throw usageError(`${op}: option zeroDivision must be 0 or 1 (got ${String(v)})`);
  return v;
}

/** Fraction of rows where yPred equals yTrue (scikit-learn accuracy_score). */
export function accuracy(yTrue: NumberVector, yPred: NumberVector): number {
  const { t, p } = pair('accuracy', yTrue, yPred);
  let hit = 0;
  for (let i = 0; i < t.length; i++) if (t[i] === p[i]) hit++;
  return hit / t.length;
}

/** Precision, recall and F1 together (scikit-learn precision_recall_fscore_support with an average). */
export function precisionRecallF1(yTrue: NumberVector, yPred: NumberVector, options?: ClassMetricOptions): PrecisionRecallF1 {
  const op = 'precisionRecallF1';
  const o = checkOptions(op, options, CLASS_OPTION_KEYS);
  const average = o.average ?? 'binary';
  if (!['binary', 'macro', 'weighted', 'micro'].includes(average)) throw usageError(`${op}: option average must be 'binary', 'macro', 'weighted' or 'micro' (got ${String(average)})`);
  const zd = zeroDivisionOpt(op, o.zeroDivision);
  const { t, p } = pair(op, yTrue, yPred);
  if (average === 'binary') {
    if (o.labels !== undefined) throw usageError(`${op}: option labels applies to averages 'macro', 'weighted' and 'micro', not 'binary'`);
    for (const [name, v] of [['yTrue', t], ['yPred', p]] as const) {
      for (let i = 0; i < v.length; i++) {
        if (v[i]! > 1) throw valueError(`${op}: ${name}[${i}] is ${v[i]}; average 'binary' needs labels 0/1 (use average 'macro', 'weighted' or 'micro' for more classes)`);
      }
    }
    const { tp, pred, truth } = classCounts(t, p, [1]);
    const precision = divide(tp[0]!, pred[0]!, zd);
    const recall = divide(tp[0]!, truth[0]!, zd);
    return { precision, recall, f1: f1Of(precision, recall) };
  }
  const labels = resolveLabels(op, o.labels, t, p);
  const { tp, pred, truth } = classCounts(t, p, labels);
  if (average === 'micro') {
    const precision = divide(stableSum(tp), stableSum(pred), zd);
    const recall = divide(stableSum(tp), stableSum(truth), zd);
    return { precision, recall, f1: f1Of(precision, recall) };
  }
  const per = labels.map((_, i) => {
    const precision = divide(tp[i]!, pred[i]!, zd);
    const recall = divide(tp[i]!, truth[i]!, zd);
    return { precision, recall, f1: f1Of(precision, recall) };
  });
  if (average === 'weighted') {
    const w = Array.from(truth);
    if (stableSum(w) === 0) {
      // scikit-learn's rule when no row belongs to any of the classes.
      return stableSum(pred) === 0 ? { precision: zd, recall: zd, f1: zd } : { precision: 0, recall: zd, f1: 0 };
    }
    return { precision: mean(per.map((r) => r.precision), w), recall: mean(per.map((r) => r.recall), w), f1: mean(per.map((r) => r.f1), w) };
  }
  return { precision: mean(per.map((r) => r.precision)), recall: mean(per.map((r) => r.recall)), f1: mean(per.map((r) => r.f1)) };
}

/** Precision (scikit-learn precision_score). */
export function precision(yTrue: NumberVector, yPred: NumberVector, options?: ClassMetricOptions): number {
  return precisionRecallF1(yTrue, yPred, options).precision;
}

/** Recall (scikit-learn recall_score). */
export function recall(yTrue: NumberVector, yPred: NumberVector, options?: ClassMetricOptions): number {
  return precisionRecallF1(yTrue, yPred, options).recall;
}

/** F1 (scikit-learn f1_score). */
export function f1(yTrue: NumberVector, yPred: NumberVector, options?: ClassMetricOptions): number {
  return precisionRecallF1(yTrue, yPred, options).f1;
}

/** Confusion matrix: rows are true classes, columns predicted (scikit-learn confusion_matrix). */
export function confusionMatrix(yTrue: NumberVector, yPred: NumberVector, options?: { labels?: readonly number[] }): ConfusionMatrix {
  const op = 'confusionMatrix';
  const o = checkOptions(op, options, ['labels']);
  const { t, p } = pair(op, yTrue, yPred);
  const labels = resolveLabels(op, o.labels, t, p);
  const index = new Map(labels.map((l, i) => [l, i]));
  const matrix = labels.map(() => new Array<number>(labels.length).fill(0));
  for (let i = 0; i < t.length; i++) matrix[index.get(t[i]!)!]![index.get(p[i]!)!]!++;
  return { labels, matrix };
}

/** Per-class precision, recall, F1 and support with accuracy and macro / weighted averages. */
export function classificationReport(yTrue: NumberVector, yPred: NumberVector, options?: { labels?: readonly number[]; zeroDivision?: 0 | 1 }): ClassificationReport {
  const op = 'classificationReport';
  const o = checkOptions(op, options, ['labels', 'zeroDivision']);
  const zd = zeroDivisionOpt(op, o.zeroDivision);
  const { t, p } = pair(op, yTrue, yPred);
  const labels = resolveLabels(op, o.labels, t, p);
  const { tp, pred, truth } = classCounts(t, p, labels);
  const classes = labels.map((label, i) => {
    const precision = divide(tp[i]!, pred[i]!, zd);
    const recall = divide(tp[i]!, truth[i]!, zd);
    return { label, precision, recall, f1: f1Of(precision, recall), support: truth[i]! };
  });
  const shared = { labels, zeroDivision: zd } as const;
  return {
    classes,
    accuracy: accuracy(t, p),
    macroAvg: { ...precisionRecallF1(t, p, { ...shared, average: 'macro' }), support: t.length },
    weightedAvg: { ...precisionRecallF1(t, p, { ...shared, average: 'weighted' }), support: t.length },
  };
}

// ---------------------------------------------------------------------------------------------
// Ranking metrics and curves

/** Cumulative counts at each distinct score, scores descending (scikit-learn _binary_clf_curve). */
interface BinaryCurve {
  fps: Float64Array;
  tps: Float64Array;
  thresholds: Float64Array;
}

function binaryCurve(y: Int32Array, s: Float64Array): BinaryCurve {
  const n = y.length;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => s[b]! - s[a]! || a - b);
  const fps: number[] = [], tps: number[] = [], thr: number[] = [];
  let tp = 0;
  for (let j = 0; j < n; j++) {
    const i = order[j]!;
    tp += y[i]!;
    if (j === n - 1 || s[order[j + 1]!]! !== s[i]!) {
      tps.push(tp);
      fps.push(j + 1 - tp);
      thr.push(s[i]!);
    }
  }
  return { fps: Float64Array.from(fps), tps: Float64Array.from(tps), thresholds: Float64Array.from(thr) };
}

/** ROC curve points (scikit-learn roc_curve). */
export interface RocCurve {
  fpr: number[];
  tpr: number[];
  /**
   * Decision thresholds (predict positive when score >= threshold), decreasing. The first is
   * Infinity: the point (0, 0) where nothing is predicted positive (scikit-learn >= 1.3 writes
   * inf there; 1.2 wrote max score + 1).
   */
  thresholds: number[];
  auc: number;
}

function checkBothClasses(op: string, y: Int32Array): { pos: number; neg: number } {
  let pos = 0;
  for (let i = 0; i < y.length; i++) pos += y[i]!;
  const neg = y.length - pos;
  if (pos === 0 || neg === 0) throw valueError(`${op}: yTrue holds only class ${pos === 0 ? 0 : 1}; the metric is undefined without both classes`);
  return { pos, neg };
}

function trapezoid(x: number[], y: number[]): number {
  const terms = new Float64Array(x.length - 1);
  for (let i = 1; i < x.length; i++) terms[i - 1] = ((x[i]! - x[i - 1]!) * (y[i]! + y[i - 1]!)) / 2;
  return stableSum(terms);
}

function rocFromCurve(c: BinaryCurve, dropIntermediate: boolean): { fpr: number[]; tpr: number[]; thresholds: number[] } {
  let idx = Array.from(c.fps, (_, i) => i);
  if (dropIntermediate && c.fps.length > 2) {
    // Keep corners only: drop points collinear with their neighbours (as scikit-learn).
    idx = idx.filter((i) => i === 0 || i === c.fps.length - 1 || c.fps[i - 1]! - 2 * c.fps[i]! + c.fps[i + 1]! !== 0 || c.tps[i - 1]! - 2 * c.tps[i]! + c.tps[i + 1]! !== 0);
  }
  const lastF = c.fps[c.fps.length - 1]!, lastT = c.tps[c.tps.length - 1]!;
  return {
    fpr: [0, ...idx.map((i) => c.fps[i]! / lastF)],
    tpr: [0, ...idx.map((i) => c.tps[i]! / lastT)],
    thresholds: [Infinity, ...idx.map((i) => c.thresholds[i]!)],
  };
}

function binaryInputs(op: string, yTrue: NumberVector, scores: NumberVector): { y: Int32Array; s: Float64Array } {
  const y = binaryLabels(op, 'yTrue', yTrue);
  const s = finiteVector(op, 'scores', scores);
  sameLength(op, 'yTrue', y.length, 'scores', s.length);
  return { y, s };
}

/** ROC curve of binary labels and scores; `dropIntermediate` (default true) keeps corners only. */
export function rocCurve(yTrue: NumberVector, scores: NumberVector, options?: { dropIntermediate?: boolean }): RocCurve {
  const op = 'rocCurve';
  const o = checkOptions(op, options, ['dropIntermediate']);
  const { y, s } = binaryInputs(op, yTrue, scores);
  checkBothClasses(op, y);
  const r = rocFromCurve(binaryCurve(y, s), o.dropIntermediate ?? true);
  return { ...r, auc: trapezoid(r.fpr, r.tpr) };
}

/** Precision-recall curve points (scikit-learn precision_recall_curve). */
export interface PrecisionRecallCurve {
  /** Ordered by increasing threshold, then the final point (precision 1, recall 0). */
  precision: number[];
  recall: number[];
  /** One per point except the last, increasing: the distinct scores. */
  thresholds: number[];
  /** average precision of the curve (see averagePrecision). */
  averagePrecision: number;
}

function prFromCurve(c: BinaryCurve): { precision: number[]; recall: number[]; thresholds: number[] } {
  const m = c.tps.length;
  const total = c.tps[m - 1]!;
  const precision: number[] = [], recall: number[] = [], thresholds: number[] = [];
  for (let i = m - 1; i >= 0; i--) {
    const ps = c.tps[i]! + c.fps[i]!;
    precision.push(ps === 0 ? 0 : c.tps[i]! / ps);
    recall.push(c.tps[i]! / total);
    thresholds.push(c.thresholds[i]!);
  }
  precision.push(1);
  recall.push(0);
  return { precision, recall, thresholds };
}

function apFromPr(pr: { precision: number[]; recall: number[] }): number {
  const terms = new Float64Array(pr.recall.length - 1);
  for (let i = 0; i < terms.length; i++) terms[i] = (pr.recall[i]! - pr.recall[i + 1]!) * pr.precision[i]!;
  return stableSum(terms);
}

/** Precision-recall curve of binary labels and scores (needs at least one positive). */
export function precisionRecallCurve(yTrue: NumberVector, scores: NumberVector): PrecisionRecallCurve {
  const op = 'precisionRecallCurve';
  const { y, s } = binaryInputs(op, yTrue, scores);
  let pos = 0;
  for (let i = 0; i < y.length; i++) pos += y[i]!;
  if (pos === 0) throw valueError(`${op}: yTrue has no positive rows; recall is undefined`);
  const pr = prFromCurve(binaryCurve(y, s));
  return { ...pr, averagePrecision: apFromPr(pr) };
}

/** Options of the multiclass ranking metrics. */
export interface RankingOptions {
  /** One-vs-rest average over classes: 'macro' (default) or 'weighted' by class count in yTrue. */
  average?: 'macro' | 'weighted';
}

function binaryAuc(y: Int32Array, s: Float64Array): number {
  const r = rocFromCurve(binaryCurve(y, s), true);
  return trapezoid(r.fpr, r.tpr);
}

function binaryAp(y: Int32Array, s: Float64Array): number {
  return apFromPr(prFromCurve(binaryCurve(y, s)));
}

/** One-vs-rest scores of class k: (y == k, column k). */
function oneVsRest(y: Int32Array, m: ScoreMatrix, k: number): { y: Int32Array; s: Float64Array } {
  const yk = new Int32Array(y.length);
  const sk = new Float64Array(y.length);
  for (let i = 0; i < y.length; i++) {
    yk[i] = y[i] === k ? 1 : 0;
    sk[i] = m.values[i * m.cols + k]!;
  }
  return { y: yk, s: sk };
}

function rankingMetric(op: string, yTrue: NumberVector, scores: ScoreInput, options: RankingOptions | undefined, metric: (y: Int32Array, s: Float64Array) => number, requireSumOne: boolean): number {
  const o = checkOptions(op, options, ['average']);
  const average = o.average ?? 'macro';
  if (average !== 'macro' && average !== 'weighted') throw usageError(`${op}: option average must be 'macro' or 'weighted' (got ${String(average)})`);
  const y = labelVector(op, 'yTrue', yTrue);
  const m = scoreMatrix(op, 'scores', scores, y.length);
  if (m.cols === 1) {
    for (let i = 0; i < y.length; i++) if (y[i]! > 1) throw valueError(`${op}: yTrue[${i}] is ${y[i]} but scores has one column (binary); give rows x K scores for more classes`);
    checkBothClasses(op, y);
    return metric(y, m.values);
  }
  const k = m.cols;
  const counts = new Array<number>(k).fill(0);
  for (let i = 0; i < y.length; i++) {
    if (y[i]! >= k) throw valueError(`${op}: yTrue[${i}] is ${y[i]} but scores has ${k} classes (0..${k - 1})`);
    counts[y[i]!]!++;
  }
  const missing = counts.findIndex((c) => c === 0);
  if (missing >= 0) throw valueError(`${op}: class ${missing} has no rows in yTrue; one-vs-rest scores are undefined (scikit-learn refuses this too)`);
  if (requireSumOne) {
    for (let r = 0; r < m.rows; r++) {
      let sum = 0;
      for (let c = 0; c < k; c++) sum += m.values[r * k + c]!;
      // numpy.allclose(1, sum): |sum - 1| <= 1e-8 + 1e-5 * |sum|
      if (!(Math.abs(sum - 1) <= 1e-8 + 1e-5 * Math.abs(sum))) throw valueError(`${op}: scores row ${r} sums to ${sum}; multiclass scores must be probabilities summing to 1`);
    }
  }
  const per = counts.map((_, c) => {
    const ovr = oneVsRest(y, m, c);
    return metric(ovr.y, ovr.s);
  });
  return average === 'macro' ? mean(per) : mean(per, counts);
}

/**
 * Area under the ROC curve (scikit-learn roc_auc_score): binary labels with one score per row,
 * or multiclass one-vs-rest (multi_class='ovr') over rows x K probabilities, averaged 'macro' or
 * 'weighted'. Tied scores count half, as scikit-learn's trapezoid over distinct thresholds.
 */
export function rocAuc(yTrue: NumberVector, scores: ScoreInput, options?: RankingOptions): number {
  return rankingMetric('rocAuc', yTrue, scores, options, binaryAuc, true);
}

/**
 * PR AUC as average precision, scikit-learn's average_precision_score: sum over thresholds of
 * (R_n - R_{n-1}) P_n, a step function without interpolation (not the trapezoidal area under the
 * PR curve). Multiclass: one-vs-rest per class, averaged 'macro' or 'weighted' (scikit-learn >= 1.3).
 */
export function averagePrecision(yTrue: NumberVector, scores: ScoreInput, options?: RankingOptions): number {
  return rankingMetric('averagePrecision', yTrue, scores, options, binaryAp, false);
}

/** Alias of averagePrecision (PR AUC = average precision, as scikit-learn computes it). */
export const prAuc = averagePrecision;

// ---------------------------------------------------------------------------------------------
// Probability metrics

interface ProbInputs {
  y: Int32Array;
  m: ScoreMatrix;
}

function probInputs(op: string, yTrue: NumberVector, probs: ScoreInput): ProbInputs {
  const y = labelVector(op, 'yTrue', yTrue);
  const m = scoreMatrix(op, 'probs', probs, y.length);
  assertProbabilities(op, 'probs', m.values);
  const k = m.cols === 1 ? 2 : m.cols;
  for (let i = 0; i < y.length; i++) if (y[i]! >= k) throw valueError(`${op}: yTrue[${i}] is ${y[i]} but probs ${m.cols === 1 ? 'is binary (P(class 1) per row)' : `has ${k} classes`}`);
  return { y, m };
}

/**
 * Mean log-loss (scikit-learn log_loss, eps='auto'): probabilities are clipped to
 * [eps, 1 - eps] with eps = 2^-52 (float64 machine epsilon), each row renormalised to sum 1, and
 * -log p(true class) averaged. Binary: one P(class 1) per row; multiclass: rows x K.
 */
export function logLoss(yTrue: NumberVector, probs: ScoreInput, options?: { eps?: number }): number {
  const op = 'logLoss';
  const o = checkOptions(op, options, ['eps']);
  const eps = o.eps ?? Number.EPSILON;
  if (typeof eps !== 'number' || !(eps >= 0 && eps < 0.5)) throw usageError(`${op}: option eps must be a number in [0, 0.5)`);
  const { y, m } = probInputs(op, yTrue, probs);
  const clip = (v: number): number => Math.min(1 - eps, Math.max(eps, v));
  const s = new Summer();
  if (m.cols === 1) {
    for (let i = 0; i < y.length; i++) {
      const q1 = clip(m.values[i]!);
      const q0 = 1 - q1;
      s.add(-Math.log((y[i] === 1 ? q1 : q0) / (q0 + q1)));
    }
  } else {
    const k = m.cols;
    for (let i = 0; i < y.length; i++) {
      let sum = 0;
      for (let c = 0; c < k; c++) sum += clip(m.values[i * k + c]!);
      s.add(-Math.log(clip(m.values[i * k + y[i]!]!) / sum));
    }
  }
  return s.value / y.length;
}

/**
 * Brier score: binary, mean (y - P(class 1))^2 (scikit-learn brier_score_loss); multiclass, mean
 * over rows of sum over classes (p_k - [y = k])^2 (the original multiclass definition, which
 * scikit-learn >= 1.7 also uses for multiclass; it is twice the binary value on 2 classes).
 */
export function brier(yTrue: NumberVector, probs: ScoreInput): number {
  const { y, m } = probInputs('brier', yTrue, probs);
  const s = new Summer();
  if (m.cols === 1) {
    for (let i = 0; i < y.length; i++) s.add((y[i]! - m.values[i]!) ** 2);
  } else {
    const k = m.cols;
    for (let i = 0; i < y.length; i++) {
      let row = 0;
      for (let c = 0; c < k; c++) row += (m.values[i * k + c]! - (y[i] === c ? 1 : 0)) ** 2;
      s.add(row);
    }
  }
  return s.value / y.length;
}

/** One bin of a reliability curve (only bins holding rows are listed). */
export interface ReliabilityBin {
  /** Bin edges; the bin holds lower < p <= upper (the first bin also p = 0). */
  lower: number;
  upper: number;
  /** Mean predicted probability of the rows in the bin. */
  meanPredicted: number;
  /** Fraction of those rows that are positive (multiclass: whose top class is right). */
  observedFrequency: number;
  count: number;
}

/** Reliability diagram data with the expected calibration error. */
export interface ReliabilityCurve {
  bins: ReliabilityBin[];
  numBins: number;
  /** 'positive' (binary: P(class 1)) or 'top-label' (multiclass: max probability vs argmax right). */
  kind: 'positive' | 'top-label';
  ece: number;
}

/** Edges of scikit-learn's uniform bins: numpy.linspace(0, 1, B + 1), i.e. j * (1 / B), last 1. */
function uniformEdges(bins: number): Float64Array {
  const e = new Float64Array(bins + 1);
  const step = 1 / bins;
  for (let j = 0; j < bins; j++) e[j] = j * step;
  e[bins] = 1;
  return e;
}

/** Bin of p: the number of inner edges strictly below p (numpy.searchsorted(edges[1:-1], p, 'left')). */
function binOf(edges: Float64Array, p: number): number {
  let lo = 1, hi = edges.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid]! < p) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

function reliabilityOf(conf: Float64Array, hit: Float64Array, numBins: number, kind: 'positive' | 'top-label'): ReliabilityCurve {
  const edges = uniformEdges(numBins);
  const count = new Float64Array(numBins), sumP = new Float64Array(numBins), sumY = new Float64Array(numBins);
  for (let i = 0; i < conf.length; i++) {
    const b = binOf(edges, conf[i]!);
    count[b]!++;
    sumP[b]! += conf[i]!;
    sumY[b]! += hit[i]!;
  }
  const bins: ReliabilityBin[] = [];
  const ece = new Summer();
  for (let b = 0; b < numBins; b++) {
    if (count[b] === 0) continue;
    const meanPredicted = sumP[b]! / count[b]!;
    const observedFrequency = sumY[b]! / count[b]!;
    bins.push({ lower: edges[b]!, upper: edges[b + 1]!, meanPredicted, observedFrequency, count: count[b]! });
    ece.add((count[b]! / conf.length) * Math.abs(meanPredicted - observedFrequency));
  }
  return { bins, numBins, kind, ece: ece.value };
}

/**
 * Reliability curve with equal-width bins on [0, 1], binned exactly as scikit-learn's
 * calibration_curve(strategy='uniform') (whose prob_true / prob_pred are the observed frequencies
 * and mean predictions of the non-empty bins). Binary: P(class 1) against the label; multiclass:
 * top-label (the max probability against whether the argmax is the true class).
 */
export function reliabilityCurve(yTrue: NumberVector, probs: ScoreInput, options?: { bins?: number }): ReliabilityCurve {
  const op = 'reliabilityCurve';
  const o = checkOptions(op, options, ['bins']);
  const numBins = intOpt(op, 'bins', o.bins, 10, 1, 10_000);
  const { y, m } = probInputs(op, yTrue, probs);
  if (m.cols === 1) return reliabilityOf(m.values, Float64Array.from(y), numBins, 'positive');
  const k = m.cols;
  const conf = new Float64Array(y.length), hit = new Float64Array(y.length);
  for (let i = 0; i < y.length; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (m.values[i * k + c]! > m.values[i * k + best]!) best = c;
    conf[i] = m.values[i * k + best]!;
    hit[i] = best === y[i] ? 1 : 0;
  }
  return reliabilityOf(conf, hit, numBins, 'top-label');
}

/**
 * Expected calibration error: sum over equal-width bins b of (n_b / n) |mean predicted_b -
 * observed frequency_b|, with the bins of reliabilityCurve (default 10). Binary: on P(class 1);
 * multiclass: top-label (confidence = max probability, correct = argmax is the true class).
 */
export function expectedCalibrationError(yTrue: NumberVector, probs: ScoreInput, options?: { bins?: number }): number {
  return reliabilityCurve(yTrue, probs, options).ece;
}

/** Score histogram, split by class when labels are given. */
export interface ScoreHistogram {
  /** numBins + 1 edges; bins are [e_j, e_j+1) except the last, [e_B-1, e_B] (numpy.histogram). */
  edges: number[];
  counts: number[];
  /** counts of the rows of each class (when yTrue is given), classes 0..K-1. */
  byClass: number[][] | null;
  /** Rows outside the range (only when a range is given). */
  outOfRange: number;
}

/**
 * Histogram of scores with equal-width bins (numpy.histogram's binning). The range defaults to
 * [0, 1] when every score is in it, else [min, max].
 */
export function scoreHistogram(scores: NumberVector, options?: { bins?: number; range?: readonly [number, number]; yTrue?: NumberVector }): ScoreHistogram {
  const op = 'scoreHistogram';
  const o = checkOptions(op, options, ['bins', 'range', 'yTrue']);
  const B = intOpt(op, 'bins', o.bins, 10, 1, 100_000);
  const s = finiteVector(op, 'scores', scores);
  let y: Int32Array | null = null;
  if (o.yTrue !== undefined) {
    y = labelVector(op, 'yTrue', o.yTrue);
    sameLength(op, 'yTrue', y.length, 'scores', s.length);
  }
  let lo: number, hi: number;
  if (o.range !== undefined) {
    const r = o.range;
    if (!Array.isArray(r) || r.length !== 2 || !Number.isFinite(r[0]) || !Number.isFinite(r[1]) || !(r[0] < r[1])) throw usageError(`${op}: option range must be [lo, hi] with finite lo < hi`);
    [lo, hi] = r as [number, number];
  } else {
    let mn = Infinity, mx = -Infinity;
    for (const v of s) {
      mn = Math.min(mn, v);
      mx = Math.max(mx, v);
    }
    if (mn >= 0 && mx <= 1) [lo, hi] = [0, 1];
    else if (mn === mx) [lo, hi] = [mn - 0.5, mx + 0.5];
    else [lo, hi] = [mn, mx];
  }
  // numpy.linspace(lo, hi, B + 1) and numpy.histogram's index computation and edge corrections.
  const edges = new Array<number>(B + 1);
  const step = (hi - lo) / B;
  for (let j = 0; j < B; j++) edges[j] = j * step + lo;
  edges[B] = hi;
  const norm = B / (hi - lo);
  const counts = new Array<number>(B).fill(0);
  const numClass = y ? Math.max(...y) + 1 : 0;
  const byClass = y ? Array.from({ length: numClass }, () => new Array<number>(B).fill(0)) : null;
  let outOfRange = 0;
  for (let i = 0; i < s.length; i++) {
    const v = s[i]!;
    if (v < lo || v > hi) {
      outOfRange++;
      continue;
    }
    let b = Math.trunc((v - lo) * norm);
    if (b === B) b--;
    if (v < edges[b]!) b--;
    else if (b !== B - 1 && v >= edges[b + 1]!) b++;
    counts[b]!++;
    if (byClass && y) byClass[y[i]!]![b]!++;
  }
  return { edges, counts, byClass, outOfRange };
}

// ---------------------------------------------------------------------------------------------
// Regression

function regressionInputs(op: string, yTrue: NumberVector, yPred: NumberVector): { t: Float64Array; p: Float64Array } {
  const t = finiteVector(op, 'yTrue', yTrue);
  const p = finiteVector(op, 'yPred', yPred);
  sameLength(op, 'yTrue', t.length, 'yPred', p.length);
  return { t, p };
}

/** Mean squared error (scikit-learn mean_squared_error). */
export function mse(yTrue: NumberVector, yPred: NumberVector): number {
  const { t, p } = regressionInputs('mse', yTrue, yPred);
  const s = new Summer();
  for (let i = 0; i < t.length; i++) s.add((t[i]! - p[i]!) ** 2);
  return s.value / t.length;
}

/** Root mean squared error (scikit-learn mean_squared_error(squared=False)). */
export function rmse(yTrue: NumberVector, yPred: NumberVector): number {
  return Math.sqrt(mse(yTrue, yPred));
}

/** Mean absolute error (scikit-learn mean_absolute_error). */
export function mae(yTrue: NumberVector, yPred: NumberVector): number {
  const { t, p } = regressionInputs('mae', yTrue, yPred);
  const s = new Summer();
  for (let i = 0; i < t.length; i++) s.add(Math.abs(t[i]! - p[i]!));
  return s.value / t.length;
}

/**
 * Coefficient of determination (scikit-learn r2_score, force_finite=True): 1 - SS_res / SS_tot;
 * a constant yTrue gives 1 for perfect predictions and 0 otherwise. Needs at least 2 rows.
 */
export function r2(yTrue: NumberVector, yPred: NumberVector): number {
  const op = 'r2';
  const { t, p } = regressionInputs(op, yTrue, yPred);
  if (t.length < 2) throw usageError(`${op}: R² needs at least 2 rows (got ${t.length})`);
  const mu = stableSum(t) / t.length;
  const res = new Summer(), tot = new Summer();
  for (let i = 0; i < t.length; i++) {
    res.add((t[i]! - p[i]!) ** 2);
    tot.add((t[i]! - mu) ** 2);
  }
  if (res.value === 0) return 1;
  if (tot.value === 0) return 0;
  return 1 - res.value / tot.value;
}

// ---------------------------------------------------------------------------------------------
// Bundles for metrics.json and model cards

/** Every classification metric of one split. */
export interface ClassificationMetrics {
  task: 'binary' | 'multiclass';
  rows: number;
  numClass: number;
  /** Binary: the threshold labels were taken at (score >= threshold); multiclass: null (argmax). */
  threshold: number | null;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  macro: PrecisionRecallF1;
  weighted: PrecisionRecallF1;
  rocAuc: number | null;
  averagePrecision: number | null;
  logLoss: number;
  brier: number;
  ece: number;
  confusion: ConfusionMatrix;
  report: ClassificationReport;
}

/** Curve data a model card plots. */
export interface ClassificationCurves {
  roc: RocCurve | null;
  pr: PrecisionRecallCurve | null;
  reliability: ReliabilityCurve;
  histogram: ScoreHistogram;
}

/** Predicted labels: P(class 1) >= threshold (binary), argmax (multiclass, first on ties). */
export function labelsFromProbabilities(probs: ScoreInput, rows: number, threshold = 0.5): Int32Array {
  const m = scoreMatrix('labelsFromProbabilities', 'probs', probs, rows);
  const out = new Int32Array(rows);
  if (m.cols === 1) {
    for (let i = 0; i < rows; i++) out[i] = m.values[i]! >= threshold ? 1 : 0;
    return out;
  }
  const k = m.cols;
  for (let i = 0; i < rows; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (m.values[i * k + c]! > m.values[i * k + best]!) best = c;
    out[i] = best;
  }
  return out;
}

/**
 * All classification metrics of labels and probabilities (binary: P(class 1) per row, labels by
 * `threshold`, default 0.5; multiclass: rows x K, labels by argmax; precision / recall / f1 are
 * then the macro averages). AUC and average precision are null when yTrue lacks a class.
 */
export function classificationMetrics(yTrue: NumberVector, probs: ScoreInput, options?: { threshold?: number; bins?: number }): ClassificationMetrics {
  const op = 'classificationMetrics';
  const o = checkOptions(op, options, ['threshold', 'bins']);
  const { y, m } = probInputs(op, yTrue, probs);
  const threshold = o.threshold ?? 0.5;
  if (typeof threshold !== 'number' || Number.isNaN(threshold)) throw usageError(`${op}: option threshold must be a number`);
  const binary = m.cols === 1;
  const numClass = binary ? 2 : m.cols;
  const pred = labelsFromProbabilities(m.values, y.length, threshold);
  const labels = Array.from({ length: numClass }, (_, i) => i);
  const present = new Set(y);
  const ranking = binary ? present.size === 2 : present.size === numClass;
  const main = binary ? precisionRecallF1(y, pred, { average: 'binary' }) : precisionRecallF1(y, pred, { average: 'macro', labels });
  return {
    task: binary ? 'binary' : 'multiclass',
    rows: y.length,
    numClass,
    threshold: binary ? threshold : null,
    accuracy: accuracy(y, pred),
    ...main,
    macro: precisionRecallF1(y, pred, { average: 'macro', labels }),
    weighted: precisionRecallF1(y, pred, { average: 'weighted', labels }),
    rocAuc: ranking ? rocAuc(y, m.values) : null,
    averagePrecision: ranking ? averagePrecision(y, m.values) : null,
    logLoss: logLoss(y, m.values),
    brier: brier(y, m.values),
    ece: expectedCalibrationError(y, m.values, o.bins !== undefined ? { bins: o.bins } : {}),
    confusion: confusionMatrix(y, pred, { labels }),
    report: classificationReport(y, pred, { labels }),
  };
}

/**
 * Curves for a model card: ROC and PR (binary only, null otherwise or when yTrue lacks a class),
 * reliability (binary or top-label) and a score histogram by class (binary: P(class 1);
 * multiclass: the top-class probability).
 */
export function classificationCurves(yTrue: NumberVector, probs: ScoreInput, options?: { bins?: number; histogramBins?: number }): ClassificationCurves {
  const op = 'classificationCurves';
  const o = checkOptions(op, options, ['bins', 'histogramBins']);
  const { y, m } = probInputs(op, yTrue, probs);
  const binary = m.cols === 1;
  const both = binary && new Set(y).size === 2;
  let scores = m.values;
  if (!binary) {
    scores = new Float64Array(y.length);
    for (let i = 0; i < y.length; i++) {
      let mx = -Infinity;
      for (let c = 0; c < m.cols; c++) mx = Math.max(mx, m.values[i * m.cols + c]!);
      scores[i] = mx;
    }
  }
  return {
    roc: both ? rocCurve(y, m.values) : null,
    pr: both ? precisionRecallCurve(y, m.values) : null,
    reliability: reliabilityCurve(y, m.values, o.bins !== undefined ? { bins: o.bins } : {}),
    histogram: scoreHistogram(scores, { bins: o.histogramBins ?? 20, range: [0, 1], yTrue: y }),
  };
}

/** Regression metrics of one split. */
export interface RegressionMetrics {
  task: 'regression';
  rows: number;
  rmse: number;
  mse: number;
  mae: number;
  r2: number | null;
}

/** RMSE, MSE, MAE and R² (null with fewer than 2 rows). */
export function regressionMetrics(yTrue: NumberVector, yPred: NumberVector): RegressionMetrics {
  const { t, p } = regressionInputs('regressionMetrics', yTrue, yPred);
  return { task: 'regression', rows: t.length, rmse: rmse(t, p), mse: mse(t, p), mae: mae(t, p), r2: t.length >= 2 ? r2(t, p) : null };
}
