import {
  cancelOp,
  cancelToken,
  gbdtImportance,
  gbdtPredict,
  gbdtPredictor,
  gbdtPredictRowFunction,
  gbdtTrain,
  MAX_THREADS,
  nativeInfo,
  type PredictorHandle,
  type RawForest,
  type RawGbdtParams,
  type RawIterationInfo,
  type RawTrainResult,
} from '../../bindings/index.js';
import { KilnError } from '../../bindings/errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import {
  assertValidModel,
  DECISION_CATEGORICAL,
  MODEL_FORMAT,
  MODEL_FORMAT_VERSION,
  numericDecision,
  readModelFile,
  reviveNumber,
  serializeModel,
  type FeatureJson,
  type GbdtModelJson,
  type GbdtObjectiveName,
  type TreeJson,
  type UnseenPolicy,
} from './format.js';
import { prepareInput, prepareLabels, rawValue, sortedCategories, type CategoryValue, type ModelInput, type PreparedMatrix } from './matrix.js';
import { DecisionModel, DecisionState, type DecisionTask } from './decision.js';

/** Options of a GBDT model (LightGBM names in camelCase; defaults in GBDT_DEFAULTS). */
export interface GBDTOptions {
  objective?: GbdtObjectiveName;
  /** Classes for multiclass (>= 2); inferred from the labels when omitted. */
  numClass?: number;
  /** Huber loss transition point. */
  huberDelta?: number;
  nEstimators?: number;
  learningRate?: number;
  numLeaves?: number;
  /** <= 0: unlimited. */
  maxDepth?: number;
  minDataInLeaf?: number;
  minSumHessianInLeaf?: number;
  lambdaL2?: number;
  minGainToSplit?: number;
  featureFraction?: number;
  baggingFraction?: number;
  baggingFreq?: number;
  /** 'balanced' (n / (K * n_class)) or one weight per class. */
  classWeight?: 'balanced' | readonly number[] | null;
  scalePosWeight?: number;
  maxBin?: number;
  /** Categorical features by name (utf8 columns of a ColumnBatch are always categorical). */
  categorical?: readonly string[];
  /** What an unseen category does at predict time: one policy, or one per feature name. */
  unseenCategory?: UnseenPolicy | Record<string, UnseenPolicy>;
  /** Monotone constraints by feature name: +1 increasing, -1 decreasing. */
  monotone?: Record<string, -1 | 0 | 1>;
  /** Validation metric for early stopping: the objective's loss (default) or 'auc' (binary). */
  metric?: 'default' | 'auc';
  numThreads?: number;
  /**
   * Where training runs: 'cpu' (default), 'cuda' (needs the CUDA build, `KILN_CUDA=1 npm install`,
   * and a GPU; E_NO_GPU otherwise) or 'auto' (cuda when available, else cpu). An execution setting
   * like numThreads: the trained model is the same on either device and does not record it.
   */
  device?: GbdtDevice;
  seed?: number;
  /** Rows sampled to find bin edges. */
  binSampleSize?: number;
}

/** Where GBDT training runs. */
export type GbdtDevice = 'cpu' | 'cuda' | 'auto';

/** Defaults of every option. */
export const GBDT_DEFAULTS = {
  objective: 'binary' as GbdtObjectiveName,
  huberDelta: 1.0,
  nEstimators: 100,
  learningRate: 0.1,
  numLeaves: 31,
  maxDepth: -1,
  minDataInLeaf: 20,
  minSumHessianInLeaf: 1e-3,
  lambdaL2: 0,
  minGainToSplit: 0,
  featureFraction: 1,
  baggingFraction: 1,
  baggingFreq: 0,
  scalePosWeight: 1,
  maxBin: 255,
  metric: 'default' as 'default' | 'auc',
  numThreads: 0,
  device: 'cpu' as GbdtDevice,
  seed: 0,
  binSampleSize: 200_000,
};

const OPTION_KEYS = [
  'objective', 'numClass', 'huberDelta', 'nEstimators', 'learningRate', 'numLeaves', 'maxDepth', 'minDataInLeaf',
  'minSumHessianInLeaf', 'lambdaL2', 'minGainToSplit', 'featureFraction', 'baggingFraction', 'baggingFreq', 'classWeight',
  'scalePosWeight', 'maxBin', 'categorical', 'unseenCategory', 'monotone', 'metric', 'numThreads', 'device', 'seed', 'binSampleSize',
] as const;

/** One boosting round, as reported to onProgress. */
export interface GBDTProgress {
  round: number;
  totalRounds: number;
  trainMetric: number;
  /** NaN without a validation set. */
  validMetric: number;
  metric: string;
  rowsPerSecond: number;
  bestIteration: number;
}

/** fit() options. */
export interface GBDTFitOptions {
  valid?: { X: ModelInput; y: ArrayLike<number> | readonly number[] };
  /** Stop when the validation metric has not improved for this many rounds (needs valid). */
  earlyStoppingRounds?: number;
  onProgress?: (p: GBDTProgress) => void;
  signal?: AbortSignal;
}

/** predict() options. */
export interface GBDTPredictOptions {
  /** Iterations to use (default: the model's bestIteration). */
  numIteration?: number;
  /** Margins instead of probabilities (never calibrated). */
  raw?: boolean;
  /** Apply the model's calibrator, when it has one [true]; false gives the uncalibrated probabilities. */
  calibrated?: boolean;
  numThreads?: number;
}

