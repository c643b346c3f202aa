// Every metric equals scikit-learn's on the stored fixtures (test/oracle/evaluate, made by
// benchmarks/oracles/make_evaluate_fixtures.py) within 1e-9.
import fs from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import {
  accuracy,
  averagePrecision,
  brier,
  classificationReport,
  confusionMatrix,
  expectedCalibrationError,
  logLoss,
  mae,
  mse,
  precisionRecallCurve,
  precisionRecallF1,
  r2,
  reliabilityCurve,
  rmse,
  rocAuc,
  rocCurve,
  scoreHistogram,
  type Average,
  type ClassificationReport,
} from '../../../src/index.js';
import { ROOT } from '../../helpers/paths.js';

const TOL = 1e-9;
const fixture = <T = Record<string, unknown>>(name: string): T => JSON.parse(fs.readFileSync(path.join(ROOT, 'test/oracle/evaluate', `${name}.json`), 'utf8')) as T;

function close(actual: number, expected: number, what = ''): void {
  if (Math.abs(actual - expected) > TOL) throw new Error(`${what}: ${actual} differs from scikit-learn's ${expected} by ${Math.abs(actual - expected)}`);
}

function closeAll(actual: ArrayLike<number>, expected: ArrayLike<number>, what = ''): void {
  expect(actual.length, `${what} length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) close(actual[i]!, expected[i]!, `${what}[${i}]`);
}

type Prf = Record<string, { precision: number; recall: number; f1: number }> & { perClass: { precision: number[]; recall: number[]; f1: number[]; support: number[] } };
type SkReport = Record<string, number | { precision: number; recall: number; 'f1-score': number; support: number }>;

function checkPrf(y: number[], yPred: number[], prf: Prf): void {
  for (const [key, want] of Object.entries(prf)) {
    if (key === 'perClass') continue;
    const [average, zd] = key.split('/') as [Average, string];
    const got = precisionRecallF1(y, yPred, { average, zeroDivision: Number(zd) as 0 | 1 });
    close(got.precision, want.precision, `${key} precision`);
    close(got.recall, want.recall, `${key} recall`);
    close(got.f1, want.f1, `${key} f1`);
  }
}

function checkReport(got: ClassificationReport, want: SkReport): void {
  for (const row of got.classes) {
    const w = want[String(row.label)] as Exclude<SkReport[string], number>;
    close(row.precision, w.precision, `report ${row.label} precision`);
    close(row.recall, w.recall, `report ${row.label} recall`);
    close(row.f1, w['f1-score'], `report ${row.label} f1`);
    expect(row.support).toBe(w.support);
  }
  expect(got.classes.length).toBe(Object.keys(want).length - 3);
  close(got.accuracy, want.accuracy as number, 'report accuracy');
  for (const [mine, theirs] of [['macroAvg', 'macro avg'], ['weightedAvg', 'weighted avg']] as const) {
    const w = want[theirs] as Exclude<SkReport[string], number>;
    close(got[mine].precision, w.precision, `${mine} precision`);
    close(got[mine].recall, w.recall, `${mine} recall`);
    close(got[mine].f1, w['f1-score'], `${mine} f1`);
    expect(got[mine].support).toBe(w.support);
  }
}

interface BinaryFixture {
  name: string;
  y: number[];
  p: number[];
  threshold: number;
  yPred: number[];
  accuracy: number;
  prf: Prf;
  confusion: number[][];
  report: SkReport;
  rocAuc: number;
  averagePrecision: number;
  logLoss: number;
  brier: number;
  rocCurve: { fpr: number[]; tpr: number[]; thresholds: number[] };
  rocCurveAll: { fpr: number[]; tpr: number[]; thresholds: number[] };
  prCurve: { precision: number[]; recall: number[]; thresholds: number[] };
  reliability: { observedFrequency: number[]; meanPredicted: number[]; count: number[]; ece: number };
  reliability5: { observedFrequency: number[]; meanPredicted: number[]; count: number[]; ece: number };
  histogram: { edges: number[]; counts: number[]; byClass: number[][] };
}

describe.each(['binary_balanced', 'binary_imbalanced', 'binary_edge'])('binary fixture %s', (name) => {
  const f = fixture<BinaryFixture>(name);
  const y = f.y, p = Float64Array.from(f.p);

  it('label metrics: accuracy, precision / recall / F1 (binary, macro, weighted, micro; zeroDivision 0 and 1), confusion, report', () => {
    close(accuracy(y, f.yPred), f.accuracy, 'accuracy');
    checkPrf(y, f.yPred, f.prf);
    expect(confusionMatrix(y, f.yPred).matrix).toEqual(f.confusion);
    checkReport(classificationReport(y, f.yPred), f.report);
    const per = classificationReport(y, f.yPred).classes;
    closeAll(per.map((r) => r.f1), f.prf.perClass.f1, 'per-class f1');
  });

  it('ranking and probability metrics: ROC AUC, average precision, log-loss, Brier, ECE', () => {
    close(rocAuc(y, p), f.rocAuc, 'roc auc');
    close(averagePrecision(y, p), f.averagePrecision, 'average precision');
    close(logLoss(y, p), f.logLoss, 'log loss');
    close(brier(y, p), f.brier, 'brier');
    close(expectedCalibrationError(y, p), f.reliability.ece, 'ece');
    close(expectedCalibrationError(y, p, { bins: 5 }), f.reliability5.ece, 'ece 5 bins');
  });

  it('curves: ROC (with and without intermediate points), PR, reliability, histogram', () => {
    const roc = rocCurve(y, p);
    closeAll(roc.fpr, f.rocCurve.fpr, 'fpr');
    closeAll(roc.tpr, f.rocCurve.tpr, 'tpr');
    expect(roc.thresholds[0]).toBe(Infinity);
    closeAll(roc.thresholds.slice(1), f.rocCurve.thresholds, 'roc thresholds');
    close(roc.auc, f.rocAuc, 'roc.auc');
    const all = rocCurve(y, p, { dropIntermediate: false });
    closeAll(all.fpr, f.rocCurveAll.fpr, 'fpr (all)');
    closeAll(all.tpr, f.rocCurveAll.tpr, 'tpr (all)');
    closeAll(all.thresholds.slice(1), f.rocCurveAll.thresholds, 'roc thresholds (all)');
    const pr = precisionRecallCurve(y, p);
    closeAll(pr.precision, f.prCurve.precision, 'precision');
    closeAll(pr.recall, f.prCurve.recall, 'recall');
    closeAll(pr.thresholds, f.prCurve.thresholds, 'pr thresholds');
    close(pr.averagePrecision, f.averagePrecision, 'pr.averagePrecision');
    for (const [bins, want] of [[10, f.reliability], [5, f.reliability5]] as const) {
      const rel = reliabilityCurve(y, p, { bins });
      closeAll(rel.bins.map((b) => b.observedFrequency), want.observedFrequency, 'prob_true');
      closeAll(rel.bins.map((b) => b.meanPredicted), want.meanPredicted, 'prob_pred');
      expect(rel.bins.map((b) => b.count)).toEqual(want.count);
    }
    const h = scoreHistogram(p, { bins: 10, range: [0, 1], yTrue: y });
    closeAll(h.edges, f.histogram.edges, 'edges');
    expect(h.counts).toEqual(f.histogram.counts);
    expect(h.byClass).toEqual(f.histogram.byClass);
  });
});

describe('multiclass fixture', () => {
  const f = fixture<{
    numClass: number;
    y: number[];
    p: number[];
    yPred: number[];
    accuracy: number;
    prf: Prf;
    confusion: number[][];
    report: SkReport;
    rocAucMacro: number;
    rocAucWeighted: number;
    averagePrecisionMacro: number;
    averagePrecisionPerClass: number[];
    logLoss: number;
    brier: number;
    ece: number;
    eceCounts: number[];
  }>('multiclass');
  const P = Float64Array.from(f.p);
  const rows = Array.from({ length: f.y.length }, (_, r) => f.p.slice(r * f.numClass, (r + 1) * f.numClass));

  it('label metrics: macro / weighted / micro precision, recall, F1, confusion and report', () => {
    close(accuracy(f.y, f.yPred), f.accuracy, 'accuracy');
    checkPrf(f.y, f.yPred, f.prf);
    expect(confusionMatrix(f.y, f.yPred, { labels: [0, 1, 2, 3] }).matrix).toEqual(f.confusion);
    checkReport(classificationReport(f.y, f.yPred), f.report);
  });

  it('one-vs-rest AUC (macro, weighted), average precision, log-loss, Brier, top-label ECE, from flat or per-row probabilities', () => {
    for (const probs of [P, rows]) {
      close(rocAuc(f.y, probs), f.rocAucMacro, 'auc macro');
      close(rocAuc(f.y, probs, { average: 'weighted' }), f.rocAucWeighted, 'auc weighted');
      close(averagePrecision(f.y, probs), f.averagePrecisionMacro, 'ap macro');
      close(logLoss(f.y, probs), f.logLoss, 'log loss');
      close(brier(f.y, probs), f.brier, 'brier');
      close(expectedCalibrationError(f.y, probs), f.ece, 'ece');
    }
    expect(reliabilityCurve(f.y, P).bins.map((b) => b.count)).toEqual(f.eceCounts);
  });
});

describe('regression fixture', () => {
  const f = fixture<{ y: number[]; pred: number[]; rmse: number; mse: number; mae: number; r2: number; constY: number[]; constPred: number[]; constR2: number; constR2Perfect: number }>('regression');
  it('RMSE, MSE, MAE and R² (also for a constant target)', () => {
    close(rmse(f.y, f.pred), f.rmse, 'rmse');
    close(mse(Float64Array.from(f.y), f.pred), f.mse, "mse");
    close(mae(f.y, f.pred), f.mae, 'mae');
    close(r2(f.y, f.pred), f.r2, 'r2');
    close(r2(f.constY, f.constPred), f.constR2, 'r2 constant');
    close(r2(f.constY, f.constY), f.constR2Perfect, 'r2 constant perfect');
  });
});
