/**
 * Model health over a rolling window of served predictions: performance on the rows that have
 * labels, feature and prediction drift against the training reference, calibration (Brier, ECE),
 * ensemble disagreement, and what to do about it. Reports as JSON, HTML or Prometheus gauges.
 */
import path from 'node:path';

import { KilnError } from '../../bindings/errors.js';
import { ColumnBatch, columnFromValues } from '../batch/column-batch.js';
import { concatBatches, takeRows } from '../batch/ops.js';
import { detectFeatureDrift, type DriftInput, type DriftOptions, type DriftReport } from './drift/index.js';
import { escapeHtml } from './drift/html.js';
import { brier, classificationMetrics, expectedCalibrationError, regressionMetrics, stableSum } from '../evaluate/metrics.js';
import { writeFileAtomic } from '../io/atomic.js';
import { assertValid } from '../validate/schema.js';
import { KILN_VERSION } from '../version.js';

/** One update of the window: the rows served, what the model said, and labels when known. */
export interface PredictionUpdate {
  /** Feature rows: a ColumnBatch, or one object per row. */
  features: ColumnBatch | ReadonlyArray<Record<string, number | string | boolean | null>>;
  /** Binary: P(class 1) per row; multiclass: rows × K probabilities; regression: the values. */
  predictions: ArrayLike<number>;
  /** Class indices (classification) or true values (regression) per row; NaN where unknown. */
  labels?: ArrayLike<number> | null;
  /** When the rows were served: one time for all, or one per row (ms since epoch, Date or ISO text). Default: now. */
  timestamp?: number | string | Date | ReadonlyArray<number | string | Date>;
  /** Ensemble member disagreement per row (StackingClassifier.predictWithUncertainty). */
  disagreement?: ArrayLike<number> | null;
}

/** Options of a ModelMonitor. */
export interface ModelMonitorOptions {
  /** Training features (a batch, batches or a file) the window's features are compared with. */
  reference: DriftInput;
  /** The model's outputs on the reference rows (P(class 1), the top-class probability, or the value): enables prediction drift. Needs a ColumnBatch reference. */
  referencePredictions?: ArrayLike<number> | null;
  /** 'binary' (default), 'multiclass' or 'regression'. */
  task?: 'binary' | 'multiclass' | 'regression';
  /** Classes of a multiclass model. */
  numClass?: number;
  /** The binary decision threshold (default 0.5). */
  threshold?: number;
  /** Rows kept in the window, newest last (default 10,000). */
  windowSize?: number;
  /** Also drop rows older than this many ms before the newest row (default: no age limit). */
  windowMs?: number | null;
  /** Drift options (default: KS + PSI, the default thresholds, BH at 0.05). */
  drift?: Omit<DriftOptions, 'prediction' | 'label' | 'onProgress'>;
  /** Expected performance (the training run's test F1, or RMSE for regression); null: no comparison. */
  baselinePerformance?: number | null;
  /** Relative drop of performance that warns (default 0.05); twice this is critical. */
  maxPerformanceDrop?: number;
  /** ECE above which calibration warns (default 0.05). */
  maxEce?: number;
  /** Share of drifted features that is critical (default 0.3). */
  maxDriftShare?: number;
  /** Labelled rows needed before performance and calibration are judged (default 100). */
  minLabelled?: number;
}

/** Levels of a health check, best first. */
export type HealthStatus = 'healthy' | 'warning' | 'critical';

/** The result of checkHealth (schemas/health-report.schema.json). */
export interface HealthReport {
  kind: 'kiln.health-report';
  version: 1;
  createdAt: string;
  kilnVersion: string;
  window: { rows: number; labelled: number; from: string | null; to: string | null };
  overall: HealthStatus;
  performance: { status: HealthStatus; metric: 'f1' | 'rmse'; value: number | null; baseline: number | null; relativeDrop: number | null; accuracy: number | null; rocAuc: number | null; rows: number } | null;
  drift: { status: HealthStatus; drifted: boolean; share: number; predictionDrift: boolean | null; features: Array<{ name: string; score: number; method: 'psi' | 'chi2' | 'ks'; drifted: boolean; pAdjusted: number | null }> };
  calibration: { status: HealthStatus; brier: number; ece: number; rows: number } | null;
  ensembleDisagreement: number | null;
  recommendations: string[];
  requiresRetraining: boolean;
}

