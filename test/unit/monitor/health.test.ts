// ModelMonitor: rolling window, drift against the reference, performance and calibration on
// labelled rows, recommendations, Prometheus and HTML output.
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { ColumnBatch, columnFromValues } from '../../../src/batch/column-batch.js';
import { ModelMonitor, prometheusText, type HealthReport } from '../../../src/index.js';
import { seededRandom } from '../../../src/validate/corpus.js';
import { expectCode } from '../../helpers/errors.js';
import { makeTemp, rmTemp } from '../../helpers/paths.js';

const tmp = makeTemp('kiln-monitor-');
afterAll(() => rmTemp(tmp));

function normal(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
}

/** Rows with x ~ N(shift, 1), z ~ N(0, 1), a category, and y = 1 when x + z > 0 (probability from a logistic). */
function data(n: number, seed: number, shift = 0): { X: ColumnBatch; p: Float64Array; y: Float64Array } {
  const r = seededRandom(seed);
  const x: number[] = [], z: number[] = [], c: string[] = [];
  const p = new Float64Array(n), y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    x.push(normal(r) + shift);
    z.push(normal(r));
    c.push(r() < 0.7 ? 'a' : 'b');
    p[i] = 1 / (1 + Math.exp(-2 * (x[i]! - shift + z[i]!)));
    y[i] = r() < p[i]! ? 1 : 0;
  }
  return { X: new ColumnBatch([columnFromValues('x', 'float64', x), columnFromValues('z "weird"\nname', 'float64', z), columnFromValues('c', 'utf8', c)], n), p, y };
}

describe('ModelMonitor', () => {
  const ref = data(5000, 1);

  it('a window like the reference is healthy', async () => {
    const m = new ModelMonitor({ reference: ref.X, referencePredictions: ref.p, baselinePerformance: 0.8 });
    const w = data(3000, 2);
    m.updatePredictions({ features: w.X, predictions: w.p, labels: w.y, timestamp: '2026-11-23T00:00:00Z' });
    const h = await m.checkHealth();
    expect(h.overall).toBe('healthy');
    expect(h.requiresRetraining).toBe(false);
    expect(h.window).toMatchObject({ rows: 3000, labelled: 3000, from: '2026-11-23T00:00:00.000Z' });
    expect(h.drift.features.map((f) => f.name)).toEqual(['x', 'z "weird"\nname', 'c']);
    expect(h.drift.drifted).toBe(false);
    expect(h.drift.predictionDrift).toBe(false);
    expect(h.calibration!.ece).toBeLessThan(0.05);
    expect(h.performance!.value).toBeGreaterThan(0.7);
    expect(h.recommendations).toEqual(['no action needed']);
  });

  it('a shifted feature drifts, and broken predictions need retraining', async () => {
    const m = new ModelMonitor({ reference: ref.X, referencePredictions: ref.p, baselinePerformance: 0.8, maxDriftShare: 0.3 });
    const w = data(3000, 3, 1.5);
    const wrong = Float64Array.from(w.p, (v) => 1 - v);
    m.updatePredictions({ features: w.X, predictions: wrong, labels: w.y });
    const h = await m.checkHealth();
    expect(h.drift.features.find((f) => f.name === 'x')!.drifted).toBe(true);
    expect(h.drift.features.find((f) => f.name === 'c')!.drifted).toBe(false);
    expect(h.drift.status).toBe('critical');
    expect(h.performance!.status).toBe('critical');
    expect(h.performance!.relativeDrop!).toBeGreaterThan(0.1);
    expect(h.calibration!.status).toBe('warning');
    expect(h.overall).toBe('critical');
    expect(h.requiresRetraining).toBe(true);
    expect(h.recommendations[0]).toMatch(/^retrain/);
    expect(h.recommendations.join('\n')).toMatch(/drifted feature x/);
  });

  it('judges performance only with enough labels, and keeps a rolling window by rows and by age', async () => {
    const m = new ModelMonitor({ reference: ref.X, windowSize: 1000, windowMs: 60_000, minLabelled: 200 });
    const a = data(800, 4), b = data(800, 5);
    m.updatePredictions({ features: a.X, predictions: a.p, timestamp: 0 });
    expect(m.windowRows).toBe(800);
    m.updatePredictions({ features: b.X, predictions: b.p, labels: Float64Array.from(b.y, (v, i) => (i < 150 ? v : Number.NaN)), timestamp: 30_000 });
    expect(m.windowRows).toBe(1000);
    let h = await m.checkHealth();
    expect(h.window.labelled).toBe(150);
    expect(h.performance).toBeNull();
    expect(h.recommendations.join('\n')).toMatch(/only 150 labelled rows/);
    m.updatePredictions({ features: a.X.select(a.X.names), predictions: a.p, labels: a.y, timestamp: 120_000 });
    expect(m.windowRows).toBe(800);
    h = await m.checkHealth();
    expect(h.window.labelled).toBe(800);
    expect(h.performance).not.toBeNull();
  });

  it('writes Prometheus gauges with escaped labels, JSON and self-contained HTML', async () => {
    const m = new ModelMonitor({ reference: ref.X, referencePredictions: ref.p });
    const w = data(1000, 6);
    m.updatePredictions({ features: w.X, predictions: w.p, labels: w.y, disagreement: new Float64Array(1000).fill(0.02) });
    const h: HealthReport = await m.generateReport(path.join(tmp, 'health.json'));
    expect(JSON.parse(fs.readFileSync(path.join(tmp, 'health.json'), 'utf8'))).toEqual(h);
    const prom = prometheusText(h);
    expect(prom).toContain('kiln_model_drift_score{feature="z \\"weird\\"\\nname"} ');
    expect(prom).toMatch(/^kiln_model_performance_score 0\.\d+$/m);
    expect(prom).toMatch(/^kiln_model_calibration_error 0\.\d+$/m);
    expect(prom).toMatch(/^kiln_ensemble_disagreement 0\.02$/m);
    for (const line of prom.trim().split('\n')) expect(line).toMatch(/^(# (HELP|TYPE) kiln_\w+ .+|kiln_\w+(\{feature="(?:[^"\\\n]|\\["\\n])*"\})? (NaN|[-+0-9.e]+))$/);
    await m.generateReport(path.join(tmp, 'health.html'));
    const html = fs.readFileSync(path.join(tmp, 'health.html'), 'utf8');
    expect(html).toContain('z &quot;weird&quot;');
    expect(html).not.toMatch(/<script|https?:\/\//);
    expect(m.prometheus()).toBe(prometheusText((m as unknown as { lastReport: HealthReport }).lastReport));
  });

  it('refuses bad input', async () => {
    expectCode(() => new ModelMonitor({} as never), 'E_USAGE');
    const m = new ModelMonitor({ reference: ref.X });
    await expect(m.checkHealth()).rejects.toThrow(/window is empty/);
    const w = data(10, 7);
    expectCode(() => m.updatePredictions({ features: w.X, predictions: w.p.subarray(0, 5) }), 'E_USAGE');
    expectCode(() => m.updatePredictions({ features: w.X, predictions: w.p, labels: new Float64Array(10).fill(3) }), 'E_USAGE');
    expectCode(() => m.updatePredictions({ features: w.X, predictions: w.p, timestamp: 'yesterday' }), 'E_USAGE');
    m.updatePredictions({ features: w.X, predictions: w.p });
    expectCode(() => m.updatePredictions({ features: w.X.select(['x']), predictions: w.p }), 'E_USAGE');
    expectCode(() => m.prometheus(), 'E_USAGE');
  });
});
