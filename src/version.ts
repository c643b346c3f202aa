import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The kiln package root (holds package.json and schemas/), from source or from dist/. */
export const PACKAGE_ROOT: string = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'package.json');
    if (fs.existsSync(candidate)) {
      const pkg = JSON.parse(fs.readFileSync(candidate, 'utf8')) as { name?: string };
      if (pkg.name === 'kiln') return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('kiln: cannot find the package root (package.json named "kiln")');
    dir = parent;
  }
})();

/** kiln's package version. */
export const KILN_VERSION: string = (JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** Absolute path of a file in schemas/. */
export function schemaPath(name: string): string {
  return path.join(PACKAGE_ROOT, 'schemas', name);
}
