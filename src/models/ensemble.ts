/**
 * StackingClassifier: a binary stacked ensemble. Base models (GBDT with any growth settings,
 * logistic regression, MLP) are fitted on stratified, seeded k-fold splits; their out-of-fold
 * probabilities, as logits, train a logistic meta-model; optionally the project's Calibrator
 * (src/models/calibration.ts: sigmoid / Platt or isotonic) is fitted on cross-validated
 * meta-model probabilities and applied by predict; finally every member is
 * refitted on all rows. The stack is ONE model file (kind `stack`, schemas/model-stack.schema.json)
 * holding every member's full model, served like any other model (loadModel, predict, predictSync,
 * predictLabels with an optional stored threshold, setCalibration / setThreshold).
 *
 * Inputs: a ColumnBatch (text columns are categorical: GBDT members split on them natively, dense
 * members — logistic regression and MLP — see them one-hot encoded with the categories of the
 * training rows) or a dense row-major matrix. NaN / null is missing.
 *
 * Deterministic: one `seed` drives the fold assignment and every member's seed; the same data,
 * options and seed give a byte-identical file for any numThreads.
 *
 * Binary classification only: labels 0/1 (multiclass stacking is not implemented).
 */
import { KilnError } from '../../bindings/errors.js';
import { ColumnBatch, type Column } from '../batch/column-batch.js';
import { writeFileAtomic } from '../io/atomic.js';
import { checkOptionKeys, describe, enumOption, intOption, numberOption } from './dense-model-io.js';
import { Calibrator, type CalibrationJson } from './calibration.js';
import { DecisionModel, DecisionState, type ThresholdJson } from './decision.js';
import { assertValidModel, MODEL_FORMAT, MODEL_FORMAT_VERSION, readModelFile, type GbdtModelJson } from './format.js';
import { GBDT, type GBDTOptions } from './gbdt.js';
import { LogisticRegression, type LinearModelJson, type LogisticRegressionOptions } from './linear.js';
import { prepareInput, prepareLabels, rawValue, sortedCategories, type CategoryValue, type DenseMatrix, type ModelInput, type PreparedMatrix } from './matrix.js';
import { seededRandom } from '../validate/corpus.js';
import { MLP, type MlpModelJson, type MLPOptions } from './mlp.js';

/** Kinds of base model a stack can hold. */
export type StackMemberKind = 'gbdt' | 'logreg' | 'mlp';

/** One base model of a stack. `params` are the member's own options, without seed and numThreads. */
export interface StackMemberSpec {
  /** Unique, non-empty: names the member in progress, uncertainty and the model file. */
  name: string;
  kind: StackMemberKind;
  params?: GBDTOptions | LogisticRegressionOptions | MLPOptions;
}

/**
 * How the meta-model's output is calibrated: not at all, Platt ('sigmoid'; 'platt' is accepted as
 * an alias and recorded as 'sigmoid') or isotonic.
 */
export type StackCalibration = 'none' | 'sigmoid' | 'isotonic';

/** Options of StackingClassifier (defaults in brackets). */
export interface StackingOptions {
  /** At least one base model. */
  members: readonly StackMemberSpec[];
  /** Folds of the out-of-fold predictions, 2..20 [5]. */
  folds?: number;
  /** Drives the fold assignment and every member's seed [0]. */
  seed?: number;
  /** Inverse L2 strength of the logistic meta-model [1]. */
  metaC?: number;
  /** Also give the meta-model the (one-hot encoded) input features [false]. */
  passthrough?: boolean;
  /** Calibration of the stacked probability, fitted on cross-validated meta predictions ['none']. */
  calibrate?: StackCalibration | 'platt';
  /**
   * An unseen category of a text feature at predict time: 'error' (E_SCHEMA) or 'missing'
   * ['error']. Also the default unseenCategory of GBDT members.
   */
  unseenCategory?: 'error' | 'missing';
  /** Native threads of every fit and predict, 0 = all cores [0]; never changes the model. */
  numThreads?: number;
}

/** One step of StackingClassifier.fit, reported after it finishes. */
export interface StackProgress {
  /** 'member': a base model was fitted; 'meta': the meta-model; 'calibrate': the calibrator. */
  stage: 'member' | 'meta' | 'calibrate';
  member: string | null;
  memberIndex: number;
  /** The held-out fold (0..folds-1), or null for the refit on all rows. */
  fold: number | null;
  folds: number;
  step: number;
  totalSteps: number;
}

/** fit() options beyond X and y. */
export interface StackFitCall {
  /** Aborting rejects fit with E_CANCELLED. */
  signal?: AbortSignal;
  onProgress?: (p: StackProgress) => void;
}

/** Per-row stacked probability and how much the members agree. All arrays have one entry per row. */
export interface StackUncertainty {
  /** The stack's P(class 1) (calibrated when the stack has a calibrator): what predict returns. */
  probability: Float64Array;
  /** Unweighted mean of the members' P(class 1). */
  meanProbability: Float64Array;
  /** Population standard deviation of the members' P(class 1), in [0, 0.5]. */
  disagreement: Float64Array;
  /**
   * |2 probability - 1| * (1 - 2 disagreement), in [0, 1]: 1 when the stack is certain of a class
   * and every member gives the same probability; 0 at probability 0.5 or when members split 0 / 1.
   */
  confidence: Float64Array;
  /** Member probabilities, rows x members row-major, in memberNames order. */
  memberProbabilities: Float64Array;
  memberNames: string[];
}

/** One row's uncertainty (see StackUncertainty). */
export interface StackRowUncertainty {
  probability: number;
  meanProbability: number;
  disagreement: number;
  confidence: number;
  memberProbabilities: Float64Array;
}

/** What fit kept in memory (not saved): fold of each row and the out-of-fold probabilities. */
export interface StackOutOfFold {
  /** Held-out fold of each row. */
  folds: Int32Array;
  /** Out-of-fold P(class 1) of each member, rows x members row-major. */
  members: Float64Array;
  /** Cross-validated meta-model P(class 1) (before calibration). */
  meta: Float64Array;
  memberNames: string[];
}

/** A stack input feature; categorical features carry their categories (one-hot order). */
export type StackFeatureJson = { name: string; type: 'numeric' } | { name: string; type: 'categorical'; categories: CategoryValue[] };

