// The native drift kernels through bindings/: SciPy/numpy oracles, edge cases, thread-count
// independence and bad inputs across the boundary.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { chiSquareSf, driftBinCounts, driftCounts, driftNumeric, driftSort, kolmogorovSf, ksPValue, rawAddon } from '../../bindings/index.js';
import { ROOT } from '../helpers/paths.js';
import { seededRandom } from '../../src/validate/corpus.js';

const ORACLE = path.join(ROOT, 'test/oracle/drift');
const load = <T>(name: string): T => JSON.parse(fs.readFileSync(path.join(ORACLE, name), 'utf8')) as T;

interface KsFixture {
  samples: Array<{ name: string; a: number[]; b: number[]; statistic: number; pValue: number }>;
  grid: Array<{ d: number; n1: number; n2: number; pValue: number }>;
}
interface BinnedCase {
  name: string; nBins: number; ref: number[]; cur: number[]; edges: number[]; refCounts: number[]; curCounts: number[];
  psi: number; kl: number; js: number; chi2: number; chi2PValue: number; chi2Dof: number; cramersV: number; wasserstein: number;
}
interface CountsFixture {
  epsilon: number;
  cases: Array<{ name: string; refCounts: number[]; curCounts: number[]; psi: number; kl: number; js: number; chi2: number; chi2PValue: number; chi2Dof: number; cramersV: number }>;
  chi2sf: Array<{ x: number; dof: number; sf: number }>;
}

