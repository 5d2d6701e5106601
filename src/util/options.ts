// Checks for user-supplied option objects: unknown names (with a suggestion) and integer ranges.

/** editDistance is the Levenshtein distance, used to suggest the option a user meant. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** suggestion returns " (did you mean 'x'?)" for the closest known name, or "". */
export function suggestion(name: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = candidate.toLowerCase().startsWith(name.toLowerCase())
      ? 0
      : editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, name.length / 2) ? ` (did you mean '${best}'?)` : '';
}

/** checkOptionsObject throws a TypeError for a non-object or an option name not in `known`. */
export function checkOptionsObject(options: unknown, known: readonly string[], where: string): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`${where}: options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  for (const name of Object.keys(options)) {
    if (!known.includes(name)) {
      throw new TypeError(`${where}: unknown option '${name}'${suggestion(name, known)}; known options: ${known.join(', ')}`);
    }
  }
}

/**
 * integerOption returns `value`, or `fallback` when undefined, after checking it is an
 * integer within [min, max]: a TypeError for a wrong type, a RangeError naming the option otherwise.
 */
export function integerOption(where: string, name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${where}: option '${name}' must be a number, got ${typeof value === 'number' ? 'NaN' : typeof value}`);
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${where}: option '${name}' must be an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}
