import Ajv2020Module from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import fs from 'node:fs';
import path from 'node:path';
import { KilnError } from '../../bindings/errors.js';
import { PACKAGE_ROOT } from '../version.js';
import type { CalibrationJson } from './calibration.js';
import type { ThresholdJson } from './decision.js';

const Ajv2020 = ((Ajv2020Module as unknown as { default?: unknown }).default ?? Ajv2020Module) as typeof Ajv2020Module.default;

/** The `format` field of every kiln model file. */
export const MODEL_FORMAT = 'kiln.model';
/** The only model format version this build reads and writes. */
export const MODEL_FORMAT_VERSION = 1;
/** Largest model file kiln will read (bytes). */
export const MAX_MODEL_BYTES = 1 << 30;
/** Model kinds and the schema describing each body. */
export const MODEL_KINDS = ['gbdt', 'linear', 'mlp', 'stack'] as const;
export type ModelKind = (typeof MODEL_KINDS)[number];

/** One tree, LightGBM-style: internal nodes 0..numLeaves-2; a child c < 0 is leaf ~c. */
export interface TreeJson {
  numLeaves: number;
  splitFeature: number[];
  /** Numeric node: the threshold value; categorical node: index into catSets. */
  threshold: number[];
  /** Bit 0 categorical, bit 1 missing goes left, bits 2-3 missing type (0 none, 1 zero, 2 nan). */
  decisionType: number[];
  leftChild: number[];
  rightChild: number[];
  splitGain: number[];
  internalCount: number[];
  leafValue: number[];
  leafCount: number[];
  /** Category codes that go left, one set per categorical node. */
  catSets: number[][];
}

/** Decision-type bits of a tree node. */
export const DECISION_CATEGORICAL = 1;
export const DECISION_DEFAULT_LEFT = 2;
export const MISSING_NONE = 0;
export const MISSING_ZERO = 1;
export const MISSING_NAN = 2;
/** The decision type of a kiln numeric split: NaN is missing and goes left or right. */
export function numericDecision(defaultLeft: boolean, missingType = MISSING_NAN): number {
  return (defaultLeft ? DECISION_DEFAULT_LEFT : 0) | (missingType << 2);
}

export type GbdtObjectiveName = 'binary' | 'multiclass' | 'regression' | 'huber';
export type UnseenPolicy = 'error' | 'missing';

/** A model input feature; categorical features carry the value of each code. */
export interface FeatureJson {
  name: string;
  type: 'numeric' | 'categorical';
  monotone?: -1 | 1;
  categories?: (string | number)[];
  unseen?: UnseenPolicy;
}

/** Quantile bin edges (see native/include/kiln/binning.h). */
export interface BinMapperJson {
  numBins: number[];
  thresholds: number[];
  offsets: number[];
}

/** What a kiln training run recorded in the model. */
export interface TrainingJson {
  seed: number;
  rows: number;
  validRows: number;
  metric: string;
  history: { train: number[]; valid: number[] };
  earlyStopped: boolean;
  receipt: string | null;
}

/** A gradient-boosted trees model file (kind gbdt). */
export interface GbdtModelJson {
  format: typeof MODEL_FORMAT;
  version: typeof MODEL_FORMAT_VERSION;
  kind: 'gbdt';
  objective: { name: GbdtObjectiveName; numClass: number; huberDelta?: number };
  origin: 'kiln' | 'xgboost' | 'lightgbm';
  features: FeatureJson[];
  decision: 'le' | 'lt';
  baseScore: number[];
  numTreesPerIteration: number;
  numIterations: number;
  bestIteration: number;
  binMapper: BinMapperJson | null;
  params: Record<string, unknown>;
  /** Optional class names in model order (absent for regression or unnamed classes). */
  classes?: string[];
  training: TrainingJson | null;
  /** Optional probability calibrator applied by predict (absent when uncalibrated). */
  calibration?: CalibrationJson;
  /** Optional binary decision threshold used by predictLabels (absent: 0.5). */
  threshold?: ThresholdJson;
  trees: TreeJson[];
}

/** Any kiln model file: the envelope plus a kind-specific body. */
export interface ModelJson {
  format: typeof MODEL_FORMAT;
  version: typeof MODEL_FORMAT_VERSION;
  kind: ModelKind;
  [key: string]: unknown;
}

/** A number as written in a model file: "Infinity" and "-Infinity" stand for the non-finite values. */
export function reviveNumber(v: number | string): number {
  if (typeof v === 'number') return v;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  throw new KilnError('E_MODEL_FORMAT', `expected a number, got ${JSON.stringify(v)}`);
}

