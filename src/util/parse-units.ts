// Parses option text shared by CLI flags and environment variables: byte sizes, seconds, counts.

const BYTE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 };

/** UnitParseError says which option had which bad text; callers add where it came from. */
export class UnitParseError extends Error {}

/** parseBytes reads `524288`, `512k`, `512KiB` or `1m` (binary units) as a whole number of bytes. */
export function parseBytes(name: string, text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = BYTE_UNITS[(match?.[2] ?? '').toLowerCase()];
  if (match === null || unit === undefined) {
    throw new UnitParseError(`${name} must be a size in bytes such as 524288 or 512k, got '${text}'`);
  }
  const bytes = Number(match[1]) * unit;
  if (!Number.isSafeInteger(bytes) || bytes < 1) {
    throw new UnitParseError(`${name} must be a whole number of bytes of at least 1, got '${text}'`);
  }
  return bytes;
}

/** parseSeconds reads a positive number of seconds such as `60` or `0.5`. */
export function parseSeconds(name: string, text: string): number {
  const seconds = /^\s*\d+(\.\d+)?\s*$/.test(text) ? Number(text) : NaN;
  if (!(seconds > 0) || seconds > 24 * 3600) {
    throw new UnitParseError(`${name} must be a number of seconds above 0 and at most 86400, got '${text}'`);
  }
  return seconds;
}

/** parseCount reads a whole number from `min` to `max`. */
export function parseCount(name: string, text: string, min: number, max: number): number {
  const value = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UnitParseError(`${name} must be a whole number from ${min} to ${max}, got '${text}'`);
  }
  return value;
}
