/**
 * LogisticRegression: binary or multinomial logistic regression on standardised features, fitted
 * natively by L-BFGS (objective, standardisation and missing-value rule in
 * schemas/model-linear.schema.json). Same optimum as scikit-learn's
 * make_pipeline(StandardScaler(), LogisticRegression(C)); the fitted model is identical for any
 * numThreads. Non-finite feature values are missing and imputed with the training mean.
 */
import { KilnError } from '../../bindings/errors.js';
import { fitLinear, predictLinear, type TrainProgress } from '../../bindings/index.js';
import { classLabels, prepareFeatures, prepareTargets, type FeatureInput, type TargetInput } from './dense-input.js';
import {
  KILN_MODEL_FORMAT,
  KILN_MODEL_VERSION,
  checkFitCall,
  checkOptionKeys,
  describe,
  enumOption,
  intOption,
  numberOption,
  readModelJson,
  requireModel,
  saveModelJson,
  validateModelObject,
} from './dense-model-io.js';
import type { CalibrationJson } from './calibration.js';
import { DecisionModel, DecisionState, type ThresholdJson } from './decision.js';

/** Class weighting: null = 1 each, 'balanced' = n / (numClass * count[k]), or one weight per class. */
export type ClassWeight = null | 'balanced' | readonly number[];

/** Options of LogisticRegression (defaults in brackets). */
export interface LogisticRegressionOptions {
  /** Inverse L2 strength, as scikit-learn's C [1]. */
  C?: number;
  /** 'l2' [default] or 'none'. ('l1' is not supported.) */
  penalty?: 'l2' | 'none' | 'l1';
  /** [null] */
  classWeight?: ClassWeight;
  /** L-BFGS iterations [1000]. */
  maxIter?: number;
  /** Stop when the max-abs gradient of the per-row objective is <= tol [1e-8]. */
  tol?: number;
  /** L-BFGS correction pairs [10]. */
  memory?: number;
  /** Native threads, 0 = all cores [0]; never changes the model. */
  numThreads?: number;
}

/** Resolved parameters, as recorded in the model file. */
export interface LogisticRegressionParams {
  C: number;
  penalty: 'l2' | 'none';
  classWeight: ClassWeight;
  maxIter: number;
  tol: number;
  memory: number;
}

/** What fit recorded (null for a model built from coefficients elsewhere). */
export interface LinearTrainingInfo {
  rows: number;
  classCounts: number[];
  classWeights: number[];
  iterations: number;
  converged: boolean;
  objective: number;
  gradNorm: number;
  history: number[];
  validRows: number;
  validLogLoss: number | null;
  receipt: string | null;
}

/** The model file body of kind 'linear' (schemas/model-linear.schema.json). */
export interface LinearModelJson {
  format: 'kiln.model';
  version: 1;
  kind: 'linear';
  objective: { name: 'binary' | 'multiclass'; numClass: number };
  features: { name: string; type: 'numeric' }[];
  missing: 'mean';
  coefficientSpace: 'standardized';
  standardization: { mean: number[]; scale: number[] };
  coefficients: number[][];
  intercepts: number[];
  params: LogisticRegressionParams;
  /** Optional class names in model order (absent for regression or unnamed classes). */
  classes?: string[];
  training: LinearTrainingInfo | null;
  /** Optional probability calibrator applied by predict (absent when uncalibrated). */
  calibration?: CalibrationJson;
  /** Optional binary decision threshold used by predictLabels (absent: 0.5). */
  threshold?: ThresholdJson;
}

/** Options of fit beyond X and y. */
export interface LinearFitCall {
  /** Validation rows: their mean log-loss is recorded in the model's training info. */
  valid?: { X: FeatureInput; y: TargetInput };
  /** Aborting rejects fit with E_CANCELLED. */
  signal?: AbortSignal;
  /** Called after each L-BFGS iteration ({iteration, trainLoss: objective, gradNorm}). */
  onProgress?: (progress: TrainProgress) => void;
}

