/**
 * Binary decision thresholds chosen exactly: every distinct score is a candidate (a row is
 * predicted positive when score >= threshold), plus one threshold just above the largest score
 * (the smallest double greater than it: nothing predicted positive). Counts are updated in one
 * pass over the scores sorted descending, so the search is O(n log n) and exact.
 *
 * Ties: among candidates whose objective value is exactly equal (same double), the LARGEST
 * threshold wins, i.e. the fewest predicted positives. The result is deterministic for any input
 * order.
 */
import { binaryLabels, checkOptions, finiteVector, nextUp, sameLength, usageError, valueError, type NumberVector } from './input.js';

/** Per-outcome value of a decision, e.g. { tp: 100, fp: -5, tn: 0, fn: -100 }. */
export interface CostMatrix {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

/**
 * f1: 2TP / (2TP + FP + FN) (0 when the denominator is 0, as scikit-learn's zero_division=0);
 * youden: Youden's J = TPR - FPR; profit: expected value per row,
 * (TP·tp + FP·fp + TN·tn + FN·fn) / n with the values of `costs`.
 */
export type ThresholdObjective = 'f1' | 'youden' | 'profit';

/** The chosen threshold and its confusion counts. */
export interface ThresholdChoice {
  objective: ThresholdObjective;
  /** Predict class 1 when score >= threshold. */
  threshold: number;
  /** The objective at the threshold. */
  value: number;
  tp: number;
  fp: number;
  tn: number;
  fn: number;
  /** Distinct thresholds examined (distinct scores + 1). */
  candidates: number;
  /** The cost matrix, for objective 'profit'; else null. */
  costs: CostMatrix | null;
}

/** One candidate threshold with its counts. */
export interface ThresholdPoint {
  threshold: number;
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

/** Options of optimizeThreshold. */
export interface ThresholdOptions {
  objective?: ThresholdObjective;
  /** Needed for objective 'profit'. */
  costs?: CostMatrix;
}

function checkCosts(op: string, c: unknown): CostMatrix {
  if (c === null || typeof c !== 'object' || Array.isArray(c)) throw usageError(`${op}: objective 'profit' needs costs { tp, fp, tn, fn } (the value of each outcome; costs are negative)`);
  const o = c as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!['tp', 'fp', 'tn', 'fn'].includes(k)) throw usageError(`${op}: costs has unknown key '${k}' (known: tp, fp, tn, fn)`);
  for (const k of ['tp', 'fp', 'tn', 'fn']) {
    if (typeof o[k] !== 'number' || !Number.isFinite(o[k])) throw usageError(`${op}: costs.${k} must be a finite number (got ${String(o[k])})`);
  }
  return { tp: o.tp as number, fp: o.fp as number, tn: o.tn as number, fn: o.fn as number };
}

/**
 * Every candidate threshold with its counts, from the largest threshold (nothing positive) down to
 * the smallest score (everything positive).
 */
export function thresholdCandidates(yTrue: NumberVector, scores: NumberVector): ThresholdPoint[] {
  const op = 'thresholdCandidates';
  const y = binaryLabels(op, 'yTrue', yTrue);
  const s = finiteVector(op, 'scores', scores);
  sameLength(op, 'yTrue', y.length, 'scores', s.length);
  const n = y.length;
  let pos = 0;
  for (let i = 0; i < n; i++) pos += y[i]!;
  const neg = n - pos;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => s[b]! - s[a]! || a - b);
  const points: ThresholdPoint[] = [{ threshold: nextUp(s[order[0]!]!), tp: 0, fp: 0, tn: neg, fn: pos }];
  let tp = 0, fp = 0;
  for (let j = 0; j < n; j++) {
    const i = order[j]!;
    if (y[i] === 1) tp++;
    else fp++;
    if (j === n - 1 || s[order[j + 1]!]! !== s[i]!) points.push({ threshold: s[i]!, tp, fp, tn: neg - fp, fn: pos - tp });
  }
  return points;
}

/** The objective value of one confusion (n = tp + fp + tn + fn). */
export function thresholdObjective(objective: ThresholdObjective, c: { tp: number; fp: number; tn: number; fn: number }, costs?: CostMatrix): number {
  switch (objective) {
    case 'f1': {
      const den = 2 * c.tp + c.fp + c.fn;
      return den === 0 ? 0 : (2 * c.tp) / den;
    }
    case 'youden':
      return c.tp / (c.tp + c.fn) - c.fp / (c.fp + c.tn);
    case 'profit': {
      if (!costs) throw usageError("thresholdObjective: objective 'profit' needs costs");
      return (c.tp * costs.tp + c.fp * costs.fp + c.tn * costs.tn + c.fn * costs.fn) / (c.tp + c.fp + c.tn + c.fn);
    }
    default:
      throw usageError(`unknown threshold objective ${JSON.stringify(objective)} (known: f1, youden, profit)`);
  }
}

/**
 * The threshold that maximises `objective` (default 'f1') over every distinct score; see the
 * module comment for the candidates and the tie rule. Needs both classes in yTrue (f1 and profit
 * need a positive row too; youden needs both).
 */
export function optimizeThreshold(yTrue: NumberVector, scores: NumberVector, options?: ThresholdOptions): ThresholdChoice {
  const op = 'optimizeThreshold';
  const o = checkOptions(op, options, ['objective', 'costs']);
  const objective = o.objective ?? 'f1';
  if (!['f1', 'youden', 'profit'].includes(objective)) throw usageError(`${op}: option objective must be 'f1', 'youden' or 'profit' (got ${String(objective)})`);
  const costs = objective === 'profit' ? checkCosts(op, o.costs) : null;
  if (objective !== 'profit' && o.costs !== undefined) throw usageError(`${op}: option costs applies to objective 'profit' only`);
  const points = thresholdCandidates(yTrue, scores);
  const first = points[0]!;
  if (first.fn === 0) throw valueError(`${op}: yTrue has no positive rows; a threshold cannot be chosen`);
  if (objective === 'youden' && first.tn === 0) throw valueError(`${op}: yTrue has no negative rows; Youden's J is undefined`);
  let best = first;
  let bestValue = thresholdObjective(objective, first, costs ?? undefined);
  // points run from the largest threshold down, so a tie keeps the earlier (larger) one.
  for (let i = 1; i < points.length; i++) {
    const v = thresholdObjective(objective, points[i]!, costs ?? undefined);
    if (v > bestValue) {
      bestValue = v;
      best = points[i]!;
    }
  }
  return { objective, threshold: best.threshold, value: bestValue, tp: best.tp, fp: best.fp, tn: best.tn, fn: best.fn, candidates: points.length, costs };
}
