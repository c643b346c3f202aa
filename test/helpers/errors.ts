import { expect } from 'vitest';

import { KilnError } from '../../bindings/errors.js';

function expectKilnError(err: unknown, code: string, pattern?: RegExp): void {
  expect(err).toBeInstanceOf(KilnError);
  expect((err as KilnError).code).toBe(code);
  if (pattern) expect((err as Error).message).toMatch(pattern);
}

/** Asserts that `fn` throws a KilnError with `code` (and a message matching `pattern`, when given). */
export function expectCode(fn: () => unknown, code: string, pattern?: RegExp): void {
  try {
    fn();
  } catch (err) {
    expectKilnError(err, code, pattern);
    return;
  }
  throw new Error(`expected a KilnError ${code}`);
}

/** Asserts that `fn` rejects (or throws) with a KilnError with `code` (and a message matching `pattern`, when given). */
export async function expectCodeAsync(fn: () => Promise<unknown>, code: string, pattern?: RegExp): Promise<void> {
  try {
    await fn();
  } catch (err) {
    expectKilnError(err, code, pattern);
    return;
  }
  throw new Error(`expected a KilnError ${code}`);
}

/** The KilnError `promise` rejects with; fails the test when it resolves or rejects with anything else. */
export async function kilnRejection(promise: Promise<unknown>): Promise<KilnError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(KilnError);
    return err as KilnError;
  }
  throw new Error('expected a KilnError rejection');
}
