/**
 * Feature drift: per-feature effect sizes and p-values from the native kernels, Benjamini–Hochberg
 * across features per method, and the decision rule "drifted = effect above threshold AND
 * significant after BH" — so a tiny shift on a huge sample is reported as significant but not drifted.
 */
import { KilnError } from '../../../bindings/errors.js';
import { driftBinCounts, driftCounts, driftNumeric, driftSort, type FloatArray, type NumericDriftArrays } from '../../../bindings/index.js';
import type { ColumnBatch } from '../../batch/column-batch.js';
import { KILN_VERSION } from '../../version.js';
import { categoryLabel, openDriftSource, type CategoryCounts, type ColumnInfo, type DriftInput, type DriftReadOptions, type DriftSource, type FeatureKind } from './data.js';

/** Drift tests: KS (numeric), PSI / KL / JS / chi-square (numeric on reference-quantile bins, categorical on categories). */
export type DriftMethod = 'ks' | 'psi' | 'kl' | 'js' | 'chi2';
/** Every method, in report order. */
export const DRIFT_METHODS: readonly DriftMethod[] = ['ks', 'psi', 'kl', 'js', 'chi2'];

/**
 * Default effect-size thresholds: KS statistic 0.15 and PSI 0.2 (practice); KL 0.1 (≈ PSI / 2 for
 * small shifts); JS 0.025 nats (≈ PSI / 8); chi2 uses Cramér's V 0.1 (a "small" effect).
 */
export const DEFAULT_THRESHOLDS: Readonly<Record<DriftMethod, number>> = { ks: 0.15, psi: 0.2, kl: 0.1, js: 0.025, chi2: 0.1 };

/** Role of a compared column. */
export type ColumnRole = 'feature' | 'prediction' | 'label';

/** Options of a drift comparison. */
export interface DriftOptions {
  /** Test(s) to run (default ['ks', 'psi']). Categorical columns use the binned ones (chi2 when only 'ks' is asked). */
  method?: DriftMethod | readonly DriftMethod[];
  /** Effect-size threshold: one number for every chosen method, or per method (defaults DEFAULT_THRESHOLDS). */
  threshold?: number | Partial<Record<DriftMethod, number>>;
  /** False discovery rate of the Benjamini–Hochberg correction across features (default 0.05). */
  alpha?: number;
  /** Reference-quantile bins of numeric features (default 10). */
  nBins?: number;
  /** Proportion used for empty bins in PSI and KL (default 1e-4). */
  epsilon?: number;
  /** Also report Wasserstein-1 of numeric features (default false). */
  wasserstein?: boolean;
  /** Columns to compare (default: every column of the reference). */
  features?: readonly string[];
  /** Columns compared as categories even when numeric (e.g. integer codes). */
  categorical?: readonly string[];
  /** The model's prediction column: compared like a feature, reported as prediction drift. */
  prediction?: string;
  /** The label column: compared like a feature, reported as label drift. */
  label?: string;
  /** Kernel threads (default 0 = all cores); results never depend on it. */
  numThreads?: number;
  /** Files: bytes of numeric columns held at once (default 1 GiB); more columns per pass are faster. */
  memoryBudgetBytes?: number;
  /** How to read file inputs (CSV delimiter, NULL strings, …). */
  read?: DriftReadOptions;
  /** Stage progress. */
  onProgress?: (p: DriftProgress) => void;
}

/** A progress reading of a drift run. */
export interface DriftProgress {
  stage: string;
  done: number;
  total: number;
}

/** One method's verdict on one feature. */
export interface MethodResult {
  pValue: number;
  /** Benjamini–Hochberg adjusted p-value across the features this method tested. */
  pAdjusted: number;
  threshold: number;
  /** Effect above threshold and pAdjusted <= alpha. */
  drifted: boolean;
}

/** Per-feature entry of a drift report. */
export interface FeatureDriftResult {
  name: string;
  kind: FeatureKind;
  role: ColumnRole;
  drifted: boolean;
  /** Methods that flagged the feature. */
  driftedBy: DriftMethod[];
  reference: { count: number; missing: number };
  current: { count: number; missing: number };
  ks?: MethodResult & { statistic: number };
  psi?: MethodResult & { value: number };
  kl?: MethodResult & { value: number };
  js?: MethodResult & { value: number };
  chi2?: MethodResult & { statistic: number; dof: number; cramersV: number };
  wasserstein?: { value: number };
  /** Histogram for reports: numeric bins (edges) or the most frequent categories, counts per side. */
  histogram: { edges?: number[]; categories?: string[]; reference: number[]; current: number[] };
  /** Conditions worth a look (no values on one side, unseen categories, …). */
  notes: string[];
}