/** A member entry of the model file. */
export interface StackMemberJson {
  name: string;
  kind: StackMemberKind;
  /** 'raw': the member reads the stack's features; 'encoded': numeric features plus one-hot columns. */
  input: 'raw' | 'encoded';
  model: GbdtModelJson | LinearModelJson | MlpModelJson;
}

/** Options as recorded in the model file. */
export interface StackParamsJson {
  members: { name: string; kind: StackMemberKind; params: Record<string, unknown> }[];
  folds: number;
  seed: number;
  metaC: number;
  passthrough: boolean;
  calibrate: StackCalibration;
  unseenCategory: 'error' | 'missing';
}

/** Fit quality measured on out-of-fold predictions. */
export interface StackTrainingJson {
  rows: number;
  classCounts: number[];
  foldSizes: number[];
  /** Out-of-fold AUC and log-loss of each member and of the cross-validated meta-model. */
  oof: { members: { name: string; auc: number; logLoss: number }[]; meta: { auc: number; logLoss: number } };
  receipt: string | null;
}

/** The model file of kind 'stack' (schemas/model-stack.schema.json). */
export interface StackModelJson {
  format: 'kiln.model';
  version: 1;
  kind: 'stack';
  objective: { name: 'binary'; numClass: 2 };
  features: StackFeatureJson[];
  unseenCategory: 'error' | 'missing';
  /** Optional class names in model order (absent for regression or unnamed classes). */
  classes?: string[];
  metaInput: { transform: 'logit'; epsilon: number; passthrough: boolean; features: string[] };
  /** Optional (absent when uncalibrated): the calibrator of the meta-model probability. */
  calibration?: CalibrationJson;
  /** Optional: the decision threshold of predictLabels (0.5 when absent). */
  threshold?: ThresholdJson;
  params: StackParamsJson;
  training: StackTrainingJson | null;
  meta: LinearModelJson;
  members: StackMemberJson[];
}

const OWNER = 'StackingClassifier';
const OPTION_KEYS = ['members', 'folds', 'seed', 'metaC', 'passthrough', 'calibrate', 'unseenCategory', 'numThreads'] as const;
/** Member probabilities are clipped to [EPSILON, 1 - EPSILON] before the logit. */
export const STACK_LOGIT_EPSILON = 1e-6;
/** Most categories of one text feature the one-hot encoding of dense members accepts. */
export const STACK_MAX_CATEGORIES = 1024;
const RESERVED_MEMBER_PARAMS = ['seed', 'numThreads'];
const FINAL_FOLD = 0xffff;

type Member = GBDT | LogisticRegression | MLP;

interface Encoder {
  features: StackFeatureJson[];
  /** Per feature: first encoded column. */
  offsets: number[];
  /** Per categorical feature: category -> index. */
  maps: (Map<CategoryValue, number> | null)[];
  names: string[];
  cols: number;
}

interface FittedStack {
  encoder: Encoder;
  members: Member[];
  meta: LogisticRegression;
  metaNames: string[];
  training: StackTrainingJson | null;
  /** predictSync scratch. */
  encodedRow: Float64Array;
  metaRow: Float64Array;
  memberRow: Float64Array;
}

function usage(message: string): KilnError {
  return new KilnError('E_USAGE', `${OWNER}: ${message}`);
}

function formatError(source: string, message: string): KilnError {
  return new KilnError('E_MODEL_FORMAT', `${source}: ${message}`, { source });
}

// ---------------------------------------------------------------------------------------------
// Seeds and folds

function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A 32-bit seed derived from the stack seed and a path of small integers (counter-based). */
export function deriveSeed(seed: number, ...path: number[]): number {
  let h = mix32((seed >>> 0) ^ mix32(Math.floor(seed / 4294967296) + 0x632be5ab));
  for (const p of path) h = mix32(h ^ mix32((p + 0x9e3779b9) >>> 0));
  return h;
}

/** The seed of member `memberIndex` when fold `fold` is held out, or of its refit on all rows ('final'). */
export function stackMemberSeed(seed: number, memberIndex: number, fold: number | 'final'): number {
  return deriveSeed(seed, 1, memberIndex, fold === 'final' ? FINAL_FOLD : fold);
}

/**
 * Stratified, seeded fold of each row: the rows of each class are shuffled and dealt round-robin,
 * so every fold holds each class within one row of an equal share, and fold sizes differ by at
 * most one. Depends only on the labels, k and the seed.
 */
export function stratifiedFolds(labels: ArrayLike<number>, k: number, seed: number): Int32Array {
  const n = labels.length;
  const classes = [...new Set(Array.from(labels))].sort((a, b) => a - b);
  const folds = new Int32Array(n);
  const rand = seededRandom(deriveSeed(seed, 0));
  let start = 0;
  for (const c of classes) {
    const idx: number[] = [];
    for (let i = 0; i < n; i++) if (labels[i] === c) idx.push(i);
    for (let i = idx.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const t = idx[i]!;
      idx[i] = idx[j]!;
      idx[j] = t;
    }
    idx.forEach((row, j) => {
      folds[row] = (start + j) % k;
    });
    start = (start + idx.length) % k;
  }
  return folds;
}

// ---------------------------------------------------------------------------------------------
// Inputs: features, one-hot encoding, row subsets

function numericValue(m: PreparedMatrix, f: number, r: number): number {
  return m.layout === 'row' ? m.values[r * m.cols + f]! : m.values[f * m.rows + r]!;
}

function makeEncoder(features: StackFeatureJson[]): Encoder {
  const offsets: number[] = [];
  const names: string[] = [];
  const maps: (Map<CategoryValue, number> | null)[] = [];
  for (const f of features) {
    offsets.push(names.length);
    if (f.type === 'numeric') {
      names.push(f.name);
      maps.push(null);
    } else {
      for (const c of f.categories) names.push(`${f.name}=${String(c)}`);
      maps.push(new Map(f.categories.map((c, i) => [c, i] as [CategoryValue, number])));
    }
  }
  return { features, offsets, maps, names, cols: names.length };
}

