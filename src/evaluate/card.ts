// The model card: `card.json` (validated by schemas/card.schema.json) and `card.html` (one
// self-contained page, rendered by ./card-html.ts with the SVG charts of ./svg-chart.ts).
//
// Why src/evaluate and not src/train: a card is a report of how a model behaves on evaluation
// data (metrics, curves, calibration, importances) plus where it came from. Nothing in it needs
// the trainer: its input is plain data, so `kiln train` fills it at the end of a run, and an
// evaluation of a registered model on new data can fill it just the same. Keeping it here lets
// src/train import src/evaluate (never the reverse).
//
// The curve helpers below (ROC, PR, reliability, histograms, confusion counts) are small pure
// functions so a card can be made from raw predictions. They only feed the card's plots;
// reported metrics come from the caller (src/evaluate/metrics.ts computes them for training runs).

import path from 'node:path';
import { KilnError } from '../../bindings/errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { EnvironmentSnapshot, GitInfo } from '../lineage/environment.js';
import { assertValid } from '../validate/schema.js';
import { renderCardHtml } from './card-html.js';
import { precisionRecallCurve, reliabilityCurve, rocCurve as metricsRocCurve, type ReliabilityBin } from './metrics.js';

export { renderCardHtml } from './card-html.js';
export type { ReliabilityBin } from './metrics.js';

/** Version of the card.json format (`version` field); readers refuse newer ones. */
export const CARD_FORMAT_VERSION = 1;

export type CardTask = 'binary' | 'multiclass' | 'regression';

/** One ROC curve (binary, or one class against the rest). */
export interface RocCurve {
  /** The positive class of this curve. */
  label: string;
  fpr: number[];
  tpr: number[];
  /** Score cut-off of each point (predict positive when score >= threshold); null for the (0, 0) start. */
  thresholds: (number | null)[];
  /** Area under the full (unthinned) curve; null when a class is absent. */
  auc: number | null;
}

/** One precision-recall curve. */
export interface PrCurve {
  label: string;
  recall: number[];
  precision: number[];
  /** Average precision (sklearn's step-wise definition) over the full curve; null without positives. */
  averagePrecision: number | null;
  /** Share of positives: the precision of a random ranking (the chart's baseline). */
  positiveRate: number;
}

export interface ReliabilityCurve {
  /** What is calibrated: the positive class (binary) or "top-label" confidence (multiclass). */
  label: string;
  bins: ReliabilityBin[];
}

/** Counts per bin, one series per actual class, over shared edges. */
export interface ScoreHistogram {
  /** What the score is, e.g. "P(>50K)" or "top-class probability". */
  score: string;
  edges: number[];
  series: { label: string; counts: number[] }[];
}

export interface ConfusionMatrix {
  labels: string[];
  /** matrix[actual][predicted]. */
  matrix: number[][];
  /** Binary: the probability cut-off used; null for argmax. */
  threshold: number | null;
}

export interface ResidualHistogram {
  edges: number[];
  counts: number[];
}

export interface PredictedVsActual {
  actual: number[];
  predicted: number[];
  /** Rows the points were drawn from (points are an even-stride sample when fewer). */
  totalRows: number;
}

export interface CardCurves {
  roc: RocCurve[];
  pr: PrCurve[];
  reliability: ReliabilityCurve[];
  scoreHistogram: ScoreHistogram | null;
  residualHistogram: ResidualHistogram | null;
  predictedVsActual: PredictedVsActual | null;
}

export interface FeatureImportanceEntry {
  name: string;
  gain: number;
  /** Number of splits on the feature; null for models without splits. */
  splits: number | null;
}

export interface ClassReportRow {
  label: string;
  precision: number | null;
  recall: number | null;
  f1: number | null;
  support: number;
}

export interface CardModel {
  /** gbdt, logreg, mlp, stack, … */
  kind: string;
  objective: string;
  params: Record<string, unknown>;
  bestIteration: number | null;
  /** sha256 of the model file. */
  modelHash: string | null;
}

export interface CardSplit {
  name: string;
  rows: number;
  /** Rows per class label (classification); null for regression. */
  classCounts: Record<string, number> | null;
}

