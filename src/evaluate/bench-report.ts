/**
 * The model benchmark report of `kiln bench` (schemas/benchmark-report.schema.json) and its
 * gates: regressions against a previous report (relative change per metric, in the direction that
 * is worse for that metric), the F1 and latency targets, and failed benchmarks. Pure functions:
 * measuring lives in bench-models.ts.
 */
import fs from 'node:fs';

import { KilnError } from '../../bindings/errors.js';
import { compileSchema, describeAjvError } from '../validate/schema.js';
import { schemaPath } from '../version.js';

/** Single-row latency of predictSync, measured after warm-up. */
export interface LatencyStats {
  median_ms: number;
  p99_ms: number;
  mean_ms: number;
  min_ms: number;
  max_ms: number;
  warmup: number;
  repetitions: number;
  /** Distinct validation rows cycled through. */
  rows: number;
}

/** Batch predict throughput over the whole validation set. */
export interface ThroughputStats {
  rows_per_second: number;
  rows: number;
  /** Median wall time of one batch predict, ms. */
  batch_ms: number;
  repetitions: number;
}

/** One model's benchmark: metrics when it ran, an error when it failed. */
export interface BenchmarkEntry {
  model: string;
  ref: string;
  path: string | null;
  status: 'ok' | 'failed';
  error: { code: string; message: string } | null;
  model_sha256: string | null;
  kind: string | null;
  task: 'binary' | 'multiclass' | null;
  classes: string[] | null;
  positive_class: string | null;
  threshold: number | null;
  rows: number | null;
  f1_score: number | null;
  precision: number | null;
  recall: number | null;
  accuracy: number | null;
  auc: number | null;
  log_loss: number | null;
  brier: number | null;
  /** Binary: counts of the positive class; multiclass: null (see confusion_matrix). */
  confusion: { tp: number; fp: number; tn: number; fn: number } | null;
  /** rows = actual class, columns = predicted class, in model class order. */
  confusion_matrix: number[][] | null;
  latency: LatencyStats | null;
  throughput: ThroughputStats | null;
  duration_ms: number;
}

/** Whether a metric is better high or low. */
export type MetricDirection = 'higher_is_better' | 'lower_is_better';

/** A metric compared across runs. */
export interface GatedMetric {
  metric: string;
  direction: MetricDirection;
  /** Which threshold applies: quality metrics use --regression-threshold, speed metrics --latency-regression-threshold. */
  kind: 'quality' | 'speed';
  get: (b: BenchmarkEntry) => number | null;
}

/** The metrics compared with history. p99 latency is reported but not gated (too noisy on shared machines). */
export const GATED_METRICS: readonly GatedMetric[] = [
  { metric: 'f1_score', direction: 'higher_is_better', kind: 'quality', get: (b) => b.f1_score },
  { metric: 'precision', direction: 'higher_is_better', kind: 'quality', get: (b) => b.precision },
  { metric: 'recall', direction: 'higher_is_better', kind: 'quality', get: (b) => b.recall },
  { metric: 'accuracy', direction: 'higher_is_better', kind: 'quality', get: (b) => b.accuracy },
  { metric: 'auc', direction: 'higher_is_better', kind: 'quality', get: (b) => b.auc },
  { metric: 'latency_median_ms', direction: 'lower_is_better', kind: 'speed', get: (b) => b.latency?.median_ms ?? null },
  { metric: 'throughput_rows_per_second', direction: 'higher_is_better', kind: 'speed', get: (b) => b.throughput?.rows_per_second ?? null },
];

/** One metric of one model that got worse than in the previous report. */
export interface MetricRegression {
  metric: string;
  direction: MetricDirection;
  previous: number;
  current: number;
  /** (current − previous) / |previous|: negative is worse for higher-is-better metrics, positive for lower-is-better. */
  relative_change: number;
  /** null for a speed metric when no latency regression threshold is set (reported, not gated). */
  threshold: number | null;
  beyond_threshold: boolean;
}

