// loadModel reads every kind of kiln model file and returns the matching model class.
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { GBDT, LogisticRegression, MLP, loadModel } from '../../../src/index.js';
import { makeTemp, rmTemp } from '../../helpers/paths.js';

const tmp = makeTemp('kiln-load-');
afterAll(() => rmTemp(tmp));

it('loadModel dispatches on kind and round-trips every model byte-identically', async () => {
  const rows = 300, cols = 3;
  const values = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 1.7));
  const y = Float64Array.from({ length: rows }, (_, r) => (values[r * cols]! + values[r * cols + 1]! > 0 ? 1 : 0));
  const X = { values, rows, cols };
  const models = [
    ['gbdt', await new GBDT({ nEstimators: 5, numLeaves: 4 }).fit(X, y), GBDT],
    ['linear', await new LogisticRegression({}).fit(X, y), LogisticRegression],
    ['mlp', await new MLP({ hiddenLayers: [4], epochs: 3, seed: 1 }).fit(X, y), MLP],
  ] as const;
  for (const [kind, model, Class] of models) {
    const a = path.join(tmp, `${kind}.json`), b = path.join(tmp, `${kind}-again.json`);
    await model.save(a);
    const loaded = await loadModel(a);
    expect(loaded).toBeInstanceOf(Class);
    await loaded.save(b);
    expect(fs.readFileSync(b, 'utf8')).toBe(fs.readFileSync(a, 'utf8'));
    expect(Array.from(await loaded.predict(X))).toEqual(Array.from(await model.predict(X)));
  }
});
