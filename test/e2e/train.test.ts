// kiln train / reproduce / runs end to end on the shared real datasets.
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { json, kilnAsync as kiln } from '../helpers/cli.js';
import { DATASETS, makeTemp, rmTemp } from '../helpers/paths.js';

const ADULT_TRAIN = path.join(DATASETS, 'adult', 'adult.data.csv');
const ADULT_TEST = path.join(DATASETS, 'adult', 'adult.test.csv');
const BANK = path.join(DATASETS, 'bank_marketing', 'bank-full.csv');

const tmp = makeTemp('kiln-train-e2e-');
const env = { KILN_HOME: path.join(tmp, 'home') };
afterAll(() => rmTemp(tmp));

interface Summary {
  ok: boolean;
  runId: string;
  experiment: string;
  model: string;
  modelSha256: string;
  classes: string[] | null;
  rows: { train: number; valid: number; test: number };
  metrics: Record<string, Record<string, number>>;
  threshold: { value: number; objective: string } | null;
  gate: { passed: boolean; failures: string[] };
  registered: { name: string; version: number } | null;
  warnings: string[];
}

async function train(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number | null; summary: Summary | null; stderr: string; stdout: string }> {
  const r = await kiln(['train', '--json', '--out-dir', path.join(tmp, 'experiments'), ...args], { env: { ...env, ...extraEnv } });
  let summary: Summary | null = null;
  try {
    summary = JSON.parse(r.stdout) as Summary;
  } catch {
    summary = null;
  }
  return { code: r.code, summary, stderr: r.stderr, stdout: r.stdout };
}

