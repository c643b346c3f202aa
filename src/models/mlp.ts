/**
 * MLP: a small multi-layer perceptron (1-3 ReLU hidden layers, dropout, Adam, mini-batches, early
 * stopping on validation rows keeping the best epoch) for binary, multiclass (softmax) and
 * regression targets, trained natively. One seed drives every random choice; the fitted model is
 * identical for any numThreads. Inputs are standardised inside; non-finite feature values are
 * missing and imputed with the training mean. Format: schemas/model-mlp.schema.json.
 */
import { KilnError } from '../../bindings/errors.js';
import { fitMlp, predictMlp, MLP_MAX_HIDDEN_LAYERS, MLP_MAX_WIDTH, type MlpModelArrays, type TrainProgress } from '../../bindings/index.js';
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

export type MlpObjectiveName = 'binary' | 'multiclass' | 'regression';

/** Options of MLP (defaults in brackets). */
export interface MLPOptions {
  /** ['binary'] */
  objective?: MlpObjectiveName;
  /** 1 to 3 hidden layer widths, each 1..4096 [[64]]. */
  hiddenLayers?: readonly number[];
  /** Drop probability of hidden units while training, in [0, 1) [0]. */
  dropout?: number;
  /** Adam step size [0.001]. */
  learningRate?: number;
  /** Weight decay on weights (not biases) [0]. */
  l2?: number;
  /** Rows per mini-batch [128]. */
  batchSize?: number;
  /** Passes over the training rows [100]. */
  epochs?: number;
  /** Stop after this many epochs without a better validation loss; 0 = never [10]. Needs validation rows. */
  earlyStoppingRounds?: number;
  /** Alias of earlyStoppingRounds. */
  patience?: number;
  /** Without fit's `valid`: share of rows held out for validation, chosen by a seeded hash [0]. */
  validationFraction?: number;
  /** Drives initialisation, shuffles, dropout and the hold-out [0]. */
  seed?: number;
  /** Native threads, 0 = all cores [0]; never changes the model. */
  numThreads?: number;
}

/** Resolved parameters, as recorded in the model file. */
export interface MLPParams {
  hiddenLayers: number[];
  dropout: number;
  learningRate: number;
  l2: number;
  batchSize: number;
  epochs: number;
  earlyStoppingRounds: number;
  validationFraction: number;
  seed: number;
}

/** What fit recorded (null for a model built elsewhere). */
export interface MlpTrainingInfo {
  seed: number;
  rows: number;
  trainRows: number;
  validRows: number;
  metric: 'logloss' | 'mlogloss' | 'mse';
  history: { train: number[]; valid: number[] };
  bestEpoch: number;
  epochsRun: number;
  earlyStopped: boolean;
  receipt: string | null;
}

/** One dense layer of the file: out[o] = biases[o] + sum_i in[i] * weights[i * outputs + o]. */
export interface MlpLayerJson {
  inputs: number;
  outputs: number;
  weights: number[];
  biases: number[];
}

/** The model file body of kind 'mlp' (schemas/model-mlp.schema.json). */
export interface MlpModelJson {
  format: 'kiln.model';
  version: 1;
  kind: 'mlp';
  objective: { name: MlpObjectiveName; numClass: number };
  features: { name: string; type: 'numeric' }[];
  missing: 'mean';
  standardization: { mean: number[]; scale: number[] };
  target: { mean: number; scale: number };
  activation: 'relu';
  layers: MlpLayerJson[];
  params: MLPParams;
  /** Optional class names in model order (absent for regression or unnamed classes). */
  classes?: string[];
  training: MlpTrainingInfo | null;
  /** Optional probability calibrator applied by predict (absent when uncalibrated). */
  calibration?: CalibrationJson;
  /** Optional binary decision threshold used by predictLabels (absent: 0.5). */
  threshold?: ThresholdJson;
}

/** Options of fit beyond X and y. */
export interface MlpFitCall {
  /** Validation rows for early stopping (exclusive with validationFraction). */
  valid?: { X: FeatureInput; y: TargetInput };
  /** Aborting rejects fit with E_CANCELLED. */
  signal?: AbortSignal;
  /** Called after each epoch ({iteration: epoch, trainLoss, validLoss}). */
  onProgress?: (progress: TrainProgress) => void;
}