const OPTION_KEYS = ['C', 'penalty', 'classWeight', 'maxIter', 'tol', 'memory', 'numThreads'] as const;
const OWNER = 'LogisticRegression';

interface FittedState {
  numClass: number;
  featureNames: string[];
  mean: Float64Array;
  scale: Float64Array;
  invScale: Float64Array;
  coef: Float64Array;
  intercept: Float64Array;
  training: LinearTrainingInfo | null;
  margins: Float64Array;
}

function resolveClassWeight(v: unknown): ClassWeight {
  if (v === undefined || v === null) return null;
  if (v === 'balanced') return 'balanced';
  if (Array.isArray(v) && v.length >= 2 && v.every((w) => typeof w === 'number' && Number.isFinite(w) && w > 0)) return [...v] as number[];
  throw new KilnError('E_USAGE', `${OWNER}: option classWeight must be null, 'balanced' or an array of at least 2 finite weights > 0 (got ${describe(v)})`);
}

/** Binary or multinomial logistic regression (see the module comment). */
export class LogisticRegression extends DecisionModel {
  readonly params: LogisticRegressionParams;
  readonly numThreads: number;
  private state: FittedState | null = null;
  protected readonly decision = new DecisionState(OWNER, 'binary', 2);

  /** Throws unless the model is fitted (decision-state calls name themselves in the error). */
  protected requireFitted(what: string): void {
    this.fittedState(what);
  }

  constructor(options: LogisticRegressionOptions = {}) {
    super();
    const o = checkOptionKeys(OWNER, options, OPTION_KEYS);
    if (o.penalty === 'l1') throw new KilnError('E_USAGE', `${OWNER}: option penalty 'l1' is not supported (use 'l2' or 'none')`);
    this.params = {
      C: numberOption(OWNER, 'C', o.C, 1, 0, Number.MAX_VALUE, true),
      penalty: enumOption(OWNER, 'penalty', o.penalty, 'l2', ['l2', 'none'] as const),
      classWeight: resolveClassWeight(o.classWeight),
      maxIter: intOption(OWNER, 'maxIter', o.maxIter, 1000, 1, 1_000_000),
      tol: numberOption(OWNER, 'tol', o.tol, 1e-8, 0, Number.MAX_VALUE, true),
      memory: intOption(OWNER, 'memory', o.memory, 10, 1, 1000),
    };
    this.numThreads = intOption(OWNER, 'numThreads', o.numThreads, 0, 0, 256);
  }

  /** True once fit (or fromJSON) produced coefficients. */
  get fitted(): boolean {
    return this.state !== null;
  }

  /** Number of classes (2 for binary). */
  get numClass(): number {
    return this.fittedState('numClass').numClass;
  }

  /** Feature names in column order. */
  get featureNames(): string[] {
    return [...this.fittedState('featureNames').featureNames];
  }

  /** Coefficient rows in the standardised space (1 row for binary). */
  get coefficients(): number[][] {
    const s = this.fittedState('coefficients');
    const cols = s.mean.length;
    const rows = s.intercept.length;
    return Array.from({ length: rows }, (_, k) => Array.from(s.coef.subarray(k * cols, (k + 1) * cols)));
  }

  /** Intercepts, one per coefficient row. */
  get intercepts(): number[] {
    return Array.from(this.fittedState('intercepts').intercept);
  }

  /** What fit recorded, or null. */
  get training(): LinearTrainingInfo | null {
    return this.fittedState('training').training;
  }

