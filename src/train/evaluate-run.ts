/**
 * The evaluation half of a training run: calibration fitted on the validation split (stored in the
 * model, so predict applies it), the decision threshold chosen on the calibrated validation
 * scores, split-conformal sets / intervals, every metric per split, prediction files and the card.
 */
import type { ColumnBatch } from '../batch/column-batch.js';
import { buildCard, cardCurvesFromPredictions, writeCard, type CardInput } from '../evaluate/card.js';
import { ConformalClassifier, ConformalRegressor, intervalCoverage, setCoverage, type ConformalJson } from '../evaluate/conformal.js';
import { classificationMetrics, regressionMetrics, rocAuc, type ClassificationMetrics, type RegressionMetrics } from '../evaluate/metrics.js';
import { optimizeThreshold, type ThresholdChoice } from '../evaluate/thresholds.js';
import type { EnvironmentSnapshot, GitInfo } from '../lineage/environment.js';
import { Calibrator } from '../models/calibration.js';
import type { ModelJson } from '../models/format.js';
import { GBDT } from '../models/gbdt.js';
import type { LogisticRegression } from '../models/linear.js';
import type { MLP } from '../models/mlp.js';
import { StackingClassifier, type StackModelJson } from '../models/ensemble.js';

import type { TrainConfig } from './config.js';
import type { LabelEncoding } from './data.js';

/** Any model kiln train fits. */
export type RunModel = GBDT | LogisticRegression | MLP | StackingClassifier;

/** Flat numeric metrics of one split (what the run store and gates read). */
export type FlatMetrics = Record<string, number>;

/** Features and encoded labels of one split. */
export interface SplitData {
  X: ColumnBatch;
  y: Float64Array;
}

/** What evaluateRun needs. */
export interface EvaluateRunInput {
  model: RunModel;
  cfg: TrainConfig;
  enc: LabelEncoding;
  train: SplitData;
  valid: SplitData | null;
  test: SplitData | null;
  warn: (message: string) => void;
}

/** The run facts the card shows besides the evaluation. */
export interface CardContext {
  runId: string;
  name: string;
  startedAt: string;
  modelSha256: string;
  target: string;
  features: string[];
  rows: { train: number; valid: number; test: number };
  dataRefs: Array<{ role: string; path: string; sha256: string; datasetId: string }>;
  environment: EnvironmentSnapshot;
  git: GitInfo | null;
}

/** What evaluation produced. */
export interface RunEvaluation {
  metrics: { train?: FlatMetrics; valid?: FlatMetrics; test?: FlatMetrics };
  reports: Record<string, unknown>;
  threshold: { value: number; objective: string; objectiveValue: number } | null;
  calibrationSummary: { method: string; rows: number; before: FlatMetrics; after: FlatMetrics; warnings: string[] } | null;
  conformal: (ConformalJson & { coverage: number | null; evaluatedOn: string | null; meanSetSize: number | null; meanIntervalWidth: number | null }) | null;
  predictionsCsv: Record<string, string>;
  modelJson: ModelJson | StackModelJson;
  logLines: string[];
  /** Writes card.json and card.html into dir. */
  writeCard: (dir: string, ctx: CardContext) => Promise<void>;
}

type SplitName = 'train' | 'valid' | 'test';

function flatClassification(m: ClassificationMetrics): FlatMetrics {
  const out: FlatMetrics = {
    accuracy: m.accuracy,
    precision: m.precision,
    recall: m.recall,
    f1: m.f1,
    precisionMacro: m.macro.precision,
    recallMacro: m.macro.recall,
    f1Macro: m.macro.f1,
    precisionWeighted: m.weighted.precision,
    recallWeighted: m.weighted.recall,
    f1Weighted: m.weighted.f1,
    logLoss: m.logLoss,
    brier: m.brier,
    ece: m.ece,
  };
  if (m.rocAuc !== null) out.rocAuc = m.rocAuc;
  if (m.averagePrecision !== null) out.prAuc = m.averagePrecision;
  return out;
}

function flatRegression(m: RegressionMetrics): FlatMetrics {
  const out: FlatMetrics = { rmse: m.rmse, mse: m.mse, mae: m.mae };
  if (m.r2 !== null) out.r2 = m.r2;
  return out;
}

