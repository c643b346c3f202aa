// kiln bench and kiln bench perf end to end: tiny models trained by kiln train --register, benchmarked
// from the registry and from folders, history regressions, targets, corrupt models, bad usage, perf baselines.
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { assertValidBenchReport, type BenchReport } from '../../src/evaluate/bench-report.js';
import { assertValidPerfResults, type PerfResults } from '../../src/evaluate/perf-suite.js';
import { trainRun } from '../../src/train/run.js';
import { listBenchmarks } from '../../src/train/store.js';
import { json, kiln } from '../helpers/cli.js';
import { makeTemp, rmTemp } from '../helpers/paths.js';
import { seededRandom } from '../../src/validate/corpus.js';

const tmp = makeTemp('kiln-bench-e2e-');
const home = path.join(tmp, 'home');
const env = { KILN_HOME: home };
afterAll(() => rmTemp(tmp));

const DATA = path.join(tmp, 'gen.csv');
const NOISY = path.join(tmp, 'noisy.csv');
const TEST = path.join(tmp, 'test.csv');
const FAST = ['--warmup', '20', '--repetitions', '200'];

/** Seeded rows: 4 features, a symbol (half BTC/USDT, half ETH/USDT) and an up/down label; `flipEvery` flips every k-th label. */
function writeData(file: string, flipEvery = 0, seed = 5): void {
  const rand = seededRandom(seed);
  const lines = ['a,b,c,d,symbol,label'];
  for (let i = 0; i < 3000; i++) {
    const [a, b, c, d] = [rand(), rand(), rand(), rand()];
    let up = a + 0.5 * b + 0.3 * rand() > 0.9;
    if (flipEvery > 0 && i % flipEvery === 0) up = !up;
    lines.push([a, b, c, d, i % 2 ? 'BTC/USDT' : 'ETH/USDT', up ? 'up' : 'down'].join(','));
  }
  fs.writeFileSync(file, lines.join('\n') + '\n');
}

function bench(args: string[]): { code: number | null; stdout: string; stderr: string } {
  return kiln(['bench', ...args], { env });
}

function report(file: string): BenchReport {
  const r = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  assertValidBenchReport(r);
  return r;
}

const experiments: string[] = [];
const testMetrics: Array<Record<string, number>> = [];

beforeAll(async () => {
  writeData(DATA);
  writeData(NOISY, 3);
  writeData(TEST, 0, 6);
  // Two tiny registered versions (what `kiln train --register tiny` makes), trained in-process to keep the suite fast.
  const configs = [
    { model: { kind: 'gbdt' as const, params: { nEstimators: 20, numLeaves: 8 } }, calibration: { method: 'none' as const } },
    { model: { kind: 'logreg' as const }, calibration: { method: 'none' as const } },
  ];
  for (const config of configs) {
    const r = await trainRun({
      data: DATA, testData: TEST, config, flags: { target: 'label' }, outDir: path.join(tmp, 'experiments'), store: path.join(home, 'kiln.duckdb'),
      register: 'tiny', registryDir: path.join(home, 'registry'),
    });
    experiments.push(r.dir);
    testMetrics.push(r.evaluation.metrics.test!);
  }
}, 120_000);

