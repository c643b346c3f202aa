import type { Command } from 'commander';
import { Option } from 'commander';
import { inspectFile, type FileProfile } from '../../src/index.js';
import { action, formatTable, intOption, printJson, withExamples } from '../common.js';
import { registerDataVersions } from './data-versions.js';

interface InspectFlags {
  format: 'auto' | 'csv' | 'ndjson' | 'parquet' | 'arrow';
  delimiter?: string;
  skip?: number;
  null?: string[];
  header: boolean;
  rows: number;
  json?: boolean;
}

const show = (v: unknown): string => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));

/** Human rendering of a file profile. */
export function formatProfile(p: FileProfile): string {
  const cols = formatTable(
    ['column', 'type', 'nulls', 'min', 'max'],
    p.columns.map((c) => [c.name, c.duckdbType, c.nullCount.toLocaleString('en-US'), show(c.min).slice(0, 28), show(c.max).slice(0, 28)]),
  );
  const names = p.columns.map((c) => c.name);
  const sample = p.sample.length ? formatTable(names, p.sample.map((r) => names.map((n) => show(r[n]).slice(0, 18)))) : '(no rows)';
  return `${p.file}  [${p.format}]  ${p.rowCount.toLocaleString('en-US')} rows × ${p.columns.length} columns\n\n${cols}\n\nsample:\n${sample}`;
}

/** Registers `kiln data` (inspect, plus snapshot/versions/show). */
export function registerData(program: Command): void {
  const data = program.command('data').description('Inspect data files and manage content-addressed dataset versions');
  const inspect = data
    .command('inspect')
    .description('Columns and types, row count, null counts, min/max and sample rows of a CSV, NDJSON, Parquet or Arrow IPC file')
    .argument('<file>', 'data file')
    .addOption(new Option('--format <format>', 'input format').choices(['auto', 'csv', 'ndjson', 'parquet', 'arrow']).default('auto'))
    .option('--delimiter <char>', 'CSV field separator (default: detected)')
    .option('--skip <n>', 'lines to skip before the header (banners)', intOption('--skip'))
    .option('--null <string...>', 'strings to read as missing, e.g. --null "?"')
    .option('--no-header', 'the CSV has no header row')
    .option('--rows <n>', 'sample rows to show', intOption('--rows'), 5)
    .option('--json', 'machine-readable profile on stdout')
    .action(
      action(async (file: string, flags: InspectFlags) => {
        const profile = await inspectFile(file, {
          format: flags.format,
          delimiter: flags.delimiter,
          skip: flags.skip,
          nullStrings: flags.null,
          header: flags.header,
          sampleRows: flags.rows,
        });
        if (flags.json) printJson(profile);
        else process.stdout.write(formatProfile(profile) + '\n');
      }),
    );
  withExamples(
    inspect,
    'kiln data inspect ../shared/datasets/adult/adult.data.csv --null "?"',
    "kiln data inspect ../shared/datasets/bank_marketing/bank-full.csv --delimiter ';' --json",
    'kiln data inspect ../shared/datasets/crypto_ohlcv/Binance_BTCUSDT_d.csv --skip 1',
  );
  registerDataVersions(data);
}
