/**
 * Training configuration: schemas/train-config.schema.json, read from YAML or JSON, then merged
 * with command-line values (flags win) over the defaults, which live here and nowhere else.
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

import { KilnError } from '../../bindings/errors.js';
import { compileSchema, describeAjvError } from '../validate/schema.js';
import { schemaPath } from '../version.js';

export type ModelKind = 'gbdt' | 'logreg' | 'mlp' | 'stack';
export type TaskKind = 'auto' | 'binary' | 'multiclass' | 'regression';

/** A stack member as configured. */
export interface MemberConfig {
  name?: string;
  kind: 'gbdt' | 'logreg' | 'mlp';
  params?: Record<string, unknown>;
}

/** A config file as written (every field optional). */
export interface TrainConfigFile {
  version?: 1;
  name?: string;
  seed?: number;
  data?: {
    target?: string;
    task?: TaskKind;
    features?: string[];
    exclude?: string[];
    nullStrings?: string[];
    delimiter?: string;
    entity?: string;
    time?: string;
    positiveClass?: string;
  };
  split?: { kind?: 'stratified' | 'random' | 'temporal'; valid?: number; test?: number };
  model?: { kind?: ModelKind; params?: Record<string, unknown>; earlyStoppingRounds?: number; members?: MemberConfig[]; folds?: number };
  calibration?: { method?: 'isotonic' | 'sigmoid' | 'none'; minSamples?: number };
  threshold?: { objective?: 'f1' | 'youden' | 'profit' | 'none'; costs?: { tp: number; fp: number; tn: number; fn: number } };
  conformal?: { alpha?: number };
  targets?: Record<string, number>;
  minSamples?: number;
  rowLimit?: number;
  numThreads?: number;
}

/** The fully resolved configuration of one run (what parameters.json records). */
export interface TrainConfig {
  name: string | null;
  seed: number;
  data: {
    target: string | null;
    task: TaskKind;
    features: string[] | null;
    exclude: string[];
    nullStrings: string[];
    delimiter: string | null;
    entity: string;
    time: string | null;
    positiveClass: string | null;
    symbol: string | null;
  };
  split: { kind: 'stratified' | 'random' | 'temporal'; valid: number; test: number };
  model: { kind: ModelKind; params: Record<string, unknown>; earlyStoppingRounds: number; members: MemberConfig[]; folds: number };
  calibration: { method: 'isotonic' | 'sigmoid' | 'none'; minSamples: number };
  threshold: { objective: 'f1' | 'youden' | 'profit' | 'none'; costs: { tp: number; fp: number; tn: number; fn: number } | null };
  conformal: { alpha: number };
  targets: Record<string, number>;
  minSamples: number;
  rowLimit: number | null;
  numThreads: number;
}

/** Values from the command line; each set one overrides the file. */
export interface TrainFlags {
  target?: string;
  model?: ModelKind;
  seed?: number;
  rowLimit?: number;
  minSamples?: number;
  symbol?: string;
  name?: string;
  numThreads?: number;
}

/** Default stack members: two GBDT growth settings, logistic regression and an MLP. */
export const DEFAULT_STACK_MEMBERS: MemberConfig[] = [
  { name: 'gbdt', kind: 'gbdt', params: { nEstimators: 100, numLeaves: 31 } },
  { name: 'gbdt_shallow', kind: 'gbdt', params: { nEstimators: 300, numLeaves: 8, maxDepth: 3, featureFraction: 0.5, baggingFraction: 0.8, baggingFreq: 1 } },
  { name: 'logreg', kind: 'logreg', params: {} },
  { name: 'mlp', kind: 'mlp', params: { hiddenLayers: [32], epochs: 10 } },
];

/** Reads and validates a config file (YAML or JSON by content); errors name the file and the field. */
export function readTrainConfigFile(file: string): TrainConfigFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new KilnError('E_IO', `cannot read train config ${file}: ${(err as Error).message}`, { file });
  }
  let doc: unknown;
  try {
    doc = /\.json$/i.test(file) ? JSON.parse(text) : YAML.parse(text);
  } catch (err) {
    throw new KilnError('E_SCHEMA', `train config ${file} is not valid ${/\.json$/i.test(file) ? 'JSON' : 'YAML'}: ${(err as Error).message}`, { file });
  }
  return validateTrainConfig(doc ?? {}, file);
}

