/**
 * Batch scoring: a file streamed from DuckDB through a saved model, batch by batch (memory bounded
 * by the batch size), into an output file written atomically. Probabilities are calibrated when the
 * model carries a calibrator; labels use the model's stored threshold and class names.
 */
import path from 'node:path';

import { KilnError } from '../../bindings/errors.js';
import { ColumnBatch, columnFromValues, type Column } from '../batch/column-batch.js';
import { writeBatches, type SinkResult } from '../io/sinks.js';
import type { ReadOptions } from '../io/formats.js';
import { scanFile } from '../io/scan.js';
import { sha256File } from '../lineage/hash.js';
import { loadModel, type KilnModel } from '../models/load.js';
import { resolveRegistryRef } from '../registry/registry.js';

import { PredictionLog, featureHash, type PredictionLogOptions } from './prediction-log.js';

/** Options of scoreFile. */
export interface ScoreFileOptions extends ReadOptions {
  /** Add the predicted label (class name when the model has class names, else the class index). */
  labels?: boolean;
  /** Columns of the input copied into the output first (e.g. an id). */
  keep?: string[];
  /** Score at most this many rows (streamed). */
  rowLimit?: number;
  /** Rows per batch (default 65,536). */
  batchSize?: number;
  /** Called after each batch with the rows scored so far. */
  onProgress?: (rows: number) => void;
  signal?: AbortSignal;
  /** Log every prediction to a rotating prediction log in this folder (for `kiln feedback merge`). */
  logDir?: string;
  /** Column whose value is each row's id in the log (default: <data file name>:<row number>). */
  idColumn?: string;
  /** Rotation of the prediction log. */
  logOptions?: PredictionLogOptions;
}

/** What scoreFile wrote. */
export interface ScoreFileResult extends SinkResult {
  model: string;
  task: 'binary' | 'multiclass' | 'regression';
  columns: string[];
  calibrated: boolean;
  threshold: number | null;
  /** Predictions written to the log (0 without logDir). */
  logged: number;
}

type Task = ScoreFileResult['task'];

interface ScoringModel {
  featureNames: string[];
  classes: string[] | null;
  calibration: unknown;
  threshold: { value: number; appliesTo: 'calibrated' | 'uncalibrated' } | null;
  predict(X: ColumnBatch): Promise<Float64Array>;
  predictLabels(X: ColumnBatch): Promise<Int32Array>;
  toJSON(): unknown;
}

function taskOf(model: KilnModel): { task: Task; numClass: number } {
  const o = (model.toJSON() as unknown as { objective: { name: string; numClass: number } }).objective;
  if (o.name === 'binary') return { task: 'binary', numClass: 2 };
  if (o.name === 'multiclass') return { task: 'multiclass', numClass: o.numClass };
  return { task: 'regression', numClass: 1 };
}

