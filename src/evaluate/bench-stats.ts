/**
 * Statistics of kiln's performance gate (`kiln bench perf`): medians, a seeded bootstrap confidence
 * interval of the ratio of two medians, and the compare → re-run → confirm logic that lets a
 * timing comparison gate CI without flakiness. Measuring is injected, so the logic is testable
 * with known distributions.
 */
import { KilnError } from '../../bindings/errors.js';
import { seededRandom } from '../validate/corpus.js';

/** Linear-interpolated quantile (q in [0, 1]) of a sample, like NumPy's default; NaN when empty. */
export function quantile(values: ArrayLike<number>, q: number): number {
  const n = values.length;
  if (n === 0) return NaN;
  const s = Float64Array.from(values).sort();
  const pos = (n - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

/** Median of a sample; NaN when empty. */
export function median(values: ArrayLike<number>): number {
  return quantile(values, 0.5);
}

/** Options of bootstrapRatio. */
export interface BootstrapOptions {
  /** Resamples (default 2000). */
  resamples?: number;
  /** Two-sided confidence level (default 0.95). */
  confidence?: number;
  /** Seed of the resampling (default 42): the same samples and seed give the same interval. */
  seed?: number;
}

/** The ratio of medians current / baseline and its bootstrap percentile interval. */
export interface RatioInterval {
  ratio: number;
  lo: number;
  hi: number;
  confidence: number;
  resamples: number;
}

function checkSample(name: string, xs: ArrayLike<number>): void {
  if (xs.length === 0) throw new KilnError('E_USAGE', `bootstrapRatio: ${name} is empty`);
  for (let i = 0; i < xs.length; i++) {
    if (!Number.isFinite(xs[i]!) || xs[i]! <= 0) throw new KilnError('E_USAGE', `bootstrapRatio: ${name}[${i}] is ${xs[i]}; timings must be finite and > 0`);
  }
}

/**
 * Percentile bootstrap of median(current) / median(baseline): both samples are resampled with
 * replacement, independently, `resamples` times with a seeded generator, so the interval is
 * deterministic for given samples and seed.
 */
export function bootstrapRatio(baseline: ArrayLike<number>, current: ArrayLike<number>, opts: BootstrapOptions = {}): RatioInterval {
  checkSample('baseline', baseline);
  checkSample('current', current);
  const resamples = opts.resamples ?? 2000;
  const confidence = opts.confidence ?? 0.95;
  if (!Number.isInteger(resamples) || resamples < 100) throw new KilnError('E_USAGE', `bootstrapRatio: resamples must be an integer >= 100, got ${resamples}`);
  if (!(confidence > 0 && confidence < 1)) throw new KilnError('E_USAGE', `bootstrapRatio: confidence must be in (0, 1), got ${confidence}`);
  const rand = seededRandom(opts.seed ?? 42);
  const nb = baseline.length;
  const nc = current.length;
  const bs = new Float64Array(nb);
  const cs = new Float64Array(nc);
  const ratios = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < nb; i++) bs[i] = baseline[Math.floor(rand() * nb)]!;
    for (let i = 0; i < nc; i++) cs[i] = current[Math.floor(rand() * nc)]!;
    ratios[r] = median(cs) / median(bs);
  }
  const alpha = (1 - confidence) / 2;
  return { ratio: median(current) / median(baseline), lo: quantile(ratios, alpha), hi: quantile(ratios, 1 - alpha), confidence, resamples };
}

/** How one kernel compares: regression when the whole interval lies above 1 + threshold, improvement when it lies below 1 / (1 + threshold). */
export type PerfVerdict = 'regression' | 'improvement' | 'unchanged';

/** The verdict of an interval at a relative threshold. */
export function perfVerdict(ci: Pick<RatioInterval, 'lo' | 'hi'>, threshold: number): PerfVerdict {
  if (ci.lo > 1 + threshold) return 'regression';
  if (ci.hi < 1 / (1 + threshold)) return 'improvement';
  return 'unchanged';
}

/** Measures one repetition of a kernel and returns its time in milliseconds. */
export type MeasureFn = (kernel: string) => Promise<number> | number;

/** Samples of each kernel, measured in round-robin order: rep 1 of every kernel, then rep 2, … */
export async function measureInterleaved(kernels: readonly string[], reps: number, measure: MeasureFn, onRep?: (rep: number) => void): Promise<Record<string, number[]>> {
  if (!Number.isInteger(reps) || reps < 1) throw new KilnError('E_USAGE', `repetitions must be an integer >= 1, got ${reps}`);
  const out: Record<string, number[]> = Object.fromEntries(kernels.map((k) => [k, [] as number[]]));
  for (let r = 0; r < reps; r++) {
    for (const k of kernels) {
      const ms = await measure(k);
      if (!Number.isFinite(ms) || ms <= 0) throw new KilnError('E_INTERNAL', `kernel ${k}: measured ${ms} ms; timings must be finite and > 0`);
      out[k]!.push(ms);
    }
    onRep?.(r + 1);
  }
  return out;
}

