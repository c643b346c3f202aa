import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileSchema } from '../../src/validate/schema.js';
import { schemaPath } from '../../src/version.js';
import { CLI, DATASETS, makeTemp, rmTemp, ROOT } from '../helpers/paths.js';

let tmp: string;
let home: string;

function kiln(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: tmp, encoding: 'utf8', env: { ...process.env, KILN_HOME: home, FORCE_COLOR: '0' }, timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function json<T = Record<string, unknown>>(r: { stdout: string }): T {
  return JSON.parse(r.stdout) as T;
}

function flipByte(file: string, at = 3): void {
  const buf = fs.readFileSync(file);
  buf[at] = buf[at]! ^ 0x01;
  fs.writeFileSync(file, buf);
}

beforeAll(() => {
  if (!fs.existsSync(CLI)) throw new Error(`${path.relative(ROOT, CLI)} is missing: build first with npx tsc -p tsconfig.json`);
  tmp = makeTemp('kiln-e2e-manifest-');
  home = path.join(tmp, 'home');
  fs.mkdirSync(path.join(tmp, 'data/raw'), { recursive: true });
  fs.writeFileSync(path.join(tmp, 'data/raw/a.csv'), 'id,v\n1,10\n2,20\n');
  fs.writeFileSync(path.join(tmp, 'data/raw/b.ndjson'), '{"id":1}\n{"id":2}\n{"id":3}\n');
  fs.copyFileSync(path.join(DATASETS, 'sklearn_small/iris.csv'), path.join(tmp, 'data/raw/iris.csv'));
  fs.writeFileSync(path.join(tmp, 'data/README.md'), 'raw data\n');
});
afterAll(() => rmTemp(tmp));

describe('kiln manifest', () => {
  it('has --help with examples for every subcommand', () => {
    for (const sub of ['create', 'scan', 'validate', 'check']) {
      const r = kiln('manifest', sub, '--help');
      expect(r.code, sub).toBe(0);
      expect(r.stdout, sub).toContain('Examples:');
      expect(r.stdout, sub).toContain(`kiln manifest ${sub}`);
    }
  });

  it('creates a manifest with a schema-valid receipt', () => {
    const r = kiln('manifest', 'create', 'data', '--out', 'data/data.manifest.json', '--json');
    expect(r.code, r.stderr).toBe(0);
    const out = json<{ ok: boolean; receipt: string; manifest: { root: string; files: Array<{ path: string; rows?: number }> } }>(r);
    expect(out.ok).toBe(true);
    expect(out.manifest.root).toBe('.');
    expect(out.manifest.files.map((f) => f.path)).toEqual(['README.md', 'raw/a.csv', 'raw/b.ndjson', 'raw/iris.csv']);
    expect(out.manifest.files.find((f) => f.path === 'raw/b.ndjson')?.rows).toBe(3);
    const receiptFile = path.join(tmp, 'data/data.manifest.json.receipt.json');
    expect(out.receipt).toBe(receiptFile);
    const receipt = JSON.parse(fs.readFileSync(receiptFile, 'utf8')) as { command: string; outputs: Array<{ path: string; sha256: string }>; counts: Record<string, number> };
    const { validate } = compileSchema(schemaPath('receipt.schema.json'));
    expect(validate(receipt), JSON.stringify(validate.errors)).toBe(true);
    expect(receipt.command).toBe('manifest create');
    expect(receipt.outputs[0]!.path).toBe(path.join(tmp, 'data/data.manifest.json'));
    expect(receipt.counts).toMatchObject({ files: 4, dataFiles: 3 });

    const human = kiln('manifest', 'create', 'data', '--out', 'data/data.manifest.json');
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain('4 files (3 data)');
  });

  it('validates clean, then catches a same-size edit only with --strict (exit 1)', () => {
    expect(kiln('manifest', 'validate', 'data/data.manifest.json').code).toBe(0);
    expect(kiln('manifest', 'validate', 'data/data.manifest.json', '--strict').code).toBe(0);
    flipByte(path.join(tmp, 'data/raw/a.csv'));
    const loose = kiln('manifest', 'validate', 'data/data.manifest.json');
    expect(loose.code).toBe(0);
    expect(loose.stdout).toContain('OK');
    const strict = kiln('manifest', 'validate', 'data/data.manifest.json', '--strict');
    expect(strict.code).toBe(1);
    expect(strict.stdout).toMatch(/changed \(sha256\)\s+raw\/a\.csv/);
    const strictJson = kiln('manifest', 'validate', 'data/data.manifest.json', '--strict', '--json');
    expect(strictJson.code).toBe(1);
    expect(json(strictJson)).toMatchObject({ ok: false, changed: [{ path: 'raw/a.csv', reason: 'sha256' }], missing: [], extra: [] });
    flipByte(path.join(tmp, 'data/raw/a.csv'));
  });

  it('lists removed and added files (exit 1)', () => {
    const moved = path.join(tmp, 'b.ndjson.bak');
    fs.renameSync(path.join(tmp, 'data/raw/b.ndjson'), moved);
    fs.writeFileSync(path.join(tmp, 'data/raw/new.csv'), 'x\n1\n');
    const r = kiln('manifest', 'validate', 'data/data.manifest.json');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/missing\s+raw\/b\.ndjson/);
    expect(r.stdout).toMatch(/extra\s+raw\/new\.csv/);
    fs.renameSync(moved, path.join(tmp, 'data/raw/b.ndjson'));
    fs.rmSync(path.join(tmp, 'data/raw/new.csv'));
    expect(kiln('manifest', 'validate', 'data/data.manifest.json', '--strict').code).toBe(0);
  });

  it('refuses a corrupt or unknown-version manifest with exit 2 and E_MANIFEST', () => {
    const text = fs.readFileSync(path.join(tmp, 'data/data.manifest.json'), 'utf8');
    fs.writeFileSync(path.join(tmp, 'broken.json'), text.slice(0, 50));
    const broken = kiln('manifest', 'validate', 'broken.json');
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/E_MANIFEST.*broken\.json/);
    fs.writeFileSync(path.join(tmp, 'v9.json'), text.replace('"version": 1', '"version": 9'));
    const v9 = kiln('manifest', 'validate', 'v9.json', '--json');
    expect(v9.code).toBe(2);
    expect(json(v9)).toMatchObject({ ok: false, error: { code: 'E_MANIFEST' } });
    fs.rmSync(path.join(tmp, 'broken.json'));
    fs.rmSync(path.join(tmp, 'v9.json'));
  });

  it('scans for manifests', () => {
    const r = kiln('manifest', 'scan', '.', '--json');
    expect(r.code, r.stderr).toBe(0);
    const found = json<{ manifests: Array<{ file: string; files: number }> }>(r).manifests;
    expect(found).toEqual([expect.objectContaining({ file: path.join(tmp, 'data/data.manifest.json'), files: 4 })]);
    expect(kiln('manifest', 'scan', '.').stdout).toContain(path.join('data', 'data.manifest.json'));
  });

  it('check guards single coverage: exit 1 on uncovered and on duplicated data files', () => {
    expect(kiln('manifest', 'check', 'data').code).toBe(0);
    fs.writeFileSync(path.join(tmp, 'data/loose.csv'), 'x\n1\n');
    const uncovered = kiln('manifest', 'check', 'data', '--json');
    expect(uncovered.code).toBe(1);
    expect(json(uncovered)).toMatchObject({ ok: false, uncovered: ['loose.csv'], duplicated: [] });
    fs.rmSync(path.join(tmp, 'data/loose.csv'));
    expect(kiln('manifest', 'create', 'data/raw', '--out', 'data/raw.manifest.json').code).toBe(0);
    const dup = kiln('manifest', 'check', 'data');
    expect(dup.code).toBe(1);
    expect(dup.stdout).toMatch(/duplicated\s+raw\/a\.csv\s+\(data\.manifest\.json, raw\.manifest\.json\)/);
  });

  it('exits 2 naming a missing folder', () => {
    const r = kiln('manifest', 'create', 'nope', '--out', 'x.json');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('nope');
  });
});

