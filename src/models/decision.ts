/**
 * What a classification model does after its raw output: the optional calibrator applied by
 * predict, and the optional binary decision threshold used by predictLabels. Shared by GBDT,
 * LogisticRegression and MLP; stored in the model file as the optional top-level `calibration`
 * and `threshold` (absent, not null, when unset, so uncalibrated model files are unchanged).
 */
import { KilnError } from '../../bindings/errors.js';
import type { CostMatrix, ThresholdChoice } from '../evaluate/thresholds.js';
import { Calibrator, type CalibrationJson } from './calibration.js';

/** The stored decision threshold (schemas/model-*.schema.json $defs/threshold). */
export interface ThresholdJson {
  /** Class 1 when the probability is >= value. */
  value: number;
  objective: 'f1' | 'youden' | 'profit' | 'manual';
  /** The objective at the threshold where it was chosen; null for manual. */
  objectiveValue: number | null;
  costs: CostMatrix | null;
  /** Whether the threshold compares calibrated or uncalibrated probabilities. */
  appliesTo: 'calibrated' | 'uncalibrated';
}

/** Options of setThreshold. */
export interface SetThresholdOptions {
  /** Default: 'calibrated' when the model has a calibrator, else 'uncalibrated'. */
  appliesTo?: 'calibrated' | 'uncalibrated';
}

/** The task of a model, as far as decisions go. */
export type DecisionTask = 'binary' | 'multiclass' | 'regression';

/** The optional fields a model file carries for its decision state. */
export interface DecisionFields {
  classes?: string[];
  calibration?: CalibrationJson;
  threshold?: ThresholdJson;
}

function usage(message: string): KilnError {
  return new KilnError('E_USAGE', message);
}

/** Class names, calibrator and threshold of one model. */
export class DecisionState {
  classNames: string[] | null = null;
  calibrator: Calibrator | null = null;
  threshold: ThresholdJson | null = null;

  constructor(
    readonly owner: string,
    private task: DecisionTask,
    private numClass: number,
  ) {}

  /** Re-targets the state after (re)training; a stored calibrator or threshold that no longer fits is dropped. */
  reset(task: DecisionTask, numClass: number): void {
    this.task = task;
    this.numClass = numClass;
    this.classNames = null;
    this.calibrator = null;
    this.threshold = null;
  }

  /** Problem with a list of class names for this model, or null when it fits. */
  private classesProblem(names: unknown): string | null {
    if (this.task === 'regression') return 'a regression model has no classes';
    if (!Array.isArray(names) || names.some((n) => typeof n !== 'string' || n.length === 0)) return 'classes must be an array of non-empty strings';
    if (names.length !== this.numClass) return `${names.length} class names for a model of ${this.numClass} classes`;
    if (new Set(names).size !== names.length) return 'class names must be unique';
    return null;
  }

  setClasses(names: readonly string[] | null): void {
    if (names === null) {
      this.classNames = null;
      return;
    }
    const problem = this.classesProblem(names);
    if (problem) throw usage(`${this.owner}.setClasses: ${problem}`);
    this.classNames = [...names];
  }

  setCalibration(c: Calibrator | CalibrationJson | null): void {
    const op = `${this.owner}.setCalibration`;
    if (c === null) {
      if (this.threshold?.appliesTo === 'calibrated') throw usage(`${op}: the model's threshold applies to calibrated probabilities; clear it (setThreshold(null)) or set it again with appliesTo 'uncalibrated' first`);
      this.calibrator = null;
      return;
    }
    if (this.task === 'regression') throw usage(`${op}: a regression model cannot be calibrated`);
    let cal: Calibrator;
    if (c instanceof Calibrator) cal = c;
    else {
      try {
        cal = Calibrator.fromJSON(c);
      } catch (err) {
        throw err instanceof KilnError ? usage(`${op}: ${err.message}`) : err;
      }
    }
    if (cal.numClass !== this.numClass) throw usage(`${op}: the calibrator is for ${cal.numClass} classes but the model has ${this.numClass}`);
    if (this.threshold?.appliesTo === 'calibrated') {
      throw usage(`${op}: the model's threshold was chosen on the current calibrated probabilities; clear it (setThreshold(null)) before changing the calibration, then choose it again`);
    }
    this.calibrator = cal;
  }