type ResolvedOptions = typeof GBDT_DEFAULTS & {
  numClass: number | null;
  classWeight: 'balanced' | number[] | null;
  categorical: string[];
  unseenCategory: UnseenPolicy | Record<string, UnseenPolicy>;
  monotone: Record<string, -1 | 0 | 1>;
};

function usage(message: string): KilnError {
  return new KilnError('E_USAGE', message);
}

function optNumber(o: Record<string, unknown>, key: string, def: number, min: number, max: number, integer: boolean, exclusiveMin = false): number {
  const v = o[key] ?? def;
  const bad = typeof v !== 'number' || Number.isNaN(v) || (integer && !Number.isInteger(v)) || (exclusiveMin ? v <= min : v < min) || v > max;
  if (bad) {
    const range = `${exclusiveMin ? '(' : '['}${min}, ${max}]`;
    throw usage(`GBDT option ${key} must be ${integer ? 'an integer' : 'a number'} in ${range} (got ${JSON.stringify(v) ?? String(v)})`);
  }
  return v as number;
}

/** Validates options (naming the bad one) and fills defaults. */
export function resolveGbdtOptions(options: GBDTOptions = {}): ResolvedOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw usage('GBDT options must be an object');
  const o = options as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!(OPTION_KEYS as readonly string[]).includes(k)) throw usage(`unknown GBDT option "${k}" (known: ${OPTION_KEYS.join(', ')})`);
  }
  const objective = (o.objective ?? 'binary') as GbdtObjectiveName;
  if (!['binary', 'multiclass', 'regression', 'huber'].includes(objective)) {
    throw usage(`GBDT option objective must be 'binary', 'multiclass', 'regression' or 'huber' (got ${JSON.stringify(o.objective)})`);
  }
  const numClass = o.numClass === undefined ? null : optNumber(o, 'numClass', 2, 2, 1024, true);
  if (numClass !== null && objective !== 'multiclass') throw usage('GBDT option numClass applies to objective multiclass only');
  let classWeight: 'balanced' | number[] | null = null;
  if (o.classWeight === 'balanced') classWeight = 'balanced';
  else if (Array.isArray(o.classWeight)) {
    classWeight = o.classWeight.map((w, i) => {
      if (typeof w !== 'number' || !(w > 0) || !Number.isFinite(w)) throw usage(`GBDT option classWeight[${i}] must be a finite number > 0`);
      return w;
    });
  } else if (o.classWeight !== undefined && o.classWeight !== null) throw usage(`GBDT option classWeight must be 'balanced' or an array of per-class weights`);
  if (classWeight !== null && objective !== 'binary' && objective !== 'multiclass') throw usage('GBDT option classWeight applies to classification objectives only');
  const categorical = o.categorical ?? [];
  if (!Array.isArray(categorical) || categorical.some((c) => typeof c !== 'string')) throw usage('GBDT option categorical must be an array of feature names');
  const unseen = o.unseenCategory ?? 'error';
  const checkPolicy = (v: unknown, where: string): void => {
    if (v !== 'error' && v !== 'missing') throw usage(`GBDT option ${where} must be 'error' or 'missing' (got ${JSON.stringify(v)})`);
  };
  if (typeof unseen === 'string') checkPolicy(unseen, 'unseenCategory');
  else if (unseen && typeof unseen === 'object') for (const [k, v] of Object.entries(unseen)) checkPolicy(v, `unseenCategory.${k}`);
  else throw usage('GBDT option unseenCategory must be a policy or a record of policies');
  const monotone = (o.monotone ?? {}) as Record<string, unknown>;
  if (typeof monotone !== 'object' || monotone === null || Array.isArray(monotone)) throw usage('GBDT option monotone must be a record { featureName: -1 | 0 | 1 }');
  for (const [k, v] of Object.entries(monotone)) if (v !== -1 && v !== 0 && v !== 1) throw usage(`GBDT option monotone.${k} must be -1, 0 or 1 (got ${JSON.stringify(v)})`);
  const metric = o.metric ?? 'default';
  if (metric !== 'default' && metric !== 'auc') throw usage(`GBDT option metric must be 'default' or 'auc' (got ${JSON.stringify(metric)})`);
  if (metric === 'auc' && objective !== 'binary') throw usage("GBDT option metric 'auc' needs objective 'binary'");
  const device = o.device ?? 'cpu';
  if (device !== 'cpu' && device !== 'cuda' && device !== 'auto') throw usage(`GBDT option device must be 'cpu', 'cuda' or 'auto' (got ${JSON.stringify(o.device)})`);
  const baggingFraction = optNumber(o, 'baggingFraction', 1, 0, 1, false, true);
  const baggingFreq = optNumber(o, 'baggingFreq', 0, 0, 1e6, true);
  return {
    objective,
    numClass,
    huberDelta: optNumber(o, 'huberDelta', 1, 0, 1e300, false, true),
    nEstimators: optNumber(o, 'nEstimators', 100, 0, 1e6, true),
    learningRate: optNumber(o, 'learningRate', 0.1, 0, 1e3, false, true),
    numLeaves: optNumber(o, 'numLeaves', 31, 2, 131072, true),
    maxDepth: optNumber(o, 'maxDepth', -1, -1, 1000, true),
    minDataInLeaf: optNumber(o, 'minDataInLeaf', 20, 1, 2 ** 31, true),
    minSumHessianInLeaf: optNumber(o, 'minSumHessianInLeaf', 1e-3, 0, 1e300, false),
    lambdaL2: optNumber(o, 'lambdaL2', 0, 0, 1e300, false),
    minGainToSplit: optNumber(o, 'minGainToSplit', 0, 0, 1e300, false),
    featureFraction: optNumber(o, 'featureFraction', 1, 0, 1, false, true),
    baggingFraction,
    baggingFreq,
    classWeight,
    scalePosWeight: optNumber(o, 'scalePosWeight', 1, 0, 1e300, false, true),
    maxBin: optNumber(o, 'maxBin', 255, 2, 255, true),
    categorical: [...(categorical as string[])],
    unseenCategory: unseen as UnseenPolicy | Record<string, UnseenPolicy>,
    monotone: monotone as Record<string, -1 | 0 | 1>,
    metric: metric as 'default' | 'auc',
    numThreads: optNumber(o, 'numThreads', 0, 0, MAX_THREADS, true),
    device: device as GbdtDevice,
    seed: optNumber(o, 'seed', 0, 0, Number.MAX_SAFE_INTEGER, true),
    binSampleSize: optNumber(o, 'binSampleSize', 200_000, 1, Number.MAX_SAFE_INTEGER, true),
  };
}

