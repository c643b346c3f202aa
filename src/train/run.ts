/**
 * One training run: read and split the data, fit the model, calibrate, pick a threshold, evaluate,
 * and publish an experiment folder (written under a temp name, renamed when complete) plus a row
 * in the run store. The same inputs, config and seed give a byte-identical model.json.
 */
import fs from 'node:fs';
import path from 'node:path';

import { KilnError } from '../../bindings/errors.js';
import type { ColumnBatch } from '../batch/column-batch.js';
import { takeRows } from '../batch/ops.js';
import { writeFileAtomic } from '../io/atomic.js';
import { DatasetVersions, datasetIdFor } from '../lineage/datasets.js';
import { sha256Text } from '../lineage/hash.js';
import { RunReceipt, assertValidReceipt, type Receipt } from '../lineage/receipt.js';
import type { ModelJson } from '../models/format.js';
import { modelFileText } from '../models/load.js';
import type { StackModelJson } from '../models/ensemble.js';
import { GBDT } from '../models/gbdt.js';
import { LogisticRegression } from '../models/linear.js';
import { MLP } from '../models/mlp.js';
import { StackingClassifier, type StackMemberSpec } from '../models/ensemble.js';
import { checkRegistryName, registerModel } from '../registry/registry.js';

import { readTrainConfigFile, resolveTrainConfig, runNameFor, type TrainConfig, type TrainConfigFile, type TrainFlags } from './config.js';
import { dropUnlabeled, encodeLabels, featureColumns, fitLabels, readTable, resolveSources, targetColumn, type DataSources, type LabelEncoding } from './data.js';
import { evaluateRun, type RunEvaluation, type RunModel } from './evaluate-run.js';
import { splitRows } from './split.js';
import { featureSchemaBeside, validateTrainingFeatures, withFeatureSchemaDefaults } from './validate-features.js';
import { defaultRunStore, flattenParams, recordRun } from './store.js';

/** What `kiln train` (or a library caller) asks for. */
export interface TrainRunOptions {
  data: string;
  validData?: string;
  testData?: string;
  /** Config file (YAML or JSON), or an already parsed config object. */
  config?: string | TrainConfigFile;
  flags?: TrainFlags;
  /** Parent folder of experiment folders (default "experiments"). */
  outDir?: string;
  /** Also write the run summary here (results.json). */
  output?: string;
  /** Run store file (default .kiln/kiln.duckdb or $KILN_HOME/kiln.duckdb); null: do not record. */
  store?: string | null;
  /** Keep a content-addressed copy of the training data in the dataset store. */
  copyData?: boolean;
  signal?: AbortSignal;
  /** One line per stage (and per round with verbose). */
  log?: (line: string) => void;
  verbose?: boolean;
  /** Check the training features (finite numbers, no all-missing column, the feature schema's types) before fitting. */
  validateFeatures?: boolean;
  /** Rows --validate-features checks (default: all). */
  validateLimit?: number;
  /** Register the model in the model registry under this name when the run passes its gates. */
  register?: string;
  /** Registry folder (default .kiln/registry or $KILN_HOME/registry). */
  registryDir?: string;
  /** Fixed run id (tests); default: a new one. */
  runId?: string;
}

/** The outcome of a run. */
export interface TrainRunResult {
  runId: string;
  name: string;
  dir: string;
  modelPath: string;
  modelSha256: string;
  task: LabelEncoding['task'];
  classes: string[] | null;
  rows: { train: number; valid: number; test: number };
  features: string[];
  evaluation: RunEvaluation;
  gate: { passed: boolean; failures: string[] };
  receiptPath: string;
  warnings: string[];
  /** The registry version made by --register. */
  registered?: { name: string; version: number; path: string };
}

/** The data reference recorded in artifacts/data.json. */
interface DataReference {
  role: 'train' | 'valid' | 'test';
  path: string;
  sha256: string;
  size: number;
  datasetId: string;
  copied: boolean;
}

type AnyModel = RunModel;