/** Scores `dataFile` with the model at `modelRef` (a file or registry:<name>[@N]) into `outFile` (CSV, NDJSON or Parquet by extension). */
export async function scoreFile(modelRef: string, dataFile: string, outFile: string, opts: ScoreFileOptions = {}): Promise<ScoreFileResult> {
  const model = (await loadModel(modelRef)) as unknown as ScoringModel;
  const { task, numClass } = taskOf(model as unknown as KilnModel);
  if (opts.labels && task === 'regression') throw new KilnError('E_USAGE', `--labels needs a classification model; ${modelRef} is a regression model`);
  const features = model.featureNames;
  const keep = opts.keep ?? [];
  const clash = keep.find((k) => /^(p_|prediction$|label$)/.test(k));
  if (clash) throw new KilnError('E_USAGE', `--keep column "${clash}" would collide with an output column (p_*, prediction, label)`);
  const classes = task === 'regression' ? null : (model.classes ?? Array.from({ length: numClass }, (_, k) => String(k)));
  const probColumns = task === 'regression' ? ['prediction'] : task === 'binary' ? [`p_${classes![1]}`] : classes!.map((c) => `p_${c}`);
  const columns = [...keep, ...probColumns, ...(opts.labels ? ['label'] : [])];
  const read: ReadOptions = {
    ...(opts.delimiter !== undefined ? { delimiter: opts.delimiter } : {}),
    ...(opts.header !== undefined ? { header: opts.header } : {}),
    ...(opts.skip !== undefined ? { skip: opts.skip } : {}),
    ...(opts.nullStrings !== undefined ? { nullStrings: opts.nullStrings } : {}),
    ...(opts.format !== undefined ? { format: opts.format } : {}),
  };
  const log = opts.logDir !== undefined ? new PredictionLog(opts.logDir, opts.logOptions) : null;
  const modelVersion = log ? await sha256File(modelRef.startsWith('registry:') ? resolveRegistryRef(modelRef).path : modelRef) : '';
  const rowName = path.basename(dataFile);
  /** Each row's log id: the id column's value, else <data file name>:<row number>. */
  const rowIds = (batch: ColumnBatch, before: number): string[] => {
    if (opts.idColumn === undefined) return Array.from({ length: batch.numRows }, (_, i) => `${rowName}:${before + i + 1}`);
    const c = batch.column(opts.idColumn);
    return Array.from({ length: batch.numRows }, (_, i) => {
      const v = batch.value(c, i);
      if (v === null) throw new KilnError('E_SCHEMA', `id column "${opts.idColumn}" is missing at row ${before + i + 1} of ${dataFile}`, { file: dataFile, column: opts.idColumn, row: before + i + 1 });
      return String(v);
    });
  };
  // Labels come from the probabilities already computed, unless the threshold compares uncalibrated ones.
  const reuseOutputs = !(model.threshold?.appliesTo === 'uncalibrated' && model.calibration);
  const cut = model.threshold?.value ?? 0.5;
  const labelsOf = (p: Float64Array, n: number): Int32Array => {
    if (task === 'binary') return Int32Array.from(p, (v) => (v >= cut ? 1 : 0));
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let c = 1; c < numClass; c++) if (p[i * numClass + c]! > p[i * numClass + best]!) best = c;
      out[i] = best;
    }
    return out;
  };
  let scored = 0;
  async function* outputs(): AsyncGenerator<ColumnBatch> {
    for await (const batch of scanFile(dataFile, { ...read, batchSize: opts.batchSize ?? 65_536, ...(opts.rowLimit ? { limit: opts.rowLimit } : {}) })) {
      if (opts.signal?.aborted) throw new KilnError('E_CANCELLED', 'scoring was cancelled');
      for (const f of [...features, ...keep, ...(opts.idColumn !== undefined ? [opts.idColumn] : [])]) {
        if (!batch.has(f)) throw new KilnError('E_SCHEMA', `column "${f}" ${features.includes(f) ? 'that the model needs ' : ''}is not in ${dataFile} (columns: ${batch.names.join(', ')})`, { file: dataFile, column: f });
      }
      const X = batch.select(features);
      const p = await model.predict(X);
      const n = batch.numRows;
      const cols: Column[] = keep.map((k) => ({ ...batch.column(k) }));
      if (task === 'multiclass') {
        for (let c = 0; c < numClass; c++) {
          const v = new Float64Array(n);
          for (let i = 0; i < n; i++) v[i] = p[i * numClass + c]!;
          cols.push({ name: probColumns[c]!, type: 'float64', values: v, validity: null, nullCount: 0 } as Column);
        }
      } else cols.push({ name: probColumns[0]!, type: 'float64', values: p, validity: null, nullCount: 0 } as Column);
      const labelNames = opts.labels ? Array.from(reuseOutputs ? labelsOf(p, n) : await model.predictLabels(X), (k) => classes![k]!) : null;
      if (labelNames) cols.push(columnFromValues('label', 'utf8', labelNames));
      const ids = log ? rowIds(batch, scored) : null;
      yield new ColumnBatch(cols, n);
      // Logged once the sink has taken the batch.
      if (log) {
        const featureCols = features.map((f) => X.column(f));
        const time = new Date().toISOString();
        for (let i = 0; i < n; i++) {
          log.write({
            id: ids![i]!,
            model: modelRef,
            modelVersion,
            featureHash: featureHash(featureCols.map((c) => X.value(c, i) as number | string | boolean | bigint | null)),
            output: task === 'multiclass' ? Array.from(p.subarray(i * numClass, (i + 1) * numClass)) : p[i]!,
            label: labelNames ? labelNames[i]! : null,
            time,
          });
        }
      }
      scored += n;
      opts.onProgress?.(scored);
    }
  }
  let res: SinkResult;
  try {
    res = await writeBatches(outputs(), outFile);
  } finally {
    log?.close();
  }
  return {
    ...res,
    model: modelRef,
    task,
    columns,
    calibrated: model.calibration !== null && model.calibration !== undefined,
    threshold: task === 'binary' ? (model.threshold?.value ?? 0.5) : null,
    logged: log ? log.written : 0,
  };
}
