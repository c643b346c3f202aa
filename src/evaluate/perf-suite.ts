/**
 * kiln's own kernel suite for `kiln bench perf`: fixed-size, seeded workloads over the native
 * kernels (binning, GBDT train / batch predict / single-row predict, logistic regression, text
 * hashing), the machine facts a result is only comparable on, and the results file
 * (schemas/perf-results.schema.json) that `--save` writes and `--baseline` reads.
 */
import fs from 'node:fs';
import os from 'node:os';

import { KilnError } from '../../bindings/errors.js';
import { applyBins, fitBins, nativeInfo, textHash, type BinMapper } from '../../bindings/index.js';
import { columnFromValues } from '../batch/column-batch.js';
import { writeFileAtomic } from '../io/atomic.js';
import { GBDT } from '../models/gbdt.js';
import { LogisticRegression } from '../models/linear.js';
import { compileSchema, describeAjvError } from '../validate/schema.js';
import { seededRandom } from '../validate/corpus.js';
import { KILN_VERSION, schemaPath } from '../version.js';

import { comparePerf, median, measureInterleaved, type ComparePerfOptions, type PerfComparison } from './bench-stats.js';

/** Workload sizes: 'quick' for tests and smoke runs, 'full' for real comparisons. */
export type PerfProfile = 'quick' | 'full';

/** The machine a result was measured on; results compare only on the same CPU model. */
export interface PerfMachine {
  cpuModel: string;
  cores: number;
  node: string;
  kilnVersion: string;
  simdLevel: string;
  platform: string;
  arch: string;
}

/** A saved perf run (schemas/perf-results.schema.json). */
export interface PerfResults {
  kind: 'kiln.perf';
  version: 1;
  createdAt: string;
  machine: PerfMachine;
  profile: PerfProfile;
  threads: number;
  reps: number;
  kernels: Record<string, { description: string; medianMs: number; samplesMs: number[] }>;
}

/** One kernel of the suite: `run` is one timed repetition. */
export interface PerfKernel {
  name: string;
  description: string;
  run: () => Promise<unknown> | unknown;
}

/** Every kernel name of the suite, in run order. */
export const PERF_KERNELS = ['fitBins', 'applyBins', 'gbdtPredictBatch', 'gbdtPredictSync', 'gbdtTrainSmall', 'logregFit', 'textHash'] as const;

const SIZES: Record<PerfProfile, { binRows: number; predictRows: number; syncRows: number; trainRows: number; trees: number; logregRows: number; texts: number }> = {
  quick: { binRows: 20_000, predictRows: 10_000, syncRows: 500, trainRows: 2_000, trees: 10, logregRows: 2_000, texts: 5_000 },
  full: { binRows: 200_000, predictRows: 100_000, syncRows: 5_000, trainRows: 20_000, trees: 40, logregRows: 20_000, texts: 50_000 },
};

const COLS = 8;

function matrix(rows: number, seed: number): Float32Array {
  const rand = seededRandom(seed);
  const v = new Float32Array(rows * COLS);
  for (let i = 0; i < v.length; i++) v[i] = rand();
  return v;
}

function labels(values: Float32Array, rows: number, seed: number): Float64Array {
  const rand = seededRandom(seed);
  return Float64Array.from({ length: rows }, (_, r) => (values[r * COLS]! + 0.5 * values[r * COLS + 1]! + 0.4 * rand() > 0.95 ? 1 : 0));
}

function textColumn(n: number, seed: number): { values: Uint8Array; offsets: Int32Array; validity: null; rows: number } {
  const rand = seededRandom(seed);
  const words = ['limit', 'order', 'filled', 'btc', 'usdt', 'cancel', 'market', 'price', 'spread', 'alert', 'whale', 'moves', 'buy', 'sell', '42', 'k'];
  const texts = Array.from({ length: n }, () => Array.from({ length: 4 + Math.floor(rand() * 12) }, () => words[Math.floor(rand() * words.length)]).join(' '));
  const c = columnFromValues('text', 'utf8', texts);
  return { values: c.values as Uint8Array, offsets: c.offsets!, validity: null, rows: n };
}

