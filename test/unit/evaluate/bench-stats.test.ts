// The statistics of `kiln bench perf`: medians, the seeded bootstrap CI of a ratio of medians,
// interleaved measuring and the compare → re-run → confirm logic, with injected measurements.
import { describe, expect, it } from 'vitest';

import { bootstrapRatio, comparePerf, measureInterleaved, median, perfVerdict, quantile } from '../../../src/evaluate/bench-stats.js';
import { assertValidPerfResults, checkComparable, perfMachine, runPerf, type PerfResults } from '../../../src/evaluate/perf-suite.js';
import { seededRandom } from '../../../src/validate/corpus.js';
import { expectCode, expectCodeAsync } from '../../helpers/errors.js';

/** n timings around `center` ms with ±`spread` relative uniform noise (seeded). */
function timings(n: number, center: number, spread: number, seed: number): number[] {
  const rand = seededRandom(seed);
  return Array.from({ length: n }, () => center * (1 + spread * (2 * rand() - 1)));
}

describe('quantile and median', () => {
  it('interpolate linearly like numpy', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(quantile([1, 2, 3, 4], 0.99)).toBeCloseTo(3.97, 12);
    expect(quantile([1, 2, 3, 4], 0)).toBe(1);
    expect(quantile([1, 2, 3, 4], 1)).toBe(4);
    expect(Number.isNaN(median([]))).toBe(true);
  });
});

describe('bootstrapRatio', () => {
  const base = timings(15, 10, 0.05, 1);

  it('is deterministic for a seed', () => {
    const cur = timings(15, 10.2, 0.05, 2);
    const a = bootstrapRatio(base, cur, { seed: 7 });
    const b = bootstrapRatio(base, cur, { seed: 7 });
    expect(a).toEqual(b);
    expect(a.lo).toBeLessThan(a.ratio);
    expect(a.hi).toBeGreaterThan(a.ratio);
  });

  it('gives ratio 1 and an interval around 1 on identical samples: no regression', () => {
    const ci = bootstrapRatio(base, [...base]);
    expect(ci.ratio).toBe(1);
    expect(ci.lo).toBeLessThanOrEqual(1);
    expect(ci.hi).toBeGreaterThanOrEqual(1);
    expect(perfVerdict(ci, 0.1)).toBe('unchanged');
  });

  it('detects a clear 50 % slowdown and a clear 2x speed-up', () => {
    const slow = bootstrapRatio(base, timings(15, 15, 0.05, 3));
    expect(slow.ratio).toBeGreaterThan(1.35);
    expect(slow.lo).toBeGreaterThan(1.1);
    expect(perfVerdict(slow, 0.1)).toBe('regression');
    const fast = bootstrapRatio(base, timings(15, 5, 0.05, 4));
    expect(fast.hi).toBeLessThan(1 / 1.1);
    expect(perfVerdict(fast, 0.1)).toBe('improvement');
  });

  it('does not call a small slowdown inside the threshold a regression', () => {
    const ci = bootstrapRatio(base, timings(15, 10.5, 0.05, 5));
    expect(perfVerdict(ci, 0.1)).toBe('unchanged');
  });

  it('rejects bad samples and options', () => {
    expectCode(() => bootstrapRatio([], [1]), 'E_USAGE', /baseline is empty/);
    expectCode(() => bootstrapRatio([1, 0], [1]), 'E_USAGE', /baseline\[1\]/);
    expectCode(() => bootstrapRatio([1], [NaN]), 'E_USAGE', /current\[0\]/);
    expectCode(() => bootstrapRatio([1], [1], { resamples: 10 }), 'E_USAGE', /resamples/);
    expectCode(() => bootstrapRatio([1], [1], { confidence: 1 }), 'E_USAGE', /confidence/);
  });
});