/** The stack's features from the training matrix: text columns are categorical. */
function inferFeatures(m: PreparedMatrix): StackFeatureJson[] {
  return m.featureNames.map((name, f) => {
    const raw = m.rawCategorical?.[f];
    if (!raw || raw.length === 0) return { name, type: 'numeric' as const };
    const seen: CategoryValue[] = [];
    for (const v of raw) if (v !== null) seen.push(v);
    const categories = sortedCategories(seen);
    if (categories.length > STACK_MAX_CATEGORIES) {
      throw usage(`text feature "${name}" has ${categories.length} categories; at most ${STACK_MAX_CATEGORIES} can be one-hot encoded for dense members (drop or hash the column)`);
    }
    return { name, type: 'categorical' as const, categories };
  });
}

/** Encoded row-major matrix of dense members: numeric values (NaN stays missing) and one-hot columns. */
function encodeMatrix(enc: Encoder, m: PreparedMatrix, unseen: 'error' | 'missing'): Float64Array {
  const E = enc.cols;
  const out = new Float64Array(m.rows * E);
  enc.features.forEach((feat, f) => {
    const off = enc.offsets[f]!;
    if (feat.type === 'numeric') {
      if (m.rawCategorical?.[f]?.length) throw usage(`feature "${feat.name}" holds text but the model treats it as numeric`);
      for (let r = 0; r < m.rows; r++) out[r * E + off] = numericValue(m, f, r);
      return;
    }
    const map = enc.maps[f]!;
    for (let r = 0; r < m.rows; r++) {
      const v = rawValue(m, f, r);
      if (v === null) continue;
      const c = map.get(v);
      if (c === undefined) {
        if (unseen === 'error') {
          throw new KilnError('E_SCHEMA', `feature "${feat.name}" has category ${JSON.stringify(v)} at row ${r} that the model never saw in training (policy 'error'; set unseenCategory: 'missing' to route unseen categories as missing)`, { feature: feat.name, row: r });
        }
        continue;
      }
      out[r * E + off + c] = 1;
    }
  });
  return out;
}

/** Rows `idx` of a row-major matrix. */
function takeRowsDense<T extends Float32Array | Float64Array>(values: T, cols: number, idx: Int32Array): T {
  const out = (values instanceof Float32Array ? new Float32Array(idx.length * cols) : new Float64Array(idx.length * cols)) as T;
  for (let i = 0; i < idx.length; i++) out.set(values.subarray(idx[i]! * cols, (idx[i]! + 1) * cols), i * cols);
  return out;
}

/** Rows `idx` of a column (fresh buffers). */
function takeColumn(c: Column, idx: Int32Array): Column {
  const n = idx.length;
  let validity: Uint8Array | null = null;
  let nullCount = 0;
  if (c.validity !== null) {
    validity = new Uint8Array((n + 7) >> 3);
    for (let i = 0; i < n; i++) {
      const r = idx[i]!;
      if ((c.validity[r >> 3]! & (1 << (r & 7))) !== 0) validity[i >> 3]! |= 1 << (i & 7);
      else nullCount++;
    }
  }
  if (c.type === 'utf8') {
    const o = c.offsets!;
    const src = c.values as Uint8Array;
    const offsets = new Int32Array(n + 1);
    for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i]! + (o[idx[i]! + 1]! - o[idx[i]!]!);
    const values = new Uint8Array(offsets[n]!);
    for (let i = 0; i < n; i++) values.set(src.subarray(o[idx[i]!]!, o[idx[i]! + 1]!), offsets[i]!);
    return { name: c.name, type: c.type, values, offsets, validity, nullCount };
  }
  const Ctor = c.values.constructor as new (n: number) => typeof c.values;
  const values = new Ctor(n);
  for (let i = 0; i < n; i++) (values as Float64Array)[i] = (c.values as Float64Array)[idx[i]!]!;
  return { name: c.name, type: c.type, values, validity, nullCount };
}

/** The raw input of GBDT members restricted to rows `idx`. */
function takeRaw(raw: ColumnBatch | DenseMatrix, idx: Int32Array): ColumnBatch | DenseMatrix {
  if (raw instanceof ColumnBatch) return new ColumnBatch(raw.columns.map((c) => takeColumn(c, idx)), idx.length);
  return { values: takeRowsDense(raw.values, raw.cols, idx), rows: idx.length, cols: raw.cols, ...(raw.featureNames ? { featureNames: raw.featureNames } : {}) };
}

// ---------------------------------------------------------------------------------------------
// Metrics and calibration

function clampProb(p: number, eps: number): number {
  return p < eps ? eps : p > 1 - eps ? 1 - eps : p;
}

function logit(p: number, eps: number): number {
  const q = clampProb(p, eps);
  return Math.log(q / (1 - q));
}

/** ROC AUC with ties counted half (Mann-Whitney). */
function rocAuc(p: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = p.length;
  const idx = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => p[a]! - p[b]! || a - b);
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && p[idx[j + 1]!] === p[idx[i]!]) j++;
    const rank = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) if (y[idx[t]!] === 1) {
      pos++;
      rankSum += rank;
    }
    i = j + 1;
  }
  const neg = n - pos;
  return pos === 0 || neg === 0 ? NaN : (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

function meanLogLoss(p: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) {
    const q = clampProb(p[i]!, 1e-15);
    s -= y[i] === 1 ? Math.log(q) : Math.log(1 - q);
  }
  return s / p.length;
}

// ---------------------------------------------------------------------------------------------
// Model file text

function jsonNumber(v: number): number | string {
  if (Number.isFinite(v)) return v;
  if (Number.isNaN(v)) throw new KilnError('E_MODEL_FORMAT', 'stack model contains NaN; refusing to write it');
  return v > 0 ? 'Infinity' : '-Infinity';
}

const replacer = (_key: string, v: unknown): unknown => (typeof v === 'number' ? jsonNumber(v) : v);

function isModelObject(v: unknown): boolean {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && (v as Record<string, unknown>).format === MODEL_FORMAT;
}