/** A drift report (schemas/drift-report.schema.json). */
export interface DriftReport {
  kind: 'kiln.drift-report';
  version: 1;
  createdAt: string;
  kilnVersion: string;
  reference: { source: string; rows: number };
  current: { source: string; rows: number };
  options: { methods: DriftMethod[]; thresholds: Partial<Record<DriftMethod, number>>; alpha: number; nBins: number; epsilon: number; correction: 'benjamini-hochberg' };
  drifted: boolean;
  summary: { features: number; drifted: number; driftedFeatures: string[]; predictionDrift: boolean | null; labelDrift: boolean | null };
  features: FeatureDriftResult[];
}

/** Raw statistics of one feature, before the decision. */
interface FeatureStats {
  name: string;
  kind: FeatureKind;
  role: ColumnRole;
  refCount: number;
  curCount: number;
  refMissing: number;
  curMissing: number;
  ks?: { statistic: number; pValue: number };
  wasserstein?: number;
  binned: { psi: number; kl: number; js: number; chi2: number; chi2PValue: number; chi2Dof: number; cramersV: number };
  histogram: FeatureDriftResult['histogram'];
  notes: string[];
}

interface Resolved {
  methods: DriftMethod[];
  thresholds: Partial<Record<DriftMethod, number>>;
  alpha: number;
  nBins: number;
  epsilon: number;
  wasserstein: boolean;
  numThreads: number;
  memoryBudgetBytes: number;
}

function usage(message: string): KilnError {
  return new KilnError('E_USAGE', message);
}

/** Validates and defaults drift options (fail closed on anything unknown or out of range). */
export function resolveDriftOptions(o: DriftOptions = {}): Resolved {
  const list = o.method === undefined ? ['ks', 'psi'] : Array.isArray(o.method) ? [...o.method] : [o.method as DriftMethod];
  if (list.length === 0) throw usage('at least one drift method is required');
  for (const m of list) if (!DRIFT_METHODS.includes(m as DriftMethod)) throw usage(`unknown drift method "${String(m)}" (allowed: ${DRIFT_METHODS.join(', ')})`);
  const methods = DRIFT_METHODS.filter((m) => list.includes(m));
  const thresholds: Partial<Record<DriftMethod, number>> = {};
  for (const m of methods) {
    const t = typeof o.threshold === 'number' ? o.threshold : (o.threshold?.[m] ?? DEFAULT_THRESHOLDS[m]);
    if (typeof t !== 'number' || !Number.isFinite(t) || t < 0) throw usage(`threshold of ${m} must be a finite number >= 0 (got ${String(t)})`);
    thresholds[m] = t;
  }
  const alpha = o.alpha ?? 0.05;
  if (!(alpha > 0 && alpha < 1)) throw usage(`alpha must be in (0, 1) (got ${alpha})`);
  const nBins = o.nBins ?? 10;
  if (!Number.isInteger(nBins) || nBins < 2 || nBins > 1000) throw usage(`nBins must be an integer in [2, 1000] (got ${nBins})`);
  const epsilon = o.epsilon ?? 1e-4;
  if (!(epsilon > 0 && epsilon < 1)) throw usage(`epsilon must be in (0, 1) (got ${epsilon})`);
  const numThreads = o.numThreads ?? 0;
  if (!Number.isInteger(numThreads) || numThreads < 0 || numThreads > 256) throw usage(`numThreads must be an integer in [0, 256] (got ${numThreads})`);
  const memoryBudgetBytes = o.memoryBudgetBytes ?? 2 ** 30;
  if (!(memoryBudgetBytes > 0)) throw usage('memoryBudgetBytes must be > 0');
  return { methods, thresholds, alpha, nBins, epsilon, wasserstein: Boolean(o.wasserstein), numThreads, memoryBudgetBytes };
}

