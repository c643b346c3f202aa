// The model registry: numbered immutable versions, registry: references, loadModel through them.
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { GBDT, loadModel } from '../../../src/index.js';
import { listVersions, registerModel, resolveRegistryRef } from '../../../src/registry/registry.js';
import { makeTemp, rmTemp } from '../../helpers/paths.js';

const tmp = makeTemp('kiln-registry-');
afterAll(() => rmTemp(tmp));

describe('model registry', () => {
  it('registers versions, resolves references and loads through them', async () => {
    const dir = path.join(tmp, 'registry');
    const X = { values: Float32Array.from({ length: 400 }, (_, i) => (i * 7919) % 101), rows: 200, cols: 2 };
    const y = Float64Array.from({ length: 200 }, (_, i) => (X.values[i * 2]! > 50 ? 1 : 0));
    const files: string[] = [];
    for (const n of [3, 5]) {
      const m = await new GBDT({ nEstimators: n, seed: 1 }).fit(X, y);
      const f = path.join(tmp, `m${n}.json`);
      await m.save(f);
      files.push(f);
    }
    const v1 = await registerModel('churn', files[0]!, { runId: 'r1', metrics: { auc: 0.9 } }, dir);
    const v2 = await registerModel('churn', files[1]!, {}, dir);
    expect([v1.version, v2.version]).toEqual([1, 2]);
    expect(fs.readFileSync(v1.path, 'utf8')).toBe(fs.readFileSync(files[0]!, 'utf8'));
    expect(listVersions('churn', dir).map((v) => [v.version, v.runId])).toEqual([[1, 'r1'], [2, null]]);
    expect(resolveRegistryRef('registry:churn', dir).version.version).toBe(2);
    expect(resolveRegistryRef('registry:churn@1', dir).path).toBe(v1.path);
    expect(() => resolveRegistryRef('registry:churn@3', dir)).toThrow(/no version 3/);
    expect(() => resolveRegistryRef('registry:nope', dir)).toThrow(/no model/);
    expect(() => resolveRegistryRef('churn', dir)).toThrow(/not a registry reference/);
    await expect(registerModel('bad name', files[0]!, {}, dir)).rejects.toThrow(/registry name/);
    const junk = path.join(tmp, 'junk.json');
    fs.writeFileSync(junk, '{"format":"nope"}');
    await expect(registerModel('churn', junk, {}, dir)).rejects.toThrow();
    expect(listVersions('churn', dir)).toHaveLength(2);
    const prev = process.env.KILN_HOME;
    process.env.KILN_HOME = tmp;
    try {
      const loaded = await loadModel('registry:churn@1');
      expect(JSON.stringify((loaded as GBDT).toJSON())).toBe(JSON.stringify(JSON.parse(fs.readFileSync(files[0]!, 'utf8'))));
    } finally {
      if (prev === undefined) delete process.env.KILN_HOME;
      else process.env.KILN_HOME = prev;
    }
  });
});
