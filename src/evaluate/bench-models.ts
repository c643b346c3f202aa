/**
 * `kiln bench`: every model of a folder or registry name measured on one validation set (quality
 * metrics with the model's own classes and stored threshold, single-row predictSync latency after
 * warm-up, batch throughput), compared with a previous report, recorded in the run store and
 * written as a validated report (atomically) with a receipt. A model that cannot be loaded or
 * scored is a failed benchmark, not a crash.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { isKilnError, KilnError } from '../../bindings/errors.js';
import { nativeInfo } from '../../bindings/index.js';
import type { ColumnBatch } from '../batch/column-batch.js';
import { concatBatches, takeRows } from '../batch/ops.js';
import { writeFileAtomic } from '../io/atomic.js';
import { sourceSql, type ReadOptions } from '../io/formats.js';
import { scanQuery } from '../io/scan.js';
import { sha256File } from '../lineage/hash.js';
import { RunReceipt, writeReceipt } from '../lineage/receipt.js';
import { loadModel, type KilnModel } from '../models/load.js';
import { prepareInput, rawValue } from '../models/matrix.js';
import { defaultRegistryDir, listVersions } from '../registry/registry.js';
import { dropUnlabeled, symbolFilterSql } from '../train/data.js';
import { defaultRunStore, recordBenchmark, type BenchmarkRecord } from '../train/store.js';
import { KILN_VERSION } from '../version.js';

import {
  assertValidBenchReport,
  buildBenchReport,
  readBenchReport,
  type BenchReport,
  type BenchTargets,
  type BenchmarkEntry,
  type RegressionThresholds,
  type ValidationDataInfo,
} from './bench-report.js';
import { median, quantile } from './bench-stats.js';
import { accuracy, brier, confusionMatrix, logLoss, precisionRecallF1, rocAuc } from './metrics.js';

/** A model to benchmark: a stable name, what loadModel gets, and its file. */
export interface BenchModelRef {
  name: string;
  ref: string;
  path: string;
}

const SKIP_DIRS = new Set(['node_modules', '.git']);

function walk(dir: string, depth: number, out: string[]): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    throw new KilnError('E_IO', `cannot read the models folder ${dir}: ${(err as Error).message}`, { file: dir });
  }
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (depth > 0 && !SKIP_DIRS.has(e.name) && !e.name.startsWith('.')) walk(p, depth - 1, out);
    } else if (e.isFile() && e.name.endsWith('.json') && !e.name.startsWith('.')) out.push(p);
  }
}

/**
 * The models `--models` names: `registry:<name>` (every version, oldest first) or
 * `registry:<name>@<N>` (one); a folder: every model.json under it (experiment folders), else
 * every *.json file in it; a single model file. Throws E_USAGE / E_IO when there is nothing to benchmark.
 */
export function resolveBenchModels(spec: string, registryDir = defaultRegistryDir()): BenchModelRef[] {
  if (spec.startsWith('registry:')) {
    const m = /^registry:([^@]+)(?:@(\d+))?$/.exec(spec);
    if (!m) throw new KilnError('E_USAGE', `--models ${spec}: expected registry:<name> or registry:<name>@<version>`);
    const name = m[1]!;
    let versions = listVersions(name, registryDir);
    if (versions.length === 0) throw new KilnError('E_USAGE', `--models ${spec}: no model "${name}" in the registry ${registryDir}`);
    if (m[2] !== undefined) {
      versions = versions.filter((v) => v.version === Number(m[2]));
      if (versions.length === 0) throw new KilnError('E_USAGE', `--models ${spec}: "${name}" has no version ${m[2]}`);
    }
    return versions.map((v) => ({ name: `${name}@${v.version}`, ref: `registry:${name}@${v.version}`, path: path.join(registryDir, name, `v${v.version}`, 'model.json') }));
  }
  if (!fs.existsSync(spec)) throw new KilnError('E_IO', `--models ${spec}: no such folder or file`, { file: spec });
  if (fs.statSync(spec).isFile()) return [{ name: path.basename(spec).replace(/\.json$/i, ''), ref: spec, path: path.resolve(spec) }];
  const files: string[] = [];
  walk(spec, 4, files);
  const models = files.filter((f) => path.basename(f) === 'model.json');
  const top = path.resolve(spec);
  const chosen = models.length > 0 ? models : files.filter((f) => path.resolve(path.dirname(f)) === top);
  if (chosen.length === 0) throw new KilnError('E_USAGE', `--models ${spec}: no model.json under the folder and no *.json model files in it`);
  return chosen.map((f) => {
    const rel = path.relative(spec, f).split(path.sep).join('/');
    const name = path.basename(f) === 'model.json' ? (path.dirname(rel) === '.' ? 'model' : path.dirname(rel)) : rel.replace(/\.json$/i, '');
    return { name, ref: f, path: path.resolve(f) };
  });
}