describe('kiln data snapshot / versions / show', () => {
  let id: string;

  it('snapshots a file and prints its id; the same content gets the same id', () => {
    const r = kiln('data', 'snapshot', 'data/raw/iris.csv', '--meta', 'source=sklearn', 'split=all');
    expect(r.code, r.stderr).toBe(0);
    id = r.stdout.trim();
    expect(id).toMatch(/^ds_[0-9a-f]{16}$/);
    expect(id).toBe('ds_f13ffa8fdd56fd8e');
    const again = kiln('data', 'snapshot', path.join(DATASETS, 'sklearn_small/iris.csv'), '--json');
    expect(again.code, again.stderr).toBe(0);
    expect(json(again)).toMatchObject({ id, existing: true, meta: { source: 'sklearn', split: 'all' } });
    expect(fs.existsSync(path.join(home, 'datasets', id, 'version.json'))).toBe(true);
    const receipt = JSON.parse(fs.readFileSync(path.join(home, 'datasets', id, 'data.csv.receipt.json'), 'utf8')) as { command: string; inputs: Array<{ sha256: string }> };
    expect(receipt.command).toBe('data snapshot');
    expect(receipt.inputs[0]!.sha256.startsWith('f13ffa8fdd56fd8e')).toBe(true);
  });

  it('refuses a malformed --meta with exit 2', () => {
    const r = kiln('data', 'snapshot', 'data/raw/a.csv', '--meta', 'novalue');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('key=value');
  });

  it('lists and shows versions', () => {
    const list = kiln('data', 'versions', '--json');
    expect(list.code, list.stderr).toBe(0);
    expect(json<{ versions: Array<{ id: string }> }>(list).versions.map((v) => v.id)).toEqual([id]);
    expect(kiln('data', 'versions').stdout).toContain(id);
    const show = kiln('data', 'show', id, '--verify');
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain('sha256 verified');
    expect(show.stdout).toContain('meta     source=sklearn');
  });

  it('exits 2 on a tampered copy and on an unknown id', () => {
    const stored = path.join(home, 'datasets', id, 'data.csv');
    fs.chmodSync(stored, 0o644);
    flipByte(stored, 10);
    const tampered = kiln('data', 'show', id, '--verify');
    expect(tampered.code).toBe(2);
    expect(tampered.stderr).toMatch(/E_DATASET.*tampered/);
    const unknown = kiln('data', 'show', 'ds_0000000000000000', '--json');
    expect(unknown.code).toBe(2);
    expect(json(unknown)).toMatchObject({ error: { code: 'E_DATASET', message: expect.stringContaining('ds_0000000000000000') } });
  });

  it('has --help with examples', () => {
    for (const sub of ['snapshot', 'versions', 'show']) {
      const r = kiln('data', sub, '--help');
      expect(r.code, sub).toBe(0);
      expect(r.stdout, sub).toContain('Examples:');
    }
  });
});
