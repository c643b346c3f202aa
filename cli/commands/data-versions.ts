import type { Command } from 'commander';
import path from 'node:path';
import { DatasetVersions, KilnError, RunReceipt, writeReceipt, type DatasetVersionInfo } from '../../src/index.js';
import { action, formatTable, printJson, withExamples } from '../common.js';

const n = (x: number): string => x.toLocaleString('en-US');

/** Parses `key=value` pairs; E_USAGE on a pair without "=", an empty key, or a repeated key. */
export function parseMeta(pairs: string[] = []): Record<string, string> {
  const meta: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new KilnError('E_USAGE', `--meta expects key=value, got "${pair}"`);
    const key = pair.slice(0, eq);
    if (Object.hasOwn(meta, key)) throw new KilnError('E_USAGE', `--meta key "${key}" given twice`);
    meta[key] = pair.slice(eq + 1);
  }
  return meta;
}

function shape(info: DatasetVersionInfo): string {
  if (info.rows !== undefined && info.columns) return `${n(info.rows)} rows × ${info.columns.length} columns`;
  if (info.readError) return `not readable as data: ${info.readError}`;
  return 'not a data file';
}

/** Human rendering of one dataset version. */
export function formatVersionInfo(info: DatasetVersionInfo, storedPath?: string): string {
  const lines = [
    `${info.id}`,
    `  sha256   ${info.sha256}`,
    `  size     ${n(info.size)} bytes`,
    `  source   ${info.sourcePath}`,
    `  format   ${info.format ?? '-'}  (${shape(info)})`,
    `  created  ${info.createdAt}`,
  ];
  for (const [k, v] of Object.entries(info.meta)) lines.push(`  meta     ${k}=${v}`);
  if (info.columns?.length) lines.push(`  columns  ${info.columns.map((c) => `${c.name}:${c.type}`).join(', ')}`);
  if (storedPath) lines.push(`  stored   ${storedPath}  (sha256 verified)`);
  return lines.join('\n');
}

/** Adds `snapshot`, `versions` and `show` to the `kiln data` command. */
export function registerDataVersions(data: Command): void {
  const snapshot = data
    .command('snapshot')
    .description('Store a read-only, content-addressed copy of <file> and print its dataset id (same bytes → same id)')
    .argument('<file>', 'file to snapshot')
    .option('--meta <key=value...>', 'labels stored with a new version, e.g. --meta source=crm split=train')
    .option('--store <dir>', 'dataset store (default: $KILN_HOME/datasets, else ./.kiln/datasets)')
    .option('--json', 'machine-readable version info on stdout')
    .action(
      action(async (file: string, flags: { meta?: string[]; store?: string; json?: boolean }) => {
        const store = new DatasetVersions(flags.store);
        const meta = parseMeta(flags.meta);
        const receipt = await RunReceipt.start('data snapshot', { config: { meta }, inputs: [file] });
        const info = await store.createVersion(file, meta);
        if (!info.existing) {
          const stored = path.join(store.storeDir, info.id, info.dataFile);
          await writeReceipt(await receipt.finish({ outputs: [stored], extra: { datasetId: info.id } }), stored);
        }
        if (flags.json) {
          printJson({ ok: true, store: store.storeDir, ...info, existing: Boolean(info.existing) });
          return;
        }
        process.stdout.write(`${info.id}\n`);
        process.stderr.write(`${info.existing ? 'already stored' : 'stored'}: ${file} → ${info.id} (${shape(info)}) in ${store.storeDir}\n`);
      }),
    );
  withExamples(
    snapshot,
    'kiln data snapshot ../shared/datasets/sklearn_small/iris.csv --meta source=sklearn split=all',
    'ID=$(kiln data snapshot train.parquet) && kiln data show "$ID"',
  );

  const versions = data
    .command('versions')
    .description('List stored dataset versions, oldest first')
    .option('--store <dir>', 'dataset store (default: $KILN_HOME/datasets, else ./.kiln/datasets)')
    .option('--json', 'machine-readable list on stdout')
    .action(
      action(async (flags: { store?: string; json?: boolean }) => {
        const store = new DatasetVersions(flags.store);
        const list = await store.listVersions();
        if (flags.json) {
          printJson({ ok: true, store: store.storeDir, versions: list });
          return;
        }
        if (!list.length) {
          process.stdout.write(`no dataset versions in ${store.storeDir}\n`);
          return;
        }
        process.stdout.write(
          formatTable(
            ['id', 'created', 'file', 'rows', 'size', 'meta'],
            list.map((v) => [v.id, v.createdAt, v.fileName, v.rows === undefined ? '-' : n(v.rows), n(v.size), Object.entries(v.meta).map(([k, x]) => `${k}=${x}`).join(' ')]),
          ) + '\n',
        );
      }),
    );
  withExamples(versions, 'kiln data versions', 'KILN_HOME=/srv/kiln kiln data versions --json');

  const show = data
    .command('show')
    .description('Show one dataset version; --verify re-hashes the stored copy (exit 2 when it was tampered with)')
    .argument('<id>', 'dataset id, e.g. ds_0123456789abcdef')
    .option('--verify', 're-hash the stored copy and print its path')
    .option('--store <dir>', 'dataset store (default: $KILN_HOME/datasets, else ./.kiln/datasets)')
    .option('--json', 'machine-readable version info on stdout')
    .action(
      action(async (id: string, flags: { verify?: boolean; store?: string; json?: boolean }) => {
        const store = new DatasetVersions(flags.store);
        const info = await store.getVersionInfo(id);
        const storedPath = flags.verify ? await store.loadVersion(id) : undefined;
        if (flags.json) printJson({ ok: true, store: store.storeDir, ...info, ...(storedPath ? { storedPath, verified: true } : {}) });
        else process.stdout.write(formatVersionInfo(info, storedPath) + '\n');
      }),
    );
  withExamples(show, 'kiln data show ds_0123456789abcdef', 'kiln data show ds_0123456789abcdef --verify --json');
}