/** Relative change (current − previous) / |previous|; null when previous is 0 or either is not finite. */
export function relativeChange(previous: number, current: number): number | null {
  if (!Number.isFinite(previous) || !Number.isFinite(current) || previous === 0) return null;
  return (current - previous) / Math.abs(previous);
}

/** Floating-point slack so a change of exactly the threshold (0.8 → 0.76 at 5 %) is not beyond it. */
const EDGE = 1e-9;

/** How much worse (as a positive fraction) a change is in the metric's direction; 0 when not worse. */
export function worsening(direction: MetricDirection, change: number): number {
  const w = direction === 'higher_is_better' ? -change : change;
  return w > 0 ? w : 0;
}

/** Thresholds of the history comparison. */
export interface RegressionThresholds {
  /** Relative drop of a quality metric that fails the gate (default 0.05). */
  quality: number;
  /** Relative slowdown of median latency or throughput that fails the gate; null: reported, never gated (timings are noisy). */
  speed: number | null;
}

/** Every metric of `current` that is worse than in `previous`, flagged when beyond its threshold. */
export function compareBenchmark(previous: BenchmarkEntry, current: BenchmarkEntry, t: RegressionThresholds): MetricRegression[] {
  const out: MetricRegression[] = [];
  if (previous.status !== 'ok' || current.status !== 'ok') return out;
  for (const g of GATED_METRICS) {
    const p = g.get(previous);
    const c = g.get(current);
    if (p === null || c === null) continue;
    const change = relativeChange(p, c);
    if (change === null) continue;
    const w = worsening(g.direction, change);
    if (w === 0) continue;
    const threshold = g.kind === 'quality' ? t.quality : t.speed;
    out.push({ metric: g.metric, direction: g.direction, previous: p, current: c, relative_change: change, threshold, beyond_threshold: threshold !== null && w > threshold + EDGE });
  }
  return out;
}

/** Regressions of every model present (by name) in both reports; models without a worse metric are left out. */
export function compareWithHistory(previous: readonly BenchmarkEntry[], current: readonly BenchmarkEntry[], t: RegressionThresholds): { regressions: Record<string, MetricRegression[]>; compared: string[] } {
  const byName = new Map(previous.map((b) => [b.model, b]));
  const regressions: Record<string, MetricRegression[]> = {};
  const compared: string[] = [];
  for (const cur of current) {
    const prev = byName.get(cur.model);
    if (!prev || prev.status !== 'ok' || cur.status !== 'ok') continue;
    compared.push(cur.model);
    const r = compareBenchmark(prev, cur, t);
    if (r.length > 0) regressions[cur.model] = r;
  }
  return { regressions, compared };
}

/** Targets every successful model must meet; null = not set. */
export interface BenchTargets {
  f1: number | null;
  /** Upper bound on the p99 single-row latency in ms. */
  maxLatencyMs: number | null;
}

/** Per-target outcome over the successful models. */
export interface TargetAchievement {
  f1_target: number | null;
  max_latency_ms: number | null;
  /** Model → met (only models that ran; empty when the target is not set). */
  f1_met: Record<string, boolean>;
  latency_met: Record<string, boolean>;
  models_meeting_f1_target: number | null;
  models_meeting_latency_target: number | null;
  all_targets_met: boolean;
}

/** Which successful models meet the F1 target (f1 >= target) and the latency target (p99 <= max). */
export function targetAchievement(benchmarks: readonly BenchmarkEntry[], targets: BenchTargets): TargetAchievement {
  const ok = benchmarks.filter((b) => b.status === 'ok');
  const f1Met: Record<string, boolean> = {};
  const latMet: Record<string, boolean> = {};
  if (targets.f1 !== null) for (const b of ok) f1Met[b.model] = (b.f1_score ?? -Infinity) >= targets.f1;
  if (targets.maxLatencyMs !== null) for (const b of ok) latMet[b.model] = (b.latency?.p99_ms ?? Infinity) <= targets.maxLatencyMs;
  const count = (m: Record<string, boolean>): number => Object.values(m).filter(Boolean).length;
  return {
    f1_target: targets.f1,
    max_latency_ms: targets.maxLatencyMs,
    f1_met: f1Met,
    latency_met: latMet,
    models_meeting_f1_target: targets.f1 === null ? null : count(f1Met),
    models_meeting_latency_target: targets.maxLatencyMs === null ? null : count(latMet),
    all_targets_met: Object.values(f1Met).every(Boolean) && Object.values(latMet).every(Boolean),
  };
}