const PREDICTION_COLUMN = '__kiln_prediction';

interface WindowChunk {
  features: ColumnBatch;
  predictions: Float64Array;
  labels: Float64Array;
  times: Float64Array;
  disagreement: Float64Array | null;
}

function usage(message: string): KilnError {
  return new KilnError('E_USAGE', `ModelMonitor: ${message}`);
}

function toMs(t: number | string | Date, where: string): number {
  const ms = t instanceof Date ? t.getTime() : typeof t === 'string' ? Date.parse(t) : t;
  if (!Number.isFinite(ms)) throw usage(`${where} is not a valid time (${String(t)})`);
  return ms;
}

function rowsToBatch(rows: ReadonlyArray<Record<string, number | string | boolean | null>>): ColumnBatch {
  if (rows.length === 0) return new ColumnBatch([], 0);
  const names = Object.keys(rows[0]!);
  return new ColumnBatch(
    names.map((name) => {
      const values = rows.map((r) => r[name] ?? null);
      const kind = values.find((v) => v !== null);
      const type = typeof kind === 'string' ? 'utf8' : typeof kind === 'boolean' ? 'bool' : 'float64';
      return columnFromValues(name, type, values);
    }),
    rows.length,
  );
}

function worst(...s: HealthStatus[]): HealthStatus {
  return s.includes('critical') ? 'critical' : s.includes('warning') ? 'warning' : 'healthy';
}

/** Rolling-window health of one model. */
export class ModelMonitor {
  private readonly opts: Required<Omit<ModelMonitorOptions, 'drift' | 'numClass' | 'windowMs' | 'baselinePerformance' | 'referencePredictions'>> & Pick<ModelMonitorOptions, 'drift' | 'numClass' | 'windowMs' | 'baselinePerformance'>;
  private readonly reference: DriftInput;
  private chunks: WindowChunk[] = [];
  private lastReport: HealthReport | null = null;

  constructor(options: ModelMonitorOptions) {
    if (!options || options.reference === undefined) throw usage('option reference (the training features) is required');
    const o = {
      task: 'binary' as const,
      threshold: 0.5,
      windowSize: 10_000,
      maxPerformanceDrop: 0.05,
      maxEce: 0.05,
      maxDriftShare: 0.3,
      minLabelled: 100,
      ...options,
    };
    if (!['binary', 'multiclass', 'regression'].includes(o.task)) throw usage(`task must be binary, multiclass or regression (got ${String(o.task)})`);
    if (o.task === 'multiclass' && !(Number.isInteger(o.numClass) && o.numClass! >= 2)) throw usage('a multiclass monitor needs numClass >= 2');
    if (!Number.isInteger(o.windowSize) || o.windowSize < 1) throw usage(`windowSize must be a positive integer (got ${o.windowSize})`);
    if (o.windowMs !== undefined && o.windowMs !== null && !(o.windowMs > 0)) throw usage(`windowMs must be positive (got ${o.windowMs})`);
    for (const k of ['maxPerformanceDrop', 'maxEce', 'maxDriftShare'] as const) if (!(o[k] >= 0 && o[k] <= 1)) throw usage(`${k} must be in [0, 1] (got ${o[k]})`);
    this.opts = o;
    this.reference = o.reference;
    if (o.referencePredictions) {
      if (!(o.reference instanceof ColumnBatch)) throw usage('referencePredictions needs the reference as a ColumnBatch');
      if (o.referencePredictions.length !== o.reference.numRows) throw usage(`${o.reference.numRows} reference rows but ${o.referencePredictions.length} reference predictions`);
      const values = Float64Array.from(o.referencePredictions);
      this.reference = new ColumnBatch([...o.reference.columns, { name: PREDICTION_COLUMN, type: 'float64', values, validity: null, nullCount: 0 }], o.reference.numRows);
    }
  }