const OPTION_KEYS = ['objective', 'hiddenLayers', 'dropout', 'learningRate', 'l2', 'batchSize', 'epochs', 'earlyStoppingRounds', 'patience', 'validationFraction', 'seed', 'numThreads'] as const;
const OWNER = 'MLP';
const DEFAULT_EARLY_STOPPING_ROUNDS = 10;

interface Layer {
  inputs: number;
  outputs: number;
  weights: Float64Array;
  biases: Float64Array;
}

interface FittedState {
  numClass: number;
  featureNames: string[];
  mean: Float64Array;
  scale: Float64Array;
  invScale: Float64Array;
  targetMean: number;
  targetScale: number;
  layers: Layer[];
  training: MlpTrainingInfo | null;
  activations: Float64Array[];
}

function resolveHidden(v: unknown): number[] {
  if (v === undefined) return [64];
  const ok = Array.isArray(v) && v.length >= 1 && v.length <= MLP_MAX_HIDDEN_LAYERS && v.every((w) => typeof w === 'number' && Number.isInteger(w) && w >= 1 && w <= MLP_MAX_WIDTH);
  if (!ok) throw new KilnError('E_USAGE', `${OWNER}: option hiddenLayers must be 1 to ${MLP_MAX_HIDDEN_LAYERS} integer widths in [1, ${MLP_MAX_WIDTH}] (got ${describe(v)})`);
  return [...(v as number[])];
}

/** A multi-layer perceptron (see the module comment). */
export class MLP extends DecisionModel {
  readonly objective: MlpObjectiveName;
  readonly params: MLPParams;
  readonly numThreads: number;
  private readonly earlyStoppingExplicit: boolean;
  private state: FittedState | null = null;
  protected readonly decision = new DecisionState(OWNER, 'binary', 2);

  /** Throws unless the model is fitted (decision-state calls name themselves in the error). */
  protected requireFitted(what: string): void {
    this.fittedState(what);
  }

  constructor(options: MLPOptions = {}) {
    super();
    const o = checkOptionKeys(OWNER, options, OPTION_KEYS);
    if (o.earlyStoppingRounds !== undefined && o.patience !== undefined && o.earlyStoppingRounds !== o.patience) {
      throw new KilnError('E_USAGE', `${OWNER}: options earlyStoppingRounds (${describe(o.earlyStoppingRounds)}) and patience (${describe(o.patience)}) disagree; give one`);
    }
    const rounds = o.earlyStoppingRounds ?? o.patience;
    this.objective = enumOption(OWNER, 'objective', o.objective, 'binary', ['binary', 'multiclass', 'regression'] as const);
    this.params = {
      hiddenLayers: resolveHidden(o.hiddenLayers),
      dropout: numberOption(OWNER, 'dropout', o.dropout, 0, 0, 0.99),
      learningRate: numberOption(OWNER, 'learningRate', o.learningRate, 1e-3, 0, 10, true),
      l2: numberOption(OWNER, 'l2', o.l2, 0, 0, 1e6),
      batchSize: intOption(OWNER, 'batchSize', o.batchSize, 128, 1, 1 << 24),
      epochs: intOption(OWNER, 'epochs', o.epochs, 100, 1, 1_000_000),
      earlyStoppingRounds: intOption(OWNER, o.earlyStoppingRounds !== undefined ? 'earlyStoppingRounds' : 'patience', rounds, DEFAULT_EARLY_STOPPING_ROUNDS, 0, 1_000_000),
      validationFraction: numberOption(OWNER, 'validationFraction', o.validationFraction, 0, 0, 0.9),
      seed: intOption(OWNER, 'seed', o.seed, 0, 0, Number.MAX_SAFE_INTEGER),
    };
    this.earlyStoppingExplicit = rounds !== undefined && rounds !== 0;
    this.numThreads = intOption(OWNER, 'numThreads', o.numThreads, 0, 0, 256);
  }

  /** True once fit (or fromJSON) produced weights. */
  get fitted(): boolean {
    return this.state !== null;
  }

  /** 2 for binary, the class count for multiclass, 1 for regression. */
  get numClass(): number {
    return this.fittedState('numClass').numClass;
  }

  /** Feature names in column order. */
  get featureNames(): string[] {
    return [...this.fittedState('featureNames').featureNames];
  }