/** One kernel of a perf comparison. */
export interface KernelComparison {
  kernel: string;
  baselineMedianMs: number;
  currentMedianMs: number;
  ratio: number;
  ci: [number, number];
  verdict: PerfVerdict;
  /** Re-run of a kernel whose first comparison was a regression: its interval and verdict. */
  rerun: { currentMedianMs: number; ratio: number; ci: [number, number]; verdict: PerfVerdict } | null;
  /** A regression in both the first run and the re-run. */
  confirmed: boolean;
  currentSamplesMs: number[];
}

/** Options of comparePerf. */
export interface ComparePerfOptions extends BootstrapOptions {
  /** Relative slowdown tolerated (default 0.10: the interval must lie above 1.10 to regress). */
  threshold?: number;
  /** Repetitions per kernel, in the first run and in the re-run (default 10). */
  reps?: number;
  /** Re-run regressed kernels and require the regression again (default true). */
  confirm?: boolean;
  onProgress?: (phase: 'run' | 'rerun', rep: number, reps: number) => void;
}

/** The outcome of comparePerf. */
export interface PerfComparison {
  threshold: number;
  reps: number;
  kernels: KernelComparison[];
  /** Kernels measured now but absent from the baseline (not compared). */
  unmatched: string[];
  /** Kernels whose regression was confirmed by the re-run. */
  regressions: string[];
  passed: boolean;
  /** The first run's samples of every kernel measured (compared or not). */
  samples: Record<string, number[]>;
}

/**
 * Measures `kernels` now (interleaved round-robin, `reps` each), compares each median with its
 * baseline sample by a bootstrap interval of the ratio, re-runs the kernels that regressed (again
 * interleaved) and fails only on regressions the re-run confirms.
 */
export async function comparePerf(baseline: Record<string, readonly number[]>, kernels: readonly string[], measure: MeasureFn, opts: ComparePerfOptions = {}): Promise<PerfComparison> {
  const threshold = opts.threshold ?? 0.1;
  const reps = opts.reps ?? 10;
  if (!(threshold >= 0 && threshold < 10)) throw new KilnError('E_USAGE', `perf threshold must be in [0, 10), got ${threshold}`);
  const boot: BootstrapOptions = { ...(opts.resamples !== undefined ? { resamples: opts.resamples } : {}), ...(opts.confidence !== undefined ? { confidence: opts.confidence } : {}), seed: opts.seed ?? 42 };
  const matched = kernels.filter((k) => (baseline[k]?.length ?? 0) > 0);
  const unmatched = kernels.filter((k) => !matched.includes(k));
  const first = await measureInterleaved(kernels, reps, measure, (r) => opts.onProgress?.('run', r, reps));
  const rows: KernelComparison[] = matched.map((k) => {
    const ci = bootstrapRatio(baseline[k]!, first[k]!, boot);
    return {
      kernel: k,
      baselineMedianMs: median(baseline[k]!),
      currentMedianMs: median(first[k]!),
      ratio: ci.ratio,
      ci: [ci.lo, ci.hi],
      verdict: perfVerdict(ci, threshold),
      rerun: null,
      confirmed: false,
      currentSamplesMs: first[k]!,
    };
  });
  const suspects = rows.filter((r) => r.verdict === 'regression');
  if (suspects.length > 0 && opts.confirm !== false) {
    const again = await measureInterleaved(suspects.map((r) => r.kernel), reps, measure, (r) => opts.onProgress?.('rerun', r, reps));
    for (const row of suspects) {
      const ci = bootstrapRatio(baseline[row.kernel]!, again[row.kernel]!, { ...boot, seed: (boot.seed! + 1) >>> 0 });
      const verdict = perfVerdict(ci, threshold);
      row.rerun = { currentMedianMs: median(again[row.kernel]!), ratio: ci.ratio, ci: [ci.lo, ci.hi], verdict };
      row.confirmed = verdict === 'regression';
    }
  } else if (opts.confirm === false) {
    for (const row of suspects) row.confirmed = true;
  }
  const regressions = rows.filter((r) => r.confirmed).map((r) => r.kernel);
  return { threshold, reps, kernels: rows, unmatched, regressions, passed: regressions.length === 0, samples: first };
}