/** Canonical text: 2-space indented; arrays of scalars, objects of scalars and nested model objects on one line. */
function printValue(v: unknown, indent: string, depth: number): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(typeof v === 'number' ? jsonNumber(v) : v);
  const inner = indent + '  ';
  if (Array.isArray(v)) {
    if (v.length === 0 || v.every((x) => x === null || typeof x !== 'object')) return JSON.stringify(v, replacer);
    return `[\n${v.map((x) => inner + printValue(x, inner, depth + 1)).join(',\n')}\n${indent}]`;
  }
  if (depth > 0 && isModelObject(v)) return JSON.stringify(v, replacer);
  const flat = Object.values(v as Record<string, unknown>).every((x) => x === null || typeof x !== 'object' || (Array.isArray(x) && x.every((e) => e === null || typeof e !== 'object')));
  if (flat) return JSON.stringify(v, replacer);
  const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${printValue(x, inner, depth + 1)}`).join(',\n')}\n${indent}}`;
}

/** The canonical file text of a stack model: save -> load -> save is byte-identical. */
export function serializeStackModel(model: StackModelJson): string {
  return printValue(model, '', 0) + '\n';
}

// ---------------------------------------------------------------------------------------------
// The classifier

interface ResolvedStackOptions extends StackParamsJson {
  numThreads: number;
}

const MEMBER_KINDS: readonly StackMemberKind[] = ['gbdt', 'logreg', 'mlp'];
const FILE_KIND: Record<StackMemberKind, string> = { gbdt: 'gbdt', logreg: 'linear', mlp: 'mlp' };

function rewrap(err: unknown, prefix: string): never {
  if (err instanceof KilnError) throw new KilnError(err.code, `${prefix}: ${err.message}`, err.details);
  throw err;
}

/** A member model with its options for one fit (fold held out, or 'final'). */
function makeMember(spec: ResolvedStackOptions['members'][number], index: number, fold: number | 'final', o: ResolvedStackOptions): Member {
  const seed = stackMemberSeed(o.seed, index, fold);
  const p = spec.params;
  switch (spec.kind) {
    case 'gbdt': {
      // Fold models route categories unseen in their training rows as missing; the refit uses the policy.
      const unseenCategory = fold === 'final' ? (p.unseenCategory ?? o.unseenCategory) : 'missing';
      return new GBDT({ ...(p as GBDTOptions), unseenCategory: unseenCategory as GBDTOptions['unseenCategory'], seed, numThreads: o.numThreads });
    }
    case 'logreg':
      return new LogisticRegression({ ...(p as LogisticRegressionOptions), numThreads: o.numThreads });
    case 'mlp':
      return new MLP({ ...(p as MLPOptions), seed, numThreads: o.numThreads });
  }
}

function resolveOptions(options: StackingOptions): ResolvedStackOptions {
  const o = checkOptionKeys(OWNER, options, OPTION_KEYS);
  if (!Array.isArray(o.members) || o.members.length === 0) throw usage('option members must be a non-empty array of { name, kind, params }');
  const names = new Set<string>();
  const members = (o.members as unknown[]).map((m, i) => {
    if (m === null || typeof m !== 'object' || Array.isArray(m)) throw usage(`members[${i}] must be an object { name, kind, params }`);
    const spec = m as Record<string, unknown>;
    for (const k of Object.keys(spec)) if (!['name', 'kind', 'params'].includes(k)) throw usage(`members[${i}] has unknown key '${k}' (allowed: name, kind, params)`);
    if (typeof spec.name !== 'string' || spec.name.length === 0) throw usage(`members[${i}].name must be a non-empty string`);
    if (names.has(spec.name)) throw usage(`member name "${spec.name}" appears twice`);
    names.add(spec.name);
    if (!MEMBER_KINDS.includes(spec.kind as StackMemberKind)) throw usage(`member "${spec.name}": kind must be one of ${MEMBER_KINDS.map((k) => `'${k}'`).join(', ')} (got ${describe(spec.kind)})`);
    const params = spec.params ?? {};
    if (params === null || typeof params !== 'object' || Array.isArray(params)) throw usage(`member "${spec.name}": params must be an object`);
    for (const k of RESERVED_MEMBER_PARAMS) {
      if (k in params) throw usage(`member "${spec.name}": params.${k} is set by the stack (give the stack's ${k} option instead)`);
    }
    const objective = (params as Record<string, unknown>).objective;
    if (spec.kind !== 'logreg' && objective !== undefined && objective !== 'binary') throw usage(`member "${spec.name}": objective must be 'binary' (the stack is a binary classifier)`);
    let recorded: Record<string, unknown>;
    try {
      recorded = JSON.parse(JSON.stringify(params)) as Record<string, unknown>;
    } catch {
      throw usage(`member "${spec.name}": params must be plain JSON values`);
    }
    // Validate the member's own options now (E_USAGE naming the member and the option).
    const resolved = { name: spec.name, kind: spec.kind as StackMemberKind, params: recorded };
    try {
      makeMember(resolved, i, 'final', { members: [], folds: 2, seed: 0, metaC: 1, passthrough: false, calibrate: 'none', unseenCategory: 'error', numThreads: 0 });
    } catch (err) {
      rewrap(err, `${OWNER} member "${spec.name}"`);
    }
    return resolved;
  });
  if (o.passthrough !== undefined && typeof o.passthrough !== 'boolean') throw usage(`option passthrough must be a boolean (got ${describe(o.passthrough)})`);
  return {
    members,
    folds: intOption(OWNER, 'folds', o.folds, 5, 2, 20),
    seed: intOption(OWNER, 'seed', o.seed, 0, 0, Number.MAX_SAFE_INTEGER),
    metaC: numberOption(OWNER, 'metaC', o.metaC, 1, 0, Number.MAX_VALUE, true),
    passthrough: (o.passthrough as boolean | undefined) ?? false,
    calibrate: enumOption(OWNER, 'calibrate', o.calibrate === 'platt' ? 'sigmoid' : o.calibrate, 'none', ['none', 'sigmoid', 'isotonic'] as const),
    unseenCategory: enumOption(OWNER, 'unseenCategory', o.unseenCategory, 'error', ['error', 'missing'] as const),
    numThreads: intOption(OWNER, 'numThreads', o.numThreads, 0, 0, 256),
  };
}

function memberInput(kind: StackMemberKind): 'raw' | 'encoded' {
  return kind === 'gbdt' ? 'raw' : 'encoded';
}