/** Canonical text of a model: fixed key order (as built), 2-space indent, each tree on one line. */
export function serializeModel(model: ModelJson): string {
  const replacer = (_key: string, v: unknown): unknown => {
    if (typeof v === 'number' && !Number.isFinite(v)) {
      if (Number.isNaN(v)) throw new KilnError('E_MODEL_FORMAT', 'model contains NaN; refusing to write it');
      return v > 0 ? 'Infinity' : '-Infinity';
    }
    return v;
  };
  const { trees, ...rest } = model as ModelJson & { trees?: unknown[] };
  if (!Array.isArray(trees)) return JSON.stringify(model, replacer, 2) + '\n';
  const head = JSON.stringify({ ...rest, trees: [] }, replacer, 2);
  if (trees.length === 0) return head + '\n';
  const body = trees.map((t) => '    ' + JSON.stringify(t, replacer)).join(',\n');
  return head.replace(/"trees": \[\]\n\}$/, `"trees": [\n${body}\n  ]\n}`) + '\n';
}

/** Parses model text (non-finite numbers stay the strings "Infinity"/"-Infinity"). Throws E_MODEL_FORMAT. */
export function parseModelText(text: string, source = 'model'): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new KilnError('E_MODEL_FORMAT', `${source} is not valid JSON: ${(err as Error).message}`, { source });
  }
}

let ajvInstance: InstanceType<typeof Ajv2020> | null = null;
const validators = new Map<ModelKind, ValidateFunction>();

/** The validator of one model kind's body (schemas/model-<kind>.schema.json). */
function validatorFor(kind: ModelKind): ValidateFunction {
  const hit = validators.get(kind);
  if (hit) return hit;
  if (!ajvInstance) ajvInstance = new Ajv2020({ allErrors: false, strict: false });
  const file = path.join(PACKAGE_ROOT, 'schemas', `model-${kind}.schema.json`);
  if (!fs.existsSync(file)) throw new KilnError('E_MODEL_FORMAT', `this build has no schema for model kind "${kind}"`);
  const schema = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  const validate = ajvInstance.compile(schema);
  validators.set(kind, validate);
  return validate;
}

function describeErrors(errors: ErrorObject[] | null | undefined): string {
  const e = errors?.[0];
  if (!e) return 'invalid';
  return `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${e.params && 'allowedValues' in e.params ? ` (${JSON.stringify(e.params.allowedValues)})` : ''}`;
}

/** Checks the envelope (format, version, kind) with a precise message; returns the kind. */
export function checkEnvelope(obj: unknown, source = 'model'): ModelKind {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    throw new KilnError('E_MODEL_FORMAT', `${source} is not a kiln model (expected a JSON object)`, { source });
  }
  const o = obj as Record<string, unknown>;
  if (o.format !== MODEL_FORMAT) {
    throw new KilnError('E_MODEL_FORMAT', `${source} is not a kiln model (format is ${JSON.stringify(o.format)}, expected "${MODEL_FORMAT}"); XGBoost and LightGBM files load with importXGBoost / importLightGBM`, { source });
  }
  if (o.version !== MODEL_FORMAT_VERSION) {
    const newer = typeof o.version === 'number' && o.version > MODEL_FORMAT_VERSION;
    throw new KilnError('E_MODEL_FORMAT', `${source} has model format version ${JSON.stringify(o.version)}; this kiln reads version ${MODEL_FORMAT_VERSION} only${newer ? ' (the file was written by a newer kiln: upgrade kiln to read it)' : ''}`, { source, version: o.version });
  }
  if (!MODEL_KINDS.includes(o.kind as ModelKind)) {
    throw new KilnError('E_MODEL_FORMAT', `${source} has unknown model kind ${JSON.stringify(o.kind)} (known: ${MODEL_KINDS.join(', ')})`, { source });
  }
  return o.kind as ModelKind;
}

/** Validates a whole model object against its kind's schema; throws E_MODEL_FORMAT. */
export function assertValidModel(obj: unknown, source = 'model'): ModelJson {
  const kind = checkEnvelope(obj, source);
  const validate = validatorFor(kind);
  if (!validate(obj)) {
    throw new KilnError('E_MODEL_FORMAT', `${source} is not a valid ${kind} model: ${describeErrors(validate.errors)}`, { source });
  }
  return obj as ModelJson;
}

/** Reads and validates a model file of any kind. Throws E_IO or E_MODEL_FORMAT, never crashes. */
export function readModelFile(file: string): ModelJson {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    throw new KilnError('E_IO', `cannot read model ${file}: ${(err as Error).message}`, { file });
  }
  if (!stat.isFile()) throw new KilnError('E_IO', `model ${file} is not a file`, { file });
  if (stat.size > MAX_MODEL_BYTES) throw new KilnError('E_MODEL_FORMAT', `model ${file} is ${stat.size} bytes, over the ${MAX_MODEL_BYTES}-byte limit`, { file });
  const text = fs.readFileSync(file, 'utf8');
  return assertValidModel(parseModelText(text, file), file);
}
