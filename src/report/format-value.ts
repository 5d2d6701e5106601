// Formats sample values the way pprof prints them: bytes scaled to kB/MB/GB (base 1024), other units as numbers.

const BYTE_SCALE: [string, number][] = [
  ['TB', 1024 ** 4],
  ['GB', 1024 ** 3],
  ['MB', 1024 ** 2],
  ['kB', 1024],
];

function trimmed(value: number): string {
  const text = value.toFixed(2);
  return text.endsWith('.00') ? text.slice(0, -3) : text;
}

/** formatValue returns e.g. `1.50MB` for 1572864 bytes, `12` for a count of 12. */
export function formatValue(value: number, unit: string): string {
  if (unit === 'bytes') {
    const magnitude = Math.abs(value);
    for (const [suffix, size] of BYTE_SCALE) {
      if (magnitude >= size) return `${trimmed(value / size)}${suffix}`;
    }
    return `${Math.round(value)}B`;
  }
  return Number.isInteger(value) ? String(value) : trimmed(value);
}

/** formatPercent returns e.g. `52.13%`, and `0%` of an empty total. */
export function formatPercent(part: number, total: number): string {
  return total === 0 ? '0%' : `${((100 * part) / total).toFixed(2)}%`;
}