/**
 * The device training runs on: 'auto' is 'cuda' when the addon has CUDA and sees a GPU, else 'cpu';
 * 'cuda' without them fails here with E_NO_GPU (the addon would refuse it too).
 */
export function resolveDevice(device: GbdtDevice): 'cpu' | 'cuda' {
  if (device === 'cpu') return 'cpu';
  const info = nativeInfo();
  const usable = info.cudaCompiled && info.gpus.length > 0;
  if (device === 'auto') return usable ? 'cuda' : 'cpu';
  if (!info.cudaCompiled) {
    throw new KilnError('E_NO_GPU', "GBDT option device 'cuda' needs the CUDA build of kiln, and this one was built without CUDA: rebuild with `KILN_CUDA=1 npm install` (or `npm run build:cuda`), or use device 'cpu' or 'auto'");
  }
  if (!usable) throw new KilnError('E_NO_GPU', "GBDT option device 'cuda': kiln was built with CUDA but no usable GPU was found (driver missing or no device); use device 'cpu' or 'auto'");
  return 'cuda';
}

/** Per-feature code lookup of a model's categorical features. */
interface CategoryEncoder {
  feature: number;
  name: string;
  codes: Map<CategoryValue, number>;
  unseen: UnseenPolicy;
}

/** Counts of unseen categories per feature name seen by the last predict call. */
export type UnseenCounts = Record<string, number>;

/**
 * Replaces categorical columns by their codes (a copy; the input is never modified). Unseen values
 * become NaN under policy 'missing' and throw E_SCHEMA under 'error'. Returns the counts.
 */
function encodeCategoricals(m: PreparedMatrix, encoders: readonly CategoryEncoder[], forceMissing = false): { matrix: PreparedMatrix; unseen: UnseenCounts } {
  const unseen: UnseenCounts = {};
  if (encoders.length === 0) {
    if (m.rawCategorical?.some((c) => c && c.length > 0)) {
      const f = m.rawCategorical.findIndex((c) => c && c.length > 0);
      throw usage(`feature "${m.featureNames[f]}" holds text but the model treats it as numeric`);
    }
    return { matrix: m, unseen };
  }
  const values = m.values instanceof Float32Array ? new Float32Array(m.values) : new Float64Array(m.values);
  for (const e of encoders) {
    let count = 0;
    for (let r = 0; r < m.rows; r++) {
      const v = rawValue(m, e.feature, r);
      let code = NaN;
      if (v !== null) {
        const c = e.codes.get(v);
        if (c === undefined) {
          count++;
          if (e.unseen === 'error' && !forceMissing) {
            throw new KilnError('E_SCHEMA', `feature "${e.name}" has category ${JSON.stringify(v)} at row ${r} that the model never saw in training (policy 'error'; set unseenCategory: 'missing' to route unseen categories as missing)`, { feature: e.name, row: r });
          }
        } else code = c;
      }
      if (m.layout === 'row') values[r * m.cols + e.feature] = code;
      else values[e.feature * m.rows + r] = code;
    }
    if (count > 0) unseen[e.name] = count;
  }
  return { matrix: { ...m, values, rawCategorical: null }, unseen };
}

/** A model JSON's trees flattened for the native predictor. */
export function forestFromModel(model: GbdtModelJson): RawForest {
  const trees = model.trees;
  const nodeOffset = new Int32Array(trees.length + 1);
  const leafOffset = new Int32Array(trees.length + 1);
  const catOffset = new Int32Array(trees.length + 1);
  trees.forEach((t, i) => {
    nodeOffset[i + 1] = nodeOffset[i]! + t.splitFeature.length;
    leafOffset[i + 1] = leafOffset[i]! + t.leafValue.length;
    catOffset[i + 1] = catOffset[i]! + t.catSets.length;
  });
  const nodes = nodeOffset[trees.length]!;
  const splitFeature = new Int32Array(nodes);
  const threshold = new Float64Array(nodes);
  const decisionType = new Uint8Array(nodes);
  const leftChild = new Int32Array(nodes);
  const rightChild = new Int32Array(nodes);
  const splitGain = new Float64Array(nodes);
  const leafValue = new Float64Array(leafOffset[trees.length]!);
  const catBits = new Uint32Array(catOffset[trees.length]! * 8);
  trees.forEach((t, i) => {
    const n0 = nodeOffset[i]!;
    const sizes = [t.threshold.length, t.decisionType.length, t.leftChild.length, t.rightChild.length, t.splitGain.length];
    if (sizes.some((s) => s !== t.splitFeature.length) || t.leafValue.length !== t.numLeaves || t.splitFeature.length !== t.numLeaves - 1) {
      throw new KilnError('E_MODEL_FORMAT', `model tree ${i}: node arrays must have numLeaves - 1 entries and leafValue numLeaves`);
    }
    for (let j = 0; j < t.splitFeature.length; j++) {
      splitFeature[n0 + j] = t.splitFeature[j]!;
      threshold[n0 + j] = reviveNumber(t.threshold[j] as number | string);
      decisionType[n0 + j] = t.decisionType[j]!;
      leftChild[n0 + j] = t.leftChild[j]!;
      rightChild[n0 + j] = t.rightChild[j]!;
      splitGain[n0 + j] = reviveNumber(t.splitGain[j] as number | string);
    }
    leafValue.set(t.leafValue, leafOffset[i]!);
    t.catSets.forEach((set, s) => {
      const base = (catOffset[i]! + s) * 8;
      for (const code of set) catBits[base + (code >>> 5)]! |= 1 << (code & 31);
    });
  });
  return {
    numFeatures: model.features.length,
    treesPerIteration: model.numTreesPerIteration,
    decisionLt: model.decision === 'lt',
    baseScore: Float64Array.from(model.baseScore),
    nodeOffset, leafOffset, catOffset, splitFeature, threshold, decisionType, leftChild, rightChild, leafValue, catBits, splitGain,
  };
}