  /**
   * Fits on X (ColumnBatch of numeric columns, or a row-major matrix) and class indices y
   * (0..K-1, every class present, K >= 2). Resolves to this model.
   */
  async fit(X: FeatureInput, y: TargetInput, call: LinearFitCall = {}): Promise<this> {
    const op = `${OWNER}.fit`;
    const c = checkFitCall(OWNER, call);
    const m = prepareFeatures(op, X);
    const targets = prepareTargets(op, y, m.rows);
    const { labels, numClass, counts } = classLabels(op, targets);
    const cw = this.params.classWeight;
    let weights: Float64Array;
    if (cw === 'balanced') weights = Float64Array.from(counts, (n) => m.rows / (numClass * n));
    else if (cw === null) weights = new Float64Array(numClass).fill(1);
    else {
      if (cw.length !== numClass) throw new KilnError('E_USAGE', `${OWNER}: option classWeight has ${cw.length} weights but y has ${numClass} classes`);
      weights = Float64Array.from(cw);
    }
    let valid: { values: Float64Array | Float32Array; rows: number; cols: number; layout: 'row' | 'column'; labels: Int32Array } | null = null;
    if (c.valid !== undefined) {
      const vm = prepareFeatures(`${op} (valid)`, c.valid.X, m.featureNames);
      const vy = prepareTargets(`${op} (valid)`, c.valid.y, vm.rows, 'valid.y');
      valid = { ...vm, labels: classLabels(`${op} (valid)`, vy, 'valid.y', numClass).labels };
    }
    const hooks = { ...(c.signal !== undefined ? { signal: c.signal } : {}), ...(c.onProgress !== undefined ? { onProgress: c.onProgress } : {}) };
    const fit = await fitLinear(
      m.values,
      labels,
      weights,
      { rows: m.rows, cols: m.cols, layout: m.layout, numThreads: this.numThreads, numClass, C: this.params.C, penalty: this.params.penalty, maxIter: this.params.maxIter, tol: this.params.tol, memory: this.params.memory },
      hooks,
    );
    const training: LinearTrainingInfo = {
      rows: m.rows,
      classCounts: counts,
      classWeights: Array.from(weights),
      iterations: fit.iterations,
      converged: fit.converged,
      objective: fit.objective,
      gradNorm: fit.gradNorm,
      history: Array.from(fit.history),
      validRows: valid?.rows ?? 0,
      validLogLoss: null,
      receipt: null,
    };
    this.state = makeState(numClass, m.featureNames, fit.mean, fit.scale, fit.coef, fit.intercept, training);
    this.decision.reset(numClass === 2 ? 'binary' : 'multiclass', numClass);
    if (valid !== null) {
      const p = await predictLinear(valid.values, { rows: valid.rows, cols: valid.cols, layout: valid.layout, numThreads: this.numThreads }, this.nativeModel());
      training.validLogLoss = meanLogLoss(p, valid.labels, numClass);
    }
    return this;
  }

  /**
   * Probabilities: a Float64Array of P(class 1) per row (binary) or rows x numClass row-major
   * (multinomial), calibrated when the model has a calibrator (unless `calibrated: false`). A
   * ColumnBatch is read by the model's feature names.
   */
  async predict(X: FeatureInput, options: { calibrated?: boolean } = {}): Promise<Float64Array> {
    const s = this.fittedState('predict');
    const o = checkOptionKeys(`${OWNER}.predict`, options, ['calibrated']);
    if (o.calibrated !== undefined && typeof o.calibrated !== 'boolean') throw new KilnError('E_USAGE', `${OWNER}.predict: option calibrated must be a boolean`);
    const m = prepareFeatures(`${OWNER}.predict`, X, s.featureNames);
    const out = await predictLinear(m.values, { rows: m.rows, cols: m.cols, layout: m.layout, numThreads: this.numThreads }, this.nativeModel());
    const cal = this.decision.calibrator;
    if (cal && o.calibrated !== false) cal.applyInPlace(out);
    return out;
  }

  /**
   * One row (features in model order) on the calling thread: P(class 1) for binary, a new
   * Float64Array of numClass probabilities otherwise, calibrated when the model has a
   * calibrator. No other allocation.
   */
  predictSync(row: ArrayLike<number>): number | Float64Array {
    const raw = this.predictSyncRaw(row);
    const cal = this.decision.calibrator;
    if (!cal) return raw;
    return typeof raw === 'number' ? cal.applyOne(raw) : cal.applyRow(raw, raw);
  }