describe('kiln train on adult (defaults: GBDT, isotonic, F1 threshold)', () => {
  let run: Summary;
  beforeAll(async () => {
    const r = await train(['--data', ADULT_TRAIN, '--test-data', ADULT_TEST, '--target', 'class', '--register', 'adult']);
    expect(r.code, r.stderr).toBe(0);
    run = r.summary!;
  }, 180_000);

  it('reaches test AUC >= 0.92 with string labels and categorical string columns', async () => {
    expect(run.classes).toEqual(['<=50K', '>50K']);
    expect(run.metrics.test!.rocAuc).toBeGreaterThanOrEqual(0.92);
    expect(run.rows.test).toBe(16281);
    expect(run.rows.train + run.rows.valid).toBe(32561);
  });

  it('writes the whole experiment folder', async () => {
    const dir = run.experiment;
    expect(path.basename(dir)).toMatch(/^train_adult\.data_\d{8}_\d{6}$/);
    for (const f of ['metadata.json', 'parameters.json', 'model.json', 'metrics.json', 'card.json', 'card.html', 'receipt.json', 'logs/train.log', 'artifacts/config.json', 'artifacts/data.json', 'predictions/valid.csv', 'predictions/test.csv']) {
      expect(fs.existsSync(path.join(dir, f)), f).toBe(true);
    }
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'metadata.json'), 'utf8'));
    expect(meta.runId).toBe(run.runId);
    expect(meta.seed).toBe(42);
    expect(meta.environment.node).toBe(process.version);
    expect(['avx2', 'scalar']).toContain(meta.environment.simdLevel);
    expect(meta.environment.packages['@duckdb/node-api']).toMatch(/^\d/);
    const data = JSON.parse(fs.readFileSync(path.join(dir, 'artifacts', 'data.json'), 'utf8'));
    expect(data.sources.map((s: { role: string }) => s.role)).toEqual(['train', 'test']);
    expect(data.sources[0].sha256).toMatch(/^[0-9a-f]{64}$/);
    const model = JSON.parse(fs.readFileSync(run.model, 'utf8'));
    expect(model.calibration.method).toBe('isotonic');
    expect(model.threshold.objective).toBe('f1');
    expect(model.threshold.value).toBeCloseTo(run.threshold!.value, 12);
    const preds = fs.readFileSync(path.join(dir, 'predictions', 'test.csv'), 'utf8').trim().split('\n');
    expect(preds[0]).toBe('row,actual,predicted,p_>50K');
    expect(preds).toHaveLength(16282);
    expect(fs.readFileSync(path.join(dir, 'card.html'), 'utf8')).toContain('<svg');
  });

  it('records the run in the run store and the registry', async () => {
    const list = await kiln(['runs', 'list', '--json'], { env });
    expect(list.code, list.stderr).toBe(0);
    const runs = json<{ runs: Array<{ runId: string }> }>(list).runs;
    expect(runs.map((r) => r.runId)).toContain(run.runId);
    const show = await kiln(['runs', 'show', run.runId.slice(0, 8)], { env });
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain(run.runId);
    expect(run.registered).toMatchObject({ name: 'adult', version: 1 });
  });

  it('kiln predict --labels scores with the registered model: calibrated probabilities, stored threshold, class names', async () => {
    const out = path.join(tmp, 'scores.csv');
    const r = await kiln(['predict', '--model', 'registry:adult', '--data', ADULT_TEST, '--out', out, '--labels', '--keep', 'age', '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(json<{ rows: number; calibrated: boolean; threshold: number }>(r)).toMatchObject({ rows: 16281, calibrated: true, threshold: run.threshold!.value });
    const lines = fs.readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('age,p_>50K,label');
    expect(lines).toHaveLength(16282);
    const testPreds = fs.readFileSync(path.join(run.experiment, 'predictions', 'test.csv'), 'utf8').trim().split('\n');
    for (let i = 1; i < lines.length; i += 997) {
      const [, p, label] = lines[i]!.split(',');
      expect(label).toBe(Number(p) >= run.threshold!.value ? '>50K' : '<=50K');
      expect(testPreds[i]!.split(',').slice(2)).toEqual([label, p]);
    }
    const missing = await kiln(['predict', '--model', run.model, '--data', BANK, '--out', path.join(tmp, 'nope.csv')], { env });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/column "age"|column "workclass"/);
    expect(fs.existsSync(path.join(tmp, 'nope.csv'))).toBe(false);
  });

  it('kiln monitor: healthy on the test file, failing on a drifted window with wrong labels', async () => {
    const ok = await kiln(['monitor', '--model', 'registry:adult', '--data', ADULT_TEST, '--labels', 'class', '--json'], { env });
    expect(ok.code, ok.stderr).toBe(0);
    const h = json<{ overall: string; performance: { value: number; baseline: number }; drift: { features: Array<{ name: string; drifted: boolean }> } }>(ok);
    expect(h.overall).toBe('healthy');
    expect(h.performance.baseline).toBeCloseTo(run.metrics.test!.f1!, 12);
    expect(h.performance.value).toBeCloseTo(run.metrics.test!.f1!, 12);
    expect(h.drift.features).toHaveLength(14);
    const lines = fs.readFileSync(ADULT_TEST, 'utf8').trim().split('\n');
    const head = lines[0]!.split(',');
    const age = head.indexOf('age'), hours = head.indexOf('hours-per-week'), cls = head.indexOf('class');
    const drifted = [lines[0], ...lines.slice(1, 4001).map((l) => {
      const f = l.split(',');
      f[age] = String(Number(f[age]) + 25);
      f[hours] = String(Number(f[hours]) * 2);
      f[cls] = f[cls]!.includes('>') ? '<=50K' : '>50K';
      return f.join(',');
    })].join('\n') + '\n';
    const window = path.join(tmp, 'drifted-window.csv');
    fs.writeFileSync(window, drifted);
    const out = path.join(tmp, 'health.json');
    const bad = await kiln(['monitor', '--model', 'registry:adult', '--data', window, '--labels', 'class', '--out', out, path.join(tmp, 'health.prom'), '--fail-on', 'critical'], { env });
    expect(bad.code, bad.stderr).toBe(1);
    expect(bad.stdout).toMatch(/model health: CRITICAL \(retraining required\)/);
    const report = JSON.parse(fs.readFileSync(out, 'utf8'));
    expect(report.drift.features.filter((f: { drifted: boolean }) => f.drifted).map((f: { name: string }) => f.name)).toEqual(expect.arrayContaining(['age', 'hours-per-week']));
    expect(report.performance.status).toBe('critical');
    expect(fs.readFileSync(path.join(tmp, 'health.prom'), 'utf8')).toMatch(/^kiln_model_drift_score\{feature="age"\} /m);
  }, 60_000);

  it('kiln reproduce rebuilds the identical model', async () => {
    const again = await kiln(['reproduce', run.runId, '--json'], { env });
    expect(again.code, again.stderr).toBe(0);
    expect(json<{ match: boolean; actualModelSha256: string }>(again)).toMatchObject({ match: true, actualModelSha256: run.modelSha256 });
  }, 180_000);
});