export interface CardDataset {
  /** What the file was for: train, valid, test, data … */
  role: string;
  path: string | null;
  sha256: string | null;
  /** Dataset version id (`kiln data snapshot`) when known. */
  versionId: string | null;
}

export interface CardData {
  target: string | null;
  featureCount: number;
  /** The split whose predictions the metrics and plots describe. */
  evaluatedOn: string;
  splits: CardSplit[];
  datasets: CardDataset[];
}

export interface CardCalibration {
  method: string;
  fittedOn: string | null;
  rows: number | null;
  /** Metrics before / after calibration on the evaluated split (e.g. ece, brier, logLoss). */
  before: Record<string, number | null>;
  after: Record<string, number | null>;
}

export interface CardThreshold {
  /** f1, youden, profit … */
  objective: string;
  value: number;
  /** The objective's value at the chosen threshold. */
  objectiveValue: number | null;
}

export interface CardConformal {
  alpha: number;
  kind: 'sets' | 'intervals';
  calibrationRows: number | null;
  /** Empirical coverage on the evaluated split. */
  coverage: number | null;
  meanSetSize: number | null;
  meanIntervalWidth: number | null;
}

/** The content of card.json. */
export interface CardJson {
  kind: 'kiln.card';
  version: typeof CARD_FORMAT_VERSION;
  title: string;
  runId: string;
  startedAt: string;
  endedAt: string | null;
  task: CardTask;
  /** Class labels in model order (empty for regression). */
  classes: string[];
  model: CardModel;
  metrics: Record<string, number | null>;
  classReport: ClassReportRow[];
  confusionMatrix: ConfusionMatrix | null;
  curves: CardCurves;
  featureImportance: { measure: string; features: FeatureImportanceEntry[] };
  data: CardData;
  calibration: CardCalibration | null;
  threshold: CardThreshold | null;
  conformal: CardConformal | null;
  environment: EnvironmentSnapshot;
  git: GitInfo | null;
  notes: string[];
}

type Num = ArrayLike<number>;

/** What a trainer (or any evaluator) hands to `buildCard`: plain data, typed arrays welcome. */
export interface CardInput {
  runId: string;
  title?: string;
  startedAt: string | Date;
  endedAt?: string | Date | null;
  task: CardTask;
  classes?: string[];
  model: { kind: string; objective: string; params?: Record<string, unknown>; bestIteration?: number | null; modelHash?: string | null };
  /** Flat name → value; non-finite values are recorded as null ("n/a"). */
  metrics?: Record<string, number | null | undefined>;
  classReport?: ClassReportRow[];
  confusionMatrix?: { labels: string[]; matrix: ArrayLike<number>[]; threshold?: number | null } | null;
  curves?: {
    roc?: { label: string; fpr: Num; tpr: Num; thresholds?: ArrayLike<number | null>; auc?: number | null }[];
    pr?: { label: string; recall: Num; precision: Num; averagePrecision?: number | null; positiveRate: number }[];
    reliability?: ReliabilityCurve[];
    scoreHistogram?: { score: string; edges: Num; series: { label: string; counts: Num }[] } | null;
    residualHistogram?: { edges: Num; counts: Num } | null;
    predictedVsActual?: { actual: Num; predicted: Num; totalRows?: number } | null;
  };
  featureImportance?: { measure?: string; features: { name: string; gain: number; splits?: number | null }[] } | null;
  data: {
    target?: string | null;
    featureCount: number;
    evaluatedOn: string;
    splits: { name: string; rows: number; classCounts?: Record<string, number> | null }[];
    datasets?: { role: string; path?: string | null; sha256?: string | null; versionId?: string | null }[];
  };
  calibration?: { method: string; fittedOn?: string | null; rows?: number | null; before?: Record<string, number | null>; after?: Record<string, number | null> } | null;
  threshold?: { objective: string; value: number; objectiveValue?: number | null } | null;
  conformal?: { alpha: number; kind: 'sets' | 'intervals'; calibrationRows?: number | null; coverage?: number | null; meanSetSize?: number | null; meanIntervalWidth?: number | null } | null;
  environment: EnvironmentSnapshot;
  git?: GitInfo | null;
  notes?: string[];
}