  /** Rows in the window now. */
  get windowRows(): number {
    return this.chunks.reduce((n, c) => n + c.predictions.length / this.width, 0);
  }

  private get width(): number {
    return this.opts.task === 'multiclass' ? this.opts.numClass! : 1;
  }

  /** Adds served rows to the window (dropping the oldest beyond windowSize / windowMs). */
  updatePredictions(update: PredictionUpdate): void {
    if (!update || update.features === undefined || update.predictions === undefined) throw usage('updatePredictions needs { features, predictions }');
    const features = update.features instanceof ColumnBatch ? update.features : rowsToBatch(update.features);
    const n = features.numRows;
    if (update.predictions.length !== n * this.width) throw usage(`${n} feature rows but ${update.predictions.length} predictions${this.width > 1 ? ` (expected rows × ${this.width})` : ''}`);
    const predictions = Float64Array.from(update.predictions);
    for (let i = 0; i < predictions.length; i++) if (!Number.isFinite(predictions[i])) throw usage(`prediction ${i} is not a finite number`);
    const labels = new Float64Array(n).fill(Number.NaN);
    if (update.labels) {
      if (update.labels.length !== n) throw usage(`${n} rows but ${update.labels.length} labels`);
      for (let i = 0; i < n; i++) {
        const y = update.labels[i]!;
        if (this.opts.task !== 'regression' && Number.isFinite(y) && !(Number.isInteger(y) && y >= 0 && y < (this.opts.task === 'binary' ? 2 : this.width))) throw usage(`label ${i} is ${y}, not a class index`);
        labels[i] = y;
      }
    }
    const times = new Float64Array(n);
    const ts = update.timestamp;
    if (Array.isArray(ts)) {
      if (ts.length !== n) throw usage(`${n} rows but ${ts.length} timestamps`);
      for (let i = 0; i < n; i++) times[i] = toMs(ts[i]!, `timestamp ${i}`);
    } else times.fill(ts === undefined ? Date.now() : toMs(ts as number | string | Date, 'timestamp'));
    let disagreement: Float64Array | null = null;
    if (update.disagreement) {
      if (update.disagreement.length !== n) throw usage(`${n} rows but ${update.disagreement.length} disagreement values`);
      disagreement = Float64Array.from(update.disagreement);
    }
    if (this.chunks.length > 0) {
      const names = this.chunks[0]!.features.names.join('\u0000');
      if (features.names.join('\u0000') !== names) throw usage(`the features changed: [${features.names.join(', ')}], the window has [${this.chunks[0]!.features.names.join(', ')}]`);
    }
    this.chunks.push({ features, predictions, labels, times, disagreement });
    this.trim();
  }

  private trim(): void {
    let newest = -Infinity;
    for (const c of this.chunks) for (let i = 0; i < c.times.length; i++) newest = Math.max(newest, c.times[i]!);
    const cutoff = this.opts.windowMs ? newest - this.opts.windowMs : -Infinity;
    let keep = this.opts.windowSize;
    const kept: WindowChunk[] = [];
    for (let k = this.chunks.length - 1; k >= 0 && keep > 0; k--) {
      const c = this.chunks[k]!;
      const n = c.times.length;
      const rows: number[] = [];
      for (let i = n - 1; i >= 0 && rows.length < keep; i--) if (c.times[i]! >= cutoff) rows.push(i);
      if (rows.length === 0) continue;
      rows.reverse();
      keep -= rows.length;
      if (rows.length === n) kept.push(c);
      else {
        const idx = Int32Array.from(rows);
        const w = this.width;
        kept.push({
          features: takeRows(c.features, idx),
          predictions: Float64Array.from({ length: rows.length * w }, (_, j) => c.predictions[rows[Math.floor(j / w)]! * w + (j % w)]!),
          labels: Float64Array.from(rows, (i) => c.labels[i]!),
          times: Float64Array.from(rows, (i) => c.times[i]!),
          disagreement: c.disagreement ? Float64Array.from(rows, (i) => c.disagreement![i]!) : null,
        });
      }
    }
    this.chunks = kept.reverse();
  }

