import { KilnError } from '../../bindings/errors.js';
import { canonicalJson } from '../lineage/hash.js';
import { readModelFile, serializeModel, type GbdtModelJson, type ModelJson } from './format.js';
import { StackingClassifier, serializeStackModel, type StackModelJson } from './ensemble.js';
import { GBDT } from './gbdt.js';
import { LogisticRegression } from './linear.js';
import { MLP } from './mlp.js';
import { readLightGBMModel } from './interop/lightgbm.js';
import { readXGBoostModel, writeXGBoostModel } from './interop/xgboost.js';
import { resolveRegistryRef } from '../registry/registry.js';

/** Any model kiln can load from its own format. */
export type KilnModel = GBDT | LogisticRegression | MLP | StackingClassifier;

/** The exact text `save` writes for a model object of any kind (model hashes are taken over it). */
export function modelFileText(json: ModelJson | StackModelJson): string {
  if (json.kind === 'gbdt') return serializeModel(json as ModelJson);
  if (json.kind === 'stack') return serializeStackModel(json as StackModelJson);
  return `${canonicalJson(json)}\n`;
}

/** Builds the model of a validated model object, by kind. Throws E_MODEL_FORMAT. */
export function modelFromJSON(obj: ModelJson, source = 'model'): KilnModel {
  switch (obj.kind) {
    case 'gbdt':
      return GBDT.fromJSON(obj, source);
    case 'linear':
      return LogisticRegression.fromJSON(obj);
    case 'mlp':
      return MLP.fromJSON(obj);
    case 'stack':
      return StackingClassifier.fromJSON(obj, source);
    default:
      throw new KilnError('E_MODEL_FORMAT', `${source}: model kind "${obj.kind}" cannot be loaded by this build`);
  }
}

/** Reads a kiln model file of any kind (gbdt, linear, mlp, stack), or `registry:<name>[@<version>]`. Throws E_IO, E_USAGE or E_MODEL_FORMAT. */
export async function loadModel(file: string): Promise<KilnModel> {
  const at = file.startsWith('registry:') ? resolveRegistryRef(file).path : file;
  return modelFromJSON(readModelFile(at), file);
}

/** Imports an XGBoost JSON model (save_model('m.json')) as a kiln GBDT. Throws E_IO / E_MODEL_FORMAT. */
export async function importXGBoost(file: string): Promise<GBDT> {
  return GBDT.fromJSON(await readXGBoostModel(file), file);
}

/** Imports a LightGBM text model as a kiln GBDT. Throws E_IO / E_MODEL_FORMAT. */
export async function importLightGBM(file: string): Promise<GBDT> {
  return GBDT.fromJSON(await readLightGBMModel(file), file);
}

/** Writes a GBDT (or gbdt model object) as an XGBoost 1.7 JSON model that predicts the same on float32 inputs. */
export async function exportXGBoost(model: GBDT | GbdtModelJson, file: string): Promise<void> {
  await writeXGBoostModel(model instanceof GBDT ? model.toJSON() : model, file);
}
