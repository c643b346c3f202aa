// The `kiln bench` report: relative changes and their direction, threshold edges, targets, the
// gate, schema validation, and the data-side helpers (model discovery, label mapping, latency loop).
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { ColumnBatch, columnFromValues } from '../../../src/batch/column-batch.js';
import { encodeLabelsForModel, measureLatency, resolveBenchModels } from '../../../src/evaluate/bench-models.js';
import {
  assertValidBenchReport,
  buildBenchReport,
  compareBenchmark,
  compareWithHistory,
  readBenchReport,
  relativeChange,
  targetAchievement,
  worsening,
  type BenchmarkEntry,
  type BuildReportInput,
} from '../../../src/evaluate/bench-report.js';
import { expectCode } from '../../helpers/errors.js';
import { makeTemp, rmTemp } from '../../helpers/paths.js';

const tmp = makeTemp('kiln-bench-unit-');
afterAll(() => rmTemp(tmp));

function entry(model: string, over: Partial<BenchmarkEntry> = {}): BenchmarkEntry {
  return {
    model,
    ref: `registry:${model}`,
    path: `/models/${model}.json`,
    status: 'ok',
    error: null,
    model_sha256: 'a'.repeat(64),
    kind: 'gbdt',
    task: 'binary',
    classes: ['no', 'yes'],
    positive_class: 'yes',
    threshold: 0.5,
    rows: 100,
    f1_score: 0.8,
    precision: 0.8,
    recall: 0.8,
    accuracy: 0.9,
    auc: 0.95,
    log_loss: 0.3,
    brier: 0.1,
    confusion: { tp: 40, fp: 10, tn: 45, fn: 5 },
    confusion_matrix: [[45, 10], [5, 40]],
    latency: { median_ms: 1, p99_ms: 2, mean_ms: 1.1, min_ms: 0.5, max_ms: 3, warmup: 10, repetitions: 100, rows: 50 },
    throughput: { rows_per_second: 1000, rows: 100, batch_ms: 100, repetitions: 3 },
    duration_ms: 12,
    ...over,
  };
}

function failedEntry(model: string): BenchmarkEntry {
  return entry(model, {
    status: 'failed', error: { code: 'E_MODEL_FORMAT', message: 'corrupt' }, kind: null, task: null, classes: null, positive_class: null, threshold: null, rows: null,
    f1_score: null, precision: null, recall: null, accuracy: null, auc: null, log_loss: null, brier: null, confusion: null, confusion_matrix: null, latency: null, throughput: null,
  });
}

const T = { quality: 0.05, speed: 0.5 };

describe('relative change and direction', () => {
  it('is (current - previous) / |previous| with its sign', () => {
    expect(relativeChange(0.8, 0.76)).toBeCloseTo(-0.05, 12);
    expect(relativeChange(0.8, 0.88)).toBeCloseTo(0.1, 12);
    expect(relativeChange(1, 1.2)).toBeCloseTo(0.2, 12);
    expect(relativeChange(0, 0.5)).toBeNull();
    expect(relativeChange(NaN, 0.5)).toBeNull();
  });

  it('a drop is worse for higher-is-better metrics, a rise for latency', () => {
    expect(worsening('higher_is_better', -0.1)).toBeCloseTo(0.1, 12);
    expect(worsening('higher_is_better', 0.1)).toBe(0);
    expect(worsening('lower_is_better', 0.2)).toBeCloseTo(0.2, 12);
    expect(worsening('lower_is_better', -0.2)).toBe(0);
  });
});