  /** Performance, drift, calibration and recommendations over the current window. */
  async checkHealth(): Promise<HealthReport> {
    const rows = this.windowRows;
    if (rows === 0) throw new KilnError('E_USAGE', 'ModelMonitor.checkHealth: the window is empty; call updatePredictions first');
    const w = this.width;
    const features = concatBatches(this.chunks.map((c) => c.features));
    const predictions = new Float64Array(rows * w);
    const labels = new Float64Array(rows);
    const times: number[] = [];
    let at = 0;
    const disagreements: number[] = [];
    for (const c of this.chunks) {
      predictions.set(c.predictions, at * w);
      labels.set(c.labels, at);
      for (const t of c.times) times.push(t);
      if (c.disagreement) for (const d of c.disagreement) disagreements.push(d);
      at += c.labels.length;
    }
    const recommendations: string[] = [];

    // Drift of the features (and of the prediction when the reference has one) against the reference.
    const topScore = w === 1 ? predictions : Float64Array.from({ length: rows }, (_, i) => Math.max(...predictions.subarray(i * w, (i + 1) * w)));
    const current = new ColumnBatch([...features.columns, { name: PREDICTION_COLUMN, type: 'float64', values: topScore, validity: null, nullCount: 0 }], rows);
    const withPrediction = this.reference instanceof ColumnBatch && this.reference.has(PREDICTION_COLUMN);
    const report: DriftReport = await detectFeatureDrift(this.reference, withPrediction ? current : current.select(features.names), {
      ...(this.opts.drift ?? {}),
      features: features.names,
      ...(withPrediction ? { prediction: PREDICTION_COLUMN } : {}),
    });
    const driftFeatures = report.features.filter((f) => f.role === 'feature').map((f) => {
      const method = f.psi ? 'psi' : f.chi2 ? 'chi2' : 'ks';
      const score = f.psi ? f.psi.value : f.chi2 ? f.chi2.cramersV : (f.ks?.statistic ?? 0);
      const p = f.psi ?? f.chi2 ?? f.ks;
      return { name: f.name, score, method: method as 'psi' | 'chi2' | 'ks', drifted: f.drifted, pAdjusted: p ? p.pAdjusted : null };
    });
    const share = driftFeatures.length ? driftFeatures.filter((f) => f.drifted).length / driftFeatures.length : 0;
    const driftStatus: HealthStatus = share >= this.opts.maxDriftShare ? 'critical' : share > 0 ? 'warning' : 'healthy';
    const drifted = driftFeatures.filter((f) => f.drifted).map((f) => f.name);
    if (report.summary.predictionDrift) recommendations.push('the distribution of predictions moved: check the drifted features and the label balance of recent outcomes');
    if (drifted.length > 0) recommendations.push(`investigate drifted feature${drifted.length > 1 ? 's' : ''} ${drifted.slice(0, 5).join(', ')}${drifted.length > 5 ? ` (+${drifted.length - 5})` : ''}: compare their sources with the training data`);

    // Performance and calibration on the labelled rows.
    const labelled: number[] = [];
    for (let i = 0; i < rows; i++) if (Number.isFinite(labels[i])) labelled.push(i);
    let performance: HealthReport['performance'] = null;
    let calibration: HealthReport['calibration'] = null;
    if (labelled.length < this.opts.minLabelled) {
      recommendations.push(`only ${labelled.length} labelled rows in the window (${this.opts.minLabelled} needed): feed outcomes back (kiln feedback merge) to judge performance`);
    } else {
      const y = Float64Array.from(labelled, (i) => labels[i]!);
      const p = Float64Array.from({ length: labelled.length * w }, (_, j) => predictions[labelled[Math.floor(j / w)]! * w + (j % w)]!);
      const baseline = this.opts.baselinePerformance ?? null;
      if (this.opts.task === 'regression') {
        const m = regressionMetrics(y, p);
        const drop = baseline !== null && baseline > 0 ? (m.rmse - baseline) / baseline : null;
        const status: HealthStatus = drop === null ? 'healthy' : drop > 2 * this.opts.maxPerformanceDrop ? 'critical' : drop > this.opts.maxPerformanceDrop ? 'warning' : 'healthy';
        performance = { status, metric: 'rmse', value: m.rmse, baseline, relativeDrop: drop, accuracy: null, rocAuc: null, rows: labelled.length };
      } else {
        const m = classificationMetrics(y, p, w === 1 ? { threshold: this.opts.threshold } : {});
        const value = w === 1 ? m.f1 : m.macro.f1;
        const drop = baseline !== null && baseline > 0 ? (baseline - value) / baseline : null;
        const status: HealthStatus = drop === null ? 'healthy' : drop > 2 * this.opts.maxPerformanceDrop ? 'critical' : drop > this.opts.maxPerformanceDrop ? 'warning' : 'healthy';
        performance = { status, metric: 'f1', value, baseline, relativeDrop: drop, accuracy: m.accuracy, rocAuc: m.rocAuc, rows: labelled.length };
        const ece = expectedCalibrationError(y, p);
        calibration = { status: ece > this.opts.maxEce ? 'warning' : 'healthy', brier: brier(y, p), ece, rows: labelled.length };
        if (calibration.status !== 'healthy') recommendations.push(`calibration error ${ece.toFixed(3)} is above ${this.opts.maxEce}: refit the calibrator on recent labelled rows`);
      }
      if (performance.status !== 'healthy') {
        recommendations.push(`${performance.metric} ${performance.value!.toFixed(4)} is ${(Math.abs(performance.relativeDrop!) * 100).toFixed(1)} % worse than the baseline ${baseline!.toFixed(4)}: retrain on recent data`);
      }
    }
    const ensembleDisagreement = disagreements.length === rows ? stableSum(disagreements) / rows : null;
    const requiresRetraining = performance?.status === 'critical' || (driftStatus === 'critical' && (performance === null || performance.status !== 'healthy'));
    if (requiresRetraining) recommendations.unshift('retrain: kiln train on recent labelled data (kiln feedback merge builds it), then kiln bench against the current model');
    const overall = worst(driftStatus, performance?.status ?? 'healthy', calibration?.status ?? 'healthy');
    if (overall === 'healthy') recommendations.push('no action needed');
    const sortedTimes = times.length ? [Math.min(...times), Math.max(...times)] : null;
    const out: HealthReport = {
      kind: 'kiln.health-report',
      version: 1,
      createdAt: new Date().toISOString(),
      kilnVersion: KILN_VERSION,
      window: { rows, labelled: labelled.length, from: sortedTimes ? new Date(sortedTimes[0]!).toISOString() : null, to: sortedTimes ? new Date(sortedTimes[1]!).toISOString() : null },
      overall,
      performance,
      drift: { status: driftStatus, drifted: report.drifted, share, predictionDrift: report.summary.predictionDrift, features: driftFeatures },
      calibration,
      ensembleDisagreement,
      recommendations,
      requiresRetraining,
    };
    assertValid('builtin:health-report', out, 'health report');
    this.lastReport = out;
    return out;
  }