function usage(message: string, details?: Record<string, unknown>): KilnError {
  return new KilnError('E_USAGE', `model card: ${message}`, details);
}

function finiteOrNull(v: number | null | undefined): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function sortedRecord<T, U>(rec: Record<string, T> | null | undefined, map: (v: T) => U): Record<string, U> {
  const out: Record<string, U> = {};
  if (!rec) return out;
  for (const k of Object.keys(rec).sort()) out[k] = map(rec[k] as T);
  return out;
}

/** Plain JSON-able copy of params: keys sorted at every level, non-finite numbers → null, undefined dropped. */
function plainParams(v: unknown, where: string): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (Array.isArray(v) || ArrayBuffer.isView(v)) return Array.from(v as ArrayLike<unknown>, (x, i) => plainParams(x, `${where}[${i}]`));
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = plainParams(x, `${where}.${k}`);
    }
    return out;
  }
  throw usage(`${where} is not JSON data (${typeof v})`);
}

function finiteArray(a: Num, where: string): number[] {
  const out = Array.from(a);
  for (let i = 0; i < out.length; i++) if (!Number.isFinite(out[i])) throw usage(`${where}[${i}] is not a finite number`);
  return out;
}

function sameLength(where: string, ...arrays: { length: number }[]): void {
  const n = arrays[0]!.length;
  if (arrays.some((a) => a.length !== n)) throw usage(`${where}: arrays differ in length (${arrays.map((a) => a.length).join(' vs ')})`);
}

function isoTime(t: string | Date, where: string): string {
  if (t instanceof Date) {
    if (Number.isNaN(t.getTime())) throw usage(`${where} is an invalid Date`);
    return t.toISOString();
  }
  return t;
}

/**
 * Builds card.json's content from plain data: copies typed arrays into arrays, sorts map keys,
 * orders feature importance by gain, records non-finite metrics as null, checks array shapes and
 * validates the result against schemas/card.schema.json (E_USAGE for inconsistent input,
 * E_SCHEMA for anything else the schema refuses). Pure: no clock, no I/O besides the schema.
 */