/** The validation data a report was measured on. */
export interface ValidationDataInfo {
  path: string;
  sha256: string;
  rows: number;
  dropped_unlabeled: number;
  target: string;
  symbol: string | null;
}

/** The report `kiln bench` writes. */
export interface BenchReport {
  kind: 'kiln.bench';
  version: 1;
  bench_id: string;
  timestamp: string;
  models_source: string;
  validation_data: ValidationDataInfo;
  config: {
    regression_threshold: number;
    latency_regression_threshold: number | null;
    f1_target: number | null;
    max_latency_ms: number | null;
    latency_warmup: number;
    latency_repetitions: number;
  };
  environment: { cpu_model: string; cores: number; node: string; kiln_version: string; simd_level: string };
  summary: { total_models: number; successful_benchmarks: number; failed_benchmarks: number; models_with_regressions: number };
  benchmarks: BenchmarkEntry[];
  history: { path: string; timestamp: string; compared_models: string[]; warnings: string[] } | null;
  regressions: Record<string, MetricRegression[]>;
  performance_summary: {
    avg_f1_score: number | null;
    max_f1_score: number | null;
    best_model: string | null;
    avg_latency_median_ms: number | null;
    target_achievement: TargetAchievement;
  };
  gate: { passed: boolean; failures: string[] };
}

/** What buildBenchReport needs besides the benchmarks. */
export interface BuildReportInput {
  benchId: string;
  timestamp: string;
  modelsSource: string;
  data: ValidationDataInfo;
  benchmarks: BenchmarkEntry[];
  thresholds: RegressionThresholds;
  targets: BenchTargets;
  latency: { warmup: number; repetitions: number };
  environment: BenchReport['environment'];
  previous?: { path: string; report: BenchReport } | null;
}

/**
 * Assembles the report and decides the gate: it fails on a failed benchmark, a regression beyond
 * its threshold, or a successful model missing a target.
 */
