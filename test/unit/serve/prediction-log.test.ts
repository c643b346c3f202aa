// The rotating prediction log: whole lines, size rotation, retention, feature hashes.
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { PredictionLog, featureHash, predictionLogFiles, type PredictionRecord } from '../../../src/index.js';
import { expectCode } from '../../helpers/errors.js';
import { makeTemp, rmTemp } from '../../helpers/paths.js';

const tmp = makeTemp('kiln-predlog-');
afterAll(() => rmTemp(tmp));

const record = (i: number): PredictionRecord => ({ id: `r${i}`, model: 'm.json', modelVersion: 'a'.repeat(64), featureHash: featureHash([i, 'x', null]), output: i / 100, label: i % 2 ? 'yes' : 'no', time: '2026-11-23T00:00:00.000Z' });

describe('PredictionLog', () => {
  it('appends whole NDJSON lines and rotates by size, keeping every record in order', () => {
    const dir = path.join(tmp, 'rotate');
    const log = new PredictionLog(dir, { maxBytes: 2048 });
    for (let i = 0; i < 50; i++) log.write(record(i));
    log.close();
    const files = predictionLogFiles(dir);
    expect(files.length).toBeGreaterThan(2);
    const lines = files.flatMap((f) => {
      expect(fs.statSync(f).size).toBeLessThanOrEqual(2048);
      return fs.readFileSync(f, 'utf8').trim().split('\n');
    });
    expect(lines.map((l) => JSON.parse(l).id)).toEqual(Array.from({ length: 50 }, (_, i) => `r${i}`));
    expect(JSON.parse(lines[3]!)).toEqual(record(3));
    // A new log object continues the last file rather than overwriting it.
    const again = new PredictionLog(dir, { maxBytes: 2048 });
    again.write(record(50));
    again.close();
    const after = predictionLogFiles(dir).flatMap((f) => fs.readFileSync(f, 'utf8').trim().split('\n'));
    expect(after).toHaveLength(51);
  });

  it('keeps at most maxFiles files, deleting the oldest', () => {
    const dir = path.join(tmp, 'retain');
    const log = new PredictionLog(dir, { maxBytes: 1024, maxFiles: 2 });
    for (let i = 0; i < 60; i++) log.write(record(i));
    log.close();
    const files = predictionLogFiles(dir);
    expect(files).toHaveLength(2);
    const ids = files.flatMap((f) => fs.readFileSync(f, 'utf8').trim().split('\n')).map((l) => JSON.parse(l).id);
    expect(ids.at(-1)).toBe('r59');
    expect(ids).not.toContain('r0');
  });

  it('refuses bad options and a missing log', () => {
    expectCode(() => new PredictionLog(path.join(tmp, 'bad'), { maxBytes: 10 }), 'E_USAGE');
    expectCode(() => new PredictionLog(path.join(tmp, 'bad'), { maxFiles: -1 }), 'E_USAGE');
    expectCode(() => predictionLogFiles(path.join(tmp, 'nope')), 'E_IO');
  });

  it('feature hashes depend on values and their order only', () => {
    expect(featureHash([1, 'a', null])).toBe(featureHash([1, 'a', null]));
    expect(featureHash([1, 'a', null])).not.toBe(featureHash(['a', 1, null]));
    expect(featureHash([1, 'a', null])).not.toBe(featureHash([1, 'a', 0]));
    expect(featureHash([Number.NaN])).toBe(featureHash([null]));
    expect(featureHash([1])).toMatch(/^[0-9a-f]{32}$/);
  });
});
