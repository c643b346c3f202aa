const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function digits(s: string, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/** RFC 3339 date-time (`2025-01-01T12:00:00.5Z`, offset required; no leap seconds, which DuckDB and Parquet cannot hold), checked without regexes. */
export function isRfc3339DateTime(s: string): boolean {
  if (s.length < 20) return false;
  const y = digits(s, 0, 4);
  const mo = digits(s, 5, 2);
  const d = digits(s, 8, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || s[4] !== '-' || s[7] !== '-') return false;
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  if (d > (mo === 2 && leap ? 29 : DAYS[mo - 1]!)) return false;
  const sep = s[10];
  if (sep !== 'T' && sep !== 't' && sep !== ' ') return false;
  const h = digits(s, 11, 2);
  const mi = digits(s, 14, 2);
  const se = digits(s, 17, 2);
  if (h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 59 || s[13] !== ':' || s[16] !== ':') return false;
  let i = 19;
  if (s[i] === '.') {
    i++;
    const start = i;
    while (i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) i++;
    if (i === start) return false;
  }
  const z = s[i];
  if ((z === 'Z' || z === 'z') && i + 1 === s.length) return true;
  if ((z === '+' || z === '-') && i + 6 === s.length && s[i + 3] === ':') {
    const oh = digits(s, i + 1, 2);
    const om = digits(s, i + 4, 2);
    return oh >= 0 && oh <= 23 && om >= 0 && om <= 59;
  }
  return false;
}
