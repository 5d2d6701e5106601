// topTable ranks a profile's functions by flat or cumulative value, as `go tool pprof -top` does.
import { AllocscopeError } from '../errors';
import type { Profile, ProfileFunction, ValueType } from '../model/profile';
import { formatPercent, formatValue } from './format-value';

/** TopRow is one function: its own value (flat) and with its callees (cum). */
export interface TopRow {
  name: string;
  file: string;
  startLine: number;
  flat: number;
  cum: number;
}

export interface TopTable {
  sampleType: ValueType;
  total: number;
  /** Sorted by the magnitude of flat (or cum), largest first, then by name. */
  rows: TopRow[];
}

/**
 * sampleIndexOf resolves a sample type name (`inuse_space`) or position (`1`) to an index;
 * without one, the profile's default sample type, else the last, as pprof does.
 */
export function sampleIndexOf(profile: Profile, spec: string | undefined): number {
  const names = profile.sampleTypes.map((t) => t.type);
  if (names.length === 0) throw new AllocscopeError('ERR_INVALID_PROFILE', 'profile has no sample types');
  if (spec === undefined) {
    const index = names.indexOf(profile.defaultSampleType);
    return index >= 0 ? index : names.length - 1;
  }
  const byName = names.indexOf(spec);
  if (byName >= 0) return byName;
  if (/^\d+$/.test(spec) && Number(spec) < names.length) return Number(spec);
  throw new AllocscopeError('ERR_USAGE', `sample index '${spec}' is not in this profile; it has ${names.join(', ')}`);
}

function functionKey(fn: ProfileFunction): string {
  return `${fn.name}\0${fn.filename}\0${fn.startLine}`;
}

/** topTable sums the chosen sample value per function; recursion counts once in cum. */
export function topTable(profile: Profile, sampleIndex: number, sortBy: 'flat' | 'cum'): TopTable {
  const rows = new Map<string, TopRow>();
  const rowOf = (fn: ProfileFunction): TopRow => {
    const key = functionKey(fn);
    let row = rows.get(key);
    if (row === undefined) {
      row = { name: fn.name, file: fn.filename, startLine: fn.startLine, flat: 0, cum: 0 };
      rows.set(key, row);
    }
    return row;
  };
  let total = 0;
  for (const sample of profile.samples) {
    const value = sample.values[sampleIndex] ?? 0;
    total += Math.abs(value); // as pprof: diff profiles mix signs, and shares are of the magnitude
    const leaf = sample.locations[0]?.lines[0]?.function;
    if (leaf !== undefined) rowOf(leaf).flat += value;
    const seen = new Set<TopRow>();
    for (const location of sample.locations) {
      for (const line of location.lines) seen.add(rowOf(line.function));
    }
    for (const row of seen) row.cum += value;
  }
  const sorted = [...rows.values()].sort((a, b) => Math.abs(b[sortBy]) - Math.abs(a[sortBy]) || a.name.localeCompare(b.name));
  return { sampleType: profile.sampleTypes[sampleIndex] as ValueType, total, rows: sorted };
}

/** formatTopTable renders the first `nodes` rows with pprof's columns: flat flat% sum% cum cum%. */
export function formatTopTable(table: TopTable, nodes: number): string {
  const { unit } = table.sampleType;
  const shown = table.rows.slice(0, nodes);
  const shownFlat = shown.reduce((sum, row) => sum + row.flat, 0);
  const lines = [
    `Type: ${table.sampleType.type}`,
    `Showing nodes accounting for ${formatValue(shownFlat, unit)}, ${formatPercent(shownFlat, table.total)} of ${formatValue(table.total, unit)} total`,
  ];
  if (shown.length < table.rows.length) lines.push(`Showing top ${shown.length} nodes out of ${table.rows.length}`);
  const header = ['flat', 'flat%', 'sum%', 'cum', 'cum%'];
  const cells: string[][] = [];
  let sum = 0;
  for (const row of shown) {
    sum += row.flat;
    cells.push([
      formatValue(row.flat, unit), formatPercent(row.flat, table.total), formatPercent(sum, table.total),
      formatValue(row.cum, unit), formatPercent(row.cum, table.total),
    ]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)));
  const pad = (values: string[]): string => values.map((v, i) => v.padStart(widths[i] as number)).join(' ');
  lines.push(pad(header));
  shown.forEach((row, i) => {
    // Anonymous functions are already named by their place (see functionName).
    const place = row.file === '' || row.name.startsWith('(anonymous) ') ? '' : ` ${row.file}${row.startLine > 0 ? `:${row.startLine}` : ''}`;
    lines.push(`${pad(cells[i] as string[])}  ${row.name}${place}`);
  });
  return lines.join('\n') + '\n';
}
