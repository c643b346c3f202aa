import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingestFile, ingestWorkerScript, REJECT_CODES, type RejectRecord } from '../../../src/validate/ingest.js';
import { writeEventCorpus, type CorpusManifest } from '../../../src/validate/corpus.js';
import { makeTemp, rmTemp } from '../../helpers/paths.js';
import { scanFile } from '../../../src/io/scan.js';

let dir: string;
let corpus: string;
let manifest: CorpusManifest;

const readRejects = (file: string): RejectRecord[] =>
  fs.readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as RejectRecord);

beforeAll(async () => {
  dir = makeTemp();
  corpus = path.join(dir, 'events.ndjson');
  manifest = await writeEventCorpus(corpus, { lines: 6000, seed: 7, faultRate: 0.3 });
});
afterAll(() => rmTemp(dir));

describe('fail-closed ingest', () => {
  it('generates a corpus that exercises every fault kind', () => {
    for (const [kind, n] of Object.entries(manifest.kinds)) expect(n, kind).toBeGreaterThan(10);
  });

  for (const opts of [{}, { requireLabel: true }, { consentScope: 'care' as const }, { requireLabel: true, consentScope: 'care' as const }]) {
    it(`accounts for every line exactly with ${JSON.stringify(opts)}`, async () => {
      const out = path.join(dir, `out-${Object.keys(opts).join('-')}.ndjson`);
      const rejects = path.join(dir, `rej-${Object.keys(opts).join('-')}.ndjson`);
      const s = await ingestFile(corpus, { schema: 'builtin:byte-event', out, rejects, maxRejectRate: 1, ...opts });
      const expected = manifest.expected(opts);
      expect(s.read).toBe(6000);
      expect(s.accepted + s.rejected).toBe(s.read);
      expect(s.accepted).toBe(expected.accepted);
      for (const code of REJECT_CODES) expect(s.byCode[code], code).toBe(expected.byCode[code] ?? 0);
      const accLines = fs.readFileSync(out, 'utf8').split('\n').filter(Boolean);
      expect(accLines).toHaveLength(s.accepted);
      const rej = readRejects(rejects);
      expect(rej).toHaveLength(s.rejected);
      for (const r of rej) {
        expect(r.line).toBeGreaterThanOrEqual(1);
        expect(r.line).toBeLessThanOrEqual(6000);
        expect(typeof r.message).toBe('string');
        expect(typeof r.pointer).toBe('string');
        expect(r.raw ?? r.rawBase64).toBeDefined();
      }
      // Line numbers of accepted + rejected partition 1..read.
      expect(new Set(rej.map((r) => r.line)).size).toBe(rej.length);
    });
  }

  it('gives byte-identical outputs on worker threads and inline', async () => {
    expect(ingestWorkerScript(), 'compiled worker script (npm run build:ts)').not.toBeNull();
    const outputs = [];
    for (const workers of [0, 2]) {
      const out = path.join(dir, `w${workers}.ndjson`);
      const rejects = path.join(dir, `w${workers}-rej.ndjson`);
      const s = await ingestFile(corpus, { schema: 'builtin:byte-event', out, rejects, maxRejectRate: 1, workers });
      outputs.push({ s: { ...s, durationMs: 0, eventsPerSecond: 0, out: null, rejects: '' }, out: fs.readFileSync(out), rej: fs.readFileSync(rejects) });
    }
    expect(outputs[1]!.s).toEqual(outputs[0]!.s);
    expect(outputs[1]!.out.equals(outputs[0]!.out)).toBe(true);
    expect(outputs[1]!.rej.equals(outputs[0]!.rej)).toBe(true);
  });

  it('names the failing field with a JSON pointer', async () => {
    const rejects = path.join(dir, 'ptr-rej.ndjson');
    await ingestFile(corpus, { schema: 'builtin:byte-event', out: path.join(dir, 'ptr.ndjson'), rejects, maxRejectRate: 1 });
    const rej = readRejects(rejects);
    const pointers = new Set(rej.map((r) => `${r.code} ${r.pointer}`));
    expect(pointers.has('E_CONSENT /consent')).toBe(true);
    expect(pointers.has('E_CONSENT /consent/scope')).toBe(true);
    expect(pointers.has('E_DUPLICATE_ID /event_id')).toBe(true);
    expect(pointers.has('E_SCHEMA /debug')).toBe(true);
    expect(pointers.has('E_SCHEMA /timestamp')).toBe(true);
    const oversize = rej.find((r) => r.code === 'E_TOO_LARGE')!;
    expect(oversize.rawTruncated).toBe(true);
    expect(oversize.rawBytes).toBeGreaterThan(16_384);
    expect(rej.find((r) => r.code === 'E_ENCODING')!.rawBase64).toBeDefined();
  });

  it('keeps odd unicode and BOM-prefixed events intact', async () => {
    const out = path.join(dir, 'uni.ndjson');
    await ingestFile(corpus, { schema: 'builtin:byte-event', out, rejects: path.join(dir, 'uni-rej.ndjson'), maxRejectRate: 1 });
    const text = fs.readFileSync(out, 'utf8');
    expect(text).toContain('🍵');
    expect(text).toContain('زيت الزيتون');
    expect(text.includes('\ufeff')).toBe(false);
    for (const l of text.split('\n').filter(Boolean)) expect(() => JSON.parse(l)).not.toThrow();
  });

  it('fails the gate above --max-reject-rate and publishes no --out', async () => {
    const out = path.join(dir, 'gated.ndjson');
    const rejects = path.join(dir, 'gated-rej.ndjson');
    const s = await ingestFile(corpus, { schema: 'builtin:byte-event', out, rejects, maxRejectRate: 0.01 });
    expect(s.gate).toBe('failed');
    expect(s.out).toBeNull();
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.existsSync(rejects)).toBe(true);
    expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('passes the gate on a clean corpus and writes Parquet readable by DuckDB', async () => {
    const clean = path.join(dir, 'clean.ndjson');
    await writeEventCorpus(clean, { lines: 2000, seed: 3, faultRate: 0 });
    const out = path.join(dir, 'clean.parquet');
    const s = await ingestFile(clean, { schema: 'builtin:byte-event', out, rejects: path.join(dir, 'clean-rej.ndjson') });
    expect(s.gate).toBe('passed');
    expect(s.accepted).toBe(2000);
    let rows = 0;
    for await (const b of scanFile(out)) {
      rows += b.numRows;
      expect(b.column('timestamp').type).toBe('timestamp_us');
    }
    expect(rows).toBe(2000);
  });

  it('leaves a previous --out untouched when the input is unreadable', async () => {
    const out = path.join(dir, 'keep.ndjson');
    fs.writeFileSync(out, 'previous\n');
    await expect(ingestFile(path.join(dir, 'missing.ndjson'), { schema: 'builtin:byte-event', out, rejects: path.join(dir, 'k-rej.ndjson') })).rejects.toMatchObject({ code: 'E_IO' });
    expect(fs.readFileSync(out, 'utf8')).toBe('previous\n');
  });

  it('handles a final line without newline and an oversize line spanning read chunks', async () => {
    const f = path.join(dir, 'edge.ndjson');
    const big = JSON.stringify({ event_id: 'big', blob: 'y'.repeat(3 << 20) });
    const ok = JSON.stringify({ event_id: 'a', timestamp: '2025-01-01T00:00:00Z', source: 'self', consent: { scope: 'care', revocable: false }, payload: { type: 't', features: {} } });
    fs.writeFileSync(f, `${ok}\n${big}\n${ok.replace('"a"', '"b"')}`);
    const rejects = path.join(dir, 'edge-rej.ndjson');
    const s = await ingestFile(f, { schema: 'builtin:byte-event', out: path.join(dir, 'edge-out.ndjson'), rejects, maxRejectRate: 1 });
    expect(s.read).toBe(3);
    expect(s.accepted).toBe(2);
    const [r] = readRejects(rejects);
    expect(r).toMatchObject({ line: 2, code: 'E_TOO_LARGE', rawBytes: big.length });
  });

  it('refuses bad options before reading anything', async () => {
    await expect(ingestFile(corpus, { schema: 'builtin:nope', out: path.join(dir, 'x.ndjson'), rejects: path.join(dir, 'y.ndjson') })).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(ingestFile(corpus, { schema: 'builtin:byte-event', out: path.join(dir, 'x.ndjson'), rejects: path.join(dir, 'x.ndjson') })).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(ingestFile(corpus, { schema: 'builtin:byte-event', out: path.join(dir, 'x.ndjson'), rejects: path.join(dir, 'y.ndjson'), maxRejectRate: 2 })).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(ingestFile(corpus, { schema: 'builtin:byte-event', out: path.join(dir, 'x.csv'), rejects: path.join(dir, 'y.ndjson') })).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(ingestFile(corpus, { schema: 'builtin:byte-event', out: path.join(dir, 'x.ndjson'), rejects: path.join(dir, 'y.parquet') })).rejects.toMatchObject({ code: 'E_USAGE' });
    expect(fs.existsSync(path.join(dir, 'x.csv'))).toBe(false);
    const before = fs.readFileSync(corpus);
    await expect(ingestFile(corpus, { schema: 'builtin:byte-event', out: path.join(dir, 'x.ndjson'), rejects: corpus })).rejects.toMatchObject({ code: 'E_USAGE' });
    expect(fs.readFileSync(corpus).equals(before)).toBe(true);
  });
});
