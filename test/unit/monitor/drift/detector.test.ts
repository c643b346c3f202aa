// Drift decisions: Benjamini–Hochberg, thresholds, sample-size honesty, categorical unseen bucket,
// fit/detect vs one-shot, the histogram baseline workflow, report schema and HTML escaping.
import { describe, expect, it } from 'vitest';
import { ColumnBatch, columnFromValues, type Column } from '../../../../src/batch/column-batch.js';
import { benjaminiHochberg, detectDrift, detectFeatureDrift, FeatureDriftDetector, renderDriftHtml, setBaseline, type DriftReport } from '../../../../src/monitor/drift/index.js';
import { assertValid } from '../../../../src/validate/schema.js';
import { schemaPath } from '../../../../src/version.js';
import { seededRandom } from '../../../../src/validate/corpus.js';

function normals(n: number, seed: number, mean = 0, sd = 1): Float64Array {
  const rnd = seededRandom(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(Math.max(rnd(), 1e-300)));
    const t = 2 * Math.PI * rnd();
    out[i] = mean + sd * r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = mean + sd * r * Math.sin(t);
  }
  return out;
}

const f64 = (name: string, values: Float64Array): Column => ({ name, type: 'float64', values, validity: null, nullCount: 0 });
const batch = (cols: Column[]): ColumnBatch => new ColumnBatch(cols, cols[0]!.type === 'utf8' ? cols[0]!.offsets!.length - 1 : cols[0]!.values.length);
const feature = (r: DriftReport, name: string) => r.features.find((f) => f.name === name)!;

describe('benjaminiHochberg', () => {
  it('adjusts as the step-up procedure (hand-computed) and keeps the input order', () => {
    expect(benjaminiHochberg([0.01, 0.04, 0.03, 0.005])).toEqual([0.02, 0.04, 0.04, 0.02]);
    expect(benjaminiHochberg([0.5, 0.9])).toEqual([0.9, 0.9]);
    benjaminiHochberg([1e-10, 0.8, 0.2]).forEach((q, i) => expect(q).toBeCloseTo([3e-10, 0.8, 0.3][i]!, 14));
    expect(benjaminiHochberg([])).toEqual([]);
  });

  it('decides drift: a raw p of ~0.01 among 20 columns is not significant after BH', async () => {
    const n = 1000;
    const grid = (shift: number): Float64Array => Float64Array.from({ length: n }, (_, i) => i / n + shift);
    const ref: Column[] = [];
    const cur: Column[] = [];
    for (let f = 0; f < 20; f++) {
      ref.push(f64(`x${f}`, grid(0)));
      cur.push(f64(`x${f}`, grid(f === 0 ? 0.073 : 0.0005)));
    }
    const r = await detectFeatureDrift(batch(ref), batch(cur), { method: 'ks', threshold: 0 });
    const x0 = feature(r, 'x0');
    expect(x0.ks!.pValue).toBeLessThan(0.05);
    expect(x0.ks!.pAdjusted).toBeGreaterThan(0.05);
    expect(x0.ks!.pAdjusted).toBeCloseTo(Math.min(1, x0.ks!.pValue * 20), 12);
    expect(x0.drifted).toBe(false);
    // Alone, the same column is significant and (threshold 0) drifted.
    const alone = await detectFeatureDrift(batch([ref[0]!]), batch([cur[0]!]), { method: 'ks', threshold: 0 });
    expect(feature(alone, 'x0').drifted).toBe(true);
  });
});