export function buildCard(input: CardInput): CardJson {
  const classes = input.task === 'regression' ? [] : [...(input.classes ?? [])];
  if (input.task !== 'regression' && classes.length < 2) throw usage(`a ${input.task} card needs at least two class labels in "classes"`);
  if (input.task === 'binary' && classes.length !== 2) throw usage(`a binary card has exactly two classes, got ${classes.length}`);

  const cm = input.confusionMatrix;
  let confusionMatrix: ConfusionMatrix | null = null;
  if (cm) {
    const n = cm.labels.length;
    if (cm.matrix.length !== n || cm.matrix.some((r) => r.length !== n)) throw usage(`confusion matrix must be ${n}×${n} for ${n} labels`);
    confusionMatrix = {
      labels: [...cm.labels],
      matrix: cm.matrix.map((r, i) => finiteArray(r, `confusionMatrix.matrix[${i}]`)),
      threshold: finiteOrNull(cm.threshold),
    };
  }

  const cv = input.curves ?? {};
  const roc: RocCurve[] = (cv.roc ?? []).map((r, i) => {
    sameLength(`curves.roc[${i}]`, r.fpr, r.tpr, ...(r.thresholds ? [r.thresholds] : []));
    return {
      label: r.label,
      fpr: finiteArray(r.fpr, `curves.roc[${i}].fpr`),
      tpr: finiteArray(r.tpr, `curves.roc[${i}].tpr`),
      thresholds: r.thresholds ? Array.from(r.thresholds, (t) => finiteOrNull(t)) : Array.from(r.fpr, () => null),
      auc: finiteOrNull(r.auc),
    };
  });
  const pr: PrCurve[] = (cv.pr ?? []).map((p, i) => {
    sameLength(`curves.pr[${i}]`, p.recall, p.precision);
    return {
      label: p.label,
      recall: finiteArray(p.recall, `curves.pr[${i}].recall`),
      precision: finiteArray(p.precision, `curves.pr[${i}].precision`),
      averagePrecision: finiteOrNull(p.averagePrecision),
      positiveRate: p.positiveRate,
    };
  });
  const reliability: ReliabilityCurve[] = (cv.reliability ?? []).map((r) => ({ label: r.label, bins: r.bins.map((b) => ({ ...b })) }));
  let scoreHistogram: ScoreHistogram | null = null;
  if (cv.scoreHistogram) {
    const h = cv.scoreHistogram;
    const edges = finiteArray(h.edges, 'curves.scoreHistogram.edges');
    h.series.forEach((s, i) => {
      if (s.counts.length !== edges.length - 1) throw usage(`curves.scoreHistogram.series[${i}] has ${s.counts.length} counts for ${edges.length - 1} bins`);
    });
    scoreHistogram = { score: h.score, edges, series: h.series.map((s, i) => ({ label: s.label, counts: finiteArray(s.counts, `curves.scoreHistogram.series[${i}].counts`) })) };
  }
  let residualHistogram: ResidualHistogram | null = null;
  if (cv.residualHistogram) {
    const edges = finiteArray(cv.residualHistogram.edges, 'curves.residualHistogram.edges');
    const counts = finiteArray(cv.residualHistogram.counts, 'curves.residualHistogram.counts');
    if (counts.length !== edges.length - 1) throw usage(`curves.residualHistogram has ${counts.length} counts for ${edges.length - 1} bins`);
    residualHistogram = { edges, counts };
  }
  let predictedVsActual: PredictedVsActual | null = null;
  if (cv.predictedVsActual) {
    const p = cv.predictedVsActual;
    sameLength('curves.predictedVsActual', p.actual, p.predicted);
    predictedVsActual = { actual: finiteArray(p.actual, 'curves.predictedVsActual.actual'), predicted: finiteArray(p.predicted, 'curves.predictedVsActual.predicted'), totalRows: p.totalRows ?? p.actual.length };
  }

  const features = (input.featureImportance?.features ?? []).map((f, i) => {
    if (!Number.isFinite(f.gain)) throw usage(`featureImportance.features[${i}] (${f.name}) has a non-finite gain`);
    return { name: f.name, gain: f.gain, splits: f.splits ?? null };
  });
  // Largest gain first; ties keep the model's feature order (stable sort).
  features.sort((a, b) => b.gain - a.gain);

  const card: CardJson = {
    kind: 'kiln.card',
    version: CARD_FORMAT_VERSION,
    title: input.title ?? `${input.model.kind} · ${input.model.objective}`,
    runId: input.runId,
    startedAt: isoTime(input.startedAt, 'startedAt'),
    endedAt: input.endedAt ? isoTime(input.endedAt, 'endedAt') : null,
    task: input.task,
    classes,
    model: {
      kind: input.model.kind,
      objective: input.model.objective,
      params: plainParams(input.model.params ?? {}, 'model.params') as Record<string, unknown>,
      bestIteration: input.model.bestIteration ?? null,
      modelHash: input.model.modelHash ?? null,
    },
    metrics: sortedRecord(input.metrics, finiteOrNull),
    classReport: (input.classReport ?? []).map((r) => ({ label: r.label, precision: finiteOrNull(r.precision), recall: finiteOrNull(r.recall), f1: finiteOrNull(r.f1), support: r.support })),
    confusionMatrix,
    curves: { roc, pr, reliability, scoreHistogram, residualHistogram, predictedVsActual },
    featureImportance: { measure: input.featureImportance?.measure ?? 'total gain', features },
    data: {
      target: input.data.target ?? null,
      featureCount: input.data.featureCount,
      evaluatedOn: input.data.evaluatedOn,
      splits: input.data.splits.map((s) => ({ name: s.name, rows: s.rows, classCounts: s.classCounts ? sortedRecord(s.classCounts, (v) => v) : null })),
      datasets: (input.data.datasets ?? []).map((d) => ({ role: d.role, path: d.path ?? null, sha256: d.sha256 ?? null, versionId: d.versionId ?? null })),
    },
    calibration: input.calibration
      ? {
          method: input.calibration.method,
          fittedOn: input.calibration.fittedOn ?? null,
          rows: input.calibration.rows ?? null,
          before: sortedRecord(input.calibration.before, finiteOrNull),
          after: sortedRecord(input.calibration.after, finiteOrNull),
        }
      : null,
    threshold: input.threshold ? { objective: input.threshold.objective, value: input.threshold.value, objectiveValue: finiteOrNull(input.threshold.objectiveValue) } : null,
    conformal: input.conformal
      ? {
          alpha: input.conformal.alpha,
          kind: input.conformal.kind,
          calibrationRows: input.conformal.calibrationRows ?? null,
          coverage: finiteOrNull(input.conformal.coverage),
          meanSetSize: finiteOrNull(input.conformal.meanSetSize),
          meanIntervalWidth: finiteOrNull(input.conformal.meanIntervalWidth),
        }
      : null,
    environment: {
      ...input.environment,
      packages: sortedRecord(input.environment.packages, (v) => v),
      env: sortedRecord(input.environment.env, (v) => v),
    },
    git: input.git ?? null,
    notes: [...(input.notes ?? [])],
  };
  assertValidCard(card);
  return card;
}

