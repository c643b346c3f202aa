// `kiln drift` on real files: exit codes, report.json shape and schema, HTML report, bad usage.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertValid } from '../../src/validate/schema.js';
import { schemaPath } from '../../src/version.js';
import { seededRandom } from '../../src/validate/corpus.js';
import { json, kiln } from '../helpers/cli.js';
import { DATASETS, makeTemp, rmTemp } from '../helpers/paths.js';

let dir: string;
let ref: string;
let cur: string;

function writeCsv(file: string, rows: number, seed: number, shift: number): void {
  const rnd = seededRandom(seed);
  const lines = ['id,amount,score,channel,"odd ""name"""'];
  for (let i = 0; i < rows; i++) {
    const amount = (rnd() * 100 + shift * 60).toFixed(3);
    const score = rnd().toFixed(4);
    const channel = rnd() < 0.5 ? 'web' : shift > 0 && rnd() < 0.3 ? 'kiosk' : 'app';
    lines.push(`${i},${amount},${score},${channel},${i % 7}`);
  }
  fs.writeFileSync(file, lines.join('\n') + '\n');
}

beforeAll(() => {
  dir = makeTemp('kiln-drift-e2e-');
  ref = path.join(dir, 'ref.csv');
  cur = path.join(dir, 'cur.csv');
  writeCsv(ref, 4000, 1, 0);
  writeCsv(cur, 3000, 2, 1);
});
afterAll(() => rmTemp(dir));

describe('kiln drift', () => {
  it('--help shows an example', () => {
    const r = kiln(['drift', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Examples?:\n\s+\$ kiln drift --reference/);
  });

  it('exit 1 on drift with --fail-on-drift, 0 without it; writes report.json and HTML', () => {
    const out = path.join(dir, 'report.json');
    const html = path.join(dir, 'report.html');
    const gate = kiln(['drift', '--reference', ref, '--current', cur, '--features', 'amount,score,channel', '--method', 'ks,psi,kl,chi2', '--out', out, '--html', html, '--fail-on-drift']);
    expect(gate.code, gate.stderr).toBe(1);
    expect(gate.stdout).toMatch(/amount\s+numeric\s+DRIFT/);
    expect(gate.stderr).toMatch(/kiln: numeric columns 1-2 of 2: reading…/);
    const report = JSON.parse(fs.readFileSync(out, 'utf8'));
    assertValid(schemaPath('drift-report.schema.json'), report, 'report.json');
    expect(report.drifted).toBe(true);
    const byName = Object.fromEntries(report.features.map((f: { name: string }) => [f.name, f]));
    expect(byName.amount).toMatchObject({ kind: 'numeric', drifted: true, ks: { statistic: expect.any(Number), pValue: expect.any(Number) }, psi: { value: expect.any(Number) }, kl: { value: expect.any(Number) }, chi2: { statistic: expect.any(Number), pValue: expect.any(Number) } });
    expect(byName.score).toMatchObject({ kind: 'numeric', drifted: false });
    expect(byName.channel).toMatchObject({ kind: 'categorical', drifted: true });
    expect(byName.channel.ks).toBeUndefined();
    expect(byName.channel.histogram.categories).toContain('(unseen)');
    const page = fs.readFileSync(html, 'utf8');
    expect(page.match(/<svg /g)!.length).toBe(3);
    expect(kiln(['drift', '--reference', ref, '--current', cur, '--features', 'amount']).code).toBe(0);
  });

  it('exit 0 with --fail-on-drift when nothing drifted; --json prints the report', () => {
    const r = kiln(['drift', '--reference', ref, '--current', cur, '--features', 'score,odd "name"', '--categorical', 'odd "name"', '--fail-on-drift', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = json<{ drifted: boolean; features: Array<{ name: string; kind: string }> }>(r);
    expect(report.drifted).toBe(false);
    expect(report.features.map((f) => [f.name, f.kind])).toEqual([['score', 'numeric'], ['odd "name"', 'categorical']]);
  });

  it('exit 2 on bad usage and unreadable input', () => {
    expect(kiln(['drift', '--reference', ref]).code).toBe(2);
    expect(kiln(['drift', '--reference', ref, '--current', cur, '--method', 'ttest']).code).toBe(2);
    expect(kiln(['drift', '--reference', ref, '--current', path.join(dir, 'missing.csv')]).code).toBe(2);
    const missingCol = kiln(['drift', '--reference', ref, '--current', cur, '--features', 'nope']);
    expect(missingCol.code).toBe(2);
    expect(missingCol.stderr).toMatch(/E_SCHEMA: column "nope" is not in the reference/);
    expect(kiln(['drift', '--reference', ref, '--current', cur, '--bins', '1']).code).toBe(2);
    const j = kiln(['drift', '--reference', ref, '--current', cur, '--alpha', '2', '--json']);
    expect(j.code).toBe(2);
    expect(json<{ ok: boolean }>(j).ok).toBe(false);
  });

  it('reads the shared adult dataset (train vs test): no drift', () => {
    const r = kiln(['drift', '--reference', path.join(DATASETS, 'adult/adult.data.csv'), '--current', path.join(DATASETS, 'adult/adult.test.csv'), '--null', '?', '--features', 'age,hours-per-week,education,workclass', '--fail-on-drift', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = json<{ reference: { rows: number }; features: Array<{ name: string; reference: { missing: number } }> }>(r);
    expect(report.reference.rows).toBe(32_561);
    expect(report.features.find((f) => f.name === 'workclass')!.reference.missing).toBeGreaterThan(0);
  });
});
