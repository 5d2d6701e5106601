// Allocation sites: the innermost frame of a stack in the application's own code, and a profile's totals per site.
import type { Line, Profile, Sample } from '../model/profile';

/** Site is where the application allocated: a function and the line of the call in it. */
export interface Site {
  /** Stable across profiles: function, file and line. */
  key: string;
  name: string;
  file: string;
  line: number;
}

export interface SiteTotals {
  site: Site;
  /** Sum of the chosen sample value (e.g. inuse_space) over the site's stacks. */
  value: number;
  /** Sum of the matching count (e.g. inuse_objects), 0 when the profile has none. */
  count: number;
}

/**
 * isApplicationFrame: a frame of a JS file of the application (node_modules included): not one of
 * Node's own modules (`node:`), not a native frame (no file), not V8's (`native ...`). The leak
 * a team can fix is in such a frame, even when the allocation itself happens in Buffer.alloc,
 * Map.prototype.set or malloc.
 */
export function isApplicationFrame(line: Line): boolean {
  const file = line.function.filename;
  return file !== '' && !file.startsWith('node:') && !file.startsWith('native ') && !file.startsWith('[');
}

/** siteOf: the innermost application frame of a sample (leaf first), else its leaf frame. */
export function siteOf(sample: Sample): Site | undefined {
  let leaf: Line | undefined;
  for (const location of sample.locations) {
    for (const line of location.lines) {
      leaf ??= line;
      if (isApplicationFrame(line)) return siteOfLine(line);
    }
  }
  return leaf === undefined ? undefined : siteOfLine(leaf);
}

function siteOfLine(line: Line): Site {
  const { name, filename } = line.function;
  const at = line.line > 0 ? line.line : line.function.startLine;
  return { key: `${name}\0${filename}\0${at}`, name, file: filename, line: at };
}

/** countIndexFor: the count column that goes with a size column (inuse_space -> inuse_objects), or -1. */
export function countIndexFor(profile: Profile, valueIndex: number): number {
  const type = profile.sampleTypes[valueIndex]?.type ?? '';
  const countType = type.replace(/_space$/, '_objects');
  return countType === type ? -1 : profile.sampleTypes.findIndex((t) => t.type === countType);
}

/** siteTotals sums a profile's value (and its count) per allocation site. */
export function siteTotals(profile: Profile, valueIndex: number): Map<string, SiteTotals> {
  const countIndex = countIndexFor(profile, valueIndex);
  const totals = new Map<string, SiteTotals>();
  for (const sample of profile.samples) {
    const site = siteOf(sample);
    if (site === undefined) continue;
    let entry = totals.get(site.key);
    if (entry === undefined) {
      entry = { site, value: 0, count: 0 };
      totals.set(site.key, entry);
    }
    entry.value += sample.values[valueIndex] ?? 0;
    if (countIndex >= 0) entry.count += sample.values[countIndex] ?? 0;
  }
  return totals;
}