  private predictSyncRaw(row: ArrayLike<number>): number | Float64Array {
    const s = this.fittedState('predictSync');
    const cols = s.mean.length;
    if (row === null || typeof row !== 'object' || row.length !== cols) {
      throw new KilnError('E_NATIVE_INPUT', `${OWNER}.predictSync: row must have ${cols} values (got ${row === null || typeof row !== 'object' ? describe(row) : row.length})`);
    }
    const k = s.intercept.length;
    const margins = s.margins;
    for (let j = 0; j < k; j++) margins[j] = s.intercept[j]!;
    for (let f = 0; f < cols; f++) {
      const v = +row[f]!;
      const z = v - v === 0 ? (v - s.mean[f]!) * s.invScale[f]! : 0;
      for (let j = 0; j < k; j++) margins[j]! += s.coef[j * cols + f]! * z;
    }
    if (k === 1) return sigmoid(margins[0]!);
    const out = new Float64Array(k);
    let mx = -Infinity;
    for (let j = 0; j < k; j++) mx = Math.max(mx, margins[j]!);
    let sum = 0;
    for (let j = 0; j < k; j++) {
      out[j] = Math.exp(margins[j]! - mx);
      sum += out[j]!;
    }
    for (let j = 0; j < k; j++) out[j]! /= sum;
    return out;
  }

  /**
   * Class labels: binary, 1 where P(class 1) >= the model's threshold (0.5 without one; compared
   * with the calibrated or uncalibrated probability as the threshold records); multiclass, the
   * most probable class.
   */
  async predictLabels(X: FeatureInput): Promise<Int32Array> {
    const numClass = this.fittedState('predictLabels').numClass;
    if (numClass < 2) throw new KilnError('E_USAGE', `${OWNER}.predictLabels: needs a classification model`);
    const p = await this.predict(X, { calibrated: !this.decision.labelsUseUncalibrated });
    return this.decision.labels(p, numClass);
  }

  /** The label of one row (see predictLabels), synchronously. */
  predictLabelSync(row: ArrayLike<number>): number {
    const numClass = this.fittedState('predictLabelSync').numClass;
    if (numClass < 2) throw new KilnError('E_USAGE', `${OWNER}.predictLabelSync: needs a classification model`);
    const raw = this.predictSyncRaw(row);
    const cal = this.decision.labelsUseUncalibrated ? null : this.decision.calibrator;
    if (typeof raw === 'number') return this.decision.labelOne(cal ? cal.applyOne(raw) : raw);
    return this.decision.labelOne(cal ? cal.applyRow(raw, raw) : raw);
  }

  /** The model file object (schemas/model-linear.schema.json). */
  toJSON(): LinearModelJson {
    const s = this.fittedState('toJSON');
    return {
      format: KILN_MODEL_FORMAT,
      version: KILN_MODEL_VERSION,
      kind: 'linear',
      objective: { name: s.numClass === 2 ? 'binary' : 'multiclass', numClass: s.numClass },
      features: s.featureNames.map((name) => ({ name, type: 'numeric' as const })),
      missing: 'mean',
      coefficientSpace: 'standardized',
      standardization: { mean: Array.from(s.mean), scale: Array.from(s.scale) },
      coefficients: this.coefficients,
      intercepts: Array.from(s.intercept),
      params: { ...this.params, classWeight: Array.isArray(this.params.classWeight) ? [...this.params.classWeight] : this.params.classWeight },
      training: s.training === null ? null : structuredClone(s.training),
      ...this.decision.fields(),
    };
  }

  /** Writes the model as canonical JSON, atomically; save -> fromJSON -> save is byte-identical. */
  async save(path: string): Promise<void> {
    await saveModelJson(path, this.toJSON());
  }