describe('compareBenchmark', () => {
  it('flags an F1 drop beyond the threshold with a negative relative change', () => {
    const r = compareBenchmark(entry('m'), entry('m', { f1_score: 0.7 }), T);
    expect(r).toHaveLength(1);
    expect(r[0]).toMatchObject({ metric: 'f1_score', direction: 'higher_is_better', previous: 0.8, current: 0.7, threshold: 0.05, beyond_threshold: true });
    expect(r[0]!.relative_change).toBeCloseTo(-0.125, 12);
  });

  it('does not flag a drop of exactly the threshold, and flags one just past it', () => {
    const at = compareBenchmark(entry('m'), entry('m', { f1_score: 0.76 }), T);
    expect(at).toHaveLength(1);
    expect(at[0]!.beyond_threshold).toBe(false);
    const past = compareBenchmark(entry('m'), entry('m', { f1_score: 0.7599 }), T);
    expect(past[0]!.beyond_threshold).toBe(true);
    const zero = compareBenchmark(entry('m'), entry('m', { f1_score: 0.79 }), { ...T, quality: 0 });
    expect(zero[0]!.beyond_threshold).toBe(true);
  });

  it('lists nothing when metrics improve (higher F1 / AUC, lower latency, higher throughput)', () => {
    const better = entry('m', { f1_score: 0.9, auc: 0.99, latency: { ...entry('m').latency!, median_ms: 0.5 }, throughput: { ...entry('m').throughput!, rows_per_second: 5000 } });
    expect(compareBenchmark(entry('m'), better, T)).toEqual([]);
  });

  it('treats latency as lower-is-better: a rise beyond the speed threshold regresses', () => {
    const slower = entry('m', { latency: { ...entry('m').latency!, median_ms: 1.6 } });
    const r = compareBenchmark(entry('m'), slower, T);
    expect(r).toHaveLength(1);
    expect(r[0]).toMatchObject({ metric: 'latency_median_ms', direction: 'lower_is_better', threshold: 0.5, beyond_threshold: true });
    expect(r[0]!.relative_change).toBeCloseTo(0.6, 12);
    const bit = compareBenchmark(entry('m'), entry('m', { latency: { ...entry('m').latency!, median_ms: 1.5 } }), T);
    expect(bit[0]!.beyond_threshold).toBe(false);
  });

  it('throughput is higher-is-better', () => {
    const r = compareBenchmark(entry('m'), entry('m', { throughput: { ...entry('m').throughput!, rows_per_second: 400 } }), T);
    expect(r[0]).toMatchObject({ metric: 'throughput_rows_per_second', direction: 'higher_is_better', beyond_threshold: true });
    expect(r[0]!.relative_change).toBeCloseTo(-0.6, 12);
  });

  it('reports but never gates speed without a speed threshold', () => {
    const r = compareBenchmark(entry('m'), entry('m', { latency: { ...entry('m').latency!, median_ms: 10 } }), { quality: 0.05, speed: null });
    expect(r[0]).toMatchObject({ metric: 'latency_median_ms', threshold: null, beyond_threshold: false });
  });

  it('skips failed entries and matches models by name', () => {
    expect(compareBenchmark(failedEntry('m'), entry('m'), T)).toEqual([]);
    const cmp = compareWithHistory([entry('a'), entry('b'), failedEntry('c')], [entry('a', { recall: 0.5 }), entry('b'), entry('c'), entry('d', { f1_score: 0.1 })], T);
    expect(cmp.compared).toEqual(['a', 'b']);
    expect(Object.keys(cmp.regressions)).toEqual(['a']);
    expect(cmp.regressions.a![0]!.metric).toBe('recall');
  });
});

describe('targetAchievement', () => {
  it('meets a target exactly at its value and ignores failed models', () => {
    const bs = [entry('a', { f1_score: 0.7 }), entry('b', { f1_score: 0.69, latency: { ...entry('b').latency!, p99_ms: 100.5 } }), failedEntry('c')];
    const t = targetAchievement(bs, { f1: 0.7, maxLatencyMs: 100 });
    expect(t.f1_met).toEqual({ a: true, b: false });
    expect(t.latency_met).toEqual({ a: true, b: false });
    expect(t.models_meeting_f1_target).toBe(1);
    expect(t.all_targets_met).toBe(false);
    const none = targetAchievement(bs, { f1: null, maxLatencyMs: null });
    expect(none).toMatchObject({ f1_met: {}, latency_met: {}, models_meeting_f1_target: null, all_targets_met: true });
  });
});