/** Formats a probability or value for a predictions file: shortest round-trip text. */
function num(v: number): string {
  return Number.isFinite(v) ? String(v) : '';
}

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function classificationCsv(classes: string[], y: Float64Array, probs: Float64Array, labels: Int32Array): string {
  const k = classes.length;
  const binary = k === 2;
  const head = ['row', 'actual', 'predicted', ...(binary ? [`p_${classes[1]}`] : classes.map((c) => `p_${c}`))].map(csvField).join(',');
  const lines = [head];
  for (let i = 0; i < y.length; i++) {
    const ps = binary ? [num(probs[i]!)] : Array.from(probs.subarray(i * k, (i + 1) * k), num);
    lines.push([String(i), csvField(classes[y[i]!]!), csvField(classes[labels[i]!]!), ...ps].join(','));
  }
  return lines.join('\n') + '\n';
}

function regressionCsv(y: Float64Array, pred: Float64Array): string {
  const lines = ['row,actual,predicted,residual'];
  for (let i = 0; i < y.length; i++) lines.push(`${i},${num(y[i]!)},${num(pred[i]!)},${num(y[i]! - pred[i]!)}`);
  return lines.join('\n') + '\n';
}

function argmaxLabels(probs: Float64Array, rows: number, k: number, threshold: number): Int32Array {
  const out = new Int32Array(rows);
  if (k === 2) {
    for (let i = 0; i < rows; i++) out[i] = probs[i]! >= threshold ? 1 : 0;
    return out;
  }
  for (let i = 0; i < rows; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (probs[i * k + c]! > probs[i * k + best]!) best = c;
    out[i] = best;
  }
  return out;
}

async function uncalibrated(model: RunModel, X: ColumnBatch): Promise<Float64Array> {
  return (model as { predict(X: ColumnBatch, o?: { calibrated?: boolean }): Promise<Float64Array> }).predict(X, { calibrated: false });
}

function classCounts(y: Float64Array, classes: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const c of classes) counts[c] = 0;
  for (let i = 0; i < y.length; i++) counts[classes[y[i]!]!]! += 1;
  return counts;
}

function modelObjective(json: ModelJson | StackModelJson): string {
  const o = (json as { objective?: { name?: string } | string }).objective;
  if (typeof o === 'string') return o;
  if (o && typeof o.name === 'string') return o.name;
  return 'binary';
}

function importanceOf(model: RunModel): CardInput['featureImportance'] {
  if (model instanceof GBDT) {
    const gain = model.featureImportance('gain');
    const split = new Map(model.featureImportance('split').map((e) => [e.feature, e.importance]));
    return { measure: 'gain', features: gain.map((e) => ({ name: e.feature, gain: e.importance, splits: split.get(e.feature) ?? 0 })) };
  }
  const withImportance = model as { featureImportance?: () => { feature: string; importance: number }[] };
  if (typeof withImportance.featureImportance === 'function') {
    return { measure: 'abs-weight', features: withImportance.featureImportance().map((e) => ({ name: e.feature, gain: e.importance, splits: null })) };
  }
  return null;
}