describe('kiln bench on registry versions', () => {
  const out = path.join(tmp, 'r1.json');
  let r: BenchReport;

  beforeAll(() => {
    const run = bench(['--models', 'registry:tiny', '--validation-data', TEST, '--target', 'label', '--f1-target', '0.5', '--max-latency-ms', '100', '--output', out, ...FAST]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/kiln: bench \[1\/2\] tiny@1: f1 0\.\d{4}/);
    expect(run.stderr).toMatch(/kiln: bench \[2\/2\] tiny@2: f1/);
    expect(run.stdout).toMatch(/gate\s+passed/);
    r = report(out);
  });

  it('benchmarks every version with consistent metrics, latency and throughput', () => {
    expect(r.summary).toEqual({ total_models: 2, successful_benchmarks: 2, failed_benchmarks: 0, models_with_regressions: 0 });
    expect(r.benchmarks.map((b) => [b.model, b.kind])).toEqual([['tiny@1', 'gbdt'], ['tiny@2', 'linear']]);
    r.benchmarks.forEach((b, i) => {
      // The same numbers kiln train reported for its test split (stored threshold, class names).
      expect(b.f1_score).toBeCloseTo(testMetrics[i]!.f1!, 12);
      expect(b.accuracy).toBeCloseTo(testMetrics[i]!.accuracy!, 12);
      expect(b.auc).toBeCloseTo(testMetrics[i]!.rocAuc!, 12);
      expect(b.status).toBe('ok');
      expect(b.classes).toEqual(['down', 'up']);
      expect(b.positive_class).toBe('up');
      const { tp, fp, tn, fn } = b.confusion!;
      expect(tp + fp + tn + fn).toBe(3000);
      expect(b.f1_score).toBeCloseTo((2 * tp) / (2 * tp + fp + fn), 12);
      expect(b.precision).toBeCloseTo(tp / (tp + fp), 12);
      expect(b.accuracy).toBeCloseTo((tp + tn) / 3000, 12);
      expect(b.f1_score!).toBeGreaterThan(0.8);
      expect(b.auc!).toBeGreaterThan(0.9);
      expect(b.latency).toMatchObject({ warmup: 20, repetitions: 200 });
      expect(b.latency!.median_ms).toBeGreaterThan(0);
      expect(b.latency!.p99_ms).toBeGreaterThanOrEqual(b.latency!.median_ms);
      expect(b.throughput!.rows_per_second).toBeGreaterThan(0);
    });
    expect(r.performance_summary.max_f1_score).toBe(Math.max(...r.benchmarks.map((b) => b.f1_score!)));
    expect(r.performance_summary.target_achievement).toMatchObject({ f1_target: 0.5, models_meeting_f1_target: 2, max_latency_ms: 100, all_targets_met: true });
    expect(r.validation_data).toMatchObject({ rows: 3000, target: 'label', symbol: null });
  });

  it('writes a receipt and records each model in the run store', async () => {
    const receipt = JSON.parse(fs.readFileSync(`${out}.receipt.json`, 'utf8'));
    expect(receipt.command).toBe('bench');
    expect(receipt.status).toBe('ok');
    expect(receipt.runId).toBe(r.bench_id);
    expect(receipt.inputs.map((i: { path: string }) => path.basename(i.path))).toEqual(['test.csv', 'model.json', 'model.json']);
    expect(receipt.outputs[0].path).toBe(out);
    const rows = await listBenchmarks(path.join(home, 'kiln.duckdb'), { model: 'tiny@1' });
    const mine = rows.find((x) => x.benchId === r.bench_id)!;
    expect(mine.status).toBe('ok');
    expect(mine.metrics.f1_score).toBeCloseTo(r.benchmarks[0]!.f1_score!, 12);
    expect(mine.metrics.tp).toBe(r.benchmarks[0]!.confusion!.tp);
  });

  it('exits 1 on a regression against the history report', () => {
    const out2 = path.join(tmp, 'r2.json');
    const run = bench(['--models', 'registry:tiny', '--validation-data', NOISY, '--target', 'label', '--history', out, '--output', out2, ...FAST]);
    expect(run.code, run.stderr).toBe(1);
    const r2 = report(out2);
    expect(r2.summary.models_with_regressions).toBe(2);
    const f1 = r2.regressions['tiny@1']!.find((x) => x.metric === 'f1_score')!;
    expect(f1.beyond_threshold).toBe(true);
    expect(f1.relative_change).toBeLessThan(-0.05);
    expect(f1.previous).toBe(r.benchmarks[0]!.f1_score);
    expect(r2.history?.warnings.join(' ')).toMatch(/other validation data/);
    expect(run.stdout).toMatch(/REGRESSION\s+tiny@1 f1_score/);
    expect(JSON.parse(fs.readFileSync(`${out2}.receipt.json`, 'utf8')).status).toBe('gate_failed');
  });

  it('passes against its own history when the quality is unchanged', () => {
    const run = bench(['--models', 'registry:tiny', '--validation-data', TEST, '--target', 'label', '--history', out, '--output', path.join(tmp, 'r3.json'), ...FAST]);
    expect(run.code, run.stderr).toBe(0);
    const r3 = report(path.join(tmp, 'r3.json'));
    for (const rs of Object.values(r3.regressions)) for (const x of rs) expect(['latency_median_ms', 'throughput_rows_per_second']).toContain(x.metric);
  });

  it('exits 1 on a missed F1 target; --symbol keeps the rows of one entity; --json prints the report', () => {
    const run = bench(['--models', 'registry:tiny@1', '--validation-data', DATA, '--symbol', 'BTC', '--f1-target', '0.999', '--output', path.join(tmp, 'r4.json'), '--json', ...FAST]);
    expect(run.code, run.stderr).toBe(1);
    const r4 = json<BenchReport>(run);
    expect(r4).toEqual(report(path.join(tmp, 'r4.json')));
    expect(r4.summary.total_models).toBe(1);
    expect(r4.validation_data).toMatchObject({ rows: 1500, symbol: 'BTC', target: 'label' });
    expect(r4.benchmarks[0]!.rows).toBe(1500);
    expect(r4.performance_summary.target_achievement).toMatchObject({ f1_met: { 'tiny@1': false }, models_meeting_f1_target: 0, all_targets_met: false });
    expect(r4.gate.failures[0]).toMatch(/tiny@1: F1 .* below the target 0\.999/);
  });
});