function metaFeatureNames(memberNames: readonly string[], enc: Encoder, passthrough: boolean): string[] {
  const names = memberNames.map((n) => `logit(${n})`);
  if (passthrough) names.push(...enc.names);
  return names;
}

/** Meta-model matrix: logits of member probabilities (rows x M), then the encoded features. */
function metaMatrix(probs: Float64Array, M: number, rows: number, encoded: Float64Array | null, E: number, eps: number): Float64Array {
  const W = M + (encoded ? E : 0);
  const z = new Float64Array(rows * W);
  for (let r = 0; r < rows; r++) {
    for (let m = 0; m < M; m++) z[r * W + m] = logit(probs[r * M + m]!, eps);
    if (encoded) z.set(encoded.subarray(r * E, (r + 1) * E), r * W + M);
  }
  return z;
}

/** A binary stacked ensemble (see the module comment). */
export class StackingClassifier extends DecisionModel {
  readonly options: Readonly<ResolvedStackOptions>;
  private state: FittedStack | null = null;
  /** Calibrator and threshold (shared with GBDT, LogisticRegression and MLP). */
  protected readonly decision = new DecisionState(OWNER, 'binary', 2);
  private oofResult: StackOutOfFold | null = null;

  /** Validates every option, members' included (E_USAGE naming the member); nothing is fitted until fit(). */
  /** Throws unless the model is fitted (decision-state calls name themselves in the error). */
  protected requireFitted(what: string): void {
    this.fittedState(what);
  }

  constructor(options: StackingOptions) {
    super();
    if (options === null || typeof options !== 'object') throw usage('options must be an object with members');
    this.options = resolveOptions(options);
  }

  /** True once fitted or loaded. */
  get fitted(): boolean {
    return this.state !== null;
  }

  /** Member names in order. */
  get memberNames(): string[] {
    return this.options.members.map((m) => m.name);
  }

  /** Input feature names in order. */
  get featureNames(): string[] {
    return this.fittedState('featureNames').encoder.features.map((f) => f.name);
  }

  /** The fitted member models (GBDT, LogisticRegression, MLP), in member order. */
  get members(): Member[] {
    return [...this.fittedState('members').members];
  }

  /** The logistic meta-model. */
  get metaModel(): LogisticRegression {
    return this.fittedState('metaModel').meta;
  }

  /** What fit recorded (out-of-fold quality), or null. */
  get training(): StackTrainingJson | null {
    const t = this.fittedState('training').training;
    return t === null ? null : structuredClone(t);
  }

  /** Fold assignment and out-of-fold predictions of the last fit (null after fromJSON / load). */
  get outOfFold(): StackOutOfFold | null {
    return this.oofResult;
  }