function stamp(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}_${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

/** The experiment folder name: train_<name>_<YYYYmmdd_HHMMSS> (UTC), with _2, _3 … when taken. */
function experimentDir(outDir: string, name: string, at: Date): string {
  const base = path.join(outDir, `train_${name}_${stamp(at)}`);
  let dir = base;
  for (let k = 2; fs.existsSync(dir); k++) dir = `${base}_${k}`;
  return dir;
}

/** Builds the configured model (seed and threads from the run config). */
function makeModel(cfg: TrainConfig, enc: LabelEncoding, features: ColumnBatch): AnyModel {
  const params = { ...cfg.model.params };
  const textCols = features.columns.filter((c) => c.type === 'utf8').map((c) => c.name);
  switch (cfg.model.kind) {
    case 'gbdt': {
      const objective = enc.task === 'regression' ? 'regression' : enc.task;
      return new GBDT({
        objective,
        ...(enc.task === 'multiclass' ? { numClass: enc.classes!.length } : {}),
        nEstimators: 300,
        numLeaves: 31,
        learningRate: 0.05,
        unseenCategory: 'missing',
        ...params,
        numThreads: cfg.numThreads,
        seed: cfg.seed,
      } as ConstructorParameters<typeof GBDT>[0]);
    }
    case 'logreg':
    case 'mlp': {
      if (textCols.length > 0) {
        throw new KilnError('E_SCHEMA', `--model ${cfg.model.kind} needs numeric features; text column${textCols.length > 1 ? 's' : ''} ${textCols.join(', ')}: list them in data.exclude, encode them with kiln features (kind category), or use --model gbdt`, { columns: textCols });
      }
      if (enc.task === 'regression') throw new KilnError('E_USAGE', `--model ${cfg.model.kind} is a classifier; the target is continuous (use --model gbdt, or set data.task)`);
      if (cfg.model.kind === 'logreg') return new LogisticRegression({ ...params, numThreads: cfg.numThreads } as ConstructorParameters<typeof LogisticRegression>[0]);
      return new MLP({ ...params, seed: cfg.seed, numThreads: cfg.numThreads } as ConstructorParameters<typeof MLP>[0]);
    }
    case 'stack': {
      if (enc.task !== 'binary') throw new KilnError('E_USAGE', `--model stack is a binary classifier; the target has ${enc.task === 'regression' ? 'continuous values' : `${enc.classes!.length} classes`}`);
      return new StackingClassifier({
        members: cfg.model.members.map((m, i) => ({ name: m.name ?? `${m.kind}_${i + 1}`, kind: m.kind, params: (m.params ?? {}) as StackMemberSpec['params'] })),
        folds: cfg.model.folds,
        unseenCategory: 'missing',
        ...params,
        seed: cfg.seed,
        numThreads: cfg.numThreads,
      } as ConstructorParameters<typeof StackingClassifier>[0]);
    }
    default:
      throw new KilnError('E_USAGE', `model kind "${cfg.model.kind}" is not available in kiln train`);
  }
}

function checkMinSamples(cfg: TrainConfig, enc: LabelEncoding, splits: Record<string, Float64Array>): void {
  const total = Object.values(splits).reduce((n, y) => n + y.length, 0);
  if (total < cfg.minSamples) {
    throw new KilnError('E_GATE', `only ${total} rows were read; --min-samples asks for at least ${cfg.minSamples}`, { rows: total, minSamples: cfg.minSamples });
  }
  if (splits.train!.length === 0) throw new KilnError('E_GATE', 'the training split is empty');
  if (enc.classes === null) return;
  for (const [name, y] of Object.entries(splits)) {
    if (y.length === 0) continue;
    const seen = new Set(y);
    const missing = enc.classes.filter((_, k) => !seen.has(k));
    if (missing.length > 0) {
      throw new KilnError('E_GATE', `class${missing.length > 1 ? 'es' : ''} ${missing.map((m) => `"${m}"`).join(', ')} missing from the ${name} split (${y.length} rows); more data, another seed or other split fractions are needed`, { split: name, missing });
    }
  }
}

/** Runs one training run end to end; fails closed (nothing published) on any error. */
export async function trainRun(opts: TrainRunOptions): Promise<TrainRunResult> {
  const logged: string[] = [];
  const log = (line: string): void => {
    logged.push(`${new Date().toISOString()} ${line}`);
    opts.log?.(line);
  };
  const warnings: string[] = [];
  const warn = (w: string): void => {
    warnings.push(w);
    log(`warning: ${w}`);
  };
  const sources: DataSources = resolveSources(opts.data, opts.validData, opts.testData);
  const fileCfg: TrainConfigFile = typeof opts.config === 'string' ? readTrainConfigFile(opts.config) : (opts.config ?? {});
  const featureSchema = featureSchemaBeside(sources.train);
  const cfg = resolveTrainConfig(withFeatureSchemaDefaults(fileCfg, featureSchema), opts.flags ?? {}, sources.test !== null);
  if (opts.register !== undefined) checkRegistryName(opts.register);
  const name = runNameFor(cfg, opts.data);
  const inputs = [sources.train, sources.valid, sources.test].filter((f): f is string => f !== null);
  const receipt = await RunReceipt.start('train', { config: cfg, inputs: [...inputs, ...(typeof opts.config === 'string' ? [opts.config] : [])] });
  const runId = opts.runId ?? receipt.runId;
  const started = new Date(receipt.startedAt);

  log(`read ${sources.train}${cfg.rowLimit ? ` (at most ${cfg.rowLimit} rows)` : ''}${cfg.data.symbol ? ` where ${cfg.data.entity} = ${cfg.data.symbol}` : ''}`);
  const read = await readTable(sources.train, cfg, { rowLimit: cfg.rowLimit, signal: opts.signal });
  if (read.numRows === 0) throw new KilnError('E_GATE', `no rows were read from ${sources.train}${cfg.data.symbol ? ` for ${cfg.data.entity} = ${cfg.data.symbol}` : ''}`);
  const target = targetColumn(read, cfg, sources.train);
  const labelled = dropUnlabeled(read, target, sources.train);
  const unlabelled: Record<string, number> = {};
  if (labelled.dropped > 0) unlabelled.train = labelled.dropped;
  const table = labelled.batch;
  if (table.numRows === 0) throw new KilnError('E_GATE', `no rows were read from ${sources.train}${cfg.data.symbol ? ` for ${cfg.data.entity} = ${cfg.data.symbol}` : ''}`);
  const enc = fitLabels(table, target, cfg, sources.train);
  const { features, skipped } = featureColumns(table, target, cfg, sources.train);
  if (skipped.length > 0) warn(`columns of types kiln does not train on were left out: ${skipped.join(', ')}`);
  const yAll = encodeLabels(table, target, enc, sources.train);
  if (opts.validateFeatures) {
    const { rowsChecked } = validateTrainingFeatures(table, features, { file: sources.train, limit: opts.validateLimit ?? null, schema: featureSchema });
    log(`validate-features: ${features.length} columns, ${rowsChecked} rows checked`);
  }

  // Splits: separate files when given, else cut from the training table.
  let trainX: ColumnBatch, validX: ColumnBatch | null = null, testX: ColumnBatch | null = null;
  let yTrain: Float64Array, yValid: Float64Array = new Float64Array(0), yTest: Float64Array = new Float64Array(0);
  const cutValid = sources.valid === null ? cfg.split.valid : 0;
  const cutTest = sources.test === null ? cfg.split.test : 0;
  if (cutValid > 0 || cutTest > 0) {
    const time = cfg.split.kind === 'temporal' ? timeValues(table, cfg.data.time!, sources.train) : null;
    const s = splitRows(table.numRows, { valid: cutValid, test: cutTest }, { kind: enc.task === 'regression' && cfg.split.kind === 'stratified' ? 'random' : cfg.split.kind, seed: cfg.seed, labels: enc.classes ? yAll : null, time });
    const pick = (rows: Int32Array): [ColumnBatch, Float64Array] => [takeRows(table.select(features), rows), Float64Array.from(rows, (r) => yAll[r]!)];
    [trainX, yTrain] = pick(s.train);
    if (cutValid > 0) [validX, yValid] = pick(s.valid);
    if (cutTest > 0) [testX, yTest] = pick(s.test);
  } else {
    trainX = table.select(features);
    yTrain = yAll;
  }
  const readSplit = async (file: string, role: string): Promise<[ColumnBatch, Float64Array]> => {
    log(`read ${file} (${role})`);
    const r = dropUnlabeled(await readTable(file, cfg, { rowLimit: cfg.rowLimit, signal: opts.signal }), target, file);
    if (r.dropped > 0) unlabelled[role] = r.dropped;
    const t = r.batch;
    for (const f of features) if (!t.has(f)) throw new KilnError('E_SCHEMA', `feature "${f}" of the training data is not in ${file}`, { file, column: f });
    return [t.select(features), encodeLabels(t, target, enc, file)];
  };
  if (sources.valid !== null) [validX, yValid] = await readSplit(sources.valid, 'valid');
  if (sources.test !== null) [testX, yTest] = await readSplit(sources.test, 'test');
  if (Object.keys(unlabelled).length > 0) warn(`rows without a label were left out: ${Object.entries(unlabelled).map(([k, n]) => `${n} in ${k}`).join(', ')}`);
  if (Object.keys(enc.mapped).length > 0) warn(`labels mapped onto training classes: ${Object.entries(enc.mapped).map(([a, b]) => `"${a}" -> "${b}"`).join(', ')}`);
  checkMinSamples(cfg, enc, { train: yTrain, valid: yValid, test: yTest });
  log(`rows: train ${yTrain.length}, valid ${yValid.length}, test ${yTest.length}; ${features.length} features; task ${enc.task}${enc.classes ? ` (${enc.classes.join(', ')})` : ''}`);

  // Fit.
  const model = makeModel(cfg, enc, trainX);
  log(`fit ${cfg.model.kind} (seed ${cfg.seed}, ${cfg.numThreads} threads)`);
  const fitStart = performance.now();
  if (model instanceof GBDT) {
    await model.fit(trainX, yTrain, {
      ...(validX && yValid.length > 0 ? { valid: { X: validX, y: yValid }, earlyStoppingRounds: cfg.model.earlyStoppingRounds || undefined } : {}),
      signal: opts.signal,
      onProgress: (p) => {
        if (opts.verbose || p.round % 50 === 0 || p.round === p.totalRounds) {
          log(`round ${p.round}/${p.totalRounds} ${p.metric} train ${p.trainMetric.toFixed(5)}${Number.isNaN(p.validMetric) ? '' : ` valid ${p.validMetric.toFixed(5)}`} best ${p.bestIteration}`);
        }
      },
    });
  } else if (model instanceof StackingClassifier) {
    await model.fit(trainX, yTrain, {
      signal: opts.signal,
      onProgress: (p) => log(`stack ${p.stage}${p.member ? ` ${p.member}` : ''}${p.fold !== null && p.fold !== undefined ? ` fold ${p.fold}` : ''} done`),
    });
  } else {
    await model.fit(trainX, yTrain, { ...(validX && yValid.length > 0 ? { valid: { X: validX, y: yValid } } : {}), signal: opts.signal });
  }
  const fitSeconds = (performance.now() - fitStart) / 1000;
  log(`fitted in ${fitSeconds.toFixed(2)} s`);

  // Calibrate, choose the threshold, evaluate (on valid / test), attach both to the model.
  const evaluation = await evaluateRun({ model, cfg, enc, train: { X: trainX, y: yTrain }, valid: validX ? { X: validX, y: yValid } : null, test: testX ? { X: testX, y: yTest } : null, warn });
  for (const line of evaluation.logLines) log(line);
  const modelJson = withReceiptReference(evaluation.modelJson);
  const modelText = modelFileText(modelJson);
  const modelSha256 = sha256Text(modelText);

  // Quality gates.
  const failures: string[] = [];
  const gateMetrics = evaluation.metrics.test ?? evaluation.metrics.valid ?? {};
  for (const [metric, want] of Object.entries(cfg.targets)) {
    const got = gateMetrics[metric];
    const lower = /^(logLoss|brier|ece|rmse|mae)$/.test(metric);
    if (got === undefined || !Number.isFinite(got)) failures.push(`target ${metric}: no such metric was computed`);
    else if (lower ? got > want : got < want) failures.push(`target ${metric} ${lower ? '<=' : '>='} ${want} missed: ${got.toPrecision(6)}`);
  }

  // Publish the experiment folder.
  const outDir = path.resolve(opts.outDir ?? 'experiments');
  fs.mkdirSync(outDir, { recursive: true });
  const finalDir = experimentDir(outDir, name, started);
  const tmpDir = path.join(outDir, `.${path.basename(finalDir)}.tmp-${process.pid}`);
  fs.rmSync(tmpDir, { recursive: true, force: true });
  try {
    fs.mkdirSync(path.join(tmpDir, 'artifacts'), { recursive: true });
    fs.mkdirSync(path.join(tmpDir, 'predictions'), { recursive: true });
    fs.mkdirSync(path.join(tmpDir, 'logs'), { recursive: true });
    const dataRefs = await dataReferences(sources, receipt, Boolean(opts.copyData));
    const { environment, git } = receipt;
    const write = (rel: string, text: string): void => fs.writeFileSync(path.join(tmpDir, rel), text);
    write('model.json', modelText);
    write('parameters.json', JSON.stringify(cfg, null, 2) + '\n');
    write('artifacts/config.json', JSON.stringify({ file: typeof opts.config === 'string' ? path.resolve(opts.config) : null, config: fileCfg, flags: opts.flags ?? {}, resolved: cfg }, null, 2) + '\n');
    if (typeof opts.config === 'string') fs.copyFileSync(opts.config, path.join(tmpDir, 'artifacts', path.basename(opts.config)));
    write('artifacts/data.json', JSON.stringify({ target, features, task: enc.task, classes: enc.classes, labelMapping: enc.mapped, sources: dataRefs }, null, 2) + '\n');
    write('metrics.json', JSON.stringify({ runId, task: enc.task, classes: enc.classes, metrics: evaluation.metrics, reports: evaluation.reports, threshold: evaluation.threshold, calibration: evaluation.calibrationSummary, conformal: evaluation.conformal, gate: { passed: failures.length === 0, failures } }, null, 2) + '\n');
    for (const [split, csv] of Object.entries(evaluation.predictionsCsv)) write(`predictions/${split}.csv`, csv);
    const metadata = {
      runId,
      name,
      command: 'train',
      startedAt: receipt.startedAt,
      seed: cfg.seed,
      modelKind: cfg.model.kind,
      task: enc.task,
      modelSha256,
      rows: { train: yTrain.length, valid: yValid.length, test: yTest.length },
      fitSeconds,
      environment,
      git,
      warnings,
    };
    write('metadata.json', JSON.stringify(metadata, null, 2) + '\n');
    await evaluation.writeCard(tmpDir, { runId, name, startedAt: receipt.startedAt, modelSha256, target, features, rows: metadata.rows, dataRefs, environment, git });
    write('logs/train.log', logged.join('\n') + '\n');
    fs.renameSync(tmpDir, finalDir);
  } catch (err) {
    fs.rmSync(tmpDir, { recursive: true, force: true });
    throw err;
  }

  // Receipt over the published files, then the run store.
  const outputs = ['model.json', 'metrics.json', 'parameters.json', 'metadata.json', 'card.json', 'card.html'].map((f) => path.join(finalDir, f)).filter((f) => fs.existsSync(f));
  const record: Receipt = await receipt.finish({
    outputs,
    counts: { trainRows: yTrain.length, validRows: yValid.length, testRows: yTest.length, features: features.length },
    status: failures.length === 0 ? 'ok' : 'gate_failed',
    extra: { runId, modelSha256, experiment: finalDir, gate: { passed: failures.length === 0, failures } },
  });
  const receiptPath = path.join(finalDir, 'receipt.json');
  assertValidReceipt(record, receiptPath);
  await writeFileAtomic(receiptPath, JSON.stringify({ ...record, runId }, null, 2) + '\n');
  const result: TrainRunResult = {
    runId,
    name,
    dir: finalDir,
    modelPath: path.join(finalDir, 'model.json'),
    modelSha256,
    task: enc.task,
    classes: enc.classes,
    rows: { train: yTrain.length, valid: yValid.length, test: yTest.length },
    features,
    evaluation,
    gate: { passed: failures.length === 0, failures },
    receiptPath,
    warnings,
  };
  if (opts.store !== null) {
    const store = opts.store ?? defaultRunStore();
    await recordRun(
      store,
      {
        runId, name, command: 'train', status: record.status, startedAt: record.startedAt, endedAt: record.endedAt, dir: finalDir,
        modelKind: cfg.model.kind, task: enc.task, seed: cfg.seed, dataSha256: record.inputs[0]!.sha256, datasetId: datasetIdFor(record.inputs[0]!.sha256),
        modelSha256, kilnVersion: record.kilnVersion, gitCommit: record.git?.commit ?? null,
      },
      flattenParams(cfg),
      evaluation.metrics as Record<string, Record<string, number>>,
    );
    log(`recorded run ${runId} in ${store}`);
  }
  if (opts.register !== undefined) {
    if (!result.gate.passed) log(`not registered as ${opts.register}: the run failed its gates`);
    else {
      const v = await registerModel(opts.register, result.modelPath, { runId, metrics: evaluation.metrics.test ?? evaluation.metrics.valid ?? {} }, opts.registryDir);
      result.registered = { name: v.name, version: v.version, path: v.path };
      log(`registered ${v.name}@${v.version} (${v.path})`);
    }
  }
  if (opts.output) await writeFileAtomic(opts.output, JSON.stringify(runSummary(result), null, 2) + '\n');
  return result;
}

/** The JSON summary `--output` and `--json` print. */
export function runSummary(r: TrainRunResult): Record<string, unknown> {
  return {
    ok: r.gate.passed,
    runId: r.runId,
    name: r.name,
    experiment: r.dir,
    model: r.modelPath,
    modelSha256: r.modelSha256,
    task: r.task,
    classes: r.classes,
    rows: r.rows,
    features: r.features.length,
    metrics: r.evaluation.metrics,
    threshold: r.evaluation.threshold,
    ...(r.evaluation.reports.members ? { members: r.evaluation.reports.members } : {}),
    gate: r.gate,
    receipt: r.receiptPath,
    registered: r.registered ?? null,
    warnings: r.warnings,
  };
}

function withReceiptReference(json: ModelJson | StackModelJson): ModelJson | StackModelJson {
  const m = json as { training?: { receipt?: string | null } | null };
  if (m.training && 'receipt' in m.training) return { ...json, training: { ...m.training, receipt: 'receipt.json' } } as ModelJson | StackModelJson;
  return json;
}

function timeValues(batch: ColumnBatch, column: string, file: string): Float64Array {
  if (!batch.has(column)) throw new KilnError('E_SCHEMA', `time column "${column}" is not in ${file}`, { file, column });
  const c = batch.column(column);
  const out = new Float64Array(batch.numRows);
  for (let i = 0; i < batch.numRows; i++) {
    const v = batch.value(c, i);
    const t = v === null ? NaN : typeof v === 'string' ? Date.parse(v) : Number(v);
    if (Number.isNaN(t)) throw new KilnError('E_SCHEMA', `time column "${column}" is missing or unreadable at row ${i + 1} of ${file}`, { file, column, row: i + 1 });
    out[i] = t;
  }
  return out;
}

async function dataReferences(sources: DataSources, receipt: RunReceipt, copy: boolean): Promise<DataReference[]> {
  const refs: DataReference[] = [];
  const roles: Array<['train' | 'valid' | 'test', string | null]> = [['train', sources.train], ['valid', sources.valid], ['test', sources.test]];
  for (const [role, file] of roles) {
    if (file === null) continue;
    const digest = (await receipt.inputDigests()).find((i) => i.path === path.resolve(file))!;
    let datasetId = datasetIdFor(digest.sha256);
    if (copy) datasetId = (await new DatasetVersions().createVersion(file, { role })).id;
    refs.push({ role, path: digest.path, sha256: digest.sha256, size: digest.size, datasetId, copied: copy });
  }
  return refs;
}