  setThreshold(t: number | ThresholdChoice | ThresholdJson | null, options: SetThresholdOptions = {}): void {
    const op = `${this.owner}.setThreshold`;
    if (t === null) {
      this.threshold = null;
      return;
    }
    if (this.task !== 'binary') throw usage(`${op}: a decision threshold applies to binary models only (this one is ${this.task})`);
    if (options === null || typeof options !== 'object') throw usage(`${op}: options must be an object`);
    for (const k of Object.keys(options)) if (k !== 'appliesTo') throw usage(`${op}: unknown option '${k}' (known: appliesTo)`);
    let json: ThresholdJson;
    const fromArg = typeof t === 'object' && 'appliesTo' in t ? t.appliesTo : undefined;
    const appliesTo = options.appliesTo ?? fromArg ?? (this.calibrator ? 'calibrated' : 'uncalibrated');
    if (appliesTo !== 'calibrated' && appliesTo !== 'uncalibrated') throw usage(`${op}: option appliesTo must be 'calibrated' or 'uncalibrated'`);
    if (appliesTo === 'calibrated' && !this.calibrator) throw usage(`${op}: appliesTo 'calibrated' needs a calibrator (setCalibration first)`);
    if (typeof t === 'number') {
      json = { value: t, objective: 'manual', objectiveValue: null, costs: null, appliesTo };
    } else if (t !== null && typeof t === 'object' && 'threshold' in t) {
      json = { value: t.threshold, objective: t.objective, objectiveValue: t.value, costs: t.costs ? { ...t.costs } : null, appliesTo };
    } else if (t !== null && typeof t === 'object' && 'value' in t) {
      json = { value: t.value, objective: t.objective, objectiveValue: t.objectiveValue, costs: t.costs ? { ...t.costs } : null, appliesTo };
    } else {
      throw usage(`${op}: expected a number, optimizeThreshold's result, a threshold object or null`);
    }
    if (typeof json.value !== 'number' || !Number.isFinite(json.value)) throw usage(`${op}: the threshold must be a finite number (got ${String(json.value)})`);
    if (!['f1', 'youden', 'profit', 'manual'].includes(json.objective)) throw usage(`${op}: unknown objective ${JSON.stringify(json.objective)}`);
    if (json.objectiveValue !== null && !Number.isFinite(json.objectiveValue)) throw usage(`${op}: objectiveValue must be finite or null`);
    if ((json.objective === 'profit') !== (json.costs !== null)) throw usage(`${op}: costs go with objective 'profit' (and only with it)`);
    this.threshold = json;
  }

  /** The optional model-file fields, in a fixed order; nothing when unset. */
  fields(): DecisionFields {
    const out: DecisionFields = {};
    if (this.classNames) out.classes = [...this.classNames];
    if (this.calibrator) out.calibration = this.calibrator.toJSON();
    if (this.threshold) {
      const t = this.threshold;
      out.threshold = {
        value: t.value,
        objective: t.objective,
        objectiveValue: t.objectiveValue,
        costs: t.costs ? { tp: t.costs.tp, fp: t.costs.fp, tn: t.costs.tn, fn: t.costs.fn } : null,
        appliesTo: t.appliesTo,
      };
    }
    return out;
  }

  /** Loads the optional fields of a (schema-valid) model object; E_MODEL_FORMAT when they do not fit the model. */
  load(obj: { classes?: unknown; calibration?: unknown; threshold?: unknown }, source: string): void {
    const bad = (m: string): never => {
      throw new KilnError('E_MODEL_FORMAT', `${source}: ${m}`, { source });
    };
    this.classNames = null;
    this.calibrator = null;
    this.threshold = null;
    if (obj.classes !== undefined) {
      const problem = this.classesProblem(obj.classes);
      if (problem) bad(problem);
      this.classNames = [...(obj.classes as string[])];
    }
    if (obj.calibration !== undefined) {
      if (this.task === 'regression') bad('a regression model cannot carry a calibration');
      let cal: Calibrator;
      try {
        cal = Calibrator.fromJSON(obj.calibration);
      } catch (err) {
        throw err instanceof KilnError ? new KilnError('E_MODEL_FORMAT', `${source}: ${err.message}`, { source }) : err;
      }
      if (cal.numClass !== this.numClass) bad(`calibration is for ${cal.numClass} classes but the model has ${this.numClass}`);
      this.calibrator = cal;
    }
    if (obj.threshold !== undefined) {
      const t = obj.threshold as ThresholdJson;
      if (this.task !== 'binary') bad(`a threshold applies to binary models only (this one is ${this.task})`);
      if (t.appliesTo === 'calibrated' && !this.calibrator) bad("threshold applies to calibrated probabilities but the model has no calibration");
      if ((t.objective === 'profit') !== (t.costs !== null)) bad("threshold costs go with objective 'profit' (and only with it)");
      if (!Number.isFinite(t.value)) bad('threshold value must be finite');
      this.threshold = { value: t.value, objective: t.objective, objectiveValue: t.objectiveValue, costs: t.costs ? { ...t.costs } : null, appliesTo: t.appliesTo };
    }
  }