/** Throws E_SCHEMA naming the fields when `card` does not match schemas/card.schema.json. */
export function assertValidCard(card: unknown): asserts card is CardJson {
  assertValid('builtin:card', card, 'model card');
}

/**
 * card.json's text: 2-space indented JSON with a trailing newline, arrays of plain values
 * (curve points, counts, matrix rows) kept on one line. Key order is the card's (fixed by
 * `buildCard`), so the same card always gives the same bytes; JSON.parse gives the card back.
 */
export function serializeCard(card: CardJson): string {
  return `${compactJson(card, '')}\n`;
}

function compactJson(v: unknown, indent: string): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  const inner = `${indent}  `;
  if (Array.isArray(v)) {
    if (v.every((x) => x === null || typeof x !== 'object')) return JSON.stringify(v);
    return `[\n${v.map((x) => inner + compactJson(x, inner)).join(',\n')}\n${indent}]`;
  }
  const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${compactJson(x, inner)}`).join(',\n')}\n${indent}}`;
}

/** Validates the card and writes `<dir>/card.json` and `<dir>/card.html`, each atomically. */
export async function writeCard(dir: string, card: CardJson): Promise<{ json: string; html: string }> {
  assertValidCard(card);
  const json = path.join(dir, 'card.json');
  const html = path.join(dir, 'card.html');
  const jsonText = serializeCard(card);
  const htmlText = renderCardHtml(card);
  await writeFileAtomic(json, jsonText);
  await writeFileAtomic(html, htmlText);
  return { json, html };
}

// ───────────────────────── curves from raw predictions ─────────────────────────

/** Default cap on points kept per ROC / PR curve (the card plots them; AUC uses every point). */
export const DEFAULT_CURVE_POINTS = 400;

function checkScores(scores: Num, labels: ArrayLike<number | boolean>, where: string): void {
  if (scores.length !== labels.length) throw usage(`${where}: ${scores.length} scores but ${labels.length} labels`);
  for (let i = 0; i < scores.length; i++) if (!Number.isFinite(scores[i])) throw usage(`${where}: score at row ${i} is not a finite number`);
}

function isPos(v: number | boolean): boolean {
  return v === true || v === 1;
}

/**
 * Indices of points to keep so that consecutive kept points are at least `step` apart in
 * L1 distance (first and last always kept): a visually exact thinning of a long curve.
 */
function thin(xs: number[], ys: number[], maxPoints: number): number[] {
  if (xs.length <= maxPoints) return xs.map((_, i) => i);
  let length = 0;
  for (let i = 1; i < xs.length; i++) length += Math.abs(xs[i]! - xs[i - 1]!) + Math.abs(ys[i]! - ys[i - 1]!);
  const step = length / Math.max(1, maxPoints - 2);
  const keep = [0];
  let acc = 0;
  for (let i = 1; i < xs.length - 1; i++) {
    acc += Math.abs(xs[i]! - xs[i - 1]!) + Math.abs(ys[i]! - ys[i - 1]!);
    if (acc >= step) {
      keep.push(i);
      acc = 0;
    }
  }
  keep.push(xs.length - 1);
  return keep;
}