  /** What fit recorded, or null. */
  get training(): MlpTrainingInfo | null {
    return this.fittedState('training').training;
  }

  /**
   * Fits on X (ColumnBatch of numeric columns, or a row-major matrix) and y (class indices
   * 0..K-1 with every class present, or real values for regression). Resolves to this model.
   */
  async fit(X: FeatureInput, y: TargetInput, call: MlpFitCall = {}): Promise<this> {
    const op = `${OWNER}.fit`;
    const c = checkFitCall(OWNER, call);
    if (c.valid !== undefined && this.params.validationFraction > 0) {
      throw new KilnError('E_USAGE', `${op}: give valid rows or option validationFraction, not both`);
    }
    if (c.valid === undefined && this.params.validationFraction === 0 && this.earlyStoppingExplicit) {
      throw new KilnError('E_USAGE', `${op}: option earlyStoppingRounds needs validation rows (fit's valid or option validationFraction)`);
    }
    const m = prepareFeatures(op, X);
    const targets = prepareTargets(op, y, m.rows);
    let numClass = 1;
    if (this.objective !== 'regression') {
      numClass = classLabels(op, targets).numClass;
      if (this.objective === 'binary' && numClass !== 2) {
        throw new KilnError('E_NATIVE_INPUT', `${op}: objective 'binary' needs labels 0 and 1, y has ${numClass} classes (use objective 'multiclass')`);
      }
    }
    let valid = null;
    if (c.valid !== undefined) {
      const vm = prepareFeatures(`${op} (valid)`, c.valid.X, m.featureNames);
      const vt = prepareTargets(`${op} (valid)`, c.valid.y, vm.rows, 'valid.y');
      if (this.objective !== 'regression') classLabels(`${op} (valid)`, vt, 'valid.y', numClass);
      valid = { values: vm.values, targets: vt, rows: vm.rows, cols: vm.cols, layout: vm.layout };
    }
    const hooks = { ...(c.signal !== undefined ? { signal: c.signal } : {}), ...(c.onProgress !== undefined ? { onProgress: c.onProgress } : {}) };
    const p = this.params;
    const fit = await fitMlp(
      m.values,
      targets,
      {
        rows: m.rows,
        cols: m.cols,
        layout: m.layout,
        numThreads: this.numThreads,
        objective: this.objective,
        numClass,
        hiddenLayers: p.hiddenLayers,
        dropout: p.dropout,
        learningRate: p.learningRate,
        l2: p.l2,
        batchSize: p.batchSize,
        epochs: p.epochs,
        patience: valid !== null || p.validationFraction > 0 ? p.earlyStoppingRounds : 0,
        validationFraction: p.validationFraction,
        seed: p.seed,
      },
      valid,
      hooks,
    );
    const training: MlpTrainingInfo = {
      seed: p.seed,
      rows: m.rows,
      trainRows: fit.trainRows,
      validRows: fit.validRows,
      metric: this.objective === 'binary' ? 'logloss' : this.objective === 'multiclass' ? 'mlogloss' : 'mse',
      history: { train: Array.from(fit.trainLoss), valid: Array.from(fit.validLoss) },
      bestEpoch: fit.bestEpoch,
      epochsRun: fit.epochsRun,
      earlyStopped: fit.earlyStopped,
      receipt: null,
    };
    this.state = makeState(fit.numClass, m.featureNames, fit.mean, fit.scale, fit.targetMean, fit.targetScale, fit.layers, training);
    this.decision.reset(this.objective, this.objective === 'regression' ? 1 : fit.numClass);
    return this;
  }

  /**
   * Predictions: P(class 1) per row (binary), rows x numClass probabilities row-major
   * (multiclass) or values (regression); probabilities are calibrated when the model has a
   * calibrator (unless `calibrated: false`). A ColumnBatch is read by the model's feature names.
   */
  async predict(X: FeatureInput, options: { calibrated?: boolean } = {}): Promise<Float64Array> {
    const s = this.fittedState('predict');
    const o = checkOptionKeys(`${OWNER}.predict`, options, ['calibrated']);
    if (o.calibrated !== undefined && typeof o.calibrated !== 'boolean') throw new KilnError('E_USAGE', `${OWNER}.predict: option calibrated must be a boolean`);
    const m = prepareFeatures(`${OWNER}.predict`, X, s.featureNames);
    const out = await predictMlp(m.values, { rows: m.rows, cols: m.cols, layout: m.layout, numThreads: this.numThreads }, this.nativeModel());
    const cal = this.decision.calibrator;
    if (cal && o.calibrated !== false) cal.applyInPlace(out);
    return out;
  }