/** Calibrates, picks the threshold, fits conformal sets or intervals and evaluates every split. */
export async function evaluateRun(input: EvaluateRunInput): Promise<RunEvaluation> {
  const { model, cfg, enc, warn } = input;
  const logLines: string[] = [];
  const note = (line: string): void => {
    logLines.push(line);
  };
  const splits: Array<[SplitName, SplitData]> = [];
  splits.push(['train', input.train]);
  if (input.valid && input.valid.y.length > 0) splits.push(['valid', input.valid]);
  if (input.test && input.test.y.length > 0) splits.push(['test', input.test]);
  const valid = input.valid && input.valid.y.length > 0 ? input.valid : null;
  const evalName: SplitName = input.test && input.test.y.length > 0 ? 'test' : valid ? 'valid' : 'train';

  const metrics: RunEvaluation['metrics'] = {};
  const reports: Record<string, unknown> = {};
  const predictionsCsv: Record<string, string> = {};
  let threshold: ThresholdChoice | null = null;
  let calibrationSummary: RunEvaluation['calibrationSummary'] = null;
  let conformal: RunEvaluation['conformal'] = null;
  const predictions = new Map<SplitName, Float64Array>();

  if (enc.task === 'regression') {
    for (const [name, d] of splits) {
      const pred = await model.predict(d.X);
      predictions.set(name, pred);
      const m = regressionMetrics(d.y, pred);
      metrics[name] = flatRegression(m);
      if (name !== 'train') predictionsCsv[name] = regressionCsv(d.y, pred);
      note(`${name}: rmse ${m.rmse.toPrecision(6)} mae ${m.mae.toPrecision(6)} r2 ${m.r2 === null ? 'n/a' : m.r2.toFixed(4)}`);
    }
    if (valid) {
      const fitted = ConformalRegressor.fit(predictions.get('valid')!, valid.y, { alpha: cfg.conformal.alpha });
      const test = evalName === 'test' ? input.test! : null;
      let coverage: number | null = null;
      let width: number | null = null;
      if (test) {
        const iv = fitted.predictIntervals(predictions.get('test')!);
        coverage = intervalCoverage(iv, test.y);
        let w = 0;
        for (let i = 0; i < iv.lower.length; i++) w += iv.upper[i]! - iv.lower[i]!;
        width = iv.lower.length ? w / iv.lower.length : null;
      }
      conformal = { ...fitted.toJSON(), coverage, evaluatedOn: test ? 'test' : null, meanSetSize: null, meanIntervalWidth: width };
      note(`conformal intervals at alpha ${cfg.conformal.alpha}: half-width ${fitted.quantile.toPrecision(6)}${coverage !== null ? `, test coverage ${coverage.toFixed(4)}` : ''}`);
    } else warn('no validation rows: conformal intervals were not fitted');
  } else {
    const classes = enc.classes!;
    const k = classes.length;
    const binary = k === 2;
    if (classes.every((c) => c.length > 0)) model.setClasses(classes);
    // Calibration on the validation split.
    if (cfg.calibration.method !== 'none') {
      if (!valid) warn('no validation rows: the model is not calibrated');
      else {
        const raw = await uncalibrated(model, valid.X);
        const calWarnings: string[] = [];
        const cal = Calibrator.fit(raw, valid.y, {
          method: cfg.calibration.method,
          minSamples: cfg.calibration.minSamples,
          onWarning: (w) => {
            calWarnings.push(w);
            warn(w);
          },
        });
        model.setCalibration(cal);
        const before = input.test && input.test.y.length > 0 ? input.test : valid;
        const rawEval = await uncalibrated(model, before.X);
        const b = classificationMetrics(before.y, rawEval);
        const a = classificationMetrics(before.y, await model.predict(before.X));
        calibrationSummary = {
          method: cfg.calibration.method,
          rows: valid.y.length,
          before: { ece: b.ece, brier: b.brier, logLoss: b.logLoss },
          after: { ece: a.ece, brier: a.brier, logLoss: a.logLoss },
          warnings: calWarnings,
        };
        note(`calibration ${cfg.calibration.method} on ${valid.y.length} validation rows: ${evalName} ece ${b.ece.toFixed(4)} -> ${a.ece.toFixed(4)}`);
      }
    }
    // Threshold on the (calibrated) validation scores.
    if (binary && cfg.threshold.objective !== 'none') {
      if (!valid) warn('no validation rows: the decision threshold stays 0.5');
      else {
        const p = await model.predict(valid.X);
        threshold = optimizeThreshold(valid.y, p, { objective: cfg.threshold.objective, ...(cfg.threshold.costs ? { costs: cfg.threshold.costs } : {}) });
        model.setThreshold(threshold);
        note(`threshold ${threshold.threshold} maximises ${threshold.objective} on validation (${threshold.value.toPrecision(6)})`);
      }
    }
    const cut = threshold ? threshold.threshold : 0.5;
    for (const [name, d] of splits) {
      const p = await model.predict(d.X);
      predictions.set(name, p);
      const m = classificationMetrics(d.y, p, binary ? { threshold: cut } : {});
      metrics[name] = flatClassification(m);
      reports[name] = { confusion: m.confusion, report: m.report };
      if (name !== 'train') predictionsCsv[name] = classificationCsv(classes, d.y, p, argmaxLabels(p, d.y.length, k, cut));
      note(`${name}: ${m.rocAuc !== null ? `auc ${m.rocAuc.toFixed(4)} ` : ''}accuracy ${m.accuracy.toFixed(4)} f1 ${m.f1.toFixed(4)} logloss ${m.logLoss.toFixed(4)} ece ${m.ece.toFixed(4)}`);
    }
    if (model instanceof StackingClassifier) {
      const d = evalName === 'train' ? input.train : evalName === 'valid' ? valid! : input.test!;
      const u = await model.predictWithUncertainty(d.X);
      const m = u.memberNames.length;
      const members: Record<string, number> = {};
      u.memberNames.forEach((name, j) => {
        members[name] = rocAuc(d.y, Float64Array.from({ length: d.y.length }, (_, i) => u.memberProbabilities[i * m + j]!));
      });
      let disagreement = 0;
      for (let i = 0; i < u.disagreement.length; i++) disagreement += u.disagreement[i]!;
      const stackRaw = rocAuc(d.y, await model.predict(d.X, { calibrated: false }));
      reports.members = { split: evalName, rocAuc: members, stackRocAuc: rocAuc(d.y, u.probability), stackRocAucUncalibrated: stackRaw, meanDisagreement: u.disagreement.length ? disagreement / u.disagreement.length : 0 };
      note(`stack on ${evalName}: auc ${stackRaw.toFixed(4)} before calibration; members ${Object.entries(members).map(([n, a]) => `${n} ${a.toFixed(4)}`).join(', ')}`);
    }
    if (valid) {
      const fitted = ConformalClassifier.fit(predictions.get('valid')!, valid.y, { alpha: cfg.conformal.alpha });
      const test = evalName === 'test' ? input.test! : null;
      let coverage: number | null = null;
      let meanSize: number | null = null;
      if (test) {
        const sets = fitted.predictSets(predictions.get('test')!);
        coverage = setCoverage(sets, test.y);
        let n = 0;
        for (let i = 0; i < sets.rows; i++) n += sets.size[i]!;
        meanSize = sets.rows ? n / sets.rows : null;
      }
      conformal = { ...fitted.toJSON(), coverage, evaluatedOn: test ? 'test' : null, meanSetSize: meanSize, meanIntervalWidth: null };
      note(`conformal sets at alpha ${cfg.conformal.alpha}${coverage !== null ? `: test coverage ${coverage.toFixed(4)}, mean set size ${meanSize!.toFixed(3)}` : ''}`);
    } else warn('no validation rows: conformal sets were not fitted');
  }

  const modelJson = model.toJSON() as unknown as ModelJson | StackModelJson;
  const evalData = evalName === 'test' ? input.test! : evalName === 'valid' ? valid! : input.train;
  const evalPred = predictions.get(evalName)!;

  const writeRunCard = async (dir: string, ctx: CardContext): Promise<void> => {
    const classes = enc.classes ?? [];
    const plots =
      enc.task === 'regression'
        ? cardCurvesFromPredictions({ task: 'regression', actual: evalData.y, predicted: evalPred })
        : cardCurvesFromPredictions({ task: enc.task, classes, labels: evalData.y, probabilities: evalPred, threshold: threshold ? threshold.threshold : 0.5 });
    const report = (reports[evalName] as { report?: { rows?: Array<{ label: number; precision: number; recall: number; f1: number; support: number }> } } | undefined)?.report;
    const card = buildCard({
      runId: ctx.runId,
      title: `${ctx.name}: ${cfg.model.kind} on ${ctx.target}`,
      startedAt: ctx.startedAt,
      endedAt: new Date(),
      task: enc.task,
      classes,
      model: {
        kind: cfg.model.kind,
        objective: modelObjective(modelJson),
        params: { ...cfg.model.params, seed: cfg.seed },
        bestIteration: model instanceof GBDT ? model.bestIteration : null,
        modelHash: ctx.modelSha256,
      },
      metrics: metrics[evalName] ?? {},
      classReport: report?.rows?.map((r) => ({ label: classes[r.label] ?? String(r.label), precision: r.precision, recall: r.recall, f1: r.f1, support: r.support })) ?? [],
      confusionMatrix: plots.confusionMatrix,
      curves: plots.curves,
      featureImportance: importanceOf(model),
      data: {
        target: ctx.target,
        featureCount: ctx.features.length,
        evaluatedOn: evalName,
        splits: splits.map(([n, d]) => ({ name: n, rows: d.y.length, classCounts: enc.classes ? classCounts(d.y, enc.classes) : null })),
        datasets: ctx.dataRefs.map((r) => ({ role: r.role, path: r.path, sha256: r.sha256, versionId: r.datasetId })),
      },
      calibration: calibrationSummary ? { method: calibrationSummary.method, fittedOn: 'valid', rows: calibrationSummary.rows, before: calibrationSummary.before, after: calibrationSummary.after } : null,
      threshold: threshold ? { objective: threshold.objective, value: threshold.threshold, objectiveValue: threshold.value } : null,
      conformal: conformal
        ? {
            alpha: cfg.conformal.alpha,
            kind: enc.task === 'regression' ? 'intervals' : 'sets',
            calibrationRows: valid ? valid.y.length : null,
            coverage: conformal.coverage,
            meanSetSize: conformal.meanSetSize,
            meanIntervalWidth: conformal.meanIntervalWidth,
          }
        : null,
      environment: ctx.environment,
      git: ctx.git,
      notes: plots.notes,
    });
    await writeCard(dir, card);
  };

  return {
    metrics,
    reports,
    threshold: threshold ? { value: threshold.threshold, objective: threshold.objective, objectiveValue: threshold.value } : null,
    calibrationSummary,
    conformal,
    predictionsCsv,
    modelJson,
    logLines,
    writeCard: writeRunCard,
  };
}