describe('perfVerdict edges', () => {
  it('needs the whole interval strictly beyond the threshold', () => {
    expect(perfVerdict({ lo: 1.1, hi: 1.5 }, 0.1)).toBe('unchanged');
    expect(perfVerdict({ lo: 1.1000001, hi: 1.5 }, 0.1)).toBe('regression');
    expect(perfVerdict({ lo: 0.95, hi: 1.5 }, 0.1)).toBe('unchanged');
    expect(perfVerdict({ lo: 0.5, hi: 1 / 1.1 - 1e-9 }, 0.1)).toBe('improvement');
  });
});

describe('measureInterleaved', () => {
  it('measures in round-robin order', async () => {
    const order: string[] = [];
    const s = await measureInterleaved(['a', 'b', 'c'], 3, (k) => {
      order.push(k);
      return 1;
    });
    expect(order).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'a', 'b', 'c']);
    expect(s).toEqual({ a: [1, 1, 1], b: [1, 1, 1], c: [1, 1, 1] });
  });

  it('refuses non-positive timings', async () => {
    await expectCodeAsync(() => measureInterleaved(['a'], 2, () => 0), 'E_INTERNAL', /kernel a/);
  });
});

/** A fake measuring function: each kernel draws from its own seeded distribution; `slow(kernel, call)` scales a call. */
function fakeMeasure(centers: Record<string, number>, slow: (kernel: string, call: number) => number = () => 1) {
  const rand = seededRandom(99);
  const calls: Record<string, number> = {};
  const log: string[] = [];
  const measure = (k: string): number => {
    calls[k] = (calls[k] ?? 0) + 1;
    log.push(k);
    return centers[k]! * (1 + 0.05 * (2 * rand() - 1)) * slow(k, calls[k]!);
  };
  return { measure, calls, log };
}

describe('comparePerf (injected measuring)', () => {
  const baseline = { a: timings(10, 10, 0.05, 11), b: timings(10, 4, 0.05, 12) };

  it('passes when the current run has the baseline distribution', async () => {
    const f = fakeMeasure({ a: 10, b: 4 });
    const r = await comparePerf(baseline, ['a', 'b'], f.measure, { reps: 10 });
    expect(r.passed).toBe(true);
    expect(r.regressions).toEqual([]);
    expect(r.kernels.map((k) => k.verdict)).toEqual(['unchanged', 'unchanged']);
    expect(r.kernels.every((k) => k.rerun === null)).toBe(true);
    expect(f.calls).toEqual({ a: 10, b: 10 });
  });

  it('fails on a clear regression that the re-run confirms', async () => {
    const f = fakeMeasure({ a: 10, b: 4 }, (k) => (k === 'b' ? 1.6 : 1));
    const r = await comparePerf(baseline, ['a', 'b'], f.measure, { reps: 10 });
    const b = r.kernels.find((k) => k.kernel === 'b')!;
    expect(b.verdict).toBe('regression');
    expect(b.rerun?.verdict).toBe('regression');
    expect(b.confirmed).toBe(true);
    expect(r.regressions).toEqual(['b']);
    expect(r.passed).toBe(false);
    // Only the regressed kernel is re-run.
    expect(f.calls).toEqual({ a: 10, b: 20 });
  });

  it('does not fail on a one-off spike when the re-run is clean', async () => {
    const f = fakeMeasure({ a: 10, b: 4 }, (k, call) => (k === 'a' && call <= 10 ? 2 : 1));
    const r = await comparePerf(baseline, ['a', 'b'], f.measure, { reps: 10 });
    const a = r.kernels.find((k) => k.kernel === 'a')!;
    expect(a.verdict).toBe('regression');
    expect(a.rerun?.verdict).toBe('unchanged');
    expect(a.confirmed).toBe(false);
    expect(r.passed).toBe(true);
  });

  it('without confirmation a first-run regression fails at once', async () => {
    const f = fakeMeasure({ a: 10, b: 4 }, (k, call) => (k === 'a' && call <= 10 ? 2 : 1));
    const r = await comparePerf(baseline, ['a', 'b'], f.measure, { reps: 10, confirm: false });
    expect(r.passed).toBe(false);
    expect(f.calls.a).toBe(10);
  });

  it('reports kernels the baseline lacks without comparing them', async () => {
    const f = fakeMeasure({ a: 10, b: 4, c: 1 });
    const r = await comparePerf(baseline, ['a', 'b', 'c'], f.measure, { reps: 5 });
    expect(r.unmatched).toEqual(['c']);
    expect(r.kernels.map((k) => k.kernel)).toEqual(['a', 'b']);
    expect(r.samples.c).toHaveLength(5);
  });

  it('is deterministic for the same measurements and seed', async () => {
    const r1 = await comparePerf(baseline, ['a', 'b'], fakeMeasure({ a: 10, b: 4 }).measure, { reps: 8, seed: 3 });
    const r2 = await comparePerf(baseline, ['a', 'b'], fakeMeasure({ a: 10, b: 4 }).measure, { reps: 8, seed: 3 });
    expect(r1.kernels.map((k) => k.ci)).toEqual(r2.kernels.map((k) => k.ci));
  });
});

