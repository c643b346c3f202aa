/**
 * `kiln monitor`: the health of a saved model on a window of recent rows. The reference features,
 * read options and baseline performance come from the model's training run when it can be found
 * (the experiment folder of model.json, or the registry entry's source), or from the caller.
 */
import fs from 'node:fs';
import path from 'node:path';

import { KilnError } from '../../bindings/errors.js';
import type { ColumnBatch } from '../batch/column-batch.js';
import { concatBatches } from '../batch/ops.js';
import type { ReadOptions } from '../io/formats.js';
import { scanFile } from '../io/scan.js';
import { StackingClassifier } from '../models/ensemble.js';
import { loadModel } from '../models/load.js';
import { resolveRegistryRef } from '../registry/registry.js';

import { ModelMonitor, writeHealthReport, type HealthReport, type ModelMonitorOptions } from './health.js';

/** What `kiln monitor` checks. */
export interface MonitorRunOptions {
  /** Model file or registry:<name>[@N]. */
  model: string;
  /** The window: recent rows with the model's feature columns. */
  data: string;
  /** Label column of the window (class names when the model has them, else indices or values). */
  labels?: string;
  /** Time column of the window (default: every row now). */
  time?: string;
  /** Training features to compare with (default: the training data of the model's run). */
  reference?: string;
  /** Expected F1 (RMSE for regression); default: the run's test (else validation) metric. */
  baseline?: number;
  /** Rows of the window kept (default: all rows of --data, up to 1,000,000). */
  windowSize?: number;
  read?: ReadOptions;
  monitor?: Partial<Pick<ModelMonitorOptions, 'maxPerformanceDrop' | 'maxEce' | 'maxDriftShare' | 'minLabelled' | 'drift'>>;
  /** Report files to write (.json, .html, .prom). */
  outputs?: string[];
  log?: (line: string) => void;
}

interface RunInfo {
  trainFile: string | null;
  read: ReadOptions;
  baseline: number | null;
}