describe('detectFeatureDrift', () => {
  it('is honest with sample size: a tiny shift on 1M rows is significant but not drifted; a real shift drifts', async () => {
    const n = 1_000_000;
    const ref = batch([f64('tiny', normals(n, 1)), f64('big', normals(n, 2))]);
    const cur = batch([f64('tiny', normals(n, 3, 0.01)), f64('big', normals(n, 4, 0.5))]);
    const r = await detectFeatureDrift(ref, cur, { method: ['ks', 'psi'] });
    const tiny = feature(r, 'tiny');
    expect(tiny.ks!.pAdjusted).toBeLessThan(1e-3);
    expect(tiny.ks!.statistic).toBeLessThan(0.15);
    expect(tiny.psi!.value).toBeLessThan(0.01);
    expect(tiny.drifted).toBe(false);
    const big = feature(r, 'big');
    expect(big.drifted).toBe(true);
    expect(big.driftedBy).toEqual(['ks', 'psi']);
    expect(r.drifted).toBe(true);
    expect(r.summary.driftedFeatures).toEqual(['big']);
  });

  it('constant columns are a valid "no drift" (no NaN anywhere in the report)', async () => {
    const ref = batch([f64('c', new Float64Array(500).fill(3)), f64('d', new Float64Array(500).fill(3))]);
    const cur = batch([f64('c', new Float64Array(400).fill(3)), f64('d', new Float64Array(400).fill(4))]);
    const r = await detectFeatureDrift(ref, cur, { method: ['ks', 'psi', 'kl', 'js', 'chi2'], wasserstein: true });
    expect(JSON.stringify(r)).not.toMatch(/NaN|null,\s*"p/);
    const c = feature(r, 'c');
    expect(c.drifted).toBe(false);
    expect(c.ks).toMatchObject({ statistic: 0, pValue: 1 });
    expect(c.psi!.value).toBe(0);
    expect(feature(r, 'd').drifted).toBe(true);
    expect(feature(r, 'd').wasserstein!.value).toBeCloseTo(1, 12);
  });

  it('categorical columns put unseen categories in an explicit bucket', async () => {
    const cat = (name: string, values: string[]): Column => columnFromValues(name, 'utf8', values);
    const ref = batch([cat('color', [...Array(600).fill('red'), ...Array(400).fill('blue')])]);
    const cur = batch([cat('color', [...Array(500).fill('red'), ...Array(300).fill('blue'), ...Array(200).fill('green')])]);
    const r = await detectFeatureDrift(ref, cur, { method: ['psi', 'chi2'] });
    const f = feature(r, 'color');
    expect(f.kind).toBe('categorical');
    expect(f.histogram.categories).toEqual(['red', 'blue', '(unseen)']);
    expect(f.histogram.current).toEqual([500, 300, 200]);
    // PSI with epsilon 1e-4 for the unseen bucket in the reference: hand computation.
    const psi = (0.5 - 0.6) * Math.log(0.5 / 0.6) + (0.3 - 0.4) * Math.log(0.3 / 0.4) + (0.2 - 1e-4) * Math.log(0.2 / 1e-4);
    expect(f.psi!.value).toBeCloseTo(psi, 12);
    expect(f.chi2!.dof).toBe(2);
    expect(f.drifted).toBe(true);
    expect(f.notes.join(' ')).toMatch(/200 current rows in 1 categories never seen/);
    // 'ks' alone falls back to chi-square for categorical columns.
    const ks = await detectFeatureDrift(ref, cur, { method: 'ks' });
    expect(feature(ks, 'color').chi2).toBeDefined();
    expect(feature(ks, 'color').ks).toBeUndefined();
  });

  it('reports prediction and label drift as columns with roles', async () => {
    const ref = batch([f64('x', normals(5000, 5)), f64('score', normals(5000, 6)), f64('y', normals(5000, 7))]);
    const cur = batch([f64('x', normals(5000, 8)), f64('score', normals(5000, 9, 1)), f64('y', normals(5000, 10))]);
    const r = await detectFeatureDrift(ref, cur, { features: ['x'], prediction: 'score', label: 'y' });
    expect(r.features.map((f) => [f.name, f.role])).toEqual([['x', 'feature'], ['score', 'prediction'], ['y', 'label']]);
    expect(r.summary.predictionDrift).toBe(true);
    expect(r.summary.labelDrift).toBe(false);
  });

  it('fails closed on unknown methods, missing columns and kind mismatches', async () => {
    const ref = batch([f64('x', normals(100, 1))]);
    await expect(detectFeatureDrift(ref, ref, { method: 't-test' as never })).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(detectFeatureDrift(ref, batch([f64('z', normals(100, 1))]))).rejects.toMatchObject({ code: 'E_SCHEMA', message: expect.stringMatching(/"x" is in the reference but not in the current/) });
    await expect(detectFeatureDrift(ref, batch([columnFromValues('x', 'utf8', Array(100).fill('a'))]))).rejects.toMatchObject({ code: 'E_SCHEMA' });
    await expect(detectFeatureDrift(ref, ref, { nBins: 1 })).rejects.toMatchObject({ code: 'E_USAGE' });
  });

  it('produces reports valid against schemas/drift-report.schema.json and HTML that escapes names', async () => {
    const evil = '<script>alert("x")</script>';
    const ref = batch([f64(evil, normals(2000, 1)), columnFromValues('c&d', 'utf8', Array.from({ length: 2000 }, (_, i) => (i % 3 ? '<b>' : 'ok')))]);
    const cur = batch([f64(evil, normals(2000, 2, 2)), columnFromValues('c&d', 'utf8', Array.from({ length: 2000 }, (_, i) => (i % 2 ? '<b>' : 'new')))]);
    const r = await detectFeatureDrift(ref, cur, { method: ['ks', 'psi', 'kl', 'js', 'chi2'], wasserstein: true });
    assertValid(schemaPath('drift-report.schema.json'), JSON.parse(JSON.stringify(r)), 'drift report');
    const html = renderDriftHtml(r);
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(html).toContain('c&amp;d');
    expect(html.match(/<svg /g)!.length).toBe(2);
    expect(html).not.toMatch(/<link|src=|href="http/);
  });
});

describe('FeatureDriftDetector and the histogram baseline', () => {
  const ref = batch([f64('a', normals(20000, 11)), f64('b', normals(20000, 12)), columnFromValues('k', 'utf8', Array.from({ length: 20000 }, (_, i) => ['x', 'y', 'z'][i % 3]!))]);
  const cur = batch([f64('a', normals(15000, 13, 0.6)), f64('b', normals(15000, 14)), columnFromValues('k', 'utf8', Array.from({ length: 15000 }, (_, i) => ['x', 'y', 'w'][i % 3]!))]);

  it('fit once / detect gives the same statistics as detectFeatureDrift', async () => {
    const det = new FeatureDriftDetector({ method: 'psi', threshold: 0.1 });
    await det.fit(ref);
    const a = await det.detect(cur);
    const b = await detectFeatureDrift(ref, cur, { method: 'psi', threshold: 0.1 });
    expect(a.features.map((f) => [f.name, f.psi!.value, f.drifted])).toEqual(b.features.map((f) => [f.name, f.psi!.value, f.drifted]));
    expect(a.options.thresholds).toEqual({ psi: 0.1 });
    const ks = await new FeatureDriftDetector({ method: 'ks' }).fit(ref);
    const k1 = await ks.detect(cur);
    const k2 = await detectFeatureDrift(ref, cur, { method: 'ks' });
    expect(k1.features.map((f) => f.ks?.statistic ?? f.chi2?.statistic)).toEqual(k2.features.map((f) => f.ks?.statistic ?? f.chi2?.statistic));
    await expect(new FeatureDriftDetector().detect(cur)).rejects.toMatchObject({ code: 'E_USAGE' });
  });

  it('setBaseline / detectDrift (KL) equal the raw-data KL and survive a JSON round trip', async () => {
    const baseline = JSON.parse(JSON.stringify(await setBaseline(ref, { nBins: 10 })));
    const viaBaseline = await detectDrift(cur, baseline);
    const direct = await detectFeatureDrift(ref, cur, { method: 'kl' });
    for (const f of direct.features) expect(feature(viaBaseline, f.name).kl!.value).toBeCloseTo(f.kl!.value, 12);
    expect(feature(viaBaseline, 'a').drifted).toBe(true);
    expect(feature(viaBaseline, 'b').drifted).toBe(false);
    await expect(detectDrift(cur, baseline, { method: 'ks' })).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(detectDrift(cur, { ...baseline, version: 2 })).rejects.toMatchObject({ code: 'E_SCHEMA' });
  });
});