function normals(n: number, seed: number, mean = 0, sd = 1): Float64Array {
  const rnd = seededRandom(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(rnd(), 1e-300);
    const v = rnd();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = mean + sd * r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = mean + sd * r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

const close = (actual: number, expected: number, abs: number, rel = 0): void => {
  expect(Math.abs(actual - expected), `${actual} vs ${expected}`).toBeLessThanOrEqual(abs + rel * Math.abs(expected));
};

describe('KS oracle (scipy.stats.ks_2samp, method="asymp")', () => {
  const ks = load<KsFixture>('ks.json');

  it('statistic within 1e-9 and p-value within 1e-6 on every fixture sample', async () => {
    const r = await driftNumeric(ks.samples.map((s) => Float64Array.from(s.a)), ks.samples.map((s) => Float64Array.from(s.b)));
    ks.samples.forEach((s, i) => {
      close(r.ksStatistic[i]!, s.statistic, 1e-9);
      close(r.ksPValue[i]!, s.pValue, 1e-6);
    });
  });

  it('p-value matches kstwo over every regime (n from 2 to 5e6), also in relative terms', () => {
    expect(ks.grid.length).toBeGreaterThan(150);
    for (const g of ks.grid) {
      const p = ksPValue(g.d, g.n1, g.n2);
      close(p, g.pValue, 1e-6, 1e-6);
    }
  });

  it('kolmogorovSf is monotone in x and spans [0, 1]', () => {
    for (const n of [5, 60, 500, 20_000, 400_000, 3_000_000]) {
      let prev = 1;
      for (let k = 0; k <= 200; k++) {
        const x = k / 200;
        const p = kolmogorovSf(n, x);
        expect(p).toBeGreaterThanOrEqual(0);
        expect(p).toBeLessThanOrEqual(prev + 1e-12);
        prev = p;
      }
      expect(kolmogorovSf(n, 0)).toBe(1);
      expect(kolmogorovSf(n, 1)).toBe(0);
    }
  });
});

describe('binned oracle (numpy reference computation, chi2_contingency, wasserstein_distance)', () => {
  const b = load<{ epsilon: number; cases: BinnedCase[] }>('binned.json');

  it('edges, counts, PSI, KL, JS, chi-square and Wasserstein-1 equal the reference', async () => {
    for (const c of b.cases) {
      const r = await driftNumeric([Float64Array.from(c.ref)], [Float64Array.from(c.cur)], { nBins: c.nBins, epsilon: b.epsilon, wasserstein: true });
      expect(Array.from(r.edges), c.name).toEqual(c.edges);
      expect(Array.from(r.refCounts), c.name).toEqual(c.refCounts);
      expect(Array.from(r.curCounts), c.name).toEqual(c.curCounts);
      close(r.psi[0]!, c.psi, 1e-12, 1e-9);
      close(r.kl[0]!, c.kl, 1e-12, 1e-9);
      close(r.js[0]!, c.js, 1e-12, 1e-9);
      close(r.chi2[0]!, c.chi2, 1e-9, 1e-9);
      close(r.chi2PValue[0]!, c.chi2PValue, 1e-12, 1e-6);
      expect(r.chi2Dof[0]).toBe(c.chi2Dof);
      close(r.cramersV[0]!, c.cramersV, 1e-12, 1e-9);
      close(r.wasserstein[0]!, c.wasserstein, 1e-12, 1e-9);
    }
  });

  it('duplicate quantile edges are merged (zero-inflated and few-valued columns)', () => {
    const dup = b.cases.find((c) => c.name === 'dup-edges-zero-inflated')!;
    const few = b.cases.find((c) => c.name === 'few-values')!;
    expect(dup.edges.length).toBeLessThan(dup.nBins - 1);
    expect(few.edges).toEqual([0, 1, 2]);
    for (const c of [dup, few]) for (let i = 1; i < c.edges.length; i++) expect(c.edges[i]!).toBeGreaterThan(c.edges[i - 1]!);
  });

  it('empty current bins use epsilon: PSI stays finite', () => {
    const c = b.cases.find((x) => x.name === 'empty-current-bins')!;
    expect(c.curCounts.filter((x) => x === 0).length).toBeGreaterThan(3);
    expect(Number.isFinite(c.psi)).toBe(true);
    expect(c.psi).toBeGreaterThan(5);
  });
});

describe('categorical counts oracle', () => {
  const f = load<CountsFixture>('counts.json');

  it('PSI, KL, JS and chi-square of count vectors (with an unseen bucket) equal the reference', () => {
    const r = driftCounts(f.cases.map((c) => Float64Array.from(c.refCounts)), f.cases.map((c) => Float64Array.from(c.curCounts)), f.epsilon);
    f.cases.forEach((c, i) => {
      close(r.psi[i]!, c.psi, 1e-12, 1e-9);
      close(r.kl[i]!, c.kl, 1e-12, 1e-9);
      close(r.js[i]!, c.js, 1e-12, 1e-9);
      close(r.chi2[i]!, c.chi2, 1e-9, 1e-9);
      close(r.chi2PValue[i]!, c.chi2PValue, 1e-12, 1e-6);
      expect(r.chi2Dof[i]).toBe(c.chi2Dof);
    });
  });

  it('chi2.sf over dof 1..250', () => {
    for (const c of f.chi2sf) close(chiSquareSf(c.x, c.dof), c.sf, 1e-14, 1e-8);
  });
});

describe('edge cases', () => {
  it('constant columns: no drift, never NaN', async () => {
    const same = await driftNumeric([new Float64Array(1000).fill(5)], [new Float64Array(700).fill(5)], { wasserstein: true });
    for (const k of ['ksStatistic', 'psi', 'kl', 'js', 'chi2', 'wasserstein'] as const) expect(same[k][0], k).toBe(0);
    expect(same.ksPValue[0]).toBe(1);
    expect(same.chi2PValue[0]).toBe(1);
    expect(Array.from(same.edges)).toEqual([5]);
    const moved = await driftNumeric([new Float64Array(1000).fill(5)], [new Float64Array(700).fill(6)]);
    expect(moved.ksStatistic[0]).toBe(1);
    expect(moved.ksPValue[0]).toBeLessThan(1e-100);
    expect(Number.isFinite(moved.psi[0]!)).toBe(true);
    expect(moved.psi[0]).toBeGreaterThan(1);
  });

  it('NaN is missing: counted and left out; all-missing columns give statistic 0, p 1', async () => {
    const ref = Float64Array.from([1, NaN, 2, 3, NaN]);
    const cur = Float64Array.from([NaN, 1, 2, 3]);
    const r = await driftNumeric([ref, new Float64Array(3).fill(NaN)], [cur, Float64Array.from([1, 2])]);
    expect(Array.from(r.refMissing)).toEqual([2, 3]);
    expect(Array.from(r.curMissing)).toEqual([1, 0]);
    expect(r.ksStatistic[0]).toBe(0);
    expect(r.ksStatistic[1]).toBe(0);
    expect(r.ksPValue[1]).toBe(1);
    expect(Number.isNaN(r.psi[1]!)).toBe(false);
  });

  it('nBins is honoured on continuous data, -0 equals +0, Float32 equals Float64', async () => {
    const a = normals(5000, 1);
    const c = normals(4000, 2, 0.1);
    for (const nBins of [2, 5, 10, 37]) {
      const r = await driftNumeric([a], [c], { nBins });
      expect(r.edgeOffsets[1]).toBe(nBins - 1);
      expect(r.refCounts.reduce((s, x) => s + x, 0)).toBe(5000);
    }
    const z = await driftNumeric([Float64Array.from([-0, 0, 1])], [Float64Array.from([0, -0, 1])]);
    expect(z.ksStatistic[0]).toBe(0);
    const a32 = Float32Array.from(a);
    const c32 = Float32Array.from(c);
    const r32 = await driftNumeric([a32], [c32]);
    const r64 = await driftNumeric([Float64Array.from(a32)], [Float64Array.from(c32)]);
    expect(r32).toEqual(r64);
  });

  it('a sorted reference and in-place sorting give the same results as plain inputs', async () => {
    const a = normals(20000, 3);
    const c = normals(15000, 4, 0.05, 1.1);
    const plain = await driftNumeric([a], [c], { wasserstein: true });
    const [sorted] = await driftSort([a]);
    for (let i = 1; i < sorted!.length; i++) expect(sorted![i]!).toBeGreaterThanOrEqual(sorted![i - 1]!);
    const pre = await driftNumeric([sorted!], [c.slice()], { referenceSorted: true, mutateInputs: true, wasserstein: true });
    expect({ ...pre, refMissing: null }).toEqual({ ...plain, refMissing: null });
    const counts = await driftBinCounts([c], [plain.edges.slice()]);
    expect(Array.from(counts[0]!.subarray(0, counts[0]!.length - 1))).toEqual(Array.from(plain.curCounts));
  });

  it('results are identical for any thread count', async () => {
    const ref = Array.from({ length: 9 }, (_, f) => normals(30000 + f * 1000, 10 + f));
    const cur = Array.from({ length: 9 }, (_, f) => normals(25000, 100 + f, f * 0.02));
    const runs = [];
    for (const numThreads of [1, 2, 3, 8]) runs.push(await driftNumeric(ref, cur, { numThreads, wasserstein: true, nBins: 20 }));
    for (const r of runs.slice(1)) expect(r).toEqual(runs[0]);
  });
});

describe('bad input across the boundary', () => {
  it('wrong types and shapes give KilnError E_NATIVE_INPUT, not a crash', async () => {
    const a = new Float64Array(10);
    await expect(driftNumeric([a], [] as Float64Array[])).rejects.toMatchObject({ code: 'E_NATIVE_INPUT' });
    await expect(driftNumeric([new Int32Array(3) as unknown as Float64Array], [a])).rejects.toMatchObject({ code: 'E_NATIVE_INPUT' });
    await expect(driftNumeric([a], [a], { nBins: 1 })).rejects.toMatchObject({ code: 'E_NATIVE_INPUT' });
    await expect(driftNumeric([a], [a], { epsilon: 0 })).rejects.toMatchObject({ code: 'E_NATIVE_INPUT' });
    await expect(driftNumeric([Float64Array.from([2, 1])], [a], { referenceSorted: true })).rejects.toMatchObject({ code: 'E_NATIVE_INPUT', message: expect.stringMatching(/not sorted/) });
    const raw = rawAddon();
    expect(() => raw.driftNumeric([a], [a], { nBins: 10 } as never)).toThrow(/epsilon is required/);
    expect(() => raw.driftNumeric('x' as never, [a], { nBins: 10, epsilon: 1e-4, wasserstein: false, referenceSorted: false, mutateInputs: false, numThreads: 0 })).toThrow(/must be an Array/);
    expect(() => raw.driftCountsSync(new Float64Array([1, -1]), new Float64Array([1, 1]), new Int32Array([0, 2]), 1e-4)).toThrow(/finite and >= 0/);
    expect(() => driftCounts([new Float64Array(2)], [new Float64Array(3)])).toThrow(/2 reference bins but 3/);
    expect(() => ksPValue(1.5, 10, 10)).toThrow(/d must be/);
  });
});