/** Builds the data and models of the named kernels (default: all), seeded, so every run times the same work. */
export async function buildPerfSuite(profile: PerfProfile, threads = 1, names: readonly string[] = PERF_KERNELS): Promise<PerfKernel[]> {
  const s = SIZES[profile];
  const want = (k: string): boolean => names.includes(k);
  const out: PerfKernel[] = [];
  if (want('fitBins') || want('applyBins')) {
    const bins = matrix(s.binRows, 1);
    const binShape = { rows: s.binRows, cols: COLS, layout: 'row' as const, numThreads: threads };
    if (want('fitBins')) out.push({ name: 'fitBins', description: `fitBins ${s.binRows} x ${COLS}, 255 bins`, run: () => fitBins(bins, { ...binShape, maxBin: 255, seed: 1 }) });
    if (want('applyBins')) {
      const mapper: BinMapper = await fitBins(bins, { ...binShape, maxBin: 255, seed: 1 });
      out.push({ name: 'applyBins', description: `applyBins ${s.binRows} x ${COLS}`, run: () => applyBins(bins, binShape, mapper) });
    }
  }
  const trainX = matrix(s.trainRows, 2);
  const trainY = labels(trainX, s.trainRows, 3);
  const trainMatrix = { values: trainX, rows: s.trainRows, cols: COLS };
  const gbdtParams = { objective: 'binary' as const, nEstimators: s.trees, numLeaves: 31, learningRate: 0.1, seed: 7, numThreads: threads };
  if (want('gbdtPredictBatch') || want('gbdtPredictSync')) {
    const served = await new GBDT({ ...gbdtParams, nEstimators: 100 }).fit(trainMatrix, trainY);
    const predX = matrix(s.predictRows, 4);
    if (want('gbdtPredictBatch')) {
      const predMatrix = { values: predX, rows: s.predictRows, cols: COLS };
      out.push({ name: 'gbdtPredictBatch', description: `GBDT predict ${s.predictRows} x ${COLS}, 100 trees`, run: () => served.predict(predMatrix, { numThreads: threads }) });
    }
    if (want('gbdtPredictSync')) {
      const syncRows = Array.from({ length: s.syncRows }, (_, r) => Float64Array.from(predX.subarray(r * COLS, (r + 1) * COLS)));
      out.push({
        name: 'gbdtPredictSync',
        description: `GBDT predictSync ${s.syncRows} single rows, 100 trees`,
        run: () => {
          let acc = 0;
          for (const row of syncRows) acc += served.predictSync(row) as number;
          return acc;
        },
      });
    }
  }
  if (want('gbdtTrainSmall')) out.push({ name: 'gbdtTrainSmall', description: `GBDT fit ${s.trainRows} x ${COLS}, ${s.trees} trees, 31 leaves`, run: () => new GBDT(gbdtParams).fit(trainMatrix, trainY) });
  if (want('logregFit')) {
    const lrX = matrix(s.logregRows, 5);
    const lrY = labels(lrX, s.logregRows, 6);
    out.push({ name: 'logregFit', description: `LogisticRegression fit ${s.logregRows} x ${COLS} (L-BFGS)`, run: () => new LogisticRegression({ C: 1, numThreads: threads }).fit({ values: lrX, rows: s.logregRows, cols: COLS }, lrY) });
  }
  if (want('textHash')) {
    const text = textColumn(s.texts, 8);
    out.push({ name: 'textHash', description: `textHash ${s.texts} texts, 2^10 buckets, bigrams`, run: () => textHash(text, { bits: 10, bigrams: true, numThreads: threads }) });
  }
  const order = new Map(PERF_KERNELS.map((k, i) => [k as string, i]));
  return out.sort((a, b) => order.get(a.name)! - order.get(b.name)!);
}

/** A measuring function over a suite: one timed repetition of the named kernel, in ms. */
export function suiteMeasure(suite: readonly PerfKernel[]): (kernel: string) => Promise<number> {
  const byName = new Map(suite.map((k) => [k.name, k]));
  return async (name: string) => {
    const k = byName.get(name);
    if (!k) throw new KilnError('E_USAGE', `unknown perf kernel "${name}" (known: ${[...byName.keys()].join(', ')})`);
    const t0 = performance.now();
    await k.run();
    return Math.max(performance.now() - t0, 1e-6);
  };
}

/** The machine facts recorded with a result. */
export function perfMachine(): PerfMachine {
  let simdLevel = 'unavailable';
  try {
    simdLevel = nativeInfo().simdLevel;
  } catch {
    // addon missing: recorded as unavailable
  }
  return {
    cpuModel: os.cpus()[0]?.model?.trim() || 'unknown',
    cores: os.availableParallelism(),
    node: process.version,
    kilnVersion: KILN_VERSION,
    simdLevel,
    platform: process.platform,
    arch: process.arch,
  };
}

/** Throws E_SCHEMA unless `doc` matches schemas/perf-results.schema.json. */
export function assertValidPerfResults(doc: unknown, where = 'perf results'): asserts doc is PerfResults {
  const { validate } = compileSchema(schemaPath('perf-results.schema.json'), { allErrors: true });
  if (!validate(doc)) {
    const msgs = (validate.errors ?? []).map((e) => {
      const d = describeAjvError(e);
      return `${d.pointer || '/'}: ${d.message}`;
    });
    throw new KilnError('E_SCHEMA', `${where} does not match schemas/perf-results.schema.json: ${msgs.join('; ')}`, { errors: msgs });
  }
}

/** Reads and validates a saved perf results file (E_IO / E_SCHEMA naming the file). */
export function readPerfResults(file: string): PerfResults {
  let doc: unknown;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new KilnError('E_IO', `cannot read perf baseline ${file}: ${(err as Error).message}`, { file });
  }
  assertValidPerfResults(doc, `perf baseline ${file}`);
  return doc;
}