/** Trees of a trained forest in the model-file layout. */
function treesFromTrained(r: RawTrainResult): TreeJson[] {
  const f = r.forest;
  const trees: TreeJson[] = [];
  const n = f.nodeOffset.length - 1;
  for (let t = 0; t < n; t++) {
    const n0 = f.nodeOffset[t]!, n1 = f.nodeOffset[t + 1]!;
    const l0 = f.leafOffset[t]!, l1 = f.leafOffset[t + 1]!;
    const c0 = f.catOffset[t]!, c1 = f.catOffset[t + 1]!;
    const catSets: number[][] = [];
    for (let s = c0; s < c1; s++) {
      const set: number[] = [];
      for (let code = 0; code < 256; code++) if ((f.catBits[s * 8 + (code >>> 5)]! >>> (code & 31)) & 1) set.push(code);
      catSets.push(set);
    }
    trees.push({
      numLeaves: l1 - l0,
      splitFeature: Array.from(f.splitFeature.subarray(n0, n1)),
      threshold: Array.from(f.threshold.subarray(n0, n1)),
      decisionType: Array.from(f.decisionType.subarray(n0, n1)),
      leftChild: Array.from(f.leftChild.subarray(n0, n1)),
      rightChild: Array.from(f.rightChild.subarray(n0, n1)),
      splitGain: Array.from(f.splitGain.subarray(n0, n1)),
      internalCount: Array.from(f.internalCount.subarray(n0, n1)),
      leafValue: Array.from(f.leafValue.subarray(l0, l1)),
      leafCount: Array.from(f.leafCount.subarray(l0, l1)),
      catSets,
    });
  }
  return trees;
}

/** Semantic checks the schema cannot express; throws E_MODEL_FORMAT. */
function checkGbdtModel(m: GbdtModelJson, source: string): void {
  const bad = (msg: string): never => {
    throw new KilnError('E_MODEL_FORMAT', `${source}: ${msg}`, { source });
  };
  const k = m.objective.name === 'multiclass' ? m.objective.numClass : 1;
  if (m.objective.name === 'multiclass' && m.objective.numClass < 2) bad('multiclass needs numClass >= 2');
  if (m.objective.name !== 'multiclass' && m.objective.numClass !== 1) bad(`objective ${m.objective.name} needs numClass 1`);
  if (m.numTreesPerIteration !== k) bad(`numTreesPerIteration is ${m.numTreesPerIteration}, expected ${k}`);
  if (m.baseScore.length !== k) bad(`baseScore has ${m.baseScore.length} values, expected ${k}`);
  if (m.trees.length !== m.numIterations * k) bad(`${m.trees.length} trees for ${m.numIterations} iterations of ${k}`);
  if (m.bestIteration > m.numIterations) bad(`bestIteration ${m.bestIteration} is past numIterations ${m.numIterations}`);
  const names = new Set<string>();
  m.features.forEach((f, i) => {
    if (names.has(f.name)) bad(`feature name "${f.name}" appears twice`);
    names.add(f.name);
    if (f.type === 'categorical') {
      if (!f.categories) bad(`categorical feature ${i} has no categories`);
      if (new Set(f.categories).size !== f.categories!.length) bad(`categorical feature "${f.name}" repeats a category`);
    } else if (f.categories !== undefined || f.unseen !== undefined) bad(`numeric feature "${f.name}" has categories`);
  });
  m.trees.forEach((t, i) => {
    t.splitFeature.forEach((f, j) => {
      if (f >= m.features.length) bad(`tree ${i} node ${j} splits on feature ${f} of ${m.features.length}`);
      const cat = (t.decisionType[j]! & DECISION_CATEGORICAL) !== 0;
      if (cat !== (m.features[f]!.type === 'categorical') && m.origin === 'kiln') bad(`tree ${i} node ${j}: split kind does not match feature "${m.features[f]!.name}"`);
    });
  });
  if (m.binMapper) {
    const mp = m.binMapper;
    if (mp.numBins.length !== m.features.length || mp.offsets.length !== m.features.length + 1) bad('binMapper does not match the features');
  }
}

