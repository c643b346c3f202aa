import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The shared real datasets beside the repository. */
export const DATASETS = path.resolve(ROOT, '../shared/datasets');
/** The compiled CLI entry point. */
export const CLI = path.join(ROOT, 'dist/cli/kiln.js');

/** A fresh temp folder, removed by the caller's afterAll via `rmTemp`. */
export function makeTemp(prefix = 'kiln-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Removes a temp folder. */
export function rmTemp(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}
