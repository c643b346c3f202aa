import { KilnError } from '../../bindings/errors.js';

/** File formats kiln reads and writes. */
export type DataFormat = 'csv' | 'ndjson' | 'parquet' | 'arrow';

/** How to read a source file; every field has a sane default. */
export interface ReadOptions {
  /** 'auto' (default) detects by extension. */
  format?: DataFormat | 'auto';
  /** CSV field separator (default: auto-detected by DuckDB). */
  delimiter?: string;
  /** CSV has a header row (default true). */
  header?: boolean;
  /** Lines to skip before the header/data (CSV banners). */
  skip?: number;
  /** Strings read as NULL (CSV), e.g. ['?']. */
  nullStrings?: string[];
  /** CSV columns read as text whatever DuckDB's sniffer guesses (e.g. yes/no labels that would become booleans). */
  textColumns?: string[];
}

const EXTENSIONS: Array<[RegExp, DataFormat]> = [
  [/\.(csv|tsv|txt|dat)(\.gz|\.zst)?$/i, 'csv'],
  [/\.(ndjson|jsonl|json)(\.gz|\.zst)?$/i, 'ndjson'],
  [/\.parquet$/i, 'parquet'],
  [/\.(arrow|ipc|feather|arrows)$/i, 'arrow'],
];

/** The format of a file by its extension, or a KilnError listing the known ones. */
export function detectFormat(file: string): DataFormat {
  for (const [re, fmt] of EXTENSIONS) if (re.test(file)) return fmt;
  throw new KilnError('E_USAGE', `cannot tell the format of ${file} from its extension; pass --format csv|ndjson|parquet|arrow`, { file });
}

/** Resolves 'auto' to a concrete format. */
export function resolveFormat(file: string, opts: ReadOptions = {}): DataFormat {
  return !opts.format || opts.format === 'auto' ? detectFormat(file) : opts.format;
}

/** A SQL string literal. */
export function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** A SQL identifier, always quoted. */
export function sqlIdent(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

/** The DuckDB table function that reads `file` (not for Arrow IPC, which DuckDB cannot read). */
export function sourceSql(file: string, opts: ReadOptions = {}): string {
  const fmt = resolveFormat(file, opts);
  const lit = sqlString(file);
  switch (fmt) {
    case 'csv': {
      const args = [lit];
      if (opts.delimiter !== undefined) args.push(`delim=${sqlString(opts.delimiter)}`);
      args.push(`header=${opts.header === false ? 'false' : 'true'}`);
      args.push('allow_quoted_nulls=false');
      if (opts.skip) args.push(`skip=${Math.trunc(opts.skip)}`);
      if (opts.nullStrings?.length) args.push(`nullstr=[${opts.nullStrings.map(sqlString).join(', ')}]`);
      if (opts.textColumns?.length) args.push(`types={${opts.textColumns.map((c) => `${sqlString(c)}: 'VARCHAR'`).join(', ')}}`);
      return `read_csv(${args.join(', ')})`;
    }
    case 'ndjson':
      return `read_json(${lit}, format='newline_delimited')`;
    case 'parquet':
      return `read_parquet(${lit})`;
    case 'arrow':
      throw new KilnError('E_USAGE', 'Arrow IPC files are read through apache-arrow, not DuckDB SQL', { file });
  }
}