interface ScoringModel {
  featureNames: string[];
  classes: string[] | null;
  threshold: { value: number } | null;
  predict(X: ColumnBatch): Promise<Float64Array>;
  toJSON(): unknown;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

/** The training data, read options and test metric of the run a model file came from, when recorded. */
function runInfoFor(modelRef: string, task: string): RunInfo {
  const file = modelRef.startsWith('registry:') ? resolveRegistryRef(modelRef).version.source : modelRef;
  const dir = path.dirname(path.resolve(file));
  const data = readJson(path.join(dir, 'artifacts', 'data.json')) as { sources?: Array<{ role: string; path: string }> } | null;
  const config = readJson(path.join(dir, 'artifacts', 'config.json')) as { resolved?: { data?: { nullStrings?: string[]; delimiter?: string | null } } } | null;
  const metrics = readJson(path.join(dir, 'metrics.json')) as { metrics?: Record<string, Record<string, number>> } | null;
  const d = config?.resolved?.data;
  const read: ReadOptions = { ...(d?.nullStrings ? { nullStrings: d.nullStrings } : {}), ...(d?.delimiter ? { delimiter: d.delimiter } : {}) };
  const metric = task === 'regression' ? 'rmse' : 'f1';
  const m = metrics?.metrics?.test ?? metrics?.metrics?.valid;
  return { trainFile: data?.sources?.find((s) => s.role === 'train')?.path ?? null, read, baseline: m && Number.isFinite(m[metric]) ? m[metric]! : null };
}

async function readColumns(file: string, columns: string[], read: ReadOptions, limit?: number): Promise<ColumnBatch> {
  const batches: ColumnBatch[] = [];
  for await (const b of scanFile(file, { ...read, ...(limit ? { limit } : {}) })) {
    for (const c of columns) if (!b.has(c)) throw new KilnError('E_SCHEMA', `column "${c}" is not in ${file} (columns: ${b.names.join(', ')})`, { file, column: c });
    batches.push(b.select(columns));
  }
  if (batches.length === 0) throw new KilnError('E_SCHEMA', `${file} has no rows`, { file });
  return concatBatches(batches);
}

/** Checks a model's health on a window file and writes the reports; returns the report. */
export async function monitorModel(opts: MonitorRunOptions): Promise<HealthReport> {
  const log = opts.log ?? (() => {});
  const model = (await loadModel(opts.model)) as unknown as ScoringModel;
  const objective = (model.toJSON() as { objective: { name: string; numClass: number } }).objective;
  const task = objective.name === 'binary' ? 'binary' : objective.name === 'multiclass' ? 'multiclass' : 'regression';
  const info = runInfoFor(opts.model, task);
  const read = { ...info.read, ...(opts.read ?? {}) };
  const referenceFile = opts.reference ?? info.trainFile;
  if (!referenceFile) throw new KilnError('E_USAGE', `no --reference given and ${opts.model} has no recorded training data (artifacts/data.json beside it); pass --reference <training features file>`);
  const features = model.featureNames;
  log(`reference ${referenceFile}`);
  const reference = await readColumns(referenceFile, features, read);
  const refPred = await model.predict(reference);
  const w = task === 'multiclass' ? objective.numClass : 1;
  const topOf = (p: Float64Array, rows: number): Float64Array => (w === 1 ? p : Float64Array.from({ length: rows }, (_, i) => Math.max(...p.subarray(i * w, (i + 1) * w))));

  log(`window ${opts.data}`);
  const extra = [...(opts.labels ? [opts.labels] : []), ...(opts.time ? [opts.time] : [])];
  const window = await readColumns(opts.data, [...features, ...extra.filter((c) => !features.includes(c))], { ...read, ...(opts.labels ? { textColumns: [opts.labels] } : {}) }, opts.windowSize ?? 1_000_000);
  const X = window.select(features);
  const predictions = await model.predict(X);
  let labels: Float64Array | null = null;
  if (opts.labels) {
    const c = window.column(opts.labels);
    const index = model.classes ? new Map(model.classes.map((k, i) => [k, i])) : null;
    labels = Float64Array.from({ length: window.numRows }, (_, i) => {
      const v = window.value(c, i);
      if (v === null || v === '') return Number.NaN;
      const text = String(v).trim();
      if (index) {
        const k = index.get(text) ?? index.get(text.replace(/\.$/, ''));
        if (k === undefined) throw new KilnError('E_SCHEMA', `label "${text}" at row ${i + 1} of ${opts.data} is not a class of the model (${model.classes!.join(', ')})`, { file: opts.data, column: opts.labels, row: i + 1 });
        return k;
      }
      const n = Number(text);
      if (!Number.isFinite(n)) throw new KilnError('E_SCHEMA', `label "${text}" at row ${i + 1} of ${opts.data} is not a number and the model has no class names`, { file: opts.data, column: opts.labels, row: i + 1 });
      return n;
    });
  }
  let timestamps: number[] | undefined;
  if (opts.time) {
    const c = window.column(opts.time);
    timestamps = Array.from({ length: window.numRows }, (_, i) => {
      const v = window.value(c, i);
      const ms = v === null ? Number.NaN : c.type === 'date32' ? Number(v) * 86_400_000 : c.type === 'timestamp_us' ? Number(v) / 1000 : c.type === 'utf8' ? Date.parse(String(v)) : Number(v);
      if (!Number.isFinite(ms)) throw new KilnError('E_SCHEMA', `time "${String(v)}" at row ${i + 1} of ${opts.data} is not a time`, { file: opts.data, column: opts.time, row: i + 1 });
      return ms;
    });
  }
  const disagreement = model instanceof StackingClassifier ? (await model.predictWithUncertainty(X)).disagreement : null;
  const monitor = new ModelMonitor({
    reference,
    referencePredictions: topOf(refPred, reference.numRows),
    task,
    ...(task === 'multiclass' ? { numClass: w } : {}),
    threshold: model.threshold?.value ?? 0.5,
    windowSize: window.numRows,
    baselinePerformance: opts.baseline ?? info.baseline,
    ...(opts.monitor ?? {}),
  });
  monitor.updatePredictions({ features: X, predictions, labels, ...(timestamps ? { timestamp: timestamps } : {}), disagreement });
  const report = await monitor.checkHealth();
  for (const out of opts.outputs ?? []) {
    await writeHealthReport(report, out);
    log(`wrote ${out}`);
  }
  return report;
}
