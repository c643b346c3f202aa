import { describe, expect, it } from 'vitest';
import { isRfc3339DateTime } from '../../../src/validate/formats.js';

describe('isRfc3339DateTime', () => {
  it.each(['2025-01-01T00:00:00Z', '2024-02-29T23:59:59.123456+05:30', '2025-12-31t10:00:00z', '2025-06-01 10:00:00-00:00'])('accepts %s', (s) => {
    expect(isRfc3339DateTime(s)).toBe(true);
  });
  it.each(['2025-01-01', '2025-01-01T00:00:00', '2025-02-29T00:00:00Z', '2025-13-01T00:00:00Z', '2025-01-32T00:00:00Z', '2025-01-01T24:00:00Z', '2025-01-01T00:00:00.Z', '2025-01-01T00:00:00+0530', 'x025-01-01T00:00:00Z', '2025-01-01T00:00:00Zjunk', '2016-12-31T23:59:60Z'])(
    'rejects %s',
    (s) => {
      expect(isRfc3339DateTime(s)).toBe(false);
    },
  );
});
