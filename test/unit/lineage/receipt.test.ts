import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { allowlistedEnv, environmentSnapshot, gitInfo, isRecordableEnvName } from '../../../src/lineage/environment.js';
import { canonicalJson, hashJson, sha256Text } from '../../../src/lineage/hash.js';
import { assertValidReceipt, RunReceipt, writeReceipt, type Receipt } from '../../../src/lineage/receipt.js';
import { compileSchema } from '../../../src/validate/schema.js';
import { KILN_VERSION, schemaPath } from '../../../src/version.js';
import { makeTemp, rmTemp, ROOT } from '../../helpers/paths.js';

let dir: string;
const setEnv: string[] = [];
const putEnv = (k: string, v: string): void => {
  process.env[k] = v;
  setEnv.push(k);
};

beforeAll(() => {
  dir = makeTemp('kiln-receipt-');
});
afterAll(() => rmTemp(dir));
afterEach(() => {
  for (const k of setEnv.splice(0)) delete process.env[k];
});

describe('environment', () => {
  it('records only allowlisted KILN_* variables', () => {
    const env = allowlistedEnv({
      KILN_THREADS: '2',
      KILN_SECRET_TOKEN: 's3cr3t',
      KILN_API_KEY: 'k',
      KILN_DB_PASSWORD: 'p',
      KILN_AWS_CREDENTIALS: 'c',
      KILN_github_token: 't',
      HOME: '/root',
      AWS_SECRET_ACCESS_KEY: 'x',
      NOT_KILN_THREADS: '3',
    });
    expect(env).toEqual({ KILN_THREADS: '2' });
    expect(isRecordableEnvName('KILN_HOME')).toBe(true);
    expect(isRecordableEnvName('kiln_home')).toBe(false);
  });

  it('snapshots the machine, packages and allowlisted environment', async () => {
    putEnv('KILN_TEST_LABEL', 'nightly');
    putEnv('KILN_SECRET_TOKEN', 'do-not-record');
    putEnv('UNRELATED_VAR', 'nope');
    const snap = await environmentSnapshot();
    expect(snap.node).toBe(process.version);
    expect(snap.cores).toBeGreaterThan(0);
    expect(snap.memoryBytes).toBeGreaterThan(0);
    expect(['avx2', 'scalar', 'unavailable']).toContain(snap.simdLevel);
    expect(snap.gpu).toBeNull();
    expect(snap.packages.kiln).toBe(KILN_VERSION);
    const duckdbPkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules/@duckdb/node-api/package.json'), 'utf8')) as { version: string };
    expect(snap.packages['@duckdb/node-api']).toBe(duckdbPkg.version);
    expect(snap.packages['apache-arrow']).toMatch(/^\d+\./);
    expect(snap.packages.ajv).toMatch(/^8\./);
    expect(snap.env.KILN_TEST_LABEL).toBe('nightly');
    expect(Object.keys(snap.env).every((k) => k.startsWith('KILN_'))).toBe(true);
    expect(JSON.stringify(snap)).not.toContain('do-not-record');
  });

  it('returns null git info outside a repository', async () => {
    expect(await gitInfo(dir)).toBeNull();
  });
});

