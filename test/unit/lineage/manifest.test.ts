import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withConnection } from '../../../src/io/duckdb.js';
import { sha256File } from '../../../src/lineage/hash.js';
import { checkManifests, createManifest, readManifest, scanManifests, validateManifest, type Manifest } from '../../../src/lineage/manifest.js';
import { DATASETS, makeTemp, rmTemp } from '../../helpers/paths.js';

let tmp: string;

/** A small data folder with every kind of entry the manifest walk must handle. */
async function makeDataDir(root: string): Promise<void> {
  fs.mkdirSync(path.join(root, 'raw/nested'), { recursive: true });
  fs.writeFileSync(path.join(root, 'raw/a.csv'), 'id,name,score\n1,ann,0.5\n2,bob,0.25\n3,cy,1.5\n');
  fs.writeFileSync(path.join(root, 'raw/nested/events.ndjson'), '{"k":1,"v":"x"}\n{"k":2,"v":"y"}\n');
  fs.copyFileSync(path.join(DATASETS, 'crypto_ohlcv/Binance_ETHUSDT_d.csv'), path.join(root, 'raw/eth.csv'));
  fs.writeFileSync(path.join(root, 'raw/broken.parquet'), 'this is not parquet at all');
  fs.writeFileSync(path.join(root, 'README.md'), '# data\n');
  fs.writeFileSync(path.join(root, 'config.json'), '{"kind":"not-a-manifest"}\n');
  fs.mkdirSync(path.join(root, '.git'));
  fs.writeFileSync(path.join(root, '.git/HEAD'), 'ref: refs/heads/main\n');
  fs.writeFileSync(path.join(root, '.hidden.csv'), 'a\n1\n');
  fs.mkdirSync(path.join(root, 'node_modules/pkg'), { recursive: true });
  fs.writeFileSync(path.join(root, 'node_modules/pkg/x.csv'), 'a\n1\n');
  const pq = path.join(root, 'raw/t.parquet').replace(/'/g, "''");
  await withConnection((c) => c.run(`COPY (SELECT range AS i, CAST(range AS DOUBLE) / 2 AS x FROM range(100)) TO '${pq}' (FORMAT parquet)`));
}

function freshDir(name: string): string {
  const d = path.join(tmp, name);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

/** Flips one byte in place (same size). */
function flipByte(file: string, at = 5): void {
  const buf = fs.readFileSync(file);
  buf[at] = buf[at]! ^ 0x01;
  fs.writeFileSync(file, buf);
}

beforeAll(() => {
  tmp = makeTemp('kiln-manifest-');
});
afterAll(() => rmTemp(tmp));

describe('createManifest', () => {
  let root: string;
  let out: string;
  let m: Manifest;

  beforeAll(async () => {
    root = freshDir('create');
    await makeDataDir(root);
    out = path.join(root, 'data.manifest.json');
    fs.writeFileSync(`${out}.receipt.json`, '{}');
    m = await createManifest(root, out);
  });

  it('lists every visible file once, sorted, with posix paths and a root relative to the manifest', () => {
    expect(m.kind).toBe('kiln.manifest');
    expect(m.version).toBe(1);
    expect(m.root).toBe('.');
    expect(m.files.map((f) => f.path)).toEqual(['README.md', 'config.json', 'raw/a.csv', 'raw/broken.parquet', 'raw/eth.csv', 'raw/nested/events.ndjson', 'raw/t.parquet']);
  });

  it('records sizes and streaming sha256 of the bytes', async () => {
    const a = m.files.find((f) => f.path === 'raw/a.csv')!;
    expect(a.size).toBe(fs.statSync(path.join(root, 'raw/a.csv')).size);
    expect(a.sha256).toBe(await sha256File(path.join(root, 'raw/a.csv')));
    const eth = m.files.find((f) => f.path === 'raw/eth.csv')!;
    expect(eth.sha256).toBe('e278b7332bfc590121c4b4099cf4990568877addba9cce091ff35c7d603c5eaf');
  });

  it('reads rows and columns of data files only', () => {
    const byPath = Object.fromEntries(m.files.map((f) => [f.path, f]));
    expect(byPath['raw/a.csv']).toMatchObject({ format: 'csv', rows: 3, columns: [{ name: 'id' }, { name: 'name' }, { name: 'score' }] });
    expect(byPath['raw/nested/events.ndjson']).toMatchObject({ format: 'ndjson', rows: 2 });
    expect(byPath['raw/t.parquet']).toMatchObject({ format: 'parquet', rows: 100, columns: [{ name: 'i', type: 'BIGINT' }, { name: 'x', type: 'DOUBLE' }] });
    expect(byPath['raw/eth.csv']).toMatchObject({ format: 'csv', rows: 1233 });
    expect(byPath['raw/eth.csv']!.columns).toHaveLength(10);
    expect(byPath['README.md']!.format).toBeUndefined();
    expect(byPath['README.md']!.rows).toBeUndefined();
    expect(byPath['config.json']!.format).toBeUndefined();
  });

  it('records a readError for a data file DuckDB cannot read instead of failing', () => {
    const broken = m.files.find((f) => f.path === 'raw/broken.parquet')!;
    expect(broken.readError).toMatch(/\S/);
    expect(broken.rows).toBeUndefined();
    expect(broken.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('writes the manifest atomically as schema-valid JSON and reads it back', async () => {
    expect(await readManifest(out)).toEqual(m);
    expect(fs.readdirSync(root).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('writes root relative to a manifest stored elsewhere', async () => {
    const elsewhere = path.join(freshDir('elsewhere'), 'm.json');
    const m2 = await createManifest(path.join(root, 'raw'), elsewhere);
    expect(m2.root).toBe('../create/raw');
    expect(m2.files.map((f) => f.path)).toContain('nested/events.ndjson');
    expect((await validateManifest(elsewhere, { strict: true })).ok).toBe(true);
  });

  it('refuses a missing folder, naming it', async () => {
    const missing = path.join(tmp, 'no-such-dir');
    await expect(createManifest(missing, path.join(tmp, 'x.json'))).rejects.toMatchObject({ code: 'E_IO', message: expect.stringContaining(missing) });
  });
});

describe('validateManifest (tamper detection)', () => {
  async function setup(name: string): Promise<{ root: string; out: string }> {
    const root = freshDir(name);
    await makeDataDir(root);
    const out = path.join(root, 'manifest.json');
    await createManifest(root, out);
    return { root, out };
  }

  it('passes an untouched folder, strict and not', async () => {
    const { out } = await setup('v-clean');
    expect(await validateManifest(out)).toMatchObject({ ok: true, changed: [], missing: [], extra: [] });
    expect(await validateManifest(out, { strict: true })).toMatchObject({ ok: true, changed: [], missing: [], extra: [] });
  });

  it('catches a one-byte same-size edit only with strict', async () => {
    const { root, out } = await setup('v-byte');
    flipByte(path.join(root, 'raw/a.csv'));
    expect(await validateManifest(out)).toMatchObject({ ok: true, changed: [] });
    expect(await validateManifest(out, { strict: true })).toMatchObject({ ok: false, changed: [{ path: 'raw/a.csv', reason: 'sha256' }], missing: [], extra: [] });
  });

  it('catches a size change without strict', async () => {
    const { root, out } = await setup('v-size');
    fs.appendFileSync(path.join(root, 'raw/nested/events.ndjson'), '{"k":3,"v":"z"}\n');
    expect(await validateManifest(out)).toMatchObject({ ok: false, changed: [{ path: 'raw/nested/events.ndjson', reason: 'size' }] });
  });

  it('catches a removed file and an added file', async () => {
    const { root, out } = await setup('v-rm-add');
    fs.rmSync(path.join(root, 'raw/t.parquet'));
    fs.writeFileSync(path.join(root, 'raw/new.csv'), 'a\n1\n');
    const v = await validateManifest(out);
    expect(v).toMatchObject({ ok: false, changed: [], missing: ['raw/t.parquet'], extra: ['raw/new.csv'] });
  });

  it('ignores its own receipt and hidden files added later', async () => {
    const { root, out } = await setup('v-receipt');
    fs.writeFileSync(`${out}.receipt.json`, '{}');
    fs.writeFileSync(path.join(root, '.DS_Store'), 'x');
    expect((await validateManifest(out, { strict: true })).ok).toBe(true);
  });

  it('refuses corrupt, foreign, unknown-version and path-escaping manifests with E_MANIFEST naming the file', async () => {
    const { out } = await setup('v-corrupt');
    const good = JSON.parse(fs.readFileSync(out, 'utf8')) as Manifest;
    const cases: Array<[string, string, RegExp]> = [
      ['truncated.json', fs.readFileSync(out, 'utf8').slice(0, 40), /not valid JSON/],
      ['foreign.json', JSON.stringify({ kind: 'something.else' }), /not a kiln manifest/],
      ['v2.json', JSON.stringify({ ...good, version: 2 }), /version 2.*reads version 1/],
      ['escape.json', JSON.stringify({ ...good, files: [{ path: '../outside.csv', size: 1, sha256: good.files[0]!.sha256 }] }), /schemas\/manifest\.schema\.json/],
      ['nosha.json', JSON.stringify({ ...good, files: [{ path: 'a.csv', size: 1 }] }), /sha256/],
    ];
    for (const [name, text, re] of cases) {
      const f = path.join(path.dirname(out), name);
      fs.writeFileSync(f, text);
      await expect(validateManifest(f), name).rejects.toMatchObject({ code: 'E_MANIFEST', message: expect.stringMatching(re) });
      await expect(validateManifest(f), name).rejects.toMatchObject({ message: expect.stringContaining(f) });
    }
    await expect(validateManifest(path.join(tmp, 'absent.json'))).rejects.toMatchObject({ code: 'E_IO' });
  });
});

describe('scanManifests and checkManifests', () => {
  let root: string;

  beforeAll(async () => {
    root = freshDir('guard');
    fs.mkdirSync(path.join(root, 'a'));
    fs.mkdirSync(path.join(root, 'b/sub'), { recursive: true });
    fs.mkdirSync(path.join(root, 'node_modules/x'), { recursive: true });
    fs.writeFileSync(path.join(root, 'a/one.csv'), 'x\n1\n');
    fs.writeFileSync(path.join(root, 'a/notes.md'), 'notes\n');
    fs.writeFileSync(path.join(root, 'b/two.csv'), 'x\n2\n');
    fs.writeFileSync(path.join(root, 'b/sub/three.ndjson'), '{"x":3}\n');
    fs.writeFileSync(path.join(root, 'b/settings.json'), '{"kind":"config"}\n');
    fs.writeFileSync(path.join(root, 'node_modules/x/ignored.csv'), 'x\n');
    await createManifest(path.join(root, 'a'), path.join(root, 'a/manifest.json'));
    await createManifest(path.join(root, 'b/sub'), path.join(root, 'b/sub.manifest.json'));
  });

  it('scan finds every manifest and nothing else', async () => {
    const found = await scanManifests(root);
    expect(found.map((e) => path.relative(root, e.file))).toEqual([path.join('a', 'manifest.json'), path.join('b', 'sub.manifest.json')]);
    expect(found[0]).toMatchObject({ root: path.join(root, 'a'), files: 2 });
    expect(found[1]).toMatchObject({ root: path.join(root, 'b/sub'), files: 1 });
    expect(Date.parse(found[0]!.createdAt)).not.toBeNaN();
  });

  it('check reports uncovered data files (non-data and node_modules ignored)', async () => {
    const c = await checkManifests(root);
    expect(c).toMatchObject({ ok: false, dataFiles: 3, uncovered: ['b/two.csv'], duplicated: [] });
  });

  it('check passes once every data file is covered exactly once, then reports a file covered twice', async () => {
    await createManifest(path.join(root, 'b'), path.join(root, 'b-top.manifest.json'));
    const dup = await checkManifests(root);
    expect(dup.uncovered).toEqual([]);
    expect(dup.duplicated).toEqual([{ path: 'b/sub/three.ndjson', manifests: ['b-top.manifest.json', 'b/sub.manifest.json'] }]);
    expect(dup.ok).toBe(false);
    fs.rmSync(path.join(root, 'b/sub.manifest.json'));
    const clean = await checkManifests(root);
    expect(clean).toMatchObject({ ok: true, uncovered: [], duplicated: [] });
  });

  it('check fails closed on a corrupt manifest', async () => {
    const d = freshDir('guard-corrupt');
    fs.writeFileSync(path.join(d, 'x.csv'), 'a\n1\n');
    fs.writeFileSync(path.join(d, 'm.json'), JSON.stringify({ kind: 'kiln.manifest', version: 99 }));
    const found = await scanManifests(d);
    expect(found).toHaveLength(1);
    expect(found[0]!.error).toMatch(/version 99/);
    await expect(checkManifests(d)).rejects.toMatchObject({ code: 'E_MANIFEST' });
  });
});