/** Options of readValidationData. */
export interface ValidationReadOptions {
  /** Label column (default: label, class, y or target). */
  target?: string;
  /** Only rows of this entity, or pairs based on it (BTC selects BTC/USDT). */
  symbol?: string;
  /** Entity column of --symbol (default symbol). */
  entity?: string;
  nullStrings?: string[];
  delimiter?: string;
  rowLimit?: number;
}

/** The validation rows (labelled only) and what they are. */
export interface ValidationData {
  batch: ColumnBatch;
  target: string;
  info: ValidationDataInfo;
}

const LABEL_CANDIDATES = ['label', 'class', 'y', 'target'];

/** Reads the validation data through DuckDB (symbol filter and row limit pushed into the query); rows without a label are dropped and counted. */
export async function readValidationData(file: string, opts: ValidationReadOptions = {}): Promise<ValidationData> {
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new KilnError('E_IO', `--validation-data ${file}: no such file`, { file });
  const read: ReadOptions = { nullStrings: opts.nullStrings ?? ['?', 'NA', ''], ...(opts.delimiter ? { delimiter: opts.delimiter } : {}) };
  const entity = opts.entity ?? 'symbol';
  let sql = `SELECT * FROM ${sourceSql(file, read)}`;
  if (opts.symbol !== undefined) sql += ` WHERE ${symbolFilterSql(entity, opts.symbol)}`;
  const batches: ColumnBatch[] = [];
  try {
    for await (const b of scanQuery(sql, { batchSize: 262_144, ...(opts.rowLimit ? { limit: opts.rowLimit } : {}), context: { file } })) batches.push(b);
  } catch (err) {
    if (opts.symbol !== undefined && /not found|Referenced column/i.test((err as Error).message)) {
      throw new KilnError('E_SCHEMA', `--symbol needs the entity column "${entity}" in ${file} (set --entity)`, { file });
    }
    throw err;
  }
  if (batches.length === 0) throw new KilnError('E_USAGE', `no rows in ${file}${opts.symbol !== undefined ? ` for ${entity} = ${opts.symbol}` : ''}`, { file });
  const all = concatBatches(batches);
  let target = opts.target;
  if (target === undefined) {
    target = LABEL_CANDIDATES.find((c) => all.has(c));
    if (!target) throw new KilnError('E_USAGE', `no --target given and ${file} has none of the columns ${LABEL_CANDIDATES.join(', ')}; pass --target <column>`, { file });
  } else if (!all.has(target)) {
    throw new KilnError('E_SCHEMA', `target column "${target}" is not in ${file} (columns: ${all.names.join(', ')})`, { file, column: target });
  }
  const { batch, dropped } = dropUnlabeled(all, target, file);
  if (batch.numRows === 0) throw new KilnError('E_USAGE', `every row of ${file} lacks the label "${target}"`, { file });
  return {
    batch,
    target,
    info: { path: path.resolve(file), sha256: await sha256File(file), rows: batch.numRows, dropped_unlabeled: dropped, target, symbol: opts.symbol ?? null },
  };
}

/** The labels of the validation data as the model's class indices: through the model's class names when it has them, else integer labels 0..K-1. */
export function encodeLabelsForModel(batch: ColumnBatch, target: string, classes: string[] | null, numClass: number, file: string): Float64Array {
  const c = batch.column(target);
  const y = new Float64Array(batch.numRows);
  const index = classes ? new Map(classes.map((k, i) => [k, i])) : null;
  for (let i = 0; i < batch.numRows; i++) {
    const v = batch.value(c, i);
    const text = v === null ? null : typeof v === 'string' ? v.trim() : String(v);
    if (text === null) throw new KilnError('E_SCHEMA', `label "${target}" is missing at row ${i + 1} of ${file}`, { file, row: i + 1 });
    let k: number | undefined;
    if (index) {
      k = index.get(text);
      // adult.test writes ">50K." where the training file has ">50K".
      if (k === undefined && text.endsWith('.')) k = index.get(text.slice(0, -1));
      if (k === undefined) throw new KilnError('E_SCHEMA', `label "${text}" at row ${i + 1} of ${file} is not a class of the model (${classes!.slice(0, 10).join(', ')})`, { file, row: i + 1 });
    } else {
      const n = Number(text);
      if (!Number.isInteger(n) || n < 0 || n >= numClass) {
        throw new KilnError('E_SCHEMA', `label "${text}" at row ${i + 1} of ${file} is not a class index 0..${numClass - 1} (the model has no class names)`, { file, row: i + 1 });
      }
      k = n;
    }
    y[i] = k;
  }
  return y;
}