  /** Prometheus text exposition of a report (the last checkHealth's by default). */
  prometheus(report: HealthReport | null = this.lastReport): string {
    if (!report) throw new KilnError('E_USAGE', 'ModelMonitor.prometheus: no health report yet; call checkHealth first');
    return prometheusText(report);
  }

  /** Checks health and writes the report: .json, .html, or .prom (Prometheus text), atomically. */
  async generateReport(file: string): Promise<HealthReport> {
    const report = await this.checkHealth();
    await writeHealthReport(report, file);
    return report;
  }
}

function promLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function promNumber(v: number | null): string {
  return v === null || Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v);
}

/** The Prometheus gauges of a health report. */
export function prometheusText(report: HealthReport): string {
  const lines = [
    '# HELP kiln_model_drift_score Drift effect size of each feature in the window against the reference (PSI over reference-quantile bins or categories).',
    '# TYPE kiln_model_drift_score gauge',
    ...report.drift.features.map((f) => `kiln_model_drift_score{feature="${promLabel(f.name)}"} ${promNumber(f.score)}`),
    '# HELP kiln_model_performance_score F1 (classification) or RMSE (regression) on the labelled rows of the window; NaN without enough labels.',
    '# TYPE kiln_model_performance_score gauge',
    `kiln_model_performance_score ${promNumber(report.performance?.value ?? null)}`,
    '# HELP kiln_model_calibration_error Expected calibration error on the labelled rows of the window.',
    '# TYPE kiln_model_calibration_error gauge',
    `kiln_model_calibration_error ${promNumber(report.calibration?.ece ?? null)}`,
    '# HELP kiln_ensemble_disagreement Mean standard deviation of the ensemble members\' probabilities in the window.',
    '# TYPE kiln_ensemble_disagreement gauge',
    `kiln_ensemble_disagreement ${promNumber(report.ensembleDisagreement)}`,
  ];
  return lines.join('\n') + '\n';
}

