import { KilnError } from '../../bindings/errors.js';
import { readModelFile, type ModelJson } from './format.js';
import { GBDT } from './gbdt.js';

/** Any model kiln can load from its own format. */
export type KilnModel = GBDT;

/** Builds the model of a validated model object, by kind. Throws E_MODEL_FORMAT. */
export function modelFromJSON(obj: ModelJson, source = 'model'): KilnModel {
  switch (obj.kind) {
    case 'gbdt':
      return GBDT.fromJSON(obj, source);
    default:
      throw new KilnError('E_MODEL_FORMAT', `${source}: model kind "${obj.kind}" cannot be loaded by this build`);
  }
}

/** Reads a kiln model file of any kind (gbdt, linear, mlp). Throws E_IO or E_MODEL_FORMAT. */
export async function loadModel(file: string): Promise<KilnModel> {
  return modelFromJSON(readModelFile(file), file);
}
