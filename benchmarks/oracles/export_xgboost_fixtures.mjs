// Writes kiln's XGBoost exports of the oracle models to test/oracle/xgboost/exported/, for
// make_xgboost_fixtures.py --exported to load with XGBoost and predict.
//
//   npm run build:ts && node benchmarks/oracles/export_xgboost_fixtures.mjs
//   python3 benchmarks/oracles/make_xgboost_fixtures.py --exported
//
// xgb-<name>.json: the XGBoost fixture imported into kiln and exported again (round trip).
// lgb-<name>.json: a LightGBM fixture (decision 'le', double leaf values) exported to XGBoost.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { readXGBoostModel, writeXGBoostModel } = await import(path.join(ROOT, 'dist/src/models/interop/xgboost.js'));
const { readLightGBMModel } = await import(path.join(ROOT, 'dist/src/models/interop/lightgbm.js'));

const oracle = path.join(ROOT, 'test/oracle');
const out = path.join(oracle, 'xgboost/exported');
fs.mkdirSync(out, { recursive: true });

const sources = [
  ['xgb-binary', () => readXGBoostModel(path.join(oracle, 'xgboost/binary.json'))],
  ['xgb-multiclass', () => readXGBoostModel(path.join(oracle, 'xgboost/multiclass.json'))],
  ['xgb-regression', () => readXGBoostModel(path.join(oracle, 'xgboost/regression.json'))],
  ['lgb-multiclass', () => readLightGBMModel(path.join(oracle, 'lightgbm/multiclass.txt'))],
  ['lgb-regression', () => readLightGBMModel(path.join(oracle, 'lightgbm/regression.txt'))],
];
for (const [name, load] of sources) {
  const file = path.join(out, `${name}.json`);
  await writeXGBoostModel(await load(), file);
  console.log(`${name}: ${fs.statSync(file).size} bytes`);
}
