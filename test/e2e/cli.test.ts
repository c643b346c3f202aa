import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeEventCorpus } from '../../src/validate/corpus.js';
import { json, kiln } from '../helpers/cli.js';
import { CLI, DATASETS, makeTemp, rmTemp } from '../helpers/paths.js';

let dir: string;
beforeAll(() => {
  dir = makeTemp('kiln-e2e-');
});
afterAll(() => rmTemp(dir));

describe('kiln CLI', () => {
  it('every verb has --help with an example', () => {
    const verbs = [[], ['demo'], ['doctor'], ['ingest'], ['data', 'inspect'], ['data', 'snapshot'], ['data', 'versions'], ['data', 'show'], ['manifest', 'create'], ['manifest', 'scan'], ['manifest', 'validate'], ['manifest', 'check'],
      ['features'], ['train'], ['reproduce'], ['runs'], ['runs', 'list'], ['runs', 'show'], ['predict'], ['feedback', 'merge'], ['monitor'], ['drift'], ['bench'], ['bench', 'perf']];
    // Every top-level verb the program lists is covered here.
    const top = kiln(['--help']).stdout.split('Commands:')[1]!.split('\n').map((l) => /^  (\w[\w-]*)/.exec(l)?.[1]).filter((v): v is string => v !== undefined && v !== 'help');
    expect(top.filter((v) => !verbs.some((x) => x[0] === v))).toEqual([]);
    for (const verb of verbs) {
      const r = kiln([...verb, '--help']);
      expect(r.code, verb.join(' ')).toBe(0);
      expect(r.stdout, verb.join(' ')).toMatch(/Examples?:\n\s+\$ kiln/);
    }
  });

  it('exits 2 on unknown commands and bad options', () => {
    expect(kiln(['frobnicate']).code).toBe(2);
    expect(kiln(['ingest', 'x.ndjson', '--schema', 'builtin:byte-event', '--out', 'a.ndjson', '--rejects', 'b.ndjson', '--max-reject-rate', '2']).code).toBe(2);
    expect(kiln(['ingest', 'x.ndjson']).code).toBe(2);
    const j = kiln(['ingest', 'x.ndjson', '--json']);
    expect(j.code).toBe(2);
    expect(json<{ ok: boolean; error: { code: string } }>(j)).toMatchObject({ ok: false, error: { code: 'E_USAGE' } });
  });

  it('doctor reports the addon, SIMD level and DuckDB', () => {
    const r = kiln(['doctor', '--json']);
    expect(r.code).toBe(0);
    const d = json<{ ok: boolean; addon: { loaded: boolean }; simdLevel: string; duckdb: string; cores: number }>(r);
    expect(d.ok).toBe(true);
    expect(d.addon.loaded).toBe(true);
    expect(['avx2', 'scalar']).toContain(d.simdLevel);
    expect(d.duckdb).toMatch(/^v\d/);
    expect(d.cores).toBeGreaterThan(0);
  });

  it('doctor fails (exit 1) when the addon is missing, with an actionable message', () => {
    const r = kiln(['doctor'], { env: { KILN_ADDON_PATH: path.join(dir, 'nope.node') } });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/npm run build:native/);
  });

  it('data inspect reads the shared datasets with their options', () => {
    const adult = json<{ rowCount: number; columns: Array<{ name: string; nullCount: number }> }>(kiln(['data', 'inspect', path.join(DATASETS, 'adult/adult.data.csv'), '--null', '?', '--json']));
    expect(adult.rowCount).toBe(32_561);
    expect(adult.columns.find((c) => c.name === 'workclass')!.nullCount).toBeGreaterThan(0);
    const bank = kiln(['data', 'inspect', path.join(DATASETS, 'bank_marketing/bank-full.csv'), '--delimiter', ';']);
    expect(bank.code).toBe(0);
    expect(bank.stdout).toMatch(/45,211 rows × 17 columns/);
    const iris = json<{ rowCount: number }>(kiln(['data', 'inspect', path.join(DATASETS, 'sklearn_small/iris.csv'), '--skip', '1', '--no-header', '--json']));
    expect(iris.rowCount).toBe(150);
    const missing = kiln(['data', 'inspect', path.join(dir, 'nope.csv')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.csv/);
  });

  it('ingest: exit 0 within the gate, with receipt and exact accounting', async () => {
    const input = path.join(dir, 'clean.ndjson');
    await writeEventCorpus(input, { lines: 3000, seed: 5, faultRate: 0.003 });
    const out = path.join(dir, 'clean-out.ndjson');
    const r = kiln(['ingest', input, '--schema', 'builtin:byte-event', '--out', out, '--rejects', path.join(dir, 'clean-rej.ndjson'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = json<{ read: number; accepted: number; rejected: number; gate: string; receipt: string }>(r);
    expect(s.read).toBe(3000);
    expect(s.accepted + s.rejected).toBe(3000);
    expect(s.gate).toBe('passed');
    expect(fs.readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(s.accepted);
    const receipt = JSON.parse(fs.readFileSync(s.receipt, 'utf8')) as Record<string, unknown>;
    expect(JSON.stringify(receipt)).toContain('"read":3000');
  });

  it('ingest: exit 1 above --max-reject-rate, rejects written, no --out', async () => {
    const input = path.join(dir, 'dirty.ndjson');
    await writeEventCorpus(input, { lines: 2000, seed: 9, faultRate: 0.3 });
    const out = path.join(dir, 'dirty-out.parquet');
    const rejects = path.join(dir, 'dirty-rej.ndjson');
    const r = kiln(['ingest', input, '--schema', 'builtin:byte-event', '--out', out, '--rejects', rejects, '--max-reject-rate', '0.05']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/gate\s+FAILED/);
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.readFileSync(rejects, 'utf8').length).toBeGreaterThan(0);
  });

  it('ingest: exit 2 on an unreadable input, leaving nothing behind', () => {
    const out = path.join(dir, 'none.ndjson');
    const r = kiln(['ingest', path.join(dir, 'does-not-exist.ndjson'), '--schema', 'builtin:byte-event', '--out', out, '--rejects', path.join(dir, 'none-rej.ndjson')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/does-not-exist/);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('ingest: Ctrl-C stops with exit 130 and leaves no partial or temp files', async () => {
    const input = path.join(dir, 'big.ndjson');
    await writeEventCorpus(input, { lines: 400_000, seed: 2, faultRate: 0.001 });
    const outDir = path.join(dir, 'cancel');
    fs.mkdirSync(outDir);
    const child = spawn(process.execPath, [CLI, 'ingest', input, '--schema', 'builtin:byte-event', '--out', path.join(outDir, 'out.ndjson'), '--rejects', path.join(outDir, 'rej.ndjson')], {
      env: { ...process.env, CI: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    const started = new Promise<void>((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('kiln: ingest')) resolve();
      });
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await started;
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toMatch(/E_CANCELLED/);
    expect(fs.readdirSync(outDir)).toEqual([]);
  });

  it('demo runs the main job end to end on generated data', () => {
    const work = path.join(dir, 'demo');
    const r = kiln(['demo', '--dir', work, '--events', '5000', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const d = json<{ ok: boolean; ingest: { read: number; accepted: number }; profile: { rowCount: number } }>(r);
    expect(d.ok).toBe(true);
    expect(d.ingest.read).toBe(5000);
    expect(d.profile.rowCount).toBe(d.ingest.accepted);
    expect(fs.existsSync(path.join(work, 'events.parquet.receipt.json'))).toBe(true);
  });
});