  /**
   * Fits on X (ColumnBatch or row-major matrix) and labels y (0/1, both present, each class with
   * at least `folds` rows). Resolves to this model.
   */
  async fit(X: ModelInput, y: ArrayLike<number> | readonly number[], call: StackFitCall = {}): Promise<this> {
    const o = this.options;
    const c = checkOptionKeys(`${OWNER}.fit`, call, ['signal', 'onProgress']);
    if (c.signal !== undefined && !(c.signal instanceof AbortSignal)) throw usage('fit: signal must be an AbortSignal');
    if (c.onProgress !== undefined && typeof c.onProgress !== 'function') throw usage('fit: onProgress must be a function');
    const signal = c.signal as AbortSignal | undefined;
    const onProgress = c.onProgress as ((p: StackProgress) => void) | undefined;
    const checkAbort = (): void => {
      if (signal?.aborted) throw new KilnError('E_CANCELLED', `${OWNER}.fit: training was cancelled`);
    };
    checkAbort();

    const prepared = prepareInput(X, 'X');
    const rows = prepared.rows;
    const labels = prepareLabels(y, rows, 'y');
    const counts = [0, 0];
    for (let i = 0; i < rows; i++) {
      const v = labels[i]!;
      if (v !== 0 && v !== 1) throw usage(`y[${i}] is ${v}; the stack is a binary classifier and labels must be 0 or 1 (multiclass stacking is not supported)`);
      counts[v]!++;
    }
    if (counts[0] === 0 || counts[1] === 0) throw usage('y holds a single class; a classifier needs both 0 and 1');
    for (const k of [0, 1]) {
      if (counts[k]! < o.folds) throw usage(`class ${k} has ${counts[k]} rows, fewer than folds (${o.folds}); every fold needs each class (lower folds or add rows)`);
    }
    const features = inferFeatures(prepared);
    const enc = makeEncoder(features);
    const memberNames = o.members.map((m) => m.name);
    const metaNames = metaFeatureNames(memberNames, enc, o.passthrough);
    if (new Set(metaNames).size !== metaNames.length || new Set(enc.names).size !== enc.names.length) {
      throw usage('the one-hot column names (feature=category) and member logit names (logit(member)) must be unique; rename the clashing feature or member');
    }
    const needsEncoded = o.passthrough || o.members.some((m) => memberInput(m.kind) === 'encoded');
    const encoded = needsEncoded ? encodeMatrix(enc, prepared, 'missing') : null;
    const raw: ColumnBatch | DenseMatrix =
      X instanceof ColumnBatch ? X.select(prepared.featureNames) : { values: prepared.values, rows, cols: prepared.cols, featureNames: prepared.featureNames };

    const k = o.folds;
    const M = o.members.length;
    const folds = stratifiedFolds(labels, k, o.seed);
    const trainIdx: Int32Array[] = [];
    const testIdx: Int32Array[] = [];
    for (let f = 0; f < k; f++) {
      const tr: number[] = [];
      const te: number[] = [];
      for (let i = 0; i < rows; i++) (folds[i] === f ? te : tr).push(i);
      trainIdx.push(Int32Array.from(tr));
      testIdx.push(Int32Array.from(te));
    }
    const allIdx = Int32Array.from({ length: rows }, (_, i) => i);
    const subset = (kind: StackMemberKind, idx: Int32Array): ModelInput =>
      memberInput(kind) === 'raw' ? takeRaw(raw, idx) : { values: takeRowsDense(encoded!, enc.cols, idx), rows: idx.length, cols: enc.cols, featureNames: enc.names };
    const subLabels = (idx: Int32Array): Float64Array => Float64Array.from(idx, (i) => labels[i]!);

    const totalSteps = M * (k + 1) + 1 + (o.calibrate === 'none' ? 0 : 1);
    let step = 0;
    const report = (p: Omit<StackProgress, 'step' | 'totalSteps' | 'folds'>): void => {
      step++;
      if (!onProgress) return;
      try {
        onProgress({ ...p, folds: k, step, totalSteps });
      } catch {
        // A failing progress callback must not stop training.
      }
    };
    const fitMember = async (model: Member, Xs: ModelInput, ys: Float64Array): Promise<void> => {
      checkAbort();
      if (model instanceof GBDT) await model.fit(Xs, ys, signal ? { signal } : {});
      else await model.fit(Xs as DenseMatrix & { values: Float64Array }, ys, signal ? { signal } : {});
    };

    const oof = new Float64Array(rows * M);
    const fitted: Member[] = [];
    for (let m = 0; m < M; m++) {
      const spec = o.members[m]!;
      for (let f = 0; f < k; f++) {
        const model = makeMember(spec, m, f, o);
        await fitMember(model, subset(spec.kind, trainIdx[f]!), subLabels(trainIdx[f]!));
        const p = await model.predict(subset(spec.kind, testIdx[f]!) as never);
        const te = testIdx[f]!;
        for (let i = 0; i < te.length; i++) oof[te[i]! * M + m] = p[i]!;
        report({ stage: 'member', member: spec.name, memberIndex: m, fold: f });
      }
      const model = makeMember(spec, m, 'final', o);
      await fitMember(model, subset(spec.kind, allIdx), labels);
      fitted.push(model);
      report({ stage: 'member', member: spec.name, memberIndex: m, fold: null });
    }

    const eps = STACK_LOGIT_EPSILON;
    const Z = metaMatrix(oof, M, rows, o.passthrough ? encoded : null, enc.cols, eps);
    const W = metaNames.length;
    const metaOpts: LogisticRegressionOptions = { C: o.metaC, numThreads: o.numThreads };
    // Cross-validated meta predictions on the same folds: an honest estimate of the stack and the calibration set.
    const metaOof = new Float64Array(rows);
    for (let f = 0; f < k; f++) {
      checkAbort();
      const tr = trainIdx[f]!, te = testIdx[f]!;
      const mf = await new LogisticRegression(metaOpts).fit({ values: takeRowsDense(Z, W, tr), rows: tr.length, cols: W, featureNames: metaNames }, subLabels(tr), signal ? { signal } : {});
      const q = await mf.predict({ values: takeRowsDense(Z, W, te), rows: te.length, cols: W, featureNames: metaNames });
      for (let i = 0; i < te.length; i++) metaOof[te[i]!] = q[i]!;
    }
    checkAbort();
    const meta = await new LogisticRegression(metaOpts).fit({ values: Z, rows, cols: W, featureNames: metaNames }, labels, signal ? { signal } : {});
    report({ stage: 'meta', member: null, memberIndex: -1, fold: null });

    // The project's Calibrator, fitted on the cross-validated meta probabilities (each row scored by
    // a meta-model that did not see it); isotonic warns on small sets (calibration.warnings).
    const calibrator = o.calibrate === 'none' ? null : Calibrator.fit(metaOof, labels, { method: o.calibrate, source: 'cross-validation', folds: k });
    if (calibrator !== null) report({ stage: 'calibrate', member: null, memberIndex: -1, fold: null });

    const foldSizes = new Array<number>(k).fill(0);
    for (let i = 0; i < rows; i++) foldSizes[folds[i]!]!++;
    const training: StackTrainingJson = {
      rows,
      classCounts: counts,
      foldSizes,
      oof: {
        members: memberNames.map((name, m) => {
          const p = Float64Array.from({ length: rows }, (_, i) => oof[i * M + m]!);
          return { name, auc: rocAuc(p, labels), logLoss: meanLogLoss(p, labels) };
        }),
        meta: { auc: rocAuc(metaOof, labels), logLoss: meanLogLoss(metaOof, labels) },
      },
      receipt: null,
    };
    this.state = makeState(enc, fitted, meta, metaNames, training);
    this.decision.reset('binary', 2);
    if (calibrator !== null) this.decision.setCalibration(calibrator);
    this.oofResult = { folds, members: oof, meta: metaOof, memberNames };
    return this;
  }

  /** Member probabilities for X, rows x members row-major. */
  private async memberProbabilities(X: ModelInput): Promise<{ probs: Float64Array; encoded: Float64Array | null; rows: number }> {
    const s = this.fittedState('predict');
    const o = this.options;
    const prepared = prepareInput(X, 'X', s.encoder.features.map((f) => f.name));
    const rows = prepared.rows;
    const needsEncoded = o.passthrough || o.members.some((m) => memberInput(m.kind) === 'encoded');
    const encoded = needsEncoded ? encodeMatrix(s.encoder, prepared, o.unseenCategory) : null;
    const M = s.members.length;
    const probs = new Float64Array(rows * M);
    for (let m = 0; m < M; m++) {
      const model = s.members[m]!;
      let p: Float64Array;
      if (model instanceof GBDT) p = await model.predict(X);
      else p = await model.predict({ values: encoded!, rows, cols: s.encoder.cols, featureNames: s.encoder.names });
      for (let r = 0; r < rows; r++) probs[r * M + m] = p[r]!;
    }
    return { probs, encoded, rows };
  }

  private async stacked(X: ModelInput, calibrated = true): Promise<{ p: Float64Array; probs: Float64Array; rows: number }> {
    const s = this.fittedState('predict');
    const { probs, encoded, rows } = await this.memberProbabilities(X);
    const M = s.members.length;
    const eps = STACK_LOGIT_EPSILON;
    const Z = metaMatrix(probs, M, rows, this.options.passthrough ? encoded : null, s.encoder.cols, eps);
    const q = await s.meta.predict({ values: Z, rows, cols: s.metaNames.length, featureNames: s.metaNames });
    const cal = this.decision.calibrator;
    if (cal && calibrated) cal.applyInPlace(q);
    return { p: q, probs, rows };
  }