/** Benjamini–Hochberg adjusted p-values (same order as the input). */
export function benjaminiHochberg(pValues: readonly number[]): number[] {
  const n = pValues.length;
  const order = pValues.map((p, i) => [p, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const out = new Array<number>(n);
  let running = 1;
  for (let k = n - 1; k >= 0; k--) {
    const [p, i] = order[k]!;
    running = Math.min(running, (p * n) / (k + 1));
    out[i] = Math.min(1, running);
  }
  return out;
}

/** The methods applied to a feature of a kind. */
function methodsFor(kind: FeatureKind, methods: readonly DriftMethod[]): DriftMethod[] {
  if (kind === 'numeric') return [...methods];
  const binned = methods.filter((m) => m !== 'ks');
  return binned.length > 0 ? binned : ['chi2'];
}

function effectOf(s: FeatureStats, m: DriftMethod): { effect: number; p: number } {
  switch (m) {
    case 'ks':
      return { effect: s.ks!.statistic, p: s.ks!.pValue };
    case 'psi':
      return { effect: s.binned.psi, p: s.binned.chi2PValue };
    case 'kl':
      return { effect: s.binned.kl, p: s.binned.chi2PValue };
    case 'js':
      return { effect: s.binned.js, p: s.binned.chi2PValue };
    case 'chi2':
      return { effect: s.binned.cramersV, p: s.binned.chi2PValue };
  }
}

/** Applies thresholds and BH per method, and builds the report. */
function decide(stats: FeatureStats[], r: Resolved, ref: { source: string; rows: number }, cur: { source: string; rows: number }): DriftReport {
  const results: FeatureDriftResult[] = stats.map((s) => ({
    name: s.name,
    kind: s.kind,
    role: s.role,
    drifted: false,
    driftedBy: [],
    reference: { count: s.refCount, missing: s.refMissing },
    current: { count: s.curCount, missing: s.curMissing },
    ...(s.wasserstein !== undefined ? { wasserstein: { value: s.wasserstein } } : {}),
    histogram: s.histogram,
    notes: s.notes,
  }));
  const used = new Set<DriftMethod>();
  for (const m of DRIFT_METHODS) {
    const idx = stats.map((s, i) => (methodsFor(s.kind, r.methods).includes(m) ? i : -1)).filter((i) => i >= 0);
    if (idx.length === 0) continue;
    used.add(m);
    const threshold = r.thresholds[m] ?? DEFAULT_THRESHOLDS[m];
    const eff = idx.map((i) => effectOf(stats[i]!, m));
    const adj = benjaminiHochberg(eff.map((e) => e.p));
    idx.forEach((i, k) => {
      const s = stats[i]!;
      const { effect, p } = eff[k]!;
      const drifted = effect > threshold && adj[k]! <= r.alpha;
      const base: MethodResult = { pValue: p, pAdjusted: adj[k]!, threshold, drifted };
      const f = results[i]!;
      if (m === 'ks') f.ks = { statistic: effect, ...base };
      else if (m === 'chi2') f.chi2 = { statistic: s.binned.chi2, dof: s.binned.chi2Dof, cramersV: s.binned.cramersV, ...base };
      else f[m] = { value: effect, ...base };
      if (drifted) {
        f.drifted = true;
        f.driftedBy.push(m);
      }
    });
  }
  const drifted = results.filter((f) => f.drifted);
  const roleDrift = (role: ColumnRole): boolean | null => {
    const f = results.filter((x) => x.role === role);
    return f.length === 0 ? null : f.some((x) => x.drifted);
  };
  const thresholds: Partial<Record<DriftMethod, number>> = {};
  for (const m of DRIFT_METHODS) if (used.has(m)) thresholds[m] = r.thresholds[m] ?? DEFAULT_THRESHOLDS[m];
  return {
    kind: 'kiln.drift-report',
    version: 1,
    createdAt: new Date().toISOString(),
    kilnVersion: KILN_VERSION,
    reference: ref,
    current: cur,
    options: { methods: DRIFT_METHODS.filter((m) => used.has(m)), thresholds, alpha: r.alpha, nBins: r.nBins, epsilon: r.epsilon, correction: 'benjamini-hochberg' },
    drifted: drifted.length > 0,
    summary: { features: results.length, drifted: drifted.length, driftedFeatures: drifted.map((f) => f.name), predictionDrift: roleDrift('prediction'), labelDrift: roleDrift('label') },
    features: results,
  };
}

/** Feature stats of numeric columns from the kernel's arrays. */
function numericStats(cols: readonly PlannedFeature[], raw: NumericDriftArrays, refMissing?: readonly number[]): FeatureStats[] {
  return cols.map((c, f) => {
    const notes: string[] = [];
    const refCount = raw.refCount[f]!;
    const curCount = raw.curCount[f]!;
    if (refCount === 0) notes.push('no reference values: nothing to compare');
    if (curCount === 0) notes.push('no current values: nothing to compare');
    const edges = Array.from(raw.edges.subarray(raw.edgeOffsets[f]!, raw.edgeOffsets[f + 1]!));
    if (refCount > 0 && edges.length === 0) notes.push('constant reference: one bin edge at most');
    return {
      name: c.name,
      kind: 'numeric',
      role: c.role,
      refCount,
      curCount,
      refMissing: refMissing ? refMissing[f]! : raw.refMissing[f]!,
      curMissing: raw.curMissing[f]!,
      ks: { statistic: raw.ksStatistic[f]!, pValue: raw.ksPValue[f]! },
      ...(raw.wasserstein && c.wantWasserstein ? { wasserstein: raw.wasserstein[f]! } : {}),
      binned: { psi: raw.psi[f]!, kl: raw.kl[f]!, js: raw.js[f]!, chi2: raw.chi2[f]!, chi2PValue: raw.chi2PValue[f]!, chi2Dof: raw.chi2Dof[f]!, cramersV: raw.cramersV[f]! },
      histogram: {
        edges,
        reference: Array.from(raw.refCounts.subarray(raw.countOffsets[f]!, raw.countOffsets[f + 1]!)),
        current: Array.from(raw.curCounts.subarray(raw.countOffsets[f]!, raw.countOffsets[f + 1]!)),
      },
      notes,
    };
  });
}

/** Categories shown in report histograms (the statistics use every category). */
const MAX_HISTOGRAM_CATEGORIES = 30;

/** Feature stats of categorical columns; categories never seen in the reference share one unseen bucket. */
function categoricalStats(cols: readonly PlannedFeature[], ref: readonly CategoryCounts[], cur: readonly CategoryCounts[], epsilon: number): FeatureStats[] {
  const refVecs: Float64Array[] = [];
  const curVecs: Float64Array[] = [];
  const keysOf: string[][] = [];
  const unseenOf: Array<{ count: number; categories: number }> = [];
  cols.forEach((_, f) => {
    const r = ref[f]!.counts;
    const c = cur[f]!.counts;
    const keys = [...r.keys()].sort((a, b) => r.get(b)! - r.get(a)! || (a < b ? -1 : a > b ? 1 : 0));
    const rv = new Float64Array(keys.length + 1);
    const cv = new Float64Array(keys.length + 1);
    keys.forEach((k, i) => {
      rv[i] = r.get(k)!;
      cv[i] = c.get(k) ?? 0;
    });
    let unseen = 0;
    let unseenCats = 0;
    for (const [k, n] of c) {
      if (!r.has(k)) {
        unseen += n;
        unseenCats++;
      }
    }
    cv[keys.length] = unseen;
    refVecs.push(rv);
    curVecs.push(cv);
    keysOf.push(keys);
    unseenOf.push({ count: unseen, categories: unseenCats });
  });
  const b = cols.length > 0 ? driftCounts(refVecs, curVecs, epsilon) : null;
  return cols.map((col, f) => {
    const keys = keysOf[f]!;
    const rv = refVecs[f]!;
    const cv = curVecs[f]!;
    const shown = Math.min(keys.length, MAX_HISTOGRAM_CATEGORIES);
    const categories = keys.slice(0, shown).map(categoryLabel);
    const refH = Array.from(rv.subarray(0, shown));
    const curH = Array.from(cv.subarray(0, shown));
    if (keys.length > shown) {
      categories.push('(other)');
      refH.push(rv.subarray(shown, keys.length).reduce((s, x) => s + x, 0));
      curH.push(cv.subarray(shown, keys.length).reduce((s, x) => s + x, 0));
    }
    categories.push('(unseen)');
    refH.push(0);
    curH.push(unseenOf[f]!.count);
    const notes: string[] = [];
    const refCount = rv.reduce((s, x) => s + x, 0);
    const curCount = cv.reduce((s, x) => s + x, 0);
    if (refCount === 0) notes.push('no reference values: nothing to compare');
    if (curCount === 0) notes.push('no current values: nothing to compare');
    if (unseenOf[f]!.count > 0) notes.push(`${unseenOf[f]!.count} current rows in ${unseenOf[f]!.categories} categories never seen in the reference`);
    return {
      name: col.name,
      kind: 'categorical',
      role: col.role,
      refCount,
      curCount,
      refMissing: ref[f]!.missing,
      curMissing: cur[f]!.missing,
      binned: { psi: b!.psi[f]!, kl: b!.kl[f]!, js: b!.js[f]!, chi2: b!.chi2[f]!, chi2PValue: b!.chi2PValue[f]!, chi2Dof: b!.chi2Dof[f]!, cramersV: b!.cramersV[f]! },
      histogram: { categories, reference: refH, current: curH },
      notes,
    };
  });
}

interface PlannedFeature extends ColumnInfo {
  role: ColumnRole;
  wantWasserstein: boolean;
}

/** The columns to compare: requested (or all reference columns), present with the same kind on both sides. */
function planFeatures(ref: DriftSource, cur: DriftSource, o: DriftOptions, wasserstein: boolean): PlannedFeature[] {
  const byName = (s: DriftSource): Map<string, ColumnInfo> => new Map(s.columns.map((c) => [c.name, c]));
  const r = byName(ref);
  const c = byName(cur);
  const names: string[] = o.features && o.features.length > 0 ? [...o.features] : ref.columns.map((x) => x.name);
  for (const extra of [o.prediction, o.label]) if (extra !== undefined && !names.includes(extra)) names.push(extra);
  const seen = new Set<string>();
  const forced = new Set(o.categorical ?? []);
  for (const name of forced) if (!r.has(name)) throw new KilnError('E_SCHEMA', `categorical column "${name}" is not in the reference ${ref.label}`, { field: name });
  return names.map((name) => {
    if (seen.has(name)) throw usage(`column "${name}" is listed twice`);
    seen.add(name);
    const a = r.get(name);
    const b = c.get(name);
    if (!a) throw new KilnError('E_SCHEMA', `column "${name}" is not in the reference ${ref.label} (have: ${ref.columns.map((x) => x.name).join(', ')})`, { field: name });
    if (!b) throw new KilnError('E_SCHEMA', `column "${name}" is in the reference but not in the current data ${cur.label}`, { field: name });
    const kind: FeatureKind = forced.has(name) ? 'categorical' : a.kind;
    const kindB: FeatureKind = forced.has(name) ? 'categorical' : b.kind;
    if (kind !== kindB) throw new KilnError('E_SCHEMA', `column "${name}" is ${a.type} in the reference but ${b.type} in the current data`, { field: name });
    const role: ColumnRole = name === o.prediction ? 'prediction' : name === o.label ? 'label' : 'feature';
    return { name, type: a.type, kind, role, wantWasserstein: wasserstein };
  });
}

/**
 * Compares two inputs column group by column group: numeric columns of a group are read from both
 * sides (files: only those columns), compared natively (sorted in place), then dropped, so memory
 * is bounded by rows x group size. Categorical columns are counted (files: a DuckDB GROUP BY).
 */
export async function detectFeatureDrift(reference: DriftInput, current: DriftInput, options: DriftOptions = {}): Promise<DriftReport> {
  const r = resolveDriftOptions(options);
  const progress = options.onProgress ?? (() => {});
  progress({ stage: 'describing inputs', done: 0, total: 1 });
  const ref = await openDriftSource(reference, options.read, typeof reference === 'string' ? reference : 'reference');
  const cur = await openDriftSource(current, options.read, typeof current === 'string' ? current : 'current');
  const planned = planFeatures(ref, cur, options, r.wasserstein);
  const [refRows, curRows] = [await ref.rows(), await cur.rows()];
  const numeric = planned.filter((p) => p.kind === 'numeric');
  const categorical = planned.filter((p) => p.kind === 'categorical');
  // Two column groups are in flight (one compared natively while the next is read), each column
  // as reference + current Float64Arrays, plus the kernel's sort scratch.
  const perColumn = Math.max(1, 2 * (refRows + curRows) * 8 + Math.max(refRows, curRows) * 8);
  const group = Math.max(1, Math.floor(r.memoryBudgetBytes / perColumn));
  const stats = new Map<string, FeatureStats>();
  const groups = Math.ceil(numeric.length / group);
  // Column buffers are reused (the kernel sorts them in place): two sets, alternating between the
  // group being compared and the group being read, so each is allocated and faulted in once.
  const buffers: Array<{ ref: Float64Array[]; cur: Float64Array[] }> = [{ ref: [], cur: [] }, { ref: [], cur: [] }];
  const label = (g: number, cols: readonly PlannedFeature[]): string => `numeric columns ${g * group + 1}-${g * group + cols.length} of ${numeric.length}`;
  const read = async (g: number): Promise<{ cols: PlannedFeature[]; a: Float64Array[]; b: Float64Array[] }> => {
    const cols = numeric.slice(g * group, (g + 1) * group);
    const set = buffers[g % 2]!;
    progress({ stage: `${label(g, cols)}: reading`, done: g, total: groups });
    const a = await ref.load(cols, set.ref);
    const b = await cur.load(cols, set.cur);
    cols.forEach((c, i) => {
      set.ref[i] = a.numeric.get(c.name)!;
      set.cur[i] = b.numeric.get(c.name)!;
    });
    return { cols, a: cols.map((c) => a.numeric.get(c.name)!), b: cols.map((c) => b.numeric.get(c.name)!) };
  };
  let next = groups > 0 ? read(0) : null;
  for (let g = 0; g < groups; g++) {
    const { cols, a, b } = await next!;
    progress({ stage: `${label(g, cols)}: comparing`, done: g, total: groups });
    const compared = driftNumeric(a, b, { nBins: r.nBins, epsilon: r.epsilon, wasserstein: r.wasserstein, mutateInputs: true, numThreads: r.numThreads });
    next = g + 1 < groups ? read(g + 1) : null;
    // Settle both before going on (a failed read must not leave a comparison running unobserved).
    const [raw] = await Promise.all([compared, next?.catch(() => undefined)]);
    for (const s of numericStats(cols, raw)) stats.set(s.name, s);
  }
  if (categorical.length > 0) {
    progress({ stage: `categorical columns (${categorical.length}): counting`, done: 0, total: 1 });
    const a = await ref.load(categorical);
    const b = await cur.load(categorical);
    for (const s of categoricalStats(categorical, categorical.map((c) => a.categorical.get(c.name)!), categorical.map((c) => b.categorical.get(c.name)!), r.epsilon)) stats.set(s.name, s);
  }
  progress({ stage: 'deciding (Benjamini–Hochberg across features)', done: 1, total: 1 });
  return decide(planned.map((p) => stats.get(p.name)!), r, { source: ref.label, rows: refRows }, { source: cur.label, rows: curRows });
}

/**
 * Fit-once drift detector: `.fit(reference)` keeps the reference's numeric columns sorted (and its
 * category counts) in memory; each `.detect(current)` sorts only the current sample. For inputs too
 * large to hold, use detectFeatureDrift on files (column groups, bounded memory).
 */
export class FeatureDriftDetector {
  private readonly options: DriftOptions;
  private readonly resolved: Resolved;
  private fitted: {
    source: DriftSource;
    rows: number;
    sorted: Map<string, Float64Array>;
    refMissing: Map<string, number>;
    categories: Map<string, CategoryCounts>;
  } | null = null;

  constructor(options: DriftOptions = {}) {
    this.resolved = resolveDriftOptions(options);
    this.options = options;
  }

  /** Learns the reference (numeric columns sorted natively, categorical columns counted). */
  async fit(reference: DriftInput): Promise<this> {
    const source = await openDriftSource(reference, this.options.read, typeof reference === 'string' ? reference : 'reference');
    const planned = planFeatures(source, source, this.options, this.resolved.wasserstein);
    const loaded = await source.load(planned);
    const numeric = planned.filter((p) => p.kind === 'numeric');
    const arrays = numeric.map((c) => loaded.numeric.get(c.name)!);
    const sorted = await driftSort(arrays, this.resolved.numThreads);
    const refMissing = new Map(numeric.map((c, i) => [c.name, arrays[i]!.length - sorted[i]!.length]));
    this.fitted = { source, rows: loaded.rows, sorted: new Map(numeric.map((c, i) => [c.name, sorted[i]!])), refMissing, categories: loaded.categorical };
    return this;
  }

  /** Compares `current` with the fitted reference. */
  async detect(current: DriftInput): Promise<DriftReport> {
    const fit = this.fitted;
    if (!fit) throw new KilnError('E_USAGE', 'FeatureDriftDetector.detect() called before fit()');
    const cur = await openDriftSource(current, this.options.read, typeof current === 'string' ? current : 'current');
    const planned = planFeatures(fit.source, cur, this.options, this.resolved.wasserstein);
    const loaded = await cur.load(planned);
    const numeric = planned.filter((p) => p.kind === 'numeric');
    const categorical = planned.filter((p) => p.kind === 'categorical');
    const stats = new Map<string, FeatureStats>();
    if (numeric.length > 0) {
      const raw = await driftNumeric(numeric.map((c) => fit.sorted.get(c.name)!), numeric.map((c) => loaded.numeric.get(c.name)! as FloatArray), {
        nBins: this.resolved.nBins,
        epsilon: this.resolved.epsilon,
        wasserstein: this.resolved.wasserstein,
        referenceSorted: true,
        mutateInputs: true,
        numThreads: this.resolved.numThreads,
      });
      for (const s of numericStats(numeric, raw, numeric.map((c) => fit.refMissing.get(c.name)!))) stats.set(s.name, s);
    }
    if (categorical.length > 0) {
      for (const s of categoricalStats(categorical, categorical.map((c) => fit.categories.get(c.name)!), categorical.map((c) => loaded.categorical.get(c.name)!), this.resolved.epsilon)) stats.set(s.name, s);
    }
    return decide(planned.map((p) => stats.get(p.name)!), this.resolved, { source: fit.source.label, rows: fit.rows }, { source: cur.label, rows: loaded.rows });
  }
}

// ---------------------------------------------------------------------------------------------
// Histogram baseline (the KL-divergence workflow): only bins and counts are kept.

/** A reference summarised as histograms: serialisable, small, enough for PSI / KL / JS / chi-square. */
export interface DriftBaseline {
  kind: 'kiln.drift-baseline';
  version: 1;
  source: string;
  rows: number;
  nBins: number;
  features: Array<{ name: string; kind: FeatureKind; role: ColumnRole; edges?: number[]; categories?: string[]; counts: number[]; missing: number }>;
}

/** numpy's 'linear' quantile of ascending values (same rule as the native kernel). */
function quantileSorted(v: Float64Array, q: number): number {
  const n = v.length;
  const vi = (n - 1) * q;
  const lo = Math.min(Math.max(0, Math.floor(vi)), n - 1);
  const hi = Math.min(lo + 1, n - 1);
  const gamma = vi - Math.floor(vi);
  const a = v[lo]!;
  const b = v[hi]!;
  const diff = b - a;
  return gamma >= 0.5 ? b - diff * (1 - gamma) : a + diff * gamma;
}

/** Summarises a reference as per-feature histograms (numeric: reference-quantile bins; categorical: category counts). */
export async function setBaseline(reference: DriftInput, options: Omit<DriftOptions, 'method' | 'threshold' | 'alpha'> = {}): Promise<DriftBaseline> {
  const r = resolveDriftOptions({ ...options, method: 'kl' });
  const source = await openDriftSource(reference, options.read, typeof reference === 'string' ? reference : 'reference');
  const planned = planFeatures(source, source, options, false);
  const loaded = await source.load(planned);
  const numeric = planned.filter((p) => p.kind === 'numeric');
  const arrays = numeric.map((c) => loaded.numeric.get(c.name)!);
  const sorted = await driftSort(arrays, r.numThreads);
  const edges = sorted.map((s) => {
    const e: number[] = [];
    if (s.length === 0) return new Float64Array(0);
    for (let i = 1; i < r.nBins; i++) {
      const q = quantileSorted(s, i / r.nBins);
      if (e.length === 0 || q > e[e.length - 1]!) e.push(q);
    }
    return Float64Array.from(e);
  });
  const counts = await driftBinCounts(arrays, edges, r.numThreads);
  const features: DriftBaseline['features'] = planned.map((p) => {
    if (p.kind === 'numeric') {
      const i = numeric.indexOf(p);
      const c = counts[i]!;
      return { name: p.name, kind: 'numeric', role: p.role, edges: Array.from(edges[i]!), counts: Array.from(c.subarray(0, c.length - 1)), missing: c[c.length - 1]! };
    }
    const cc = loaded.categorical.get(p.name)!;
    const keys = [...cc.counts.keys()].sort((a, b) => cc.counts.get(b)! - cc.counts.get(a)! || (a < b ? -1 : a > b ? 1 : 0));
    return { name: p.name, kind: 'categorical', role: p.role, categories: keys.map(categoryLabel), counts: keys.map((k) => cc.counts.get(k)!), missing: cc.missing };
  });
  return { kind: 'kiln.drift-baseline', version: 1, source: source.label, rows: loaded.rows, nBins: r.nBins, features };
}

/** Compares `current` with a baseline from setBaseline (default method 'kl'; KS needs raw data and is refused). */
export async function detectDrift(current: DriftInput, baseline: DriftBaseline, options: Omit<DriftOptions, 'nBins' | 'features'> = {}): Promise<DriftReport> {
  if (baseline?.kind !== 'kiln.drift-baseline' || baseline.version !== 1) throw new KilnError('E_SCHEMA', 'not a kiln drift baseline (kind kiln.drift-baseline, version 1)');
  const r = resolveDriftOptions({ ...options, method: options.method ?? 'kl', nBins: baseline.nBins });
  if (r.methods.includes('ks')) throw usage('a histogram baseline has no raw values: KS is not available (use psi, kl, js or chi2, or FeatureDriftDetector)');
  const cur = await openDriftSource(current, options.read, typeof current === 'string' ? current : 'current');
  const baseSource: DriftSource = {
    label: baseline.source,
    columns: baseline.features.map((f) => ({ name: f.name, kind: f.kind, type: f.kind === 'numeric' ? 'float64' : 'utf8' })),
    rows: async () => baseline.rows,
    load: async () => {
      throw new KilnError('E_INTERNAL', 'a baseline has no rows to load');
    },
  };
  const planned = planFeatures(baseSource, cur, { ...options, features: baseline.features.map((f) => f.name), categorical: baseline.features.filter((f) => f.kind === 'categorical').map((f) => f.name) }, false);
  planned.forEach((p, i) => (p.role = baseline.features[i]!.role));
  const loaded = await cur.load(planned);
  const numeric = planned.map((p, i) => ({ p, b: baseline.features[i]! })).filter((x) => x.p.kind === 'numeric');
  const curCounts = await driftBinCounts(numeric.map((x) => loaded.numeric.get(x.p.name)!), numeric.map((x) => Float64Array.from(x.b.edges ?? [])), r.numThreads);
  const stats: FeatureStats[] = [];
  const refVecs: Float64Array[] = [];
  const curVecs: Float64Array[] = [];
  const meta: Array<{ p: PlannedFeature; b: DriftBaseline['features'][number]; curMissing: number; hist: FeatureDriftResult['histogram']; notes: string[] }> = [];
  planned.forEach((p, i) => {
    const b = baseline.features[i]!;
    if (p.kind === 'numeric') {
      const c = curCounts[numeric.findIndex((x) => x.p === p)]!;
      const cv = c.slice(0, c.length - 1);
      if (cv.length !== b.counts.length) throw new KilnError('E_SCHEMA', `baseline feature "${b.name}" has ${b.counts.length} counts for ${(b.edges ?? []).length} edges`);
      refVecs.push(Float64Array.from(b.counts));
      curVecs.push(cv);
      meta.push({ p, b, curMissing: c[c.length - 1]!, hist: { edges: b.edges ?? [], reference: b.counts, current: Array.from(cv) }, notes: [] });
    } else {
      const cc = loaded.categorical.get(p.name)!;
      const labels = b.categories ?? [];
      const index = new Map(labels.map((l, k) => [l, k]));
      const cv = new Float64Array(labels.length + 1);
      for (const [k, n] of cc.counts) {
        const at = index.get(categoryLabel(k));
        cv[at === undefined ? labels.length : at] += n;
      }
      refVecs.push(Float64Array.from([...b.counts, 0]));
      curVecs.push(cv);
      const notes = cv[labels.length]! > 0 ? [`${cv[labels.length]} current rows in categories never seen in the reference`] : [];
      meta.push({ p, b, curMissing: cc.missing, hist: { categories: [...labels, '(unseen)'], reference: [...b.counts, 0], current: Array.from(cv) }, notes });
    }
  });
  const bs = planned.length > 0 ? driftCounts(refVecs, curVecs, r.epsilon) : null;
  meta.forEach((m, f) => {
    stats.push({
      name: m.p.name,
      kind: m.p.kind,
      role: m.p.role,
      refCount: refVecs[f]!.reduce((s, x) => s + x, 0),
      curCount: curVecs[f]!.reduce((s, x) => s + x, 0),
      refMissing: m.b.missing,
      curMissing: m.curMissing,
      binned: { psi: bs!.psi[f]!, kl: bs!.kl[f]!, js: bs!.js[f]!, chi2: bs!.chi2[f]!, chi2PValue: bs!.chi2PValue[f]!, chi2Dof: bs!.chi2Dof[f]!, cramersV: bs!.cramersV[f]! },
      histogram: m.hist,
      notes: m.notes,
    });
  });
  return decide(stats, r, { source: baseline.source, rows: baseline.rows }, { source: cur.label, rows: loaded.rows });
}

/** Re-export for callers holding batches. */
export type { ColumnBatch };