/** A canonical copy of a gbdt model object (fixed key order), so serialisation is stable. */
function canonicalGbdt(m: GbdtModelJson): GbdtModelJson {
  const objective: GbdtModelJson['objective'] = { name: m.objective.name, numClass: m.objective.numClass };
  if (m.objective.huberDelta !== undefined) objective.huberDelta = m.objective.huberDelta;
  return {
    format: MODEL_FORMAT,
    version: MODEL_FORMAT_VERSION,
    kind: 'gbdt',
    objective,
    origin: m.origin,
    features: m.features.map((f) => {
      const out: FeatureJson = { name: f.name, type: f.type };
      if (f.monotone !== undefined) out.monotone = f.monotone;
      if (f.categories !== undefined) out.categories = [...f.categories];
      if (f.unseen !== undefined) out.unseen = f.unseen;
      return out;
    }),
    decision: m.decision,
    baseScore: [...m.baseScore],
    numTreesPerIteration: m.numTreesPerIteration,
    numIterations: m.numIterations,
    bestIteration: m.bestIteration,
    binMapper: m.binMapper ? { numBins: [...m.binMapper.numBins], thresholds: [...m.binMapper.thresholds], offsets: [...m.binMapper.offsets] } : null,
    params: m.params,
    training: m.training
      ? {
          seed: m.training.seed,
          rows: m.training.rows,
          validRows: m.training.validRows,
          metric: m.training.metric,
          history: { train: [...m.training.history.train], valid: [...m.training.history.valid] },
          earlyStopped: m.training.earlyStopped,
          receipt: m.training.receipt,
        }
      : null,
    ...(m.classes !== undefined ? { classes: m.classes } : {}),
    ...(m.calibration !== undefined ? { calibration: m.calibration } : {}),
    ...(m.threshold !== undefined ? { threshold: m.threshold } : {}),
    trees: m.trees.map((t) => ({
      numLeaves: t.numLeaves,
      splitFeature: t.splitFeature,
      threshold: t.threshold,
      decisionType: t.decisionType,
      leftChild: t.leftChild,
      rightChild: t.rightChild,
      splitGain: t.splitGain,
      internalCount: t.internalCount,
      leafValue: t.leafValue,
      leafCount: t.leafCount,
      catSets: t.catSets,
    })),
  };
}

/** A metric history as a plain list (metrics are finite by construction). */
function metricHistory(a: Float64Array): number[] {
  return Array.from(a);
}

/**
 * Histogram gradient-boosted trees trained by kiln's native engine (or imported from XGBoost /
 * LightGBM). `fit` and `predict` run off the JS thread; `predictSync` is for serving one row.
 */
export class GBDT extends DecisionModel {
  readonly options: ResolvedOptions;
  private model: GbdtModelJson | null = null;
  private handle: PredictorHandle | null = null;
  private encoders: CategoryEncoder[] = [];
  private rowScratch: Float64Array = new Float64Array(0);
  private outScratch: Float64Array = new Float64Array(0);
  private predictRow: ((h: PredictorHandle, row: Float64Array, n: number, out: Float64Array, transform: 0 | 1 | 2) => void) | null = null;
  protected readonly decision = new DecisionState('GBDT', 'binary', 2);
  /** Unseen categories per feature in the last predict() call. */
  lastUnseenCounts: UnseenCounts = {};

  /** Validates options now (E_USAGE naming the option); nothing is trained until fit(). */
  /** Throws unless the model is fitted (decision-state calls name themselves in the error). */
  protected requireFitted(_what: string): void {
    this.requireModel();
  }

  protected override onDecisionChange(): void {
    this.syncDecision();
  }

  constructor(options: GBDTOptions = {}) {
    super();
    this.options = resolveGbdtOptions(options);
  }

  /** Builds a model from a validated model object (kind gbdt); throws E_MODEL_FORMAT. */
  static fromJSON(obj: unknown, source = 'model'): GBDT {
    const valid = assertValidModel(obj, source) as unknown as GbdtModelJson;
    if (valid.kind !== 'gbdt') throw new KilnError('E_MODEL_FORMAT', `${source} is a ${valid.kind} model, not gbdt`);
    const m = canonicalGbdt(valid);
    checkGbdtModel(m, source);
    const g = new GBDT({});
    g.attach(m, source);
    return g;
  }

  /** Reads a kiln gbdt model file. */
  static async load(file: string): Promise<GBDT> {
    return GBDT.fromJSON(readModelFile(file), file);
  }

  /** True once trained or loaded. */
  get fitted(): boolean {
    return this.model !== null;
  }

  private requireModel(): GbdtModelJson {
    if (!this.model) throw usage('the GBDT model is not trained yet: call fit() or load a model first');
    return this.model;
  }

  private attach(m: GbdtModelJson, source = 'model'): void {
    let handle: PredictorHandle;
    try {
      handle = gbdtPredictor(forestFromModel(m));
    } catch (err) {
      if (err instanceof KilnError && err.code === 'E_NATIVE_INPUT') throw new KilnError('E_MODEL_FORMAT', `invalid model: ${err.message}`);
      throw err;
    }
    const task: DecisionTask = m.objective.name === 'binary' ? 'binary' : m.objective.name === 'multiclass' ? 'multiclass' : 'regression';
    this.decision.reset(task, task === 'binary' ? 2 : task === 'multiclass' ? m.objective.numClass : 1);
    this.decision.load(m, source);
    this.model = m;
    this.handle = handle;
    this.encoders = m.features.flatMap((f, i) =>
      f.type === 'categorical' ? [{ feature: i, name: f.name, codes: new Map((f.categories ?? []).map((v, c) => [v, c] as [CategoryValue, number])), unseen: f.unseen ?? 'error' }] : [],
    );
    this.rowScratch = new Float64Array(m.features.length);
    this.outScratch = new Float64Array(m.numTreesPerIteration);
    this.predictRow = gbdtPredictRowFunction();
  }

