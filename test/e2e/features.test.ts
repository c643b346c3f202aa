// `kiln features` on real files: the examples, --validate-in / --validate-out failures (exit 1
// naming column and row, nothing partial left), bad specs (exit 2), --help with an example.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, kiln } from '../helpers/cli.js';
import { readParquetRows } from '../helpers/features.js';
import { makeTemp, rmTemp } from '../helpers/paths.js';

let dir: string;
beforeAll(() => {
  dir = makeTemp('kiln-e2e-features-');
  // 40 daily rows; x = 1..40 except row 7 (x = -5) and row 30 (x = 1000).
  const lines = ['id,ts,x,note'];
  for (let i = 1; i <= 40; i++) {
    const x = i === 7 ? -5 : i === 30 ? 1000 : i;
    lines.push(`e1,2024-02-${String(1 + ((i - 1) % 28)).padStart(2, '0')} ${String(Math.floor((i - 1) / 28)).padStart(2, '0')}:00:00,${x},n${i % 3}`);
  }
  fs.writeFileSync(path.join(dir, 'data.csv'), lines.join('\n') + '\n');
});
afterAll(() => rmTemp(dir));

function writeSpec(name: string, body: string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, body);
  return f;
}

/** Entries of dir whose names mention `out` (the out dir and any hidden temp beside it). */
function leftovers(out: string): string[] {
  return fs.readdirSync(path.dirname(out)).filter((f) => f.includes(path.basename(out)));
}

describe('kiln features', () => {
  it('--help shows an example that runs', () => {
    const r = kiln(['features', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Examples?:\n\s+\$ kiln features examples\/crypto\/features.yaml/);
  });

  it('quickstart events: --stream --validate-in --validate-out --validate-limit 500', () => {
    const out = path.join(dir, 'qs');
    const r = kiln(['features', 'examples/quickstart-events/events.parquet', '--spec', 'examples/quickstart-events/features.yaml', '--out-dir', out, '--stream', '--validate-in', '--validate-out', '--validate-limit', '500', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = json<{ rows: Record<string, number>; counts: { inputRows: number } }>(r);
    expect(s.counts.inputRows).toBe(400);
    expect(s.rows.train! + s.rows.valid! + s.rows.test!).toBe(400);
    for (const f of ['train.parquet', 'valid.parquet', 'test.parquet', 'feature-schema.json', 'manifest.json', 'features.receipt.json']) expect(fs.existsSync(path.join(out, f)), f).toBe(true);
    expect(r.stderr).toMatch(/validate input \(first 500 rows\)/);
  });

  it('ledger example: merchant one-hot, hashed TF-IDF, Category label', async () => {
    const out = path.join(dir, 'ledger');
    const r = kiln(['features', 'examples/ledger/features.yaml', '--out-dir', out, '--validate-in', '--validate-out', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const rows = await readParquetRows(path.join(out, 'train.parquet'));
    const cols = Object.keys(rows[0]!);
    expect(cols).toContain('Category');
    expect(cols.filter((c) => c.startsWith('description_tfidf_')).length).toBe(64);
    expect(cols.filter((c) => c.startsWith('merchant=')).length).toBe(31);
    for (const x of rows.slice(0, 50)) {
      const norm = Math.hypot(...cols.filter((c) => c.startsWith('description_tfidf_')).map((c) => x[c] as number));
      expect(norm).toBeCloseTo(1, 5);
    }
  });

  it('--validate-in failure exits 1 naming column and row; nothing is written', () => {
    const spec = writeSpec('in.yaml', `version: 1\nsources: { d: { path: data.csv, format: csv } }\nentity: id\ntime: ts\ncolumns:\n  x: { type: number, min: 0 }\nfeatures:\n  - { name: m3, kind: window, fn: mean, column: x, window: 3 }\n`);
    const out = path.join(dir, 'in-out');
    const r = kiln(['features', spec, '--out-dir', out, '--validate-in']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/validate-in: input row 7 \(id="e1", ts=[^)]*\): column x is below the declared min 0 \(value -5\)/);
    expect(leftovers(out)).toEqual([]);
    // the bad row lies beyond --validate-limit 5: accepted
    const ok = kiln(['features', spec, '--out-dir', out, '--validate-in', '--validate-limit', '5']);
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('--validate-out failure exits 1 naming column and row; an existing out dir is left as it was', () => {
    const spec = writeSpec('out.yaml', `version: 1\nsources: { d: { path: data.csv, format: csv } }\nentity: id\ntime: ts\nfeatures:\n  - { name: x2, kind: sql, expr: "x * 2", range: [0, 100] }\n`);
    const out = path.join(dir, 'out-out');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'keep.txt'), 'old run');
    const r = kiln(['features', spec, '--out-dir', out, '--validate-out', '--json']);
    expect(r.code).toBe(1);
    const e = json<{ ok: boolean; error: { code: string; message: string } }>(r);
    expect(e.ok).toBe(false);
    expect(e.error.code).toBe('E_VALIDATION');
    expect(e.error.message).toMatch(/validate-out: features.parquet row 4 \(id="e1", ts=2024-02-02 01:00:00\): column x2 is outside the declared range \[0, 100\] \(value 2000\)/);
    expect(fs.readdirSync(out)).toEqual(['keep.txt']);
    expect(leftovers(out)).toEqual(['out-out']);
  });

  it('NaN in a window input fails --validate-in', () => {
    const csv = path.join(dir, 'nan.csv');
    fs.writeFileSync(csv, 'id,ts,x\na,2024-01-01,1\na,2024-01-02,nan\na,2024-01-03,3\n');
    const spec = writeSpec('nan.yaml', `version: 1\nsources: { d: { path: nan.csv, format: csv } }\nentity: id\ntime: ts\nfeatures:\n  - { name: s2, kind: window, fn: sum, column: x, window: 2 }\n`);
    const r = kiln(['features', spec, '--out-dir', path.join(dir, 'nan-out'), '--validate-in']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/row 2 .*column x is NaN or infinite/);
  });

  it('a bad spec or a missing source exits 2 naming the field or file', () => {
    const bad = writeSpec('bad.yaml', `version: 1\nsources: { d: { path: data.csv } }\nentity: id\ntime: ts\nfeatures:\n  - { name: v, kind: window, fn: volatility, column: x }\n`);
    const r = kiln(['features', bad, '--out-dir', path.join(dir, 'bad-out')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/features\[0\] \(v\)\.window: is required for volatility/);
    const missing = writeSpec('missing.yaml', `version: 1\nsources: { d: { path: nope.csv } }\nfeatures:\n  - { name: a, kind: sql, expr: "1" }\n`);
    const m = kiln(['features', missing, '--out-dir', path.join(dir, 'm-out')]);
    expect(m.code).toBe(2);
    expect(m.stderr).toMatch(/nope\.csv/);
    expect(kiln(['features', 'no-such-spec.yaml', '--out-dir', path.join(dir, 'x')]).code).toBe(2);
  });
});