  /**
   * One row (features in model order) on the calling thread: a number (binary P(class 1),
   * regression value) or a new Float64Array of numClass probabilities, calibrated when the model
   * has a calibrator. No other allocation.
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
    const input = s.activations[0]!;
    for (let f = 0; f < cols; f++) {
      const v = +row[f]!;
      input[f] = v - v === 0 ? (v - s.mean[f]!) * s.invScale[f]! : 0;
    }
    const last = s.layers.length - 1;
    for (let l = 0; l <= last; l++) {
      const { inputs, outputs, weights, biases } = s.layers[l]!;
      const a = s.activations[l]!;
      const z = s.activations[l + 1]!;
      z.set(biases);
      for (let i = 0; i < inputs; i++) {
        const ai = a[i]!;
        if (ai === 0) continue;
        const base = i * outputs;
        for (let o = 0; o < outputs; o++) z[o]! += ai * weights[base + o]!;
      }
      if (l < last) for (let o = 0; o < outputs; o++) if (!(z[o]! > 0)) z[o] = 0;
    }
    const out = s.activations[last + 1]!;
    if (this.objective === 'regression') return s.targetMean + s.targetScale * out[0]!;
    if (this.objective === 'binary') {
      const m = out[0]!;
      const e = Math.exp(-Math.abs(m));
      return m >= 0 ? 1 / (1 + e) : e / (1 + e);
    }
    const k = out.length;
    let mx = out[0]!;
    for (let j = 1; j < k; j++) mx = Math.max(mx, out[j]!);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += Math.exp(out[j]! - mx);
    const probs = new Float64Array(k);
    for (let j = 0; j < k; j++) probs[j] = Math.exp(out[j]! - mx) / sum;
    return probs;
  }

  /**
   * Class labels: binary, 1 where P(class 1) >= the model's threshold (0.5 without one; compared
   * with the calibrated or uncalibrated probability as the threshold records); multiclass, the
   * most probable class.
   */
  async predictLabels(X: FeatureInput): Promise<Int32Array> {
    const numClass = this.fittedState('predictLabels').numClass;
    if (this.objective === 'regression') throw new KilnError('E_USAGE', `${OWNER}.predictLabels: needs a classification model`);
    const p = await this.predict(X, { calibrated: !this.decision.labelsUseUncalibrated });
    return this.decision.labels(p, numClass);
  }

  /** The label of one row (see predictLabels), synchronously. */
  predictLabelSync(row: ArrayLike<number>): number {
    this.fittedState('predictLabelSync');
    if (this.objective === 'regression') throw new KilnError('E_USAGE', `${OWNER}.predictLabelSync: needs a classification model`);
    const raw = this.predictSyncRaw(row);
    const cal = this.decision.labelsUseUncalibrated ? null : this.decision.calibrator;
    if (typeof raw === 'number') return this.decision.labelOne(cal ? cal.applyOne(raw) : raw);
    return this.decision.labelOne(cal ? cal.applyRow(raw, raw) : raw);
  }

  /** The model file object (schemas/model-mlp.schema.json). */
  toJSON(): MlpModelJson {
    const s = this.fittedState('toJSON');
    return {
      format: KILN_MODEL_FORMAT,
      version: KILN_MODEL_VERSION,
      kind: 'mlp',
      objective: { name: this.objective, numClass: s.numClass },
      features: s.featureNames.map((name) => ({ name, type: 'numeric' as const })),
      missing: 'mean',
      standardization: { mean: Array.from(s.mean), scale: Array.from(s.scale) },
      target: { mean: s.targetMean, scale: s.targetScale },
      activation: 'relu',
      layers: s.layers.map((l) => ({ inputs: l.inputs, outputs: l.outputs, weights: Array.from(l.weights), biases: Array.from(l.biases) })),
      params: { ...this.params, hiddenLayers: [...this.params.hiddenLayers] },
      training: s.training === null ? null : structuredClone(s.training),
      ...this.decision.fields(),
    };
  }