describe('run receipts', () => {
  it('records input, output and config hashes and validates against its schema', async () => {
    putEnv('KILN_SECRET_TOKEN', 'hunter2');
    putEnv('KILN_RUN_LABEL', 'unit');
    const input = path.join(dir, 'in.csv');
    const out = path.join(dir, 'out.ndjson');
    fs.writeFileSync(input, 'a,b\n1,2\n');
    const config = { z: 1, a: { y: [1, 2], x: 'q' } };
    const r = await RunReceipt.start('ingest', { config, inputs: [input] });
    fs.writeFileSync(out, '{"a":1}\n');
    const rec = await r.finish({ outputs: [out], counts: { read: 1, accepted: 1, rejected: 0 }, extra: { rejectRate: 0 } });

    expect(rec.kind).toBe('kiln.receipt');
    expect(rec.version).toBe(1);
    expect(rec.runId).toMatch(/^[0-9a-f-]{36}$/);
    expect(rec.status).toBe('ok');
    expect(Date.parse(rec.endedAt)).toBeGreaterThanOrEqual(Date.parse(rec.startedAt));
    expect(rec.inputs).toEqual([{ path: input, size: 8, sha256: sha256Text('a,b\n1,2\n') }]);
    expect(rec.outputs).toEqual([{ path: out, size: 8, sha256: sha256Text('{"a":1}\n') }]);
    expect(rec.configHash).toBe(hashJson(config));
    expect(rec.configHash).toBe(sha256Text(canonicalJson(rec.config)));
    expect(rec.counts).toEqual({ read: 1, accepted: 1, rejected: 0 });
    expect(rec.kilnVersion).toBe(KILN_VERSION);
    expect(rec.environment.env).toEqual(expect.objectContaining({ KILN_RUN_LABEL: 'unit' }));
    expect(rec.environment.env).not.toHaveProperty('KILN_SECRET_TOKEN');

    const written = await writeReceipt(rec, out);
    expect(written).toBe(`${out}.receipt.json`);
    const text = fs.readFileSync(written, 'utf8');
    expect(text).not.toContain('hunter2');
    const parsed = JSON.parse(text) as Receipt;
    expect(parsed).toEqual(rec);
    const { validate } = compileSchema(schemaPath('receipt.schema.json'));
    expect(validate(parsed), JSON.stringify(validate.errors)).toBe(true);
    expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('records the git commit of the kiln checkout when there is one', async () => {
    const info = await gitInfo(ROOT);
    if (info === null) return;
    const rec = await (await RunReceipt.start('noop')).finish({ outputs: [] });
    expect(rec.git?.commit).toBe(info.commit);
  });

  it('refuses a missing input, naming it', async () => {
    const missing = path.join(dir, 'missing.csv');
    await expect(RunReceipt.start('ingest', { inputs: [missing] })).rejects.toMatchObject({ code: 'E_IO', message: expect.stringContaining(missing) });
  });

  it('hashes inputs during the run when asked, with the same digests as at the start', async () => {
    const input = path.join(dir, 'during.csv');
    fs.writeFileSync(input, 'x\n'.repeat(3 << 20));
    const atStart = await (await RunReceipt.start('features', { inputs: [input] })).finish({ outputs: [] });
    const r = await RunReceipt.start('features', { inputs: [input], hashInputs: 'during-run' });
    const rec = await r.finish({ outputs: [] });
    expect(rec.inputs).toEqual(atStart.inputs);
    expect(rec.inputs[0]).toMatchObject({ size: 6 << 20, sha256: sha256Text('x\n'.repeat(3 << 20)) });
    await expect(RunReceipt.start('features', { inputs: [path.join(dir, 'gone.csv')], hashInputs: 'during-run' })).rejects.toMatchObject({ code: 'E_IO', message: expect.stringContaining('gone.csv') });
    const unreadable = path.join(dir, 'a-folder');
    fs.mkdirSync(unreadable);
    const bad = await RunReceipt.start('features', { inputs: [unreadable], hashInputs: 'during-run' });
    await expect(bad.finish({ outputs: [] })).rejects.toMatchObject({ code: 'E_IO', message: expect.stringContaining('a-folder') });
  });

  it('refuses a missing output on an ok run but records it on a failed one', async () => {
    const missing = path.join(dir, 'never-written.parquet');
    const r = await RunReceipt.start('ingest');
    await expect(r.finish({ outputs: [missing] })).rejects.toMatchObject({ code: 'E_IO' });
    const rec = await r.finish({ outputs: [missing], status: 'gate_failed' });
    expect(rec.outputs).toEqual([{ path: missing, missing: true }]);
    expect(() => assertValidReceipt(rec)).not.toThrow();
  });

  it('refuses to write a receipt that fails its schema (E_SCHEMA) and leaves no file', async () => {
    const out = path.join(dir, 'bad-out.csv');
    const rec = await (await RunReceipt.start('ingest')).finish({ outputs: [] });
    const bad = { ...rec, environment: { ...rec.environment, env: { KILN_SECRET_TOKEN: 'x' } } } as Receipt;
    await expect(writeReceipt(bad, out)).rejects.toMatchObject({ code: 'E_SCHEMA' });
    const bad2 = { ...rec, configHash: 'nope' } as Receipt;
    await expect(writeReceipt(bad2, out)).rejects.toMatchObject({ code: 'E_SCHEMA' });
    expect(fs.existsSync(`${out}.receipt.json`)).toBe(false);
  });
});