function input(benchmarks: BenchmarkEntry[], over: Partial<BuildReportInput> = {}): BuildReportInput {
  return {
    benchId: 'b1',
    timestamp: '2026-11-23T08:00:00.000Z',
    modelsSource: 'registry:m',
    data: { path: '/data/v.csv', sha256: 'b'.repeat(64), rows: 100, dropped_unlabeled: 0, target: 'label', symbol: null },
    benchmarks,
    thresholds: T,
    targets: { f1: null, maxLatencyMs: null },
    latency: { warmup: 10, repetitions: 100 },
    environment: { cpu_model: 'cpu', cores: 2, node: 'v20', kiln_version: '0.1.0', simd_level: 'avx2' },
    ...over,
  };
}

describe('buildBenchReport', () => {
  it('summarises, passes and validates against the schema', () => {
    const r = buildBenchReport(input([entry('a', { f1_score: 0.6 }), entry('b', { f1_score: 0.9 })]));
    expect(r.summary).toEqual({ total_models: 2, successful_benchmarks: 2, failed_benchmarks: 0, models_with_regressions: 0 });
    expect(r.performance_summary.avg_f1_score).toBeCloseTo(0.75, 12);
    expect(r.performance_summary.max_f1_score).toBe(0.9);
    expect(r.performance_summary.best_model).toBe('b');
    expect(r.gate).toEqual({ passed: true, failures: [] });
    expect(r.history).toBeNull();
    assertValidBenchReport(JSON.parse(JSON.stringify(r)));
  });

  it('fails the gate on a failed benchmark but still reports it', () => {
    const r = buildBenchReport(input([entry('a'), failedEntry('broken')]));
    expect(r.summary).toMatchObject({ successful_benchmarks: 1, failed_benchmarks: 1 });
    expect(r.gate.passed).toBe(false);
    expect(r.gate.failures[0]).toMatch(/broken: benchmark failed \(E_MODEL_FORMAT: corrupt\)/);
    expect(r.performance_summary.avg_f1_score).toBe(0.8);
    assertValidBenchReport(JSON.parse(JSON.stringify(r)));
  });

  it('fails on a regression against history, counts the model, and warns when the data differ', () => {
    const prev = buildBenchReport(input([entry('a'), entry('b')]));
    const cur = buildBenchReport(
      input([entry('a', { f1_score: 0.7 }), entry('b', { accuracy: 0.88 })], {
        data: { ...prev.validation_data, sha256: 'c'.repeat(64) },
        previous: { path: '/prev.json', report: prev },
      }),
    );
    expect(cur.summary.models_with_regressions).toBe(1);
    expect(cur.regressions.a![0]).toMatchObject({ metric: 'f1_score', beyond_threshold: true });
    expect(cur.regressions.b![0]).toMatchObject({ metric: 'accuracy', beyond_threshold: false });
    expect(cur.gate.passed).toBe(false);
    expect(cur.gate.failures).toEqual([expect.stringMatching(/^a: f1_score regressed 0\.8 → 0\.7 \(-12\.50 %/)]);
    expect(cur.history?.compared_models).toEqual(['a', 'b']);
    expect(cur.history?.warnings.join(' ')).toMatch(/other validation data/);
    assertValidBenchReport(JSON.parse(JSON.stringify(cur)));
  });

  it('fails on missed F1 and latency targets', () => {
    const r = buildBenchReport(input([entry('a', { f1_score: 0.65 }), entry('b', { f1_score: 0.75 })], { targets: { f1: 0.7, maxLatencyMs: 1.5 } }));
    expect(r.gate.failures).toEqual([expect.stringMatching(/^a: F1 0\.65 is below the target 0\.7/), expect.stringMatching(/^a: p99 latency 2 ms/), expect.stringMatching(/^b: p99 latency 2 ms/)]);
    expect(r.performance_summary.target_achievement.models_meeting_f1_target).toBe(1);
    expect(r.performance_summary.target_achievement.models_meeting_latency_target).toBe(0);
  });
});

describe('report files', () => {
  it('reads a valid report back and refuses other JSON', () => {
    const good = path.join(tmp, 'good.json');
    fs.writeFileSync(good, JSON.stringify(buildBenchReport(input([entry('a')]))));
    expect(readBenchReport(good).benchmarks[0]!.model).toBe('a');
    const bad = path.join(tmp, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ benchmarks: [] }));
    expectCode(() => readBenchReport(bad), 'E_SCHEMA', /bad\.json does not match schemas\/benchmark-report/);
    expectCode(() => readBenchReport(path.join(tmp, 'missing.json')), 'E_IO', /missing\.json/);
    const okWithMetricsMissing = JSON.parse(fs.readFileSync(good, 'utf8'));
    okWithMetricsMissing.benchmarks[0].f1_score = null;
    expectCode(() => assertValidBenchReport(okWithMetricsMissing), 'E_SCHEMA', /f1_score/);
  });
});