/** 0/1 labels of `positives` (1/true = positive) and the number of positives. */
function binaryOf(positives: ArrayLike<number | boolean>): { y: Int32Array; P: number } {
  const y = Int32Array.from({ length: positives.length }, (_, i) => (isPos(positives[i]!) ? 1 : 0));
  let P = 0;
  for (let i = 0; i < y.length; i++) P += y[i]!;
  return { y, P };
}

/**
 * ROC curve of `scores` against `positives` (1/true = positive) for plotting: the corners of
 * metrics' rocCurve (scikit-learn's drop_intermediate), starting at (0, 0), thinned to at most
 * about `maxPoints`; `auc` is the area of the full curve, null when either class is absent.
 */
export function rocCurve(scores: Num, positives: ArrayLike<number | boolean>, opts: { label?: string; maxPoints?: number } = {}): RocCurve {
  checkScores(scores, positives, 'rocCurve');
  const label = opts.label ?? '1';
  const { y, P } = binaryOf(positives);
  if (P === 0 || P === y.length) return { label, fpr: [], tpr: [], thresholds: [], auc: null };
  const r = metricsRocCurve(y, scores, { dropIntermediate: true });
  const keep = thin(r.fpr, r.tpr, opts.maxPoints ?? DEFAULT_CURVE_POINTS);
  return { label, fpr: keep.map((i) => r.fpr[i]!), tpr: keep.map((i) => r.tpr[i]!), thresholds: keep.map((i) => (Number.isFinite(r.thresholds[i]!) ? r.thresholds[i]! : null)), auc: r.auc };
}

/**
 * Precision-recall curve for plotting: metrics' precisionRecallCurve from the highest score down,
 * starting at (recall 0, precision 1), thinned; `averagePrecision` is scikit-learn's
 * average_precision_score of the full curve, null without positives.
 */
export function prCurve(scores: Num, positives: ArrayLike<number | boolean>, opts: { label?: string; maxPoints?: number } = {}): PrCurve {
  checkScores(scores, positives, 'prCurve');
  const label = opts.label ?? '1';
  const { y, P } = binaryOf(positives);
  const positiveRate = y.length > 0 ? P / y.length : 0;
  if (P === 0) return { label, recall: [], precision: [], averagePrecision: null, positiveRate };
  const pr = precisionRecallCurve(y, scores);
  const recall = [...pr.recall].reverse();
  const precision = [...pr.precision].reverse();
  const keep = thin(recall, precision, opts.maxPoints ?? DEFAULT_CURVE_POINTS);
  return { label, recall: keep.map((i) => recall[i]!), precision: keep.map((i) => precision[i]!), averagePrecision: pr.averagePrecision, positiveRate };
}

/**
 * Reliability (calibration) bins: metrics' reliabilityCurve (`bins` equal-width bins over [0, 1],
 * binned as scikit-learn's calibration_curve); each non-empty bin gives its mean prediction,
 * observed frequency of the event and row count. Probabilities outside [0, 1] are an error.
 */
export function reliabilityBins(probs: Num, outcomes: ArrayLike<number | boolean>, bins = 10): ReliabilityBin[] {
  checkScores(probs, outcomes, 'reliabilityBins');
  if (!Number.isInteger(bins) || bins < 1) throw usage(`reliabilityBins: bins must be a positive integer, got ${bins}`);
  for (let i = 0; i < probs.length; i++) if (probs[i]! < 0 || probs[i]! > 1) throw usage(`reliabilityBins: probability at row ${i} is ${probs[i]}, outside [0, 1]`);
  return reliabilityCurve(binaryOf(outcomes).y, probs, { bins }).bins;
}

/** `bins` equal-width bin edges over [lo, hi] (a degenerate range is widened by ±0.5). */
export function binEdges(lo: number, hi: number, bins: number): number[] {
  if (!Number.isInteger(bins) || bins < 1) throw usage(`bins must be a positive integer, got ${bins}`);
  if (!(hi > lo)) {
    lo -= 0.5;
    hi += 0.5;
  }
  return Array.from({ length: bins + 1 }, (_, i) => (i === bins ? hi : lo + ((hi - lo) * i) / bins));
}

