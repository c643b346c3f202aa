import type { Command } from 'commander';
import path from 'node:path';
import {
  checkManifests,
  createManifest,
  RunReceipt,
  scanManifests,
  validateManifest,
  writeReceipt,
  type CoverageCheck,
  type Manifest,
  type ManifestEntry,
  type ManifestValidation,
} from '../../src/index.js';
import { action, EXIT, formatTable, printJson, withExamples } from '../common.js';

const shown = (abs: string): string => path.relative(process.cwd(), abs) || '.';
const n = (x: number): string => x.toLocaleString('en-US');

/** Creates a manifest and its receipt; returns both paths and the manifest. */
export async function runManifestCreate(dir: string, out: string): Promise<{ manifest: Manifest; out: string; receipt: string }> {
  const receipt = await RunReceipt.start('manifest create', { config: { dir: path.resolve(dir), out: path.resolve(out) } });
  const manifest = await createManifest(dir, out);
  const data = manifest.files.filter((f) => f.format);
  const record = await receipt.finish({
    outputs: [out],
    counts: {
      files: manifest.files.length,
      dataFiles: data.length,
      readErrors: data.filter((f) => f.readError).length,
      bytes: manifest.files.reduce((s, f) => s + f.size, 0),
    },
  });
  return { manifest, out, receipt: await writeReceipt(record, out) };
}

/** Human summary of a created manifest. */
export function formatManifestCreated(m: Manifest, out: string, receiptPath: string): string {
  const data = m.files.filter((f) => f.format);
  const bytes = m.files.reduce((s, f) => s + f.size, 0);
  const lines = [`manifest ${out}: ${n(m.files.length)} files (${n(data.length)} data), ${n(bytes)} bytes, root ${m.root}`];
  if (data.length) {
    lines.push(
      formatTable(
        ['data file', 'format', 'rows', 'columns'],
        data.map((f) => [f.path, f.format ?? '', f.rows === undefined ? '?' : n(f.rows), f.columns ? String(f.columns.length) : '?']),
      )
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n'),
    );
  }
  for (const f of data.filter((d) => d.readError)) lines.push(`  warning: ${f.path} is hashed but DuckDB could not read it: ${f.readError}`);
  lines.push(`  receipt ${receiptPath}`);
  return lines.join('\n');
}

/** Human rendering of a validation; lists every changed, missing and extra file. */
export function formatValidation(v: ManifestValidation): string {
  const how = v.strict ? 'size and sha256' : 'existence and size only; --strict also re-hashes';
  if (v.ok) return `manifest ${shown(v.manifest)}: OK, ${n(v.checked)} files match (${how})`;
  const lines = [`manifest ${shown(v.manifest)}: FAILED (${how}) — ${v.changed.length} changed, ${v.missing.length} missing, ${v.extra.length} extra`];
  for (const c of v.changed) lines.push(`  changed (${c.reason})  ${c.path}`);
  for (const p of v.missing) lines.push(`  missing  ${p}`);
  for (const p of v.extra) lines.push(`  extra    ${p}`);
  return lines.join('\n');
}

/** Human table of found manifests. */
export function formatScan(dir: string, entries: ManifestEntry[]): string {
  if (!entries.length) return `no kiln manifests under ${dir}`;
  return formatTable(
    ['manifest', 'root', 'files', 'created'],
    entries.map((e) => (e.error ? [shown(e.file), 'INVALID', '', e.error] : [shown(e.file), shown(e.root), n(e.files), e.createdAt])),
  );
}

/** Human rendering of a coverage check. */
export function formatCoverage(c: CoverageCheck): string {
  const head = `coverage of ${shown(c.root)}: ${n(c.dataFiles)} data files, ${n(c.manifests.length)} manifests`;
  if (c.ok) return `${head}: OK, every data file is covered by exactly one manifest`;
  const lines = [`${head}: FAILED — ${c.uncovered.length} uncovered, ${c.duplicated.length} covered more than once`];
  for (const p of c.uncovered) lines.push(`  uncovered   ${p}`);
  for (const d of c.duplicated) lines.push(`  duplicated  ${d.path}  (${d.manifests.join(', ')})`);
  return lines.join('\n');
}

/** Registers `kiln manifest` (create, scan, validate, check). */
export function registerManifest(program: Command): void {
  const manifest = program.command('manifest').description('Content manifests of data folders: sizes, sha256, rows and columns; tamper and coverage checks');

  const create = manifest
    .command('create')
    .description('Hash every file under <dir> (rows and columns for data files) into a manifest, written atomically with a run receipt beside it')
    .argument('<dir>', 'folder to cover')
    .requiredOption('--out <manifest.json>', 'manifest file to write (its receipt goes to <out>.receipt.json)')
    .option('--json', 'machine-readable result on stdout')
    .action(
      action(async (dir: string, flags: { out: string; json?: boolean }) => {
        const r = await runManifestCreate(dir, flags.out);
        if (flags.json) printJson({ ok: true, out: path.resolve(r.out), receipt: path.resolve(r.receipt), manifest: r.manifest });
        else process.stdout.write(formatManifestCreated(r.manifest, r.out, r.receipt) + '\n');
      }),
    );
  withExamples(create, 'kiln manifest create data/raw --out data/raw.manifest.json', 'kiln manifest create ../shared/datasets --out /tmp/datasets.manifest.json --json');

  const scan = manifest
    .command('scan')
    .description('List every kiln manifest under <dir> (hidden folders and node_modules skipped)')
    .argument('<dir>', 'folder to search')
    .option('--json', 'machine-readable list on stdout')
    .action(
      action(async (dir: string, flags: { json?: boolean }) => {
        const entries = await scanManifests(dir);
        if (flags.json) printJson({ ok: true, manifests: entries });
        else process.stdout.write(formatScan(dir, entries) + '\n');
      }),
    );
  withExamples(scan, 'kiln manifest scan data', 'kiln manifest scan . --json');

  const validate = manifest
    .command('validate')
    .description('Compare a folder with its manifest: exit 1 listing changed, missing and extra files (sizes only unless --strict)')
    .argument('<manifest.json>', 'manifest to check')
    .option('--strict', 're-hash every file (catches same-size edits)')
    .option('--json', 'machine-readable result on stdout')
    .action(
      action(async (file: string, flags: { strict?: boolean; json?: boolean }) => {
        const v = await validateManifest(file, { strict: Boolean(flags.strict) });
        if (flags.json) printJson(v);
        else process.stdout.write(formatValidation(v) + '\n');
        return v.ok ? EXIT.OK : EXIT.GATE;
      }),
    );
  withExamples(validate, 'kiln manifest validate data/raw.manifest.json', 'kiln manifest validate data/raw.manifest.json --strict --json');

  const check = manifest
    .command('check')
    .description('Single source of truth: exit 1 when a data file under <root> is covered by no manifest or by more than one')
    .argument('<root>', 'folder whose data files and manifests are checked')
    .option('--json', 'machine-readable result on stdout')
    .action(
      action(async (root: string, flags: { json?: boolean }) => {
        const c = await checkManifests(root);
        if (flags.json) printJson(c);
        else process.stdout.write(formatCoverage(c) + '\n');
        return c.ok ? EXIT.OK : EXIT.GATE;
      }),
    );
  withExamples(check, 'kiln manifest check data', 'kiln manifest check . --json');
}