  /** The model object (format kiln.model, kind gbdt). */
  toJSON(): GbdtModelJson {
    return this.requireModel();
  }

  /** Feature names in model order. */
  get featureNames(): string[] {
    return this.requireModel().features.map((f) => f.name);
  }

  /** Iterations served by default. */
  get bestIteration(): number {
    return this.requireModel().bestIteration;
  }

  /** Trains on X, y (labels 0/1, 0..K-1, or real values). Replaces any previous model. */
  async fit(X: ModelInput, y: ArrayLike<number> | readonly number[], opts: GBDTFitOptions = {}): Promise<this> {
    const o = this.options;
    if (opts.signal?.aborted) throw new KilnError('E_CANCELLED', 'training was cancelled before it started');
    const earlyStoppingRounds = opts.earlyStoppingRounds ?? 0;
    if (!Number.isInteger(earlyStoppingRounds) || earlyStoppingRounds < 0) throw usage('fit option earlyStoppingRounds must be an integer >= 0');
    if (earlyStoppingRounds > 0 && !opts.valid) throw usage('fit option earlyStoppingRounds needs a validation set (valid: { X, y })');
    const train = prepareInput(X, 'X');
    const labels = prepareLabels(y, train.rows, 'y');
    const names = train.featureNames;
    for (const c of o.categorical) if (!names.includes(c)) throw usage(`GBDT option categorical names "${c}", which is not a feature (${names.join(', ')})`);
    for (const c of Object.keys(o.monotone)) if (!names.includes(c)) throw usage(`GBDT option monotone names "${c}", which is not a feature`);
    if (typeof o.unseenCategory === 'object') for (const c of Object.keys(o.unseenCategory)) if (!names.includes(c)) throw usage(`GBDT option unseenCategory names "${c}", which is not a feature`);
    const isCat = names.map((n, f) => o.categorical.includes(n) || Boolean(train.rawCategorical?.[f]?.length));
    // Category dictionaries are fitted on the training rows only.
    const features: FeatureJson[] = names.map((name, f) => {
      if (!isCat[f]) {
        const mono = o.monotone[name] ?? 0;
        return mono !== 0 ? { name, type: 'numeric', monotone: mono } : { name, type: 'numeric' };
      }
      if ((o.monotone[name] ?? 0) !== 0) throw usage(`feature "${name}" is categorical and cannot have a monotone constraint`);
      const seen: CategoryValue[] = [];
      for (let r = 0; r < train.rows; r++) {
        const v = rawValue(train, f, r);
        if (v !== null) seen.push(v);
      }
      const categories = sortedCategories(seen);
      if (categories.length > 255) throw usage(`categorical feature "${name}" has ${categories.length} categories; at most 255 are supported`);
      const unseen = typeof o.unseenCategory === 'string' ? o.unseenCategory : (o.unseenCategory[name] ?? 'error');
      return { name, type: 'categorical', categories, unseen };
    });
    const encoders: CategoryEncoder[] = features.flatMap((f, i) =>
      f.type === 'categorical' ? [{ feature: i, name: f.name, codes: new Map(f.categories!.map((v, c) => [v, c] as [CategoryValue, number])), unseen: f.unseen! }] : [],
    );
    const encodedTrain = encodeCategoricals(train, encoders).matrix;
    let numClass = 1;
    if (o.objective === 'binary') {
      for (let i = 0; i < labels.length; i++) if (labels[i] !== 0 && labels[i] !== 1) throw usage(`y[${i}] is ${labels[i]}; binary labels must be 0 or 1`);
    } else if (o.objective === 'multiclass') {
      let max = 0;
      for (let i = 0; i < labels.length; i++) {
        const v = labels[i]!;
        if (!Number.isInteger(v) || v < 0) throw usage(`y[${i}] is ${v}; multiclass labels must be integers 0..K-1`);
        max = Math.max(max, v);
      }
      numClass = o.numClass ?? max + 1;
      if (numClass < 2) throw usage('multiclass needs at least 2 classes');
      if (max >= numClass) throw usage(`labels go up to ${max} but numClass is ${numClass}; labels must be in 0..${numClass - 1}`);
    }
    const kClasses = o.objective === 'binary' ? 2 : numClass;
    if (o.objective === 'binary' || o.objective === 'multiclass') {
      const counts = new Array<number>(kClasses).fill(0);
      for (const v of labels) counts[v]!++;
      if (counts.filter((c) => c > 0).length < 2) throw usage('y holds a single class; a classifier needs at least two');
    }
    let classWeight = new Float64Array(0);
    if (o.classWeight === 'balanced') {
      const counts = new Array<number>(kClasses).fill(0);
      for (const v of labels) counts[v]!++;
      classWeight = Float64Array.from(counts, (c) => (c > 0 ? labels.length / (kClasses * c) : 1));
    } else if (Array.isArray(o.classWeight)) {
      if (o.classWeight.length !== kClasses) throw usage(`GBDT option classWeight has ${o.classWeight.length} weights for ${kClasses} classes`);
      classWeight = Float64Array.from(o.classWeight);
    }
    let valid: { values: Float32Array | Float64Array; shape: { rows: number; cols: number; layout: 'row' | 'column' }; labels: Float64Array } | null = null;
    let validUnseen: UnseenCounts = {};
    if (opts.valid) {
      const v = prepareInput(opts.valid.X, 'valid.X', names);
      if (v.cols !== train.cols) throw usage(`valid.X has ${v.cols} columns but X has ${train.cols}`);
      const vl = prepareLabels(opts.valid.y, v.rows, 'valid.y');
      const enc = encodeCategoricals(v, encoders, true);
      validUnseen = enc.unseen;
      valid = { values: enc.matrix.values, shape: { rows: v.rows, cols: v.cols, layout: enc.matrix.layout }, labels: vl };
    }
    const params: RawGbdtParams = {
      objective: o.objective,
      numClass: o.objective === 'multiclass' ? numClass : 1,
      huberDelta: o.huberDelta,
      nEstimators: o.nEstimators,
      learningRate: o.learningRate,
      numLeaves: o.numLeaves,
      maxDepth: Math.max(0, o.maxDepth),
      minDataInLeaf: o.minDataInLeaf,
      minSumHessianInLeaf: o.minSumHessianInLeaf,
      lambdaL2: o.lambdaL2,
      minGainToSplit: o.minGainToSplit,
      featureFraction: o.featureFraction,
      baggingFraction: o.baggingFraction,
      baggingFreq: o.baggingFreq,
      classWeight,
      scalePosWeight: o.scalePosWeight,
      monotone: Int8Array.from(features, (f) => f.monotone ?? 0),
      numCategories: features.some((f) => f.type === 'categorical') ? Int32Array.from(features, (f) => f.categories?.length ?? 0) : new Int32Array(0),
      earlyStoppingRounds,
      metric: o.metric,
      seed: o.seed,
      numThreads: o.numThreads,
      device: resolveDevice(o.device),
      maxBin: o.maxBin,
      binSampleSize: o.binSampleSize,
    };
    const metricName = o.metric === 'auc' ? 'auc' : o.objective === 'binary' ? 'logloss' : o.objective === 'multiclass' ? 'mlogloss' : 'l2';
    const onProgress = opts.onProgress;
    const report = onProgress
      ? (info: RawIterationInfo): void => {
          try {
            onProgress({ round: info.iteration, totalRounds: o.nEstimators, trainMetric: info.trainMetric, validMetric: info.validMetric, metric: metricName, rowsPerSecond: info.rowsPerSecond, bestIteration: info.bestIteration });
          } catch {
            // A failing progress callback must not stop training.
          }
        }
      : null;
    const token = cancelToken();
    const onAbort = (): void => cancelOp(token);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    let result: RawTrainResult;
    try {
      result = await gbdtTrain(encodedTrain.values, { rows: encodedTrain.rows, cols: encodedTrain.cols, layout: encodedTrain.layout }, labels, valid, params, report, token);
    } catch (err) {
      if (err instanceof KilnError && err.code === 'E_NATIVE_INPUT') throw new KilnError('E_USAGE', err.message);
      throw err;
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
    const trees = treesFromTrained(result);
    const k = params.numClass > 1 ? params.numClass : 1;
    // numThreads and device are execution settings, not part of the model (models are identical for any).
    const { numThreads: _threads, device: _device, ...modelOptions } = o;
    const recordedParams: Record<string, unknown> = {
      ...modelOptions,
      numClass: params.numClass,
      classWeight: o.classWeight === null ? null : Array.from(classWeight),
      earlyStoppingRounds,
    };
    const model: GbdtModelJson = canonicalGbdt({
      format: MODEL_FORMAT,
      version: MODEL_FORMAT_VERSION,
      kind: 'gbdt',
      objective: o.objective === 'huber' ? { name: 'huber', numClass: 1, huberDelta: o.huberDelta } : { name: o.objective, numClass: k },
      origin: 'kiln',
      features,
      decision: 'le',
      baseScore: Array.from(result.forest.baseScore),
      numTreesPerIteration: k,
      numIterations: trees.length / k,
      bestIteration: result.bestIteration,
      binMapper: { numBins: Array.from(result.mapper.numBins), thresholds: Array.from(result.mapper.thresholds), offsets: Array.from(result.mapper.offsets) },
      params: JSON.parse(JSON.stringify(recordedParams)) as Record<string, unknown>,
      training: {
        seed: o.seed,
        rows: train.rows,
        validRows: valid?.shape.rows ?? 0,
        metric: metricName,
        history: { train: metricHistory(result.trainMetric), valid: metricHistory(result.validMetric) },
        earlyStopped: result.earlyStopped,
        receipt: null,
      },
      trees,
    });
    this.attach(model);
    this.lastUnseenCounts = validUnseen;
    return this;
  }

  /** Number of trees used for numIteration iterations (default bestIteration). */
  private treesFor(numIteration?: number): number {
    const m = this.requireModel();
    const it = numIteration ?? m.bestIteration;
    if (!Number.isInteger(it) || it < 0 || it > m.numIterations) throw usage(`numIteration must be an integer in [0, ${m.numIterations}] (got ${String(numIteration)})`);
    return it * m.numTreesPerIteration;
  }

  /**
   * Predictions for every row: P(class 1) (binary), rows x K probabilities (multiclass), values
   * (regression). Probabilities are calibrated when the model has a calibrator (unless
   * `calibrated: false`); `raw: true` gives the margins.
   */
  async predict(X: ModelInput, opts: GBDTPredictOptions = {}): Promise<Float64Array> {
    const m = this.requireModel();
    const numTrees = this.treesFor(opts.numIteration);
    const numThreads = opts.numThreads ?? this.options.numThreads;
    if (!Number.isInteger(numThreads) || numThreads < 0 || numThreads > MAX_THREADS) throw usage(`numThreads must be an integer in [0, ${MAX_THREADS}]`);
    if (opts.calibrated !== undefined && typeof opts.calibrated !== 'boolean') throw usage('predict option calibrated must be a boolean');
    const input = prepareInput(X, 'X', m.features.map((f) => f.name));
    const { matrix, unseen } = encodeCategoricals(input, this.encoders);
    this.lastUnseenCounts = unseen;
    const out = await gbdtPredict(this.handle!, matrix.values, { rows: matrix.rows, cols: matrix.cols, layout: matrix.layout }, {
      numTrees,
      numThreads,
      transform: opts.raw ? 0 : 1,
      objective: m.objective.name,
    });
    const cal = this.decision.calibrator;
    if (cal && !opts.raw && opts.calibrated !== false) cal.applyInPlace(out);
    return out;
  }

  /**
   * Class labels: binary, 1 where P(class 1) >= the model's threshold (0.5 without one; compared
   * with the calibrated or uncalibrated probability as the threshold records); multiclass, the
   * most probable class. Not for regression models.
   */
  async predictLabels(X: ModelInput, opts: Omit<GBDTPredictOptions, 'raw' | 'calibrated'> = {}): Promise<Int32Array> {
    const m = this.requireModel();
    if (m.objective.name !== 'binary' && m.objective.name !== 'multiclass') throw usage(`predictLabels needs a classification model (this one is ${m.objective.name})`);
    const p = await this.predict(X, { ...opts, calibrated: !this.decision.labelsUseUncalibrated });
    return this.decision.labels(p, m.objective.name === 'binary' ? 2 : m.objective.numClass);
  }

  /** Raw (uncalibrated) output of one row into outScratch; returns the objective name. */
  private predictRowRaw(row: ArrayLike<number | string | null>): string {
    const m = this.requireModel();
    const n = m.features.length;
    if (row.length !== n) throw usage(`predictSync: the row has ${row.length} values but the model has ${n} features`);
    const x = this.rowScratch;
    for (let f = 0; f < n; f++) {
      const v = row[f];
      x[f] = typeof v === 'number' ? v : v === null || v === undefined ? NaN : NaN;
    }
    for (const e of this.encoders) {
      const v = row[e.feature];
      if (v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v))) {
        x[e.feature] = NaN;
        continue;
      }
      const code = e.codes.get(v as CategoryValue);
      if (code === undefined) {
        if (e.unseen === 'error') throw new KilnError('E_SCHEMA', `feature "${e.name}" has category ${JSON.stringify(v)} that the model never saw in training (policy 'error')`, { feature: e.name });
        x[e.feature] = NaN;
      } else x[e.feature] = code;
    }
    const k = m.numTreesPerIteration;
    const name = m.objective.name;
    this.predictRow!(this.handle!, x, m.bestIteration * k, this.outScratch, name === 'binary' ? 1 : name === 'multiclass' ? 2 : 0);
    return name;
  }

  /**
   * One row, synchronously, for serving: a number (binary / regression) or K probabilities written
   * into `out` (or a reused internal array), calibrated when the model has a calibrator. No
   * threads, no allocation for numeric rows.
   */
  predictSync(row: ArrayLike<number | string | null>, out?: Float64Array): number | Float64Array {
    const name = this.predictRowRaw(row);
    const outputs = this.outScratch;
    const cal = this.decision.calibrator;
    if (name !== 'multiclass') return cal ? cal.applyOne(outputs[0]!) : outputs[0]!;
    const dst = out ?? new Float64Array(outputs.length);
    if (cal) cal.applyRow(outputs, dst);
    else dst.set(outputs);
    return dst;
  }

  /** The label of one row (see predictLabels), synchronously. */
  predictLabelSync(row: ArrayLike<number | string | null>): number {
    const name = this.predictRowRaw(row);
    if (name !== 'binary' && name !== 'multiclass') throw usage(`predictLabelSync needs a classification model (this one is ${name})`);
    const outputs = this.outScratch;
    const cal = this.decision.labelsUseUncalibrated ? null : this.decision.calibrator;
    if (name === 'binary') return this.decision.labelOne(cal ? cal.applyOne(outputs[0]!) : outputs[0]!);
    return this.decision.labelOne(cal ? cal.applyRow(outputs, new Float64Array(outputs.length)) : outputs);
  }

  private syncDecision(): void {
    const { classes: _k, calibration: _c, threshold: _t, ...rest } = this.requireModel();
    this.model = canonicalGbdt({ ...rest, ...this.decision.fields() } as GbdtModelJson);
  }

  /** Per-feature importance over the served trees: split count or total gain. */
  featureImportance(type: 'split' | 'gain' = 'gain'): { feature: string; importance: number }[] {
    const m = this.requireModel();
    if (type !== 'split' && type !== 'gain') throw usage("featureImportance type must be 'split' or 'gain'");
    const imp = gbdtImportance(this.handle!, m.bestIteration * m.numTreesPerIteration);
    const values = type === 'split' ? imp.splits : imp.gain;
    return m.features.map((f, i) => ({ feature: f.name, importance: values[i]! }));
  }

  /** Writes the model file atomically (canonical JSON: save -> load -> save is byte-identical). */
  async save(file: string): Promise<void> {
    await writeFileAtomic(file, serializeModel(this.requireModel() as never));
  }
}

/** Numeric decision type of a kiln split (re-exported for importers). */
export { numericDecision };