function binOf(v: number, edges: number[]): number {
  const lo = edges[0]!;
  const hi = edges[edges.length - 1]!;
  const n = edges.length - 1;
  return Math.max(0, Math.min(n - 1, Math.floor(((v - lo) / (hi - lo)) * n)));
}

/** Counts of `values` in equal-width bins over `edges` (values outside go to the end bins). */
export function histogramCounts(values: Num, edges: number[]): number[] {
  const counts = new Array<number>(edges.length - 1).fill(0);
  for (let i = 0; i < values.length; i++) counts[binOf(values[i]!, edges)]!++;
  return counts;
}

/**
 * Score histogram split by actual class: `labels[i]` is the class index of row i into
 * `classes`. Range [0, 1] unless given (use the scores' range for margins).
 */
export function scoreHistogram(scores: Num, labels: Num, classes: string[], opts: { bins?: number; range?: [number, number]; score?: string } = {}): ScoreHistogram {
  checkScores(scores, labels, 'scoreHistogram');
  const [lo, hi] = opts.range ?? [0, 1];
  const edges = binEdges(lo, hi, opts.bins ?? 20);
  const series = classes.map((label) => ({ label, counts: new Array<number>(edges.length - 1).fill(0) }));
  for (let i = 0; i < scores.length; i++) {
    const k = labels[i]!;
    if (!Number.isInteger(k) || k < 0 || k >= classes.length) throw usage(`scoreHistogram: label at row ${i} is ${k}, not a class index below ${classes.length}`);
    series[k]!.counts[binOf(scores[i]!, edges)]!++;
  }
  return { score: opts.score ?? 'score', edges, series };
}

/** matrix[actual][predicted] counts of class indices (0…k−1). */
export function confusionCounts(actual: Num, predicted: Num, k: number): number[][] {
  if (actual.length !== predicted.length) throw usage(`confusionCounts: ${actual.length} actual but ${predicted.length} predicted`);
  const m = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const p = predicted[i]!;
    if (!Number.isInteger(a) || a < 0 || a >= k || !Number.isInteger(p) || p < 0 || p >= k) throw usage(`confusionCounts: row ${i} has classes ${a} → ${p}, not in 0…${k - 1}`);
    m[a]![p]!++;
  }
  return m;
}

/** Most classes that get one-vs-rest ROC / PR curves on a card (more would be unreadable). */
export const MAX_CURVE_CLASSES = 10;

/** Classification predictions for `cardCurvesFromPredictions`. */
export interface ClassificationPredictions {
  task: 'binary' | 'multiclass';
  classes: string[];
  /** Actual class index per row (0…K−1). */
  labels: Num;
  /** Binary: P(classes[1]) per row. Multiclass: row-major rows × K probabilities. */
  probabilities: Num;
  /** Binary cut-off for the confusion matrix (default 0.5). */
  threshold?: number;
  bins?: number;
  maxPoints?: number;
}

export interface RegressionPredictions {
  task: 'regression';
  actual: Num;
  predicted: Num;
  bins?: number;
  /** Most points in the predicted-vs-actual scatter (even-stride sample; default 1500). */
  maxPoints?: number;
}

/**
 * Every plot a card can show, computed from raw predictions: binary → ROC, PR, reliability,
 * score histogram (P(positive) by actual class) and the confusion matrix at `threshold`;
 * multiclass → one-vs-rest ROC/PR per class (omitted with a note above MAX_CURVE_CLASSES),
 * top-label reliability, top-class probability histogram by actual class and the argmax
 * confusion matrix; regression → residual histogram and a predicted-vs-actual sample.
 */