  /** The threshold predictLabels uses (0.5 without one). */
  get thresholdValue(): number {
    return this.threshold?.value ?? 0.5;
  }

  /** Whether labels need uncalibrated probabilities (a threshold set on them while a calibrator is present). */
  get labelsUseUncalibrated(): boolean {
    return this.calibrator !== null && this.threshold?.appliesTo === 'uncalibrated';
  }

  /** Labels of probabilities: binary P(class 1) >= threshold; multiclass argmax (first on ties). */
  labels(probs: Float64Array, numClass: number): Int32Array {
    if (numClass === 2) {
      const t = this.thresholdValue;
      return Int32Array.from(probs, (p) => (p >= t ? 1 : 0));
    }
    const rows = probs.length / numClass;
    const out = new Int32Array(rows);
    for (let r = 0; r < rows; r++) {
      let best = 0;
      for (let c = 1; c < numClass; c++) if (probs[r * numClass + c]! > probs[r * numClass + best]!) best = c;
      out[r] = best;
    }
    return out;
  }

  /** Label of one row's output (binary number or K probabilities). */
  labelOne(p: number | Float64Array): number {
    if (typeof p === 'number') return p >= this.thresholdValue ? 1 : 0;
    let best = 0;
    for (let c = 1; c < p.length; c++) if (p[c]! > p[best]!) best = c;
    return best;
  }
}

/**
 * The class-name, calibration and threshold API every model shares: subclasses own a DecisionState,
 * say how to check they are fitted, and may refresh cached model objects when it changes.
 */
export abstract class DecisionModel {
  protected abstract readonly decision: DecisionState;

  /** Throws unless the model is fitted; `what` names the call. */
  protected abstract requireFitted(what: string): void;

  /** Called after the class names, calibrator or threshold changed. */
  protected onDecisionChange(): void {}

  /** Class names in model order, or null when the model was given none. */
  get classes(): string[] | null {
    this.requireFitted('classes');
    return this.decision.classNames ? [...this.decision.classNames] : null;
  }

  /** Stores (or, with null, removes) the class names, one per class in model order; saved with the model. */
  setClasses(names: readonly string[] | null): this {
    this.requireFitted('setClasses');
    this.decision.setClasses(names);
    this.onDecisionChange();
    return this;
  }

  /** The calibrator applied by predict, or null. */
  get calibration(): Calibrator | null {
    this.requireFitted('calibration');
    return this.decision.calibrator;
  }

  /** The stored decision threshold, or null (predictLabels then uses 0.5). */
  get threshold(): ThresholdJson | null {
    this.requireFitted('threshold');
    return this.decision.threshold ? { ...this.decision.threshold } : null;
  }

  /** Stores (or, with null, removes) the calibrator applied by predict; it is saved with the model. */
  setCalibration(calibrator: Calibrator | CalibrationJson | null): this {
    this.requireFitted('setCalibration');
    this.decision.setCalibration(calibrator);
    this.onDecisionChange();
    return this;
  }

  /**
   * Stores (or, with null, removes) the binary decision threshold: a number (objective 'manual')
   * or optimizeThreshold's result. It is saved with the model and used by predictLabels.
   */
  setThreshold(threshold: number | ThresholdChoice | ThresholdJson | null, options?: SetThresholdOptions): this {
    this.requireFitted('setThreshold');
    this.decision.setThreshold(threshold, options);
    this.onDecisionChange();
    return this;
  }
}