function results(over: Partial<PerfResults> = {}): PerfResults {
  return {
    kind: 'kiln.perf',
    version: 1,
    createdAt: '2026-01-01T00:00:00.000Z',
    machine: { ...perfMachine() },
    profile: 'quick',
    threads: 1,
    reps: 5,
    kernels: { fitBins: { description: 'x', medianMs: 10, samplesMs: timings(5, 10, 0.05, 1) }, applyBins: { description: 'y', medianMs: 4, samplesMs: timings(5, 4, 0.05, 2) } },
    ...over,
  };
}

describe('perf baselines', () => {
  it('refuses a baseline from another CPU model, profile or thread count', () => {
    const m = perfMachine();
    expectCode(() => checkComparable(results({ machine: { ...m, cpuModel: 'Imaginary CPU 9000' } }), m, 'quick', 1), 'E_USAGE', /different CPU.*Imaginary CPU 9000/);
    expectCode(() => checkComparable(results(), m, 'full', 1), 'E_USAGE', /quick run/);
    expectCode(() => checkComparable(results(), m, 'quick', 2), 'E_USAGE', /1 thread/);
    expect(checkComparable(results({ machine: { ...m, kilnVersion: '0.0.1' } }), m, 'quick', 1)).toEqual([expect.stringMatching(/kiln version differs/)]);
  });

  it('runPerf compares an injected measurement with a baseline and refuses another CPU', async () => {
    const f = fakeMeasure({ fitBins: 10, applyBins: 4 }, (k) => (k === 'applyBins' ? 1.8 : 1));
    const run = await runPerf({ profile: 'quick', reps: 6, kernels: ['fitBins', 'applyBins'], baseline: results(), measure: f.measure, warmup: 1 });
    expect(run.comparison?.regressions).toEqual(['applyBins']);
    expect(run.results.kernels.applyBins!.samplesMs).toHaveLength(6);
    assertValidPerfResults(run.results);
    await expectCodeAsync(
      () => runPerf({ profile: 'quick', baseline: results({ machine: { ...perfMachine(), cpuModel: 'Other' } }), measure: f.measure }),
      'E_USAGE',
      /different CPU/,
    );
    await expectCodeAsync(() => runPerf({ profile: 'quick', kernels: ['nope'], measure: f.measure }), 'E_USAGE', /unknown perf kernel/);
  });

  it('validates results files', () => {
    assertValidPerfResults(results());
    expectCode(() => assertValidPerfResults({ ...results(), kernels: {} }), 'E_SCHEMA', /kernels/);
    expectCode(() => assertValidPerfResults({ ...results(), machine: { cpuModel: 'x' } }), 'E_SCHEMA', /machine/);
  });
});