export function cardCurvesFromPredictions(p: ClassificationPredictions | RegressionPredictions): { curves: NonNullable<CardInput['curves']>; confusionMatrix: ConfusionMatrix | null; notes: string[] } {
  if (p.task === 'regression') {
    sameLength('cardCurvesFromPredictions', p.actual, p.predicted);
    const n = p.actual.length;
    const residuals = new Float64Array(n);
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < n; i++) {
      const r = p.actual[i]! - p.predicted[i]!;
      if (!Number.isFinite(r)) throw usage(`regression predictions: row ${i} is not finite`);
      residuals[i] = r;
      lo = Math.min(lo, r);
      hi = Math.max(hi, r);
    }
    const edges = binEdges(n ? lo : 0, n ? hi : 1, p.bins ?? 30);
    const maxPoints = p.maxPoints ?? 1500;
    const stride = Math.max(1, Math.ceil(n / maxPoints));
    const actual: number[] = [];
    const predicted: number[] = [];
    for (let i = 0; i < n; i += stride) {
      actual.push(p.actual[i]!);
      predicted.push(p.predicted[i]!);
    }
    return {
      curves: { residualHistogram: { edges, counts: histogramCounts(residuals, edges) }, predictedVsActual: { actual, predicted, totalRows: n } },
      confusionMatrix: null,
      notes: stride > 1 ? [`predicted-vs-actual shows one row in ${stride} (${actual.length} of ${n})`] : [],
    };
  }
  const K = p.classes.length;
  const n = p.labels.length;
  const bins = p.bins ?? 10;
  const opts = p.maxPoints ? { maxPoints: p.maxPoints } : {};
  const notes: string[] = [];
  if (p.task === 'binary') {
    if (K !== 2) throw usage(`binary predictions need two classes, got ${K}`);
    if (p.probabilities.length !== n) throw usage(`binary predictions: ${p.probabilities.length} probabilities for ${n} labels`);
    const threshold = p.threshold ?? 0.5;
    const positives = Array.from(p.labels, (v) => (v === 1 ? 1 : 0));
    const predicted = Array.from(p.probabilities, (v) => (v >= threshold ? 1 : 0));
    return {
      curves: {
        roc: [rocCurve(p.probabilities, positives, { label: p.classes[1]!, ...opts })],
        pr: [prCurve(p.probabilities, positives, { label: p.classes[1]!, ...opts })],
        reliability: [{ label: p.classes[1]!, bins: reliabilityBins(p.probabilities, positives, bins) }],
        scoreHistogram: scoreHistogram(p.probabilities, p.labels, p.classes, { bins: 20, score: `P(${p.classes[1]})` }),
      },
      confusionMatrix: { labels: [...p.classes], matrix: confusionCounts(p.labels, predicted, 2), threshold },
      notes,
    };
  }
  if (p.probabilities.length !== n * K) throw usage(`multiclass predictions: ${p.probabilities.length} probabilities for ${n} rows × ${K} classes`);
  const top = new Float64Array(n);
  const argmax = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (p.probabilities[i * K + k]! > p.probabilities[i * K + best]!) best = k;
    argmax[i] = best;
    top[i] = p.probabilities[i * K + best]!;
  }
  const correct = Array.from(argmax, (v, i) => (v === p.labels[i] ? 1 : 0));
  const roc: RocCurve[] = [];
  const pr: PrCurve[] = [];
  if (K <= MAX_CURVE_CLASSES) {
    for (let k = 0; k < K; k++) {
      const scores = new Float64Array(n);
      const pos = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        scores[i] = p.probabilities[i * K + k]!;
        pos[i] = p.labels[i] === k ? 1 : 0;
      }
      roc.push(rocCurve(scores, pos, { label: p.classes[k]!, ...opts }));
      pr.push(prCurve(scores, pos, { label: p.classes[k]!, ...opts }));
    }
  } else {
    notes.push(`ROC and PR curves omitted: ${K} classes (one-vs-rest curves are drawn for up to ${MAX_CURVE_CLASSES})`);
  }
  return {
    curves: {
      roc,
      pr,
      reliability: [{ label: 'top-label', bins: reliabilityBins(top, correct, bins) }],
      scoreHistogram: scoreHistogram(top, p.labels, p.classes, { bins: 20, score: 'top-class probability' }),
    },
    confusionMatrix: { labels: [...p.classes], matrix: confusionCounts(p.labels, argmax, K), threshold: null },
    notes,
  };
}
