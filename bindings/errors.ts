/** Stable error codes shared by TypeScript and the native addon. */
export type KilnErrorCode =
  | 'E_USAGE'
  | 'E_IO'
  | 'E_SCHEMA'
  | 'E_NATIVE_INPUT'
  | 'E_NATIVE_MISSING'
  | 'E_NO_GPU'
  | 'E_MODEL_FORMAT'
  | 'E_MANIFEST'
  | 'E_DATASET'
  | 'E_INTERNAL'
  | 'E_CANCELLED'
  | 'E_GATE'
  | 'E_DATA_CHANGED'
  | 'E_VALIDATION';

/** The one error class of kiln: `code` is stable, `details` carries file/row/field when known. */
export class KilnError extends Error {
  readonly code: KilnErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: KilnErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'KilnError';
    this.code = code;
    this.details = details;
  }
}

/** True when `err` is a KilnError (also across module copies, by name and code). */
export function isKilnError(err: unknown): err is KilnError {
  return err instanceof KilnError || (err instanceof Error && err.name === 'KilnError' && typeof (err as { code?: unknown }).code === 'string');
}