  /** Writes the model as canonical JSON, atomically; save -> fromJSON -> save is byte-identical. */
  async save(path: string): Promise<void> {
    await saveModelJson(path, this.toJSON());
  }

  /** Rebuilds a model from its file object; anything else is refused with E_MODEL_FORMAT. */
  static fromJSON(obj: unknown, options: { numThreads?: number } = {}): MLP {
    const what = 'mlp model';
    validateModelObject(what, obj, 'mlp', 'model-mlp');
    const j = obj as MlpModelJson;
    const cols = j.features.length;
    const name = j.objective.name;
    const numClass = j.objective.numClass;
    requireModel(name === 'regression' ? numClass === 1 : name === 'binary' ? numClass === 2 : numClass >= 2, what, `objective ${name} does not match numClass ${numClass}`);
    requireModel(new Set(j.features.map((f) => f.name)).size === cols, what, 'feature names must be unique');
    requireModel(j.standardization.mean.length === cols && j.standardization.scale.length === cols, what, `standardization needs ${cols} means and scales`);
    requireModel(j.layers.length === j.params.hiddenLayers.length + 1, what, 'layers must be the hidden layers of params.hiddenLayers plus the output layer');
    let inputs = cols;
    j.layers.forEach((l, i) => {
      requireModel(l.inputs === inputs, what, `layers[${i}] has ${l.inputs} inputs, expected ${inputs}`);
      const expectedOut = i < j.layers.length - 1 ? j.params.hiddenLayers[i]! : name === 'multiclass' ? numClass : 1;
      requireModel(l.outputs === expectedOut, what, `layers[${i}] has ${l.outputs} outputs, expected ${expectedOut}`);
      requireModel(l.weights.length === l.inputs * l.outputs && l.biases.length === l.outputs, what, `layers[${i}] weights / biases do not match ${l.inputs} x ${l.outputs}`);
      inputs = l.outputs;
    });
    const p = j.params;
    const model = new MLP({
      objective: name,
      hiddenLayers: p.hiddenLayers,
      dropout: p.dropout,
      learningRate: p.learningRate,
      l2: p.l2,
      batchSize: p.batchSize,
      epochs: p.epochs,
      earlyStoppingRounds: p.earlyStoppingRounds,
      validationFraction: p.validationFraction,
      seed: p.seed,
      ...(options.numThreads !== undefined ? { numThreads: options.numThreads } : {}),
    });
    model.state = makeState(
      numClass,
      j.features.map((f) => f.name),
      Float64Array.from(j.standardization.mean),
      Float64Array.from(j.standardization.scale),
      j.target.mean,
      j.target.scale,
      j.layers.map((l) => ({ inputs: l.inputs, outputs: l.outputs, weights: Float64Array.from(l.weights), biases: Float64Array.from(l.biases) })),
      j.training === null ? null : structuredClone(j.training),
    );
    model.decision.reset(name, name === 'regression' ? 1 : numClass);
    model.decision.load(j, what);
    return model;
  }

  /** Reads a model file written by save(). */
  static async load(path: string, options: { numThreads?: number } = {}): Promise<MLP> {
    return MLP.fromJSON(await readModelJson(path), options);
  }

  private nativeModel(): MlpModelArrays {
    const s = this.fittedState('predict');
    return { objective: this.objective, numClass: s.numClass, mean: s.mean, scale: s.scale, targetMean: s.targetMean, targetScale: s.targetScale, layers: s.layers };
  }

  private fittedState(what: string): FittedState {
    if (this.state === null) throw new KilnError('E_USAGE', `${OWNER}.${what}: the model is not fitted (call fit() or fromJSON() first)`);
    return this.state;
  }
}

function makeState(numClass: number, featureNames: string[], mean: Float64Array, scale: Float64Array, targetMean: number, targetScale: number, layers: Layer[], training: MlpTrainingInfo | null): FittedState {
  return {
    numClass,
    featureNames,
    mean,
    scale,
    invScale: scale.map((s) => 1 / s),
    targetMean,
    targetScale,
    layers,
    training,
    activations: [new Float64Array(mean.length), ...layers.map((l) => new Float64Array(l.outputs))],
  };
}