  /** Rebuilds a model from its file object; anything else is refused with E_MODEL_FORMAT. */
  static fromJSON(obj: unknown, options: { numThreads?: number } = {}): LogisticRegression {
    const what = 'linear model';
    validateModelObject(what, obj, 'linear', 'model-linear');
    const j = obj as LinearModelJson;
    const cols = j.features.length;
    const numClass = j.objective.numClass;
    const rows = numClass === 2 ? 1 : numClass;
    requireModel((j.objective.name === 'binary') === (numClass === 2), what, `objective ${j.objective.name} does not match numClass ${numClass}`);
    requireModel(new Set(j.features.map((f) => f.name)).size === cols, what, 'feature names must be unique');
    requireModel(j.standardization.mean.length === cols && j.standardization.scale.length === cols, what, `standardization needs ${cols} means and scales`);
    requireModel(j.coefficients.length === rows && j.coefficients.every((r) => r.length === cols), what, `coefficients must be ${rows} row(s) of ${cols}`);
    requireModel(j.intercepts.length === rows, what, `intercepts must have ${rows} entries`);
    const cw = j.params.classWeight;
    requireModel(!Array.isArray(cw) || cw.length === numClass, what, `params.classWeight must have ${numClass} weights`);
    const model = new LogisticRegression({
      C: j.params.C,
      penalty: j.params.penalty,
      classWeight: cw,
      maxIter: j.params.maxIter,
      tol: j.params.tol,
      memory: j.params.memory,
      ...(options.numThreads !== undefined ? { numThreads: options.numThreads } : {}),
    });
    model.state = makeState(
      numClass,
      j.features.map((f) => f.name),
      Float64Array.from(j.standardization.mean),
      Float64Array.from(j.standardization.scale),
      Float64Array.from(j.coefficients.flat()),
      Float64Array.from(j.intercepts),
      j.training === null ? null : structuredClone(j.training),
    );
    model.decision.reset(numClass === 2 ? 'binary' : 'multiclass', numClass);
    model.decision.load(j, what);
    return model;
  }

  /** Reads a model file written by save(). */
  static async load(path: string, options: { numThreads?: number } = {}): Promise<LogisticRegression> {
    return LogisticRegression.fromJSON(await readModelJson(path), options);
  }

  private nativeModel(): { numClass: number; mean: Float64Array; scale: Float64Array; coef: Float64Array; intercept: Float64Array } {
    const s = this.fittedState('predict');
    return { numClass: s.numClass, mean: s.mean, scale: s.scale, coef: s.coef, intercept: s.intercept };
  }

  private fittedState(what: string): FittedState {
    if (this.state === null) throw new KilnError('E_USAGE', `${OWNER}.${what}: the model is not fitted (call fit() or fromJSON() first)`);
    return this.state;
  }
}

function makeState(numClass: number, featureNames: string[], mean: Float64Array, scale: Float64Array, coef: Float64Array, intercept: Float64Array, training: LinearTrainingInfo | null): FittedState {
  return {
    numClass,
    featureNames,
    mean,
    scale,
    invScale: scale.map((s) => 1 / s),
    coef,
    intercept,
    training,
    margins: new Float64Array(intercept.length),
  };
}

/** P(class 1) from a margin, without overflow (the native kernel's formula). */
function sigmoid(m: number): number {
  if (m >= 0) return 1 / (1 + Math.exp(-m));
  const e = Math.exp(m);
  return e / (1 + e);
}

/** Mean log-loss of probabilities p (binary: P(class 1) per row; else rows x numClass). */
export function meanLogLoss(p: Float64Array, labels: Int32Array, numClass: number): number {
  const eps = 1e-15;
  let sum = 0;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    const q = numClass === 2 ? (y === 1 ? p[i]! : 1 - p[i]!) : p[i * numClass + y]!;
    sum -= Math.log(Math.min(1 - eps, Math.max(eps, q)));
  }
  return sum / labels.length;
}