describe('resolveBenchModels', () => {
  it('takes every model.json under a folder of experiments, named by folder', () => {
    const dir = path.join(tmp, 'exps');
    for (const d of ['train_b_1', 'train_a_1', 'nested/train_c_1']) {
      fs.mkdirSync(path.join(dir, d), { recursive: true });
      fs.writeFileSync(path.join(dir, d, 'model.json'), '{}');
      fs.writeFileSync(path.join(dir, d, 'metrics.json'), '{}');
    }
    expect(resolveBenchModels(dir).map((m) => m.name)).toEqual(['nested/train_c_1', 'train_a_1', 'train_b_1']);
  });

  it('else every *.json file in the folder, named by file', () => {
    const dir = path.join(tmp, 'flat');
    fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
    for (const f of ['m2.json', 'm1.json', 'sub/ignored.json', 'notes.txt']) fs.writeFileSync(path.join(dir, f), '{}');
    const ms = resolveBenchModels(dir);
    expect(ms.map((m) => m.name)).toEqual(['m1', 'm2']);
    expect(ms[0]!.ref).toBe(path.join(dir, 'm1.json'));
  });

  it('fails closed when there is nothing to benchmark', () => {
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    expectCode(() => resolveBenchModels(empty), 'E_USAGE', /no model\.json/);
    expectCode(() => resolveBenchModels(path.join(tmp, 'nope')), 'E_IO', /no such folder/);
    expectCode(() => resolveBenchModels('registry:absent', path.join(tmp, 'registry')), 'E_USAGE', /no model "absent"/);
    expectCode(() => resolveBenchModels('registry:a@b'), 'E_USAGE', /registry:<name>/);
  });
});

describe('encodeLabelsForModel', () => {
  const batch = new ColumnBatch([columnFromValues('label', 'utf8', ['>50K', '<=50K.', ' >50K. '])], 3);

  it('maps labels through the model classes (a trailing period forgiven)', () => {
    expect(Array.from(encodeLabelsForModel(batch, 'label', ['<=50K', '>50K'], 2, 'v.csv'))).toEqual([1, 0, 1]);
  });

  it('fails closed on a label that is not a class, naming row and file', () => {
    expectCode(() => encodeLabelsForModel(batch, 'label', ['a', 'b'], 2, 'v.csv'), 'E_SCHEMA', /label ">50K" at row 1 of v\.csv is not a class/);
  });

  it('without class names takes integer class indices', () => {
    const nums = new ColumnBatch([columnFromValues('y', 'int32', [0, 2, 1])], 3);
    expect(Array.from(encodeLabelsForModel(nums, 'y', null, 3, 'v.csv'))).toEqual([0, 2, 1]);
    expectCode(() => encodeLabelsForModel(nums, 'y', null, 2, 'v.csv'), 'E_SCHEMA', /row 2/);
  });
});

describe('measureLatency', () => {
  it('warms up, then times each call over cycled rows', () => {
    const seen: number[] = [];
    const stats = measureLatency((i) => seen.push(i), 3, 4, 10)!;
    expect(seen).toEqual([0, 1, 2, 0, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0]);
    expect(stats).toMatchObject({ warmup: 4, repetitions: 10, rows: 3 });
    expect(stats.min_ms).toBeLessThanOrEqual(stats.median_ms);
    expect(stats.median_ms).toBeLessThanOrEqual(stats.p99_ms);
    expect(stats.p99_ms).toBeLessThanOrEqual(stats.max_ms);
  });

  it('sees a slow function as slow', () => {
    const busy = (): number => {
      const t = performance.now();
      while (performance.now() - t < 0.2);
      return 0;
    };
    expect(measureLatency(busy, 1, 0, 5)!.median_ms).toBeGreaterThanOrEqual(0.2);
  });
});