/** Checks a parsed config against schemas/train-config.schema.json. */
export function validateTrainConfig(doc: unknown, where = 'train config'): TrainConfigFile {
  const { validate } = compileSchema(schemaPath('train-config.schema.json'), { allErrors: true });
  if (!validate(doc)) {
    const msgs = (validate.errors ?? []).map((e) => {
      const d = describeAjvError(e);
      return `${d.pointer || '/'}: ${d.message}`;
    });
    throw new KilnError('E_SCHEMA', `${where} does not match schemas/train-config.schema.json: ${msgs.join('; ')}`, { errors: msgs });
  }
  const cfg = doc as TrainConfigFile;
  if (cfg.threshold?.objective === 'profit' && !cfg.threshold.costs) {
    throw new KilnError('E_SCHEMA', `${where}: threshold.objective "profit" needs threshold.costs { tp, fp, tn, fn }`);
  }
  if (cfg.split?.kind === 'temporal' && !cfg.data?.time) {
    throw new KilnError('E_SCHEMA', `${where}: split.kind "temporal" needs data.time (the time column)`);
  }
  if ((cfg.split?.valid ?? 0.15) + (cfg.split?.test ?? 0.15) >= 1) {
    throw new KilnError('E_SCHEMA', `${where}: split.valid + split.test must be below 1`);
  }
  return cfg;
}

/** Merges flags over the file over the defaults. `haveTestData`: a separate test file is given, so no test fraction is cut. */
export function resolveTrainConfig(file: TrainConfigFile, flags: TrainFlags, haveTestData: boolean): TrainConfig {
  const kind = flags.model ?? file.model?.kind ?? 'gbdt';
  const cfg: TrainConfig = {
    name: flags.name ?? file.name ?? null,
    seed: flags.seed ?? file.seed ?? 42,
    data: {
      target: flags.target ?? file.data?.target ?? null,
      task: file.data?.task ?? 'auto',
      features: file.data?.features ?? null,
      exclude: file.data?.exclude ?? [],
      nullStrings: file.data?.nullStrings ?? ['?', 'NA', ''],
      delimiter: file.data?.delimiter ?? null,
      entity: file.data?.entity ?? 'symbol',
      time: file.data?.time ?? null,
      positiveClass: file.data?.positiveClass ?? null,
      symbol: flags.symbol ?? null,
    },
    split: {
      kind: file.split?.kind ?? 'stratified',
      valid: file.split?.valid ?? 0.15,
      test: haveTestData ? 0 : (file.split?.test ?? 0.15),
    },
    model: {
      kind,
      params: file.model?.params ?? {},
      earlyStoppingRounds: file.model?.earlyStoppingRounds ?? 30,
      members: file.model?.members ?? DEFAULT_STACK_MEMBERS,
      folds: file.model?.folds ?? 5,
    },
    calibration: { method: file.calibration?.method ?? 'isotonic', minSamples: file.calibration?.minSamples ?? 1000 },
    threshold: { objective: file.threshold?.objective ?? 'f1', costs: file.threshold?.costs ?? null },
    conformal: { alpha: file.conformal?.alpha ?? 0.1 },
    targets: file.targets ?? {},
    minSamples: flags.minSamples ?? file.minSamples ?? 1,
    rowLimit: flags.rowLimit ?? file.rowLimit ?? null,
    numThreads: flags.numThreads ?? file.numThreads ?? 2,
  };
  if (flags.name !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(flags.name)) {
    throw new KilnError('E_USAGE', `--name "${flags.name}" must be 1-64 letters, digits, '_', '.', '-'`);
  }
  return cfg;
}

/** The run name: the configured one, else the data file's stem or the features folder's name (letters, digits, _ . - only). */
export function runNameFor(cfg: TrainConfig, dataPath: string): string {
  if (cfg.name) return cfg.name;
  const stem = path.basename(path.resolve(dataPath)).replace(/\.(csv|tsv|parquet|ndjson|jsonl|json)(\.gz)?$/i, '').replace(/[^A-Za-z0-9_.-]+/g, '_');
  return (stem.replace(/^[^A-Za-z0-9]+/, '') || 'run').slice(0, 64);
}