  /**
   * P(class 1) per row, calibrated when the stack has a calibrator (unless `calibrated: false`).
   * A ColumnBatch is read by the model's feature names.
   */
  async predict(X: ModelInput, options: { calibrated?: boolean } = {}): Promise<Float64Array> {
    const o = checkOptionKeys(`${OWNER}.predict`, options, ['calibrated']);
    if (o.calibrated !== undefined && typeof o.calibrated !== 'boolean') throw usage('predict: option calibrated must be a boolean');
    return (await this.stacked(X, o.calibrated !== false)).p;
  }

  /**
   * Class labels: 1 where P(class 1) >= the stored threshold (0.5 without one; compared with the
   * calibrated or uncalibrated probability as the threshold records).
   */
  async predictLabels(X: ModelInput): Promise<Int32Array> {
    this.fittedState('predictLabels');
    const p = (await this.stacked(X, !this.decision.labelsUseUncalibrated)).p;
    return this.decision.labels(p, 2);
  }

  /** The label of one row (see predictLabels and predictSync), synchronously. */
  predictLabelSync(row: ArrayLike<number | string | null>): number {
    return this.decision.labelOne(this.syncRow('predictLabelSync', row, !this.decision.labelsUseUncalibrated).p);
  }

  /** The stacked probability plus member agreement, per row (see StackUncertainty). */
  async predictWithUncertainty(X: ModelInput): Promise<StackUncertainty> {
    const s = this.fittedState('predictWithUncertainty');
    const { p, probs, rows } = await this.stacked(X);
    const M = s.members.length;
    const meanProbability = new Float64Array(rows);
    const disagreement = new Float64Array(rows);
    const confidence = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      const u = rowUncertainty(p[r]!, probs, r * M, M);
      meanProbability[r] = u.mean;
      disagreement[r] = u.std;
      confidence[r] = u.confidence;
    }
    return { probability: p, meanProbability, disagreement, confidence, memberProbabilities: probs, memberNames: this.memberNames };
  }

  /**
   * One row on the calling thread, for serving: values in feature order (numbers, text for
   * categorical features, null / NaN for missing). Returns P(class 1).
   */
  predictSync(row: ArrayLike<number | string | null>): number {
    return this.syncRow('predictSync', row).p;
  }

  /** One row's probability and member agreement on the calling thread (see predictSync). */
  predictWithUncertaintySync(row: ArrayLike<number | string | null>): StackRowUncertainty {
    const { p, probs } = this.syncRow('predictWithUncertaintySync', row);
    const u = rowUncertainty(p, probs, 0, probs.length);
    return { probability: p, meanProbability: u.mean, disagreement: u.std, confidence: u.confidence, memberProbabilities: Float64Array.from(probs) };
  }

  private syncRow(what: string, row: ArrayLike<number | string | null>, calibrated = true): { p: number; probs: Float64Array } {
    const s = this.fittedState(what);
    const o = this.options;
    const feats = s.encoder.features;
    if (row === null || typeof row !== 'object' || typeof row.length !== 'number') throw usage(`${what}: row must be an array of ${feats.length} values`);
    if (row.length !== feats.length) throw usage(`${what}: the row has ${row.length} values but the model has ${feats.length} features`);
    const x = s.encodedRow;
    x.fill(0);
    feats.forEach((feat, f) => {
      const v = row[f];
      const off = s.encoder.offsets[f]!;
      if (feat.type === 'numeric') {
        if (v === null || v === undefined) x[off] = NaN;
        else if (typeof v === 'number') x[off] = v;
        else throw usage(`${what}: feature "${feat.name}" is numeric but the row holds ${describe(v)}`);
        return;
      }
      if (v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v))) return;
      const c = s.encoder.maps[f]!.get(v as CategoryValue);
      if (c === undefined) {
        if (o.unseenCategory === 'error') throw new KilnError('E_SCHEMA', `feature "${feat.name}" has category ${JSON.stringify(v)} that the model never saw in training (policy 'error')`, { feature: feat.name });
        return;
      }
      x[off + c] = 1;
    });
    const M = s.members.length;
    const probs = s.memberRow;
    for (let m = 0; m < M; m++) {
      const model = s.members[m]!;
      probs[m] = (model instanceof GBDT ? model.predictSync(row) : model.predictSync(x)) as number;
    }
    const z = s.metaRow;
    const eps = STACK_LOGIT_EPSILON;
    for (let m = 0; m < M; m++) z[m] = logit(probs[m]!, eps);
    if (o.passthrough) z.set(x, M);
    const q = s.meta.predictSync(z) as number;
    const cal = this.decision.calibrator;
    return { p: cal && calibrated ? cal.applyOne(q) : q, probs };
  }

  /** The model file object (schemas/model-stack.schema.json). */
  toJSON(): StackModelJson {
    const s = this.fittedState('toJSON');
    const o = this.options;
    return {
      format: MODEL_FORMAT,
      version: MODEL_FORMAT_VERSION,
      kind: 'stack',
      objective: { name: 'binary', numClass: 2 },
      features: s.encoder.features.map((f) => (f.type === 'numeric' ? { name: f.name, type: 'numeric' as const } : { name: f.name, type: 'categorical' as const, categories: [...f.categories] })),
      unseenCategory: o.unseenCategory,
      metaInput: { transform: 'logit', epsilon: STACK_LOGIT_EPSILON, passthrough: o.passthrough, features: [...s.metaNames] },
      ...this.decision.fields(),
      params: {
        members: o.members.map((m) => ({ name: m.name, kind: m.kind, params: structuredClone(m.params) })),
        folds: o.folds,
        seed: o.seed,
        metaC: o.metaC,
        passthrough: o.passthrough,
        calibrate: o.calibrate,
        unseenCategory: o.unseenCategory,
      },
      training: s.training === null ? null : structuredClone(s.training),
      meta: s.meta.toJSON(),
      members: o.members.map((m, i) => ({ name: m.name, kind: m.kind, input: memberInput(m.kind), model: s.members[i]!.toJSON() })),
    };
  }

  /** Writes the model file atomically; save -> load -> save is byte-identical. */
  async save(file: string): Promise<void> {
    await writeFileAtomic(file, serializeStackModel(this.toJSON()));
  }

  /** Rebuilds a stack from its model object; anything inconsistent is refused with E_MODEL_FORMAT. */
  static fromJSON(obj: unknown, source = 'model', options: { numThreads?: number } = {}): StackingClassifier {
    const valid = assertValidModel(obj, source);
    if (valid.kind !== 'stack') throw formatError(source, `is a ${valid.kind} model, not stack`);
    const j = valid as unknown as StackModelJson;
    const bad = (msg: string): never => {
      throw formatError(source, msg);
    };
    let stack: StackingClassifier;
    try {
      stack = new StackingClassifier({
        members: j.params.members.map((m) => ({ name: m.name, kind: m.kind, params: m.params as GBDTOptions })),
        folds: j.params.folds,
        seed: j.params.seed,
        metaC: j.params.metaC,
        passthrough: j.params.passthrough,
        calibrate: j.params.calibrate,
        unseenCategory: j.params.unseenCategory,
        ...(options.numThreads !== undefined ? { numThreads: options.numThreads } : {}),
      });
    } catch (err) {
      return bad(`params are not valid stack options: ${(err as Error).message}`);
    }
    const o = stack.options;
    if (j.members.length !== o.members.length) bad(`${j.members.length} members but params list ${o.members.length}`);
    if (j.unseenCategory !== o.unseenCategory || j.metaInput.passthrough !== o.passthrough) bad('unseenCategory / metaInput.passthrough disagree with params');
    const names = new Set<string>();
    for (const f of j.features) {
      if (names.has(f.name)) bad(`feature "${f.name}" appears twice`);
      names.add(f.name);
      if (f.type === 'categorical' && new Set(f.categories).size !== f.categories.length) bad(`categorical feature "${f.name}" repeats a category`);
    }
    const enc = makeEncoder(j.features.map((f) => (f.type === 'numeric' ? { name: f.name, type: 'numeric' as const } : { name: f.name, type: 'categorical' as const, categories: [...f.categories] })));
    const featureNames = j.features.map((f) => f.name);
    const members: Member[] = j.members.map((entry, i) => {
      const spec = o.members[i]!;
      const where = `member "${entry.name}"`;
      if (entry.name !== spec.name || entry.kind !== spec.kind) bad(`members[${i}] is ${entry.kind} "${entry.name}" but params list ${spec.kind} "${spec.name}"`);
      if (entry.input !== memberInput(entry.kind)) bad(`${where}: input must be '${memberInput(entry.kind)}'`);
      const model = entry.model as unknown as Record<string, unknown>;
      if (model.kind !== FILE_KIND[entry.kind]) bad(`${where} holds a ${String(model.kind)} model, expected ${FILE_KIND[entry.kind]}`);
      let member: Member;
      try {
        if (entry.kind === 'gbdt') member = GBDT.fromJSON(model, `${source} ${where}`);
        else if (entry.kind === 'logreg') member = LogisticRegression.fromJSON(model, { numThreads: o.numThreads });
        else member = MLP.fromJSON(model, { numThreads: o.numThreads });
      } catch (err) {
        return bad(`${where} is not a valid ${FILE_KIND[entry.kind]} model: ${(err as Error).message}`);
      }
      if (member instanceof GBDT) {
        if (member.toJSON().objective.name !== 'binary') bad(`${where} is not a binary model`);
        if (member.featureNames.join('\u0000') !== featureNames.join('\u0000')) bad(`${where} features differ from the stack's features`);
      } else {
        if (member.numClass !== 2 || (member instanceof MLP && member.objective !== 'binary')) bad(`${where} is not a binary model`);
        if (member.featureNames.join('\u0000') !== enc.names.join('\u0000')) bad(`${where} features differ from the stack's encoded features`);
      }
      return member;
    });
    const metaNames = metaFeatureNames(o.members.map((m) => m.name), enc, o.passthrough);
    if (j.metaInput.epsilon !== STACK_LOGIT_EPSILON) bad(`metaInput.epsilon must be ${STACK_LOGIT_EPSILON}`);
    if (j.metaInput.features.join('\u0000') !== metaNames.join('\u0000')) bad('metaInput.features do not match the members (and passthrough features)');
    let meta: LogisticRegression;
    try {
      meta = LogisticRegression.fromJSON(j.meta, { numThreads: o.numThreads });
    } catch (err) {
      return bad(`meta is not a valid linear model: ${(err as Error).message}`);
    }
    if (meta.numClass !== 2) bad('meta is not a binary model');
    if (meta.featureNames.join('\u0000') !== metaNames.join('\u0000')) bad('meta features differ from metaInput.features');
    stack.state = makeState(enc, members, meta, metaNames, j.training === null ? null : structuredClone(j.training));
    stack.decision.reset('binary', 2);
    stack.decision.load(j, source);
    return stack;
  }

  /** Reads a stack model file. Throws E_IO or E_MODEL_FORMAT. */
  static async load(file: string, options: { numThreads?: number } = {}): Promise<StackingClassifier> {
    return StackingClassifier.fromJSON(readModelFile(file), file, options);
  }

  private fittedState(what: string): FittedStack {
    if (this.state === null) throw usage(`${what}: the stack is not fitted (call fit() or load a model first)`);
    return this.state;
  }
}

function makeState(encoder: Encoder, members: Member[], meta: LogisticRegression, metaNames: string[], training: StackTrainingJson | null): FittedStack {
  return {
    encoder,
    members,
    meta,
    metaNames,
    training,
    encodedRow: new Float64Array(encoder.cols),
    metaRow: new Float64Array(metaNames.length),
    memberRow: new Float64Array(members.length),
  };
}

function rowUncertainty(p: number, probs: Float64Array, at: number, M: number): { mean: number; std: number; confidence: number } {
  let mean = 0;
  for (let m = 0; m < M; m++) mean += probs[at + m]!;
  mean /= M;
  let v = 0;
  for (let m = 0; m < M; m++) v += (probs[at + m]! - mean) ** 2;
  const std = Math.min(0.5, Math.sqrt(v / M));
  return { mean, std, confidence: Math.abs(2 * p - 1) * (1 - 2 * std) };
}