/** What a benchmark needs of a model (every kiln classifier has it). */
interface BenchableModel {
  featureNames: string[];
  classes: string[] | null;
  threshold: { value: number } | null;
  predict(X: ColumnBatch): Promise<Float64Array>;
  predictLabels(X: ColumnBatch): Promise<Int32Array>;
  predictSync(row: ArrayLike<number | string | null>): number | Float64Array;
  toJSON(): unknown;
}

/** Options of benchmarkModel. */
export interface ModelBenchOptions {
  /** predictSync calls before timing (default 200). */
  warmup?: number;
  /** Timed single-row predictSync calls (default 2000). */
  repetitions?: number;
  /** Distinct validation rows the latency loop cycles through (default 256). */
  latencyRows?: number;
  /** Timed batch predicts for throughput (default 3). */
  throughputReps?: number;
  /** Validation data file (for messages). */
  file?: string;
}

function errorOf(err: unknown): { code: string; message: string } {
  if (isKilnError(err)) return { code: err.code, message: err.message };
  return { code: 'E_INTERNAL', message: err instanceof Error ? err.message : String(err) };
}

function failed(ref: BenchModelRef, err: unknown, sha: string | null, started: number): BenchmarkEntry {
  return {
    model: ref.name, ref: ref.ref, path: ref.path, status: 'failed', error: errorOf(err), model_sha256: sha, kind: null, task: null, classes: null, positive_class: null,
    threshold: null, rows: null, f1_score: null, precision: null, recall: null, accuracy: null, auc: null, log_loss: null, brier: null,
    confusion: null, confusion_matrix: null, latency: null, throughput: null, duration_ms: performance.now() - started,
  };
}

/** Times predictSync one call at a time over cycled rows, after warm-up; median, p99 and friends in ms. */
export function measureLatency(predictOne: (i: number) => unknown, rows: number, warmup: number, repetitions: number): BenchmarkEntry['latency'] {
  if (!Number.isInteger(repetitions) || repetitions < 1) throw new KilnError('E_USAGE', `latency repetitions must be an integer >= 1, got ${repetitions}`);
  for (let i = 0; i < warmup; i++) predictOne(i % rows);
  const t = new Float64Array(repetitions);
  let sink = 0;
  for (let i = 0; i < repetitions; i++) {
    const t0 = performance.now();
    const out = predictOne(i % rows);
    t[i] = performance.now() - t0;
    if (typeof out === 'number') sink += out;
  }
  if (Number.isNaN(sink)) sink = 0;
  let sum = 0;
  let min = Infinity;
  let max = 0;
  for (const v of t) {
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { median_ms: median(t), p99_ms: quantile(t, 0.99), mean_ms: sum / repetitions, min_ms: min, max_ms: max, warmup, repetitions, rows };
}

/** Benchmarks one model on the validation data; every failure becomes a failed entry. */
export async function benchmarkModel(ref: BenchModelRef, data: ValidationData, opts: ModelBenchOptions = {}): Promise<BenchmarkEntry> {
  const started = performance.now();
  let sha: string | null = null;
  try {
    sha = fs.existsSync(ref.path) ? await sha256File(ref.path) : null;
    const loaded: KilnModel = await loadModel(ref.ref);
    const model = loaded as unknown as BenchableModel;
    const json = model.toJSON() as { kind: string; objective?: { name: string; numClass: number } };
    const objective = json.objective?.name ?? 'binary';
    if (objective !== 'binary' && objective !== 'multiclass') {
      throw new KilnError('E_USAGE', `${ref.name} is a ${objective} model; kiln bench measures classifiers (F1, precision, recall, AUC)`);
    }
    const numClass = objective === 'binary' ? 2 : json.objective!.numClass;
    const file = opts.file ?? data.info.path;
    const features = model.featureNames;
    for (const f of features) {
      if (!data.batch.has(f)) throw new KilnError('E_SCHEMA', `column "${f}" that ${ref.name} needs is not in ${file}`, { file, column: f });
    }
    const classes = model.classes;
    const y = encodeLabelsForModel(data.batch, data.target, classes, numClass, file);
    const X = data.batch.select(features);
    const probs = await model.predict(X);
    const pred = await model.predictLabels(X);
    const labels = Array.from({ length: numClass }, (_, k) => k);
    const binary = numClass === 2;
    const main = binary ? precisionRecallF1(y, pred, { average: 'binary' }) : precisionRecallF1(y, pred, { average: 'macro', labels });
    const present = new Set(y);
    const auc = present.size === numClass ? rocAuc(y, probs) : null;
    const cm = confusionMatrix(y, pred, { labels }).matrix;
    const confusion = binary ? { tp: cm[1]![1]!, fp: cm[0]![1]!, tn: cm[0]![0]!, fn: cm[1]![0]! } : null;

    // Single-row latency: rows as predictSync takes them (raw categories for trees, numbers with NaN for linear / MLP).
    const nLat = Math.max(1, Math.min(opts.latencyRows ?? 256, X.numRows));
    const prepared = prepareInput(takeRows(X, Int32Array.from({ length: nLat }, (_, i) => i)), 'X', features);
    const numericOnly = json.kind === 'linear' || json.kind === 'mlp';
    const rows: Array<ArrayLike<number | string | null>> = [];
    for (let r = 0; r < prepared.rows; r++) {
      const row = features.map((_, f) => rawValue(prepared, f, r));
      rows.push(numericOnly ? Float64Array.from(row, (v) => (typeof v === 'number' ? v : NaN)) : row);
    }
    const latency = measureLatency((i) => model.predictSync(rows[i]!), rows.length, opts.warmup ?? 200, opts.repetitions ?? 2000);

    const reps = Math.max(1, opts.throughputReps ?? 3);
    const times: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      await model.predict(X);
      times.push(performance.now() - t0);
    }
    const batchMs = median(times);
    return {
      model: ref.name,
      ref: ref.ref,
      path: ref.path,
      status: 'ok',
      error: null,
      model_sha256: sha,
      kind: json.kind,
      task: binary ? 'binary' : 'multiclass',
      classes,
      positive_class: binary ? (classes?.[1] ?? '1') : null,
      threshold: binary ? (model.threshold?.value ?? 0.5) : null,
      rows: y.length,
      f1_score: main.f1,
      precision: main.precision,
      recall: main.recall,
      accuracy: accuracy(y, pred),
      auc,
      log_loss: logLoss(y, probs),
      brier: brier(y, probs),
      confusion,
      confusion_matrix: cm.map((r) => Array.from(r)),
      latency,
      throughput: { rows_per_second: y.length / (Math.max(batchMs, 1e-6) / 1000), rows: y.length, batch_ms: batchMs, repetitions: reps },
      duration_ms: performance.now() - started,
    };
  } catch (err) {
    if (isKilnError(err) && err.code === 'E_CANCELLED') throw err;
    return failed(ref, err, sha, started);
  }
}