/** Writes perf results atomically after validating them. */
export async function writePerfResults(file: string, results: PerfResults): Promise<void> {
  assertValidPerfResults(results, 'perf results');
  await writeFileAtomic(file, JSON.stringify(results, null, 2) + '\n');
}

/** E_USAGE when a baseline cannot be compared with a run on `machine` with `profile` and `threads`. */
export function checkComparable(baseline: PerfResults, machine: PerfMachine, profile: PerfProfile, threads: number, file = 'baseline'): string[] {
  if (baseline.machine.cpuModel !== machine.cpuModel) {
    throw new KilnError(
      'E_USAGE',
      `${file} was measured on a different CPU ("${baseline.machine.cpuModel}", this machine: "${machine.cpuModel}"); timings of different CPU models are not comparable — measure a new baseline here (kiln bench perf --save)`,
      { baselineCpu: baseline.machine.cpuModel, cpu: machine.cpuModel },
    );
  }
  if (baseline.profile !== profile) throw new KilnError('E_USAGE', `${file} is a ${baseline.profile} run; this run is ${profile} (${profile === 'quick' ? 'drop' : 'add'} --quick to match)`);
  if (baseline.threads !== threads) throw new KilnError('E_USAGE', `${file} was measured with ${baseline.threads} thread(s); this run uses ${threads} (pass --threads ${baseline.threads})`);
  const notes: string[] = [];
  if (baseline.machine.cores !== machine.cores) notes.push(`core count differs (baseline ${baseline.machine.cores}, now ${machine.cores})`);
  if (baseline.machine.simdLevel !== machine.simdLevel) notes.push(`SIMD level differs (baseline ${baseline.machine.simdLevel}, now ${machine.simdLevel})`);
  if (baseline.machine.node !== machine.node) notes.push(`node differs (baseline ${baseline.machine.node}, now ${machine.node})`);
  if (baseline.machine.kilnVersion !== machine.kilnVersion) notes.push(`kiln version differs (baseline ${baseline.machine.kilnVersion}, now ${machine.kilnVersion})`);
  return notes;
}

/** Options of runPerf. */
export interface RunPerfOptions extends Omit<ComparePerfOptions, 'reps'> {
  profile?: PerfProfile;
  threads?: number;
  reps?: number;
  /** Only these kernels (default: all). */
  kernels?: string[];
  baseline?: PerfResults | null;
  baselineFile?: string;
  /** Warm-up repetitions per kernel before measuring (default 1). */
  warmup?: number;
  /** Measuring function (tests); default: the real suite. */
  measure?: (kernel: string) => Promise<number> | number;
}

/** What runPerf returns. */
export interface PerfRun {
  results: PerfResults;
  comparison: PerfComparison | null;
  notes: string[];
}

/**
 * Measures the suite (interleaved round-robin) and, with a baseline, compares and confirms
 * regressions by a re-run. Refuses (E_USAGE) a baseline from another CPU model, profile or thread count.
 */
export async function runPerf(opts: RunPerfOptions = {}): Promise<PerfRun> {
  const profile = opts.profile ?? 'full';
  const threads = opts.threads ?? 1;
  const reps = opts.reps ?? (profile === 'quick' ? 5 : 15);
  const machine = perfMachine();
  const baseline = opts.baseline ?? null;
  const notes = baseline ? checkComparable(baseline, machine, profile, threads, opts.baselineFile) : [];
  const names = opts.kernels ?? [...PERF_KERNELS];
  for (const n of names) if (!(PERF_KERNELS as readonly string[]).includes(n)) throw new KilnError('E_USAGE', `unknown perf kernel "${n}" (known: ${PERF_KERNELS.join(', ')})`);
  let measure = opts.measure;
  let descriptions: Record<string, string> = Object.fromEntries(names.map((n) => [n, n]));
  if (!measure) {
    const suite = await buildPerfSuite(profile, threads, names);
    descriptions = Object.fromEntries(suite.map((k) => [k.name, k.description]));
    measure = suiteMeasure(suite);
  }
  const warmup = opts.warmup ?? 1;
  if (warmup > 0) await measureInterleaved(names, warmup, measure);
  let samples: Record<string, number[]>;
  let comparison: PerfComparison | null = null;
  if (baseline) {
    const base = Object.fromEntries(Object.entries(baseline.kernels).map(([k, v]) => [k, v.samplesMs]));
    comparison = await comparePerf(base, names, measure, { ...opts, reps });
    samples = comparison.samples;
  } else {
    samples = await measureInterleaved(names, reps, measure, (r) => opts.onProgress?.('run', r, reps));
  }
  const results: PerfResults = {
    kind: 'kiln.perf',
    version: 1,
    createdAt: new Date().toISOString(),
    machine,
    profile,
    threads,
    reps,
    kernels: Object.fromEntries(names.map((n) => [n, { description: descriptions[n]!, medianMs: median(samples[n]!), samplesMs: samples[n]! }])),
  };
  return { results, comparison, notes };
}