export function buildBenchReport(input: BuildReportInput): BenchReport {
  const { benchmarks, thresholds, targets } = input;
  const ok = benchmarks.filter((b) => b.status === 'ok');
  let regressions: Record<string, MetricRegression[]> = {};
  let history: BenchReport['history'] = null;
  if (input.previous) {
    const prev = input.previous.report;
    const cmp = compareWithHistory(prev.benchmarks, benchmarks, thresholds);
    regressions = cmp.regressions;
    const warnings: string[] = [];
    if (prev.validation_data.sha256 !== input.data.sha256) warnings.push(`the previous report was measured on other validation data (sha256 ${prev.validation_data.sha256.slice(0, 12)}…, now ${input.data.sha256.slice(0, 12)}…)`);
    if (prev.validation_data.symbol !== input.data.symbol) warnings.push(`the previous report used --symbol ${prev.validation_data.symbol ?? '(none)'}, now ${input.data.symbol ?? '(none)'}`);
    if (prev.environment.cpu_model !== input.environment.cpu_model) warnings.push(`the previous report ran on another CPU (${prev.environment.cpu_model}); latency and throughput changes may not be meaningful`);
    const missing = benchmarks.filter((b) => !prev.benchmarks.some((p) => p.model === b.model)).map((b) => b.model);
    if (missing.length > 0) warnings.push(`not in the previous report: ${missing.join(', ')}`);
    history = { path: input.previous.path, timestamp: prev.timestamp, compared_models: cmp.compared, warnings };
  }
  const regressed = Object.entries(regressions).filter(([, rs]) => rs.some((r) => r.beyond_threshold));
  const achievement = targetAchievement(benchmarks, targets);
  const failures: string[] = [];
  for (const b of benchmarks.filter((x) => x.status === 'failed')) failures.push(`${b.model}: benchmark failed (${b.error?.code}: ${b.error?.message})`);
  for (const [model, rs] of regressed) {
    for (const r of rs.filter((x) => x.beyond_threshold)) {
      failures.push(`${model}: ${r.metric} regressed ${r.previous} → ${r.current} (${(r.relative_change * 100).toFixed(2)} %, threshold ${(r.threshold! * 100).toFixed(2)} %)`);
    }
  }
  for (const [model, met] of Object.entries(achievement.f1_met)) if (!met) failures.push(`${model}: F1 ${ok.find((b) => b.model === model)?.f1_score} is below the target ${targets.f1}`);
  for (const [model, met] of Object.entries(achievement.latency_met)) if (!met) failures.push(`${model}: p99 latency ${ok.find((b) => b.model === model)?.latency?.p99_ms} ms is above --max-latency-ms ${targets.maxLatencyMs}`);
  const f1s = ok.map((b) => b.f1_score).filter((v): v is number => v !== null);
  const lat = ok.map((b) => b.latency?.median_ms).filter((v): v is number => v !== undefined);
  let best: BenchmarkEntry | null = null;
  for (const b of ok) if (b.f1_score !== null && (best === null || b.f1_score > best.f1_score!)) best = b;
  return {
    kind: 'kiln.bench',
    version: 1,
    bench_id: input.benchId,
    timestamp: input.timestamp,
    models_source: input.modelsSource,
    validation_data: input.data,
    config: {
      regression_threshold: thresholds.quality,
      latency_regression_threshold: thresholds.speed,
      f1_target: targets.f1,
      max_latency_ms: targets.maxLatencyMs,
      latency_warmup: input.latency.warmup,
      latency_repetitions: input.latency.repetitions,
    },
    environment: input.environment,
    summary: {
      total_models: benchmarks.length,
      successful_benchmarks: ok.length,
      failed_benchmarks: benchmarks.length - ok.length,
      models_with_regressions: regressed.length,
    },
    benchmarks,
    history,
    regressions,
    performance_summary: {
      avg_f1_score: f1s.length > 0 ? f1s.reduce((a, b) => a + b, 0) / f1s.length : null,
      max_f1_score: f1s.length > 0 ? Math.max(...f1s) : null,
      best_model: best?.model ?? null,
      avg_latency_median_ms: lat.length > 0 ? lat.reduce((a, b) => a + b, 0) / lat.length : null,
      target_achievement: achievement,
    },
    gate: { passed: failures.length === 0, failures },
  };
}

/** Throws E_SCHEMA unless `doc` matches schemas/benchmark-report.schema.json. */
export function assertValidBenchReport(doc: unknown, where = 'benchmark report'): asserts doc is BenchReport {
  const { validate } = compileSchema(schemaPath('benchmark-report.schema.json'), { allErrors: true });
  if (!validate(doc)) {
    const msgs = (validate.errors ?? []).slice(0, 10).map((e) => {
      const d = describeAjvError(e);
      return `${d.pointer || '/'}: ${d.message}`;
    });
    throw new KilnError('E_SCHEMA', `${where} does not match schemas/benchmark-report.schema.json: ${msgs.join('; ')}`, { errors: msgs });
  }
}

/** Reads a previous report for --history (E_IO when unreadable, E_SCHEMA when it is not a kiln benchmark report). */
export function readBenchReport(file: string): BenchReport {
  let doc: unknown;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new KilnError('E_IO', `cannot read the history report ${file}: ${(err as Error).message}`, { file });
  }
  assertValidBenchReport(doc, `history report ${file}`);
  return doc;
}