/** Options of runBenchmarks (what `kiln bench` passes). */
export interface RunBenchOptions extends ValidationReadOptions, ModelBenchOptions {
  models: string;
  validationData: string;
  output: string;
  /** A previous report to compare with. */
  history?: string;
  /** Relative drop of F1 / precision / recall / accuracy / AUC that fails (default 0.05). */
  regressionThreshold?: number;
  /** Relative slowdown of median latency or throughput that fails (default: none; speed changes are reported, not gated). */
  latencyRegressionThreshold?: number;
  f1Target?: number;
  maxLatencyMs?: number;
  /** Run store (default .kiln/kiln.duckdb or $KILN_HOME/kiln.duckdb); null: do not record. */
  store?: string | null;
  registryDir?: string;
  signal?: AbortSignal;
  /** Called after each model. */
  onModel?: (done: number, total: number, entry: BenchmarkEntry) => void;
}

/** What runBenchmarks did. */
export interface RunBenchResult {
  report: BenchReport;
  output: string;
  receiptPath: string;
  store: string | null;
}

function checkFraction(name: string, v: number | undefined, def: number): number {
  const x = v ?? def;
  if (!Number.isFinite(x) || x < 0) throw new KilnError('E_USAGE', `${name} must be a number >= 0, got ${String(v)}`);
  return x;
}