describe('reproducibility and fail-closed inputs', () => {
  const small = path.join(tmp, 'adult-small.csv');
  beforeAll(() => {
    const lines = fs.readFileSync(ADULT_TRAIN, 'utf8').split('\n');
    fs.writeFileSync(small, lines.slice(0, 4001).join('\n') + '\n');
  });

  it('gives the same model hash for the same seed, with 1 and 2 threads', async () => {
    const a = await train(['--data', small, '--target', 'class', '--threads', '1']);
    const b = await train(['--data', small, '--target', 'class', '--threads', '2']);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(a.summary!.modelSha256).toBe(b.summary!.modelSha256);
    expect(fs.readFileSync(a.summary!.model, 'utf8')).toBe(fs.readFileSync(b.summary!.model, 'utf8'));
    const c = await train(['--data', small, '--target', 'class', '--seed', '7']);
    expect(c.summary!.modelSha256).not.toBe(a.summary!.modelSha256);
  }, 120_000);

  it('reproduce exits 2 naming the file when an input changed, leaving the run alone', async () => {
    const copy = path.join(tmp, 'adult-copy.csv');
    fs.copyFileSync(small, copy);
    const a = await train(['--data', copy, '--target', 'class', '--row-limit', '2000']);
    expect(a.code, a.stderr).toBe(0);
    fs.appendFileSync(copy, '39, State-gov, 77516, Bachelors, 13, Never-married, Adm-clerical, Not-in-family, White, Male, 2174, 0, 40, United-States, <=50K\n');
    const r = await kiln(['reproduce', a.summary!.experiment], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('adult-copy.csv');
    expect(r.stderr).toMatch(/changed/);
    expect(fs.existsSync(path.join(a.summary!.experiment, 'model.json'))).toBe(true);
  }, 120_000);

  it('--row-limit reads at most that many rows', async () => {
    const r = await train(['--data', small, '--target', 'class', '--row-limit', '1000']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.summary!.rows.train + r.summary!.rows.valid + r.summary!.rows.test).toBe(1000);
  }, 60_000);

  it('--copy-data keeps a content-addressed copy of the inputs in the dataset store', async () => {
    const r = await train(['--data', small, '--target', 'class', '--row-limit', '1500', '--copy-data']);
    expect(r.code, r.stderr).toBe(0);
    const data = JSON.parse(fs.readFileSync(path.join(r.summary!.experiment, 'artifacts', 'data.json'), 'utf8'));
    expect(data.sources[0]).toMatchObject({ role: 'train', copied: true });
    const show = await kiln(['data', 'show', data.sources[0].datasetId, '--verify', '--json'], { env });
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain(data.sources[0].sha256);
  }, 60_000);

  it('--min-samples fails closed with exit 1 and publishes nothing', async () => {
    const out = path.join(tmp, 'min-samples');
    const r = await kiln(['train', '--data', small, '--target', 'class', '--min-samples', '100000', '--out-dir', out], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/min-samples/);
    expect(fs.existsSync(out) ? fs.readdirSync(out) : []).toEqual([]);
  });

  it('fails closed when a class is missing from a split', async () => {
    const one = path.join(tmp, 'one-positive.csv');
    const lines = fs.readFileSync(small, 'utf8').trim().split('\n');
    const neg = lines.slice(1).filter((l) => l.trim().endsWith('<=50K'));
    const pos = lines.slice(1).filter((l) => l.trim().endsWith('>50K'));
    fs.writeFileSync(one, [lines[0], ...neg.slice(0, 300), pos[0]].join('\n') + '\n');
    const r = await kiln(['train', '--data', one, '--target', 'class', '--out-dir', path.join(tmp, 'one-pos')], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/missing from the (valid|test) split/);
  });

  it('--validate-features names the column and row of a non-finite value', async () => {
    const bad = path.join(tmp, 'bad-features.csv');
    fs.writeFileSync(bad, ['x,z,label', ...Array.from({ length: 200 }, (_, i) => `${i === 57 ? 'inf' : i % 7},${i % 3},${i % 2}`)].join('\n') + '\n');
    const r = await kiln(['train', '--data', bad, '--validate-features', '--out-dir', path.join(tmp, 'bad-out')], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/column "x" is infinite at row 58/);
    const ok = await kiln(['train', '--data', bad, '--validate-features', '--validate-limit', '50', '--out-dir', path.join(tmp, 'bad-out')], { env });
    expect(ok.code, ok.stderr).toBe(0);
  }, 60_000);

  it('refuses unusable flags with exit 2 and a clear message', async () => {
    const r = await kiln(['train', '--data', path.join(tmp, 'nope.csv')], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/nope\.csv: no such file/);
    const help = await kiln(['train', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Examples?:[\s\S]*kiln train --data/);
  });
});

describe('kiln train on bank_marketing without duration', () => {
  it('reaches test AUC >= 0.79 and isotonic calibration lowers ECE', async () => {
    const cfg = path.join(tmp, 'bank.yaml');
    fs.writeFileSync(cfg, ['version: 1', 'name: bank', 'data:', '  target: y', '  exclude: [duration]', 'split: { kind: stratified, valid: 0.2, test: 0.2 }', 'calibration: { method: isotonic }', ''].join('\n'));
    const r = await train(['--data', BANK, '--config', cfg]);
    expect(r.code, r.stderr).toBe(0);
    const s = r.summary!;
    expect(s.classes).toEqual(['no', 'yes']);
    expect(s.metrics.test!.rocAuc).toBeGreaterThanOrEqual(0.79);
    const metrics = JSON.parse(fs.readFileSync(path.join(s.experiment, 'metrics.json'), 'utf8'));
    expect(metrics.calibration.after.ece).toBeLessThan(metrics.calibration.before.ece);
    const data = JSON.parse(fs.readFileSync(path.join(s.experiment, 'artifacts', 'data.json'), 'utf8'));
    expect(data.features).not.toContain('duration');
  }, 180_000);
});

describe('kiln train on kiln features output (crypto, seed 004 CLI shape)', () => {
  it('trains on the BTC rows of the feature folder with --config --output --symbol --verbose', async () => {
    const features = path.join(tmp, 'crypto-features');
    const f = await kiln(['features', path.join('examples', 'crypto', 'features.yaml'), '--out-dir', features], { env });
    expect(f.code, f.stderr).toBe(0);
    const config = path.join(tmp, 'crypto-config.json');
    fs.writeFileSync(config, JSON.stringify({ version: 1, name: 'btc_up', model: { kind: 'gbdt', params: { nEstimators: 60, numLeaves: 7 } }, calibration: { method: 'sigmoid' } }));
    const output = path.join(tmp, 'results.json');
    const r = await kiln(['train', '--data', features, '--config', config, '--output', output, '--symbol', 'BTC', '--verbose', '--out-dir', path.join(tmp, 'experiments')], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/round 1\/60/);
    const res = JSON.parse(fs.readFileSync(output, 'utf8')) as Summary;
    expect(res.name).toBe('btc_up');
    expect(res.classes).toEqual(['false', 'true']);
    const schema = JSON.parse(fs.readFileSync(path.join(features, 'feature-schema.json'), 'utf8'));
    const all = Object.values(schema.files as Record<string, { rows: number }>).reduce((n, x) => n + x.rows, 0);
    const btc = res.rows.train + res.rows.valid + res.rows.test;
    expect(btc).toBeGreaterThan(all / 2 - 10);
    expect(btc).toBeLessThan(all / 2 + 10);
    const data = JSON.parse(fs.readFileSync(path.join(res.experiment, 'artifacts', 'data.json'), 'utf8'));
    expect(data.target).toBe('up_next_day');
    expect(data.features).not.toContain('symbol');
    expect(data.features).not.toContain('ts');
  }, 120_000);
});

describe('the quickstart events example, end to end', () => {
  it('features with --stream and validation, then a tiny logistic regression with --row-limit 500', async () => {
    const features = path.join(tmp, 'quickstart-features');
    const f = await kiln(['features', path.join('examples', 'quickstart-events', 'events.parquet'), '--spec', path.join('examples', 'quickstart-events', 'features.yaml'), '--out-dir', features, '--stream', '--validate-in', '--validate-out', '--validate-limit', '500'], { env });
    expect(f.code, f.stderr).toBe(0);
    const r = await train(['--data', features, '--model', 'logreg', '--row-limit', '500']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.summary!.name).toBe('quickstart-features');
    expect(r.summary!.rows.train + r.summary!.rows.valid + r.summary!.rows.test).toBe(400);
    expect(JSON.parse(fs.readFileSync(r.summary!.model, 'utf8')).kind).toBe('linear');
    expect(r.summary!.metrics.test!.rocAuc).toBeGreaterThan(0.9);
  }, 120_000);
});

describe('kiln train --model stack', () => {
  it('writes one stack model file whose probabilities come from its members', async () => {
    const small = path.join(tmp, 'adult-stack.csv');
    fs.writeFileSync(small, fs.readFileSync(ADULT_TRAIN, 'utf8').split('\n').slice(0, 3001).join('\n') + '\n');
    const cfg = path.join(tmp, 'stack.json');
    fs.writeFileSync(cfg, JSON.stringify({ version: 1, model: { kind: 'stack', folds: 3, members: [{ name: 'trees', kind: 'gbdt', params: { nEstimators: 40 } }, { name: 'linear', kind: 'logreg' }] } }));
    const r = await train(['--data', small, '--target', 'class', '--config', cfg]);
    expect(r.code, r.stderr).toBe(0);
    const model = JSON.parse(fs.readFileSync(r.summary!.model, 'utf8'));
    expect(model.kind).toBe('stack');
    expect(model.members.map((m: { name: string }) => m.name)).toEqual(['trees', 'linear']);
    expect(model.calibration.method).toBe('isotonic');
    expect(r.summary!.metrics.test!.rocAuc).toBeGreaterThan(0.85);
  }, 120_000);
});