describe('kiln bench on a folder of experiments', () => {
  it('benchmarks every model.json, records a corrupt one as a failed benchmark and exits 1', () => {
    const dir = path.join(tmp, 'exps');
    for (const e of experiments) {
      fs.mkdirSync(path.join(dir, path.basename(e)), { recursive: true });
      fs.copyFileSync(path.join(e, 'model.json'), path.join(dir, path.basename(e), 'model.json'));
    }
    const text = fs.readFileSync(path.join(experiments[1]!, 'model.json'), 'utf8');
    fs.mkdirSync(path.join(dir, 'train_corrupt'));
    fs.writeFileSync(path.join(dir, 'train_corrupt', 'model.json'), text.slice(0, Math.floor(text.length / 2)));
    const out = path.join(tmp, 'folder.json');
    const run = bench(['--models', dir, '--validation-data', DATA, '--output', out, ...FAST]);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/train_corrupt: FAILED E_MODEL_FORMAT/);
    expect(run.stderr).not.toMatch(/at .*\.js:\d+/);
    const r = report(out);
    expect(r.summary).toMatchObject({ total_models: 3, successful_benchmarks: 2, failed_benchmarks: 1 });
    expect(r.benchmarks.map((b) => b.model).sort()).toEqual([...experiments.map((e) => path.basename(e)), 'train_corrupt'].sort());
    const bad = r.benchmarks.find((b) => b.model === 'train_corrupt')!;
    expect(bad.status).toBe('failed');
    expect(bad.error?.code).toBe('E_MODEL_FORMAT');
    expect(bad.model_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(r.benchmarks.filter((b) => b.status === 'ok')).toHaveLength(2);
    expect(r.gate.failures).toEqual([expect.stringMatching(/^train_corrupt: benchmark failed \(E_MODEL_FORMAT/)]);
  });
});

describe('kiln bench usage errors exit 2 and write nothing', () => {
  const out = path.join(tmp, 'never.json');
  const cases: Array<[string, string[], RegExp]> = [
    ['missing --validation-data', ['--models', 'registry:tiny', '--output', out], /needs --validation-data/],
    ['a threshold that is not a number', ['--models', 'registry:tiny', '--validation-data', DATA, '--output', out, '--regression-threshold', 'abc'], /--regression-threshold must be a number/],
    ['an unknown registry name', ['--models', 'registry:absent', '--validation-data', DATA, '--output', out], /no model "absent"/],
    ['a history file that is not a report', ['--models', 'registry:tiny', '--validation-data', DATA, '--output', out, '--history', DATA], /history report/],
    ['a target column that is not there', ['--models', 'registry:tiny', '--validation-data', DATA, '--output', out, '--target', 'nope'], /target column "nope"/],
  ];
  for (const [name, args, message] of cases) {
    it(name, () => {
      const run = bench(args);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toMatch(message);
      expect(fs.existsSync(out)).toBe(false);
    });
  }

  it('--help shows examples for bench and bench perf', () => {
    expect(bench(['--help']).stdout).toMatch(/Examples:\n\s+\$ kiln bench --models registry:adult/);
    expect(bench(['perf', '--help']).stdout).toMatch(/Examples:\n\s+\$ kiln bench perf --save/);
  });
});

describe('kiln bench perf', () => {
  const saved = path.join(tmp, 'perf.json');
  let base: PerfResults;
  const quick = ['perf', '--quick', '--reps', '3', '--kernels', 'fitBins', 'applyBins', 'gbdtPredictSync'];

  beforeAll(() => {
    const run = bench([...quick, '--save', saved]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/gbdtPredictSync/);
    base = JSON.parse(fs.readFileSync(saved, 'utf8'));
    assertValidPerfResults(base);
  });

  it('saves samples and machine facts', () => {
    expect(Object.keys(base.kernels)).toEqual(['fitBins', 'applyBins', 'gbdtPredictSync']);
    expect(base.kernels.fitBins!.samplesMs).toHaveLength(3);
    expect(base).toMatchObject({ profile: 'quick', threads: 1, reps: 3 });
    expect(base.machine.cpuModel.length).toBeGreaterThan(0);
    expect(['avx2', 'scalar']).toContain(base.machine.simdLevel);
  });

  it('refuses a baseline from a different CPU model with exit 2', () => {
    const other = path.join(tmp, 'perf-other.json');
    fs.writeFileSync(other, JSON.stringify({ ...base, machine: { ...base.machine, cpuModel: 'Imaginary CPU 9000' } }));
    const run = bench([...quick, '--baseline', other]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/different CPU \("Imaginary CPU 9000"/);
  });

  it('fails (exit 1) on a regression the re-run confirms, passes on an improvement', () => {
    // A baseline 50x faster than anything this machine does: every kernel regresses, in the re-run too.
    const faster = path.join(tmp, 'perf-fast.json');
    const scale = (f: number): PerfResults => ({
      ...base,
      kernels: Object.fromEntries(Object.entries(base.kernels).map(([k, v]) => [k, { ...v, medianMs: v.medianMs * f, samplesMs: v.samplesMs.map((x) => x * f) }])),
    });
    fs.writeFileSync(faster, JSON.stringify(scale(1 / 50)));
    const run = bench([...quick, '--baseline', faster, '--json']);
    expect(run.code, run.stderr).toBe(1);
    const out = json<{ ok: boolean; comparison: { regressions: string[]; kernels: Array<{ confirmed: boolean; rerun: unknown }> } }>(run);
    expect(out.ok).toBe(false);
    expect(out.comparison.regressions).toEqual(['fitBins', 'applyBins', 'gbdtPredictSync']);
    expect(out.comparison.kernels.every((k) => k.confirmed && k.rerun !== null)).toBe(true);

    const slower = path.join(tmp, 'perf-slow.json');
    fs.writeFileSync(slower, JSON.stringify(scale(50)));
    const ok = bench([...quick, '--baseline', slower]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/improvement/);
    expect(ok.stdout).toMatch(/gate\s+passed/);
  });

  it('refuses a malformed baseline and a --quick/full mismatch with exit 2', () => {
    const bad = path.join(tmp, 'perf-bad.json');
    fs.writeFileSync(bad, JSON.stringify({ kind: 'kiln.perf' }));
    expect(bench([...quick, '--baseline', bad]).code).toBe(2);
    const full = bench(['perf', '--reps', '2', '--kernels', 'fitBins', '--baseline', saved]);
    expect(full.code).toBe(2);
    expect(full.stderr).toMatch(/quick run/);
  });
});