/** Benchmarks every model, compares with history, records the run, writes the validated report atomically with its receipt. */
export async function runBenchmarks(opts: RunBenchOptions): Promise<RunBenchResult> {
  const thresholds: RegressionThresholds = {
    quality: checkFraction('--regression-threshold', opts.regressionThreshold, 0.05),
    speed: opts.latencyRegressionThreshold === undefined ? null : checkFraction('--latency-regression-threshold', opts.latencyRegressionThreshold, 0),
  };
  const targets: BenchTargets = { f1: opts.f1Target ?? null, maxLatencyMs: opts.maxLatencyMs ?? null };
  if (targets.f1 !== null && !(targets.f1 >= 0 && targets.f1 <= 1)) throw new KilnError('E_USAGE', `--f1-target must be in [0, 1], got ${targets.f1}`);
  if (targets.maxLatencyMs !== null && !(targets.maxLatencyMs > 0)) throw new KilnError('E_USAGE', `--max-latency-ms must be > 0, got ${targets.maxLatencyMs}`);
  const warmup = opts.warmup ?? 200;
  const repetitions = opts.repetitions ?? 2000;
  if (!Number.isInteger(warmup) || warmup < 0) throw new KilnError('E_USAGE', `--warmup must be an integer >= 0, got ${warmup}`);
  if (!Number.isInteger(repetitions) || repetitions < 1) throw new KilnError('E_USAGE', `--repetitions must be an integer >= 1, got ${repetitions}`);
  const previous = opts.history !== undefined ? { path: path.resolve(opts.history), report: readBenchReport(opts.history) } : null;
  const refs = resolveBenchModels(opts.models, opts.registryDir);
  const data = await readValidationData(opts.validationData, opts);
  const receipt = await RunReceipt.start('bench', {
    config: { models: opts.models, thresholds, targets, warmup, repetitions, symbol: opts.symbol ?? null, target: data.target },
    inputs: [opts.validationData, ...(opts.history !== undefined ? [opts.history] : []), ...refs.map((r) => r.path).filter((f) => fs.existsSync(f))],
  });
  const benchmarks: BenchmarkEntry[] = [];
  for (const ref of refs) {
    if (opts.signal?.aborted) throw new KilnError('E_CANCELLED', 'kiln bench was cancelled');
    const entry = await benchmarkModel(ref, data, { ...opts, warmup, repetitions, file: opts.validationData });
    benchmarks.push(entry);
    opts.onModel?.(benchmarks.length, refs.length, entry);
  }
  let simd = 'unavailable';
  try {
    simd = nativeInfo().simdLevel;
  } catch {
    // recorded as unavailable
  }
  const report = buildBenchReport({
    benchId: receipt.runId,
    timestamp: receipt.startedAt,
    modelsSource: opts.models,
    data: data.info,
    benchmarks,
    thresholds,
    targets,
    latency: { warmup, repetitions },
    environment: { cpu_model: os.cpus()[0]?.model?.trim() || 'unknown', cores: os.availableParallelism(), node: process.version, kiln_version: KILN_VERSION, simd_level: simd },
    previous,
  });
  assertValidBenchReport(report, 'the benchmark report (a kiln bug)');
  const store = opts.store === null ? null : (opts.store ?? defaultRunStore());
  if (store !== null) {
    const records: BenchmarkRecord[] = benchmarks.map((b) => ({
      benchId: report.bench_id,
      createdAt: report.timestamp,
      model: b.model,
      ref: b.ref,
      modelSha256: b.model_sha256,
      status: b.status,
      error: b.error ? `${b.error.code}: ${b.error.message}` : null,
      dataPath: data.info.path,
      dataSha256: data.info.sha256,
      symbol: data.info.symbol,
      rows: b.rows,
      regressed: (report.regressions[b.model] ?? []).some((r) => r.beyond_threshold),
      gatePassed: report.gate.passed,
      kilnVersion: KILN_VERSION,
      metrics: benchMetrics(b),
    }));
    await recordBenchmark(store, records);
  }
  await writeFileAtomic(opts.output, JSON.stringify(report, null, 2) + '\n');
  const r = await receipt.finish({
    outputs: [opts.output],
    status: report.gate.passed ? 'ok' : 'gate_failed',
    counts: { models: report.summary.total_models, successful: report.summary.successful_benchmarks, failed: report.summary.failed_benchmarks, regressed: report.summary.models_with_regressions },
  });
  const receiptPath = await writeReceipt(r, opts.output);
  return { report, output: opts.output, receiptPath, store };
}

/** The numbers of one benchmark as flat metrics (run store rows). */
export function benchMetrics(b: BenchmarkEntry): Record<string, number> {
  const out: Record<string, number> = {};
  const put = (k: string, v: number | null | undefined): void => {
    if (v !== null && v !== undefined && Number.isFinite(v)) out[k] = v;
  };
  put('f1_score', b.f1_score);
  put('precision', b.precision);
  put('recall', b.recall);
  put('accuracy', b.accuracy);
  put('auc', b.auc);
  put('log_loss', b.log_loss);
  put('brier', b.brier);
  if (b.confusion) for (const [k, v] of Object.entries(b.confusion)) put(k, v);
  put('latency_median_ms', b.latency?.median_ms);
  put('latency_p99_ms', b.latency?.p99_ms);
  put('throughput_rows_per_second', b.throughput?.rows_per_second);
  return out;
}