/** A self-contained HTML page of a health report. */
export function healthHtml(report: HealthReport): string {
  const badge = (s: HealthStatus): string => `<span class="${s}">${s}</span>`;
  const rows = report.drift.features
    .map((f) => `<tr><td>${escapeHtml(f.name)}</td><td>${f.method}</td><td>${f.score.toFixed(4)}</td><td>${f.pAdjusted === null ? '–' : f.pAdjusted.toExponential(2)}</td><td>${f.drifted ? '<b>drifted</b>' : 'ok'}</td></tr>`)
    .join('\n');
  const perf = report.performance
    ? `<p>${report.performance.metric} ${report.performance.value === null ? '–' : report.performance.value.toFixed(4)} on ${report.performance.rows} labelled rows${report.performance.baseline !== null ? `, baseline ${report.performance.baseline.toFixed(4)}` : ''} ${badge(report.performance.status)}</p>`
    : '<p>not enough labelled rows</p>';
  const cal = report.calibration ? `<p>Brier ${report.calibration.brier.toFixed(4)}, ECE ${report.calibration.ece.toFixed(4)} ${badge(report.calibration.status)}</p>` : '<p>–</p>';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kiln model health</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:.3em .8em;text-align:left}.healthy{color:#176b2c}.warning{color:#8a5a00}.critical{color:#a11}</style>
</head><body>
<h1>Model health: ${badge(report.overall)}</h1>
<p>Window: ${report.window.rows} rows (${report.window.labelled} labelled), ${escapeHtml(report.window.from ?? '')} – ${escapeHtml(report.window.to ?? '')}. ${report.requiresRetraining ? '<b>Retraining required.</b>' : ''}</p>
<h2>Recommendations</h2><ul>${report.recommendations.map((r) => `<li>${escapeHtml(r)}</li>`).join('')}</ul>
<h2>Performance</h2>${perf}
<h2>Calibration</h2>${cal}
<h2>Drift ${badge(report.drift.status)}</h2><p>${(report.drift.share * 100).toFixed(1)} % of features drifted.</p>
<table><tr><th>feature</th><th>method</th><th>score</th><th>p (BH)</th><th></th></tr>
${rows}
</table>
<p>kiln ${escapeHtml(report.kilnVersion)}, ${escapeHtml(report.createdAt)}</p>
</body></html>
`;
}

/** Writes a health report by extension: .json, .html or .prom / .txt (Prometheus text). */
export async function writeHealthReport(report: HealthReport, file: string): Promise<void> {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.json') await writeFileAtomic(file, JSON.stringify(report, null, 2) + '\n');
  else if (ext === '.html' || ext === '.htm') await writeFileAtomic(file, healthHtml(report));
  else if (ext === '.prom' || ext === '.txt') await writeFileAtomic(file, prometheusText(report));
  else throw new KilnError('E_USAGE', `health report ${file}: use .json, .html or .prom`, { file });
}
