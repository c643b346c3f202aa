// kiln predict --log-dir and kiln feedback merge: logged predictions + outcomes/overrides → a retraining dataset.
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { GBDT } from '../../src/index.js';
import { json, kiln } from '../helpers/cli.js';
import { makeTemp, rmTemp } from '../helpers/paths.js';

const tmp = makeTemp('kiln-feedback-');
afterAll(() => rmTemp(tmp));
const p = (f: string): string => path.join(tmp, f);

const N = 300;
beforeAll(async () => {
  const x = Float64Array.from({ length: N * 2 }, (_, i) => Math.sin(i * 12.9898) * 0.5 + 0.5);
  const y = Float64Array.from({ length: N }, (_, r) => (x[2 * r]! + 0.5 * x[2 * r + 1]! > 0.75 ? 1 : 0));
  const model = await new GBDT({ nEstimators: 10, numLeaves: 4, seed: 1 }).fit({ values: x, rows: N, cols: 2, featureNames: ['a', 'b'] }, y);
  model.setClasses(['no', 'yes']);
  await model.save(p('model.json'));
  fs.writeFileSync(p('requests.csv'), ['request_id,a,b', ...Array.from({ length: N }, (_, r) => `q${r},${x[2 * r]},${x[2 * r + 1]}`)].join('\n') + '\n');
  const outcomes = ['request_id,outcome,kind'];
  for (let r = 0; r < N; r++) {
    if (r % 4 === 0) outcomes.push(`q${r},${y[r] ? 'yes' : 'no'},outcome`);
    if (r % 4 === 0 || r % 4 === 1) outcomes.push(`q${r},yes,override`);
  }
  outcomes.push('q9999,no,outcome');
  fs.writeFileSync(p('outcomes.csv'), outcomes.join('\n') + '\n');
});

describe('predict --log-dir, then feedback merge', () => {
  it('logs one line per prediction with the model version, feature hash, output and label', () => {
    const r = kiln(['predict', '--model', p('model.json'), '--data', p('requests.csv'), '--out', p('scores.csv'), '--labels', '--id', 'request_id', '--log-dir', p('log'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(json<{ logged: number }>(r).logged).toBe(N);
    const lines = fs.readFileSync(path.join(p('log'), 'predictions-000001.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(N);
    const scores = fs.readFileSync(p('scores.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
    expect(lines[7]).toMatchObject({ id: 'q7', model: p('model.json'), output: Number(scores[7]![0]), label: scores[7]![1] });
    expect(lines[7].modelVersion).toMatch(/^[0-9a-f]{64}$/);
    expect(lines[7].featureHash).not.toBe(lines[8].featureHash);
  });

  it('joins outcomes (which win) and overrides, counts what did not match, and writes provenance and a receipt', () => {
    // A second scoring of the first 10 rows: repeated ids keep the latest prediction.
    fs.writeFileSync(p('again.csv'), fs.readFileSync(p('requests.csv'), 'utf8').split('\n').slice(0, 11).join('\n') + '\n');
    expect(kiln(['predict', '--model', p('model.json'), '--data', p('again.csv'), '--out', p('again-scores.csv'), '--id', 'request_id', '--log-dir', p('log')]).code).toBe(0);
    const r = kiln(['feedback', 'merge', '--predictions', p('log'), '--outcomes', p('outcomes.csv'), '--id', 'request_id', '--features', p('requests.csv'), '--out', p('retrain.csv'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const res = json<{ rows: number; counts: Record<string, number> }>(r);
    const byOutcome = Math.ceil(N / 4), overrideOnly = Math.floor((N + 2) / 4);
    expect(res.counts).toMatchObject({ predictions: N, duplicatePredictions: 10, outcomes: byOutcome + 1, overrides: byOutcome + overrideOnly, matched: byOutcome + overrideOnly, matchedByOutcome: byOutcome, matchedByOverride: overrideOnly, unmatchedPredictions: N - byOutcome - overrideOnly, unmatchedOutcomes: 1, missingFeatures: 0 });
    const rows = fs.readFileSync(p('retrain.csv'), 'utf8').trim().split('\n');
    expect(rows[0]).toBe('request_id,model,model_version,feature_hash,output,predicted_label,predicted_at,label,label_source,a,b');
    expect(rows).toHaveLength(res.rows + 1);
    const q1 = rows.find((l) => l.startsWith('q1,'))!.split(',');
    expect(q1.slice(7, 9)).toEqual(['yes', 'override']);
    const q4 = rows.find((l) => l.startsWith('q4,'))!.split(',');
    expect(q4[8]).toBe('outcome');
    const prov = JSON.parse(fs.readFileSync(p('retrain.csv.provenance.json'), 'utf8'));
    expect(prov.inputs.map((i: { role: string }) => i.role)).toEqual(['prediction-log', 'outcomes', 'features']);
    expect(prov.counts.matched).toBe(res.rows);
    expect(JSON.parse(fs.readFileSync(p('retrain.csv.receipt.json'), 'utf8')).counts.matched).toBe(res.rows);
  });

  it('fails closed with exit 2 and writes nothing on bad outcome files', () => {
    fs.writeFileSync(p('bad-kind.csv'), 'request_id,outcome,kind\nq1,yes,maybe\n');
    const a = kiln(['feedback', 'merge', '--predictions', p('log'), '--outcomes', p('bad-kind.csv'), '--id', 'request_id', '--out', p('bad.parquet')]);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/'outcome' or 'override'/);
    fs.writeFileSync(p('no-id.csv'), 'ticket,outcome\nq1,yes\n');
    const b = kiln(['feedback', 'merge', '--predictions', p('log'), '--outcomes', p('no-id.csv'), '--id', 'request_id', '--out', p('bad.parquet')]);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/no column "request_id"/);
    expect(fs.existsSync(p('bad.parquet'))).toBe(false);
    const c = kiln(['feedback', 'merge', '--predictions', p('nolog'), '--outcomes', p('outcomes.csv'), '--out', p('bad.parquet')]);
    expect(c.code).toBe(2);
  });
});
