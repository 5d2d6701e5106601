// diffSites ranks allocation sites by their growth from a BASE profile to a NEW one; diffProfile writes that change as a pprof profile.
import { AllocscopeError } from '../errors';
import { ProfileBuilder } from '../model/builder';
import type { Label, Location, Mapping, Profile, ProfileFunction, ValueType } from '../model/profile';
import { formatValue } from './format-value';
import { countIndexFor, siteTotals, type Site } from './sites';
import { sampleIndexOf } from './top';

/** DiffRow is one allocation site: its value in NEW and the change since BASE. */
export interface DiffRow {
  site: Site;
  /** The chosen sample value (e.g. inuse_space) in NEW. */
  value: number;
  /** NEW minus BASE: positive for growth. */
  delta: number;
  /** The matching count (e.g. inuse_objects) in NEW; 0 when the sample type has none. */
  count: number;
  countDelta: number;
}

/** How the two profiles are called in messages; the CLI adds the file names. */
export interface DiffNames {
  base: string;
  next: string;
}

const DEFAULT_NAMES: DiffNames = { base: 'BASE', next: 'NEW' };

/**
 * kindOf names a profile by its sample types, as people know them: allocscope's JS heap profiles
 * have only inuse_* types (V8 keeps no record of freed samples), native ones alloc_* and inuse_*.
 */
function kindOf(types: readonly ValueType[]): string {
  const names = types.map((t) => t.type);
  const list = names.join(', ');
  if (names.length > 0 && names.every((n) => n.startsWith('inuse_'))) return `JS heap profile (${list})`;
  if (names.some((n) => n.startsWith('alloc_')) && names.some((n) => n.startsWith('inuse_'))) return `native memory profile (${list})`;
  return `profile of ${list === '' ? 'no sample types' : list}`;
}

const typeKey = (t: ValueType): string => `${t.type}/${t.unit}`;

/**
 * assertSameKind refuses profiles whose sample types differ (as sets: order does not matter,
 * values are matched by name): the difference of a JS heap and a native profile means nothing.
 */
export function assertSameKind(base: Profile, next: Profile, names: DiffNames = DEFAULT_NAMES): void {
  const baseKeys = base.sampleTypes.map(typeKey).sort();
  const nextKeys = next.sampleTypes.map(typeKey).sort();
  if (baseKeys.length === nextKeys.length && baseKeys.every((key, i) => key === nextKeys[i])) return;
  let baseKind = kindOf(base.sampleTypes);
  let nextKind = kindOf(next.sampleTypes);
  if (baseKind === nextKind) {
    // Same names, other units: say the units.
    baseKind = `profile of ${base.sampleTypes.map(typeKey).join(', ')}`;
    nextKind = `profile of ${next.sampleTypes.map(typeKey).join(', ')}`;
  }
  throw new AllocscopeError('ERR_USAGE', `${names.base} is a ${baseKind} and ${names.next} a ${nextKind}; diff two profiles of the same kind`);
}

/** DiffTypes: the value compared, found by name in both profiles, and its count column. */
export interface DiffTypes {
  sampleType: ValueType;
  countType: ValueType | undefined;
  nextIndex: number;
  baseIndex: number;
}

/**
 * diffTypes resolves the sample type to compare on NEW (a name, a position, or NEW's default)
 * and finds the type of that name in BASE.
 */
export function diffTypes(base: Profile, next: Profile, valueIndexName?: string, names: DiffNames = DEFAULT_NAMES): DiffTypes {
  assertSameKind(base, next, names);
  const nextIndex = sampleIndexOf(next, valueIndexName);
  const sampleType = next.sampleTypes[nextIndex] as ValueType;
  const baseIndex = base.sampleTypes.findIndex((t) => t.type === sampleType.type);
  if (baseIndex < 0) {
    throw new AllocscopeError(
      'ERR_USAGE',
      `sample type '${sampleType.type}' of ${names.next} is not in ${names.base}, which has ${base.sampleTypes.map((t) => t.type).join(', ')}`,
    );
  }
  const countIndex = countIndexFor(next, nextIndex);
  return { sampleType, countType: countIndex >= 0 ? next.sampleTypes[countIndex] : undefined, nextIndex, baseIndex };
}

/**
 * diffSites sums both profiles per allocation site at the same sample type and ranks the sites
 * by growth, largest first, so shrinking sites come last; ties by name, file and line.
 */
export function diffSites(base: Profile, next: Profile, valueIndexName?: string, names: DiffNames = DEFAULT_NAMES): DiffRow[] {
  const { nextIndex, baseIndex } = diffTypes(base, next, valueIndexName, names);
  const rows = new Map<string, DiffRow>();
  for (const [key, totals] of siteTotals(next, nextIndex)) {
    rows.set(key, { site: totals.site, value: totals.value, delta: totals.value, count: totals.count, countDelta: totals.count });
  }
  for (const [key, totals] of siteTotals(base, baseIndex)) {
    let row = rows.get(key);
    if (row === undefined) {
      // Gone in NEW: all of it was freed.
      row = { site: totals.site, value: 0, delta: 0, count: 0, countDelta: 0 };
      rows.set(key, row);
    }
    row.delta -= totals.value;
    row.countDelta -= totals.count;
  }
  return [...rows.values()].sort(
    (a, b) => b.delta - a.delta || a.site.name.localeCompare(b.site.name) || a.site.file.localeCompare(b.site.file) || a.site.line - b.site.line,
  );
}

/** signed formats a change with its sign: `+1.50MB`, `-200kB`, `0B`. */
function signed(value: number, unit: string): string {
  const text = formatValue(value, unit);
  return value > 0 ? `+${text}` : text;
}

/** formatCount prints a count column as a whole number: counts are estimates scaled for sampling. */
function formatCount(value: number): string {
  return String(Math.round(value) || 0);
}

function signedCount(value: number): string {
  const text = formatCount(value);
  return value >= 0.5 ? `+${text}` : text;
}

function placeOf(site: Site): string {
  if (site.file === '') return site.name;
  return `${site.name} ${site.file}${site.line > 0 ? `:${site.line}` : ''}`;
}

/**
 * formatDiff renders a header with the total growth, then the first `nodes` rows as
 * `function file:line  size=X (+dX)  count=N (+dN)`, the count part only when there is a count type.
 */
export function formatDiff(rows: readonly DiffRow[], sampleType: ValueType, countType: ValueType | undefined, nodes: number): string {
  const { unit } = sampleType;
  const size = (value: number): string => (unit === 'bytes' ? formatValue(value, unit) : formatCount(value));
  const sizeDelta = (value: number): string => (unit === 'bytes' ? signed(value, unit) : signedCount(value));
  const newTotal = rows.reduce((sum, row) => sum + row.value, 0);
  const growth = rows.reduce((sum, row) => sum + row.delta, 0);
  const lines = [`Type: ${sampleType.type}; total growth ${sizeDelta(growth)} (${size(newTotal - growth)} -> ${size(newTotal)})`];
  const shown = rows.slice(0, nodes);
  if (shown.length < rows.length) lines.push(`Showing the first ${shown.length} of ${rows.length} sites`);
  const places = shown.map((row) => placeOf(row.site));
  const sizes = shown.map((row) => `size=${size(row.value)} (${sizeDelta(row.delta)})`);
  const placeWidth = Math.max(0, ...places.map((p) => p.length));
  const sizeWidth = Math.max(0, ...sizes.map((s) => s.length));
  shown.forEach((row, i) => {
    const place = (places[i] as string).padEnd(placeWidth);
    if (countType === undefined) {
      lines.push(`${place}  ${sizes[i] as string}`);
    } else {
      lines.push(`${place}  ${(sizes[i] as string).padEnd(sizeWidth)}  count=${formatCount(row.count)} (${signedCount(row.countDelta)})`);
    }
  });
  return lines.join('\n') + '\n';
}

/** The label pprof's -diff_base puts on the negated BASE samples; pprof takes percentages of their total. */
const DIFF_BASE_LABEL: Label = { key: 'pprof::base', str: 'true' };

/**
 * diffProfile returns the difference NEW - BASE as one pprof profile, the way `go tool pprof
 * -diff_base BASE NEW` builds it: NEW's samples, and BASE's with every value negated and the
 * label pprof::base=true. Mappings, functions and locations that are the same in both become one,
 * so pprof nets each function's change. Sample types (and their order) are NEW's.
 */
export function diffProfile(base: Profile, next: Profile, names: DiffNames = DEFAULT_NAMES): Profile {
  assertSameKind(base, next, names);
  // Where each of NEW's sample types is in BASE (the sets are equal; the order may differ).
  const baseColumn = next.sampleTypes.map((t) => base.sampleTypes.findIndex((b) => b.type === t.type && b.unit === t.unit));
  const builder = new ProfileBuilder({
    sampleTypes: next.sampleTypes.map((t) => ({ ...t })),
    defaultSampleType: next.defaultSampleType,
    periodType: next.periodType ?? { type: '', unit: '' },
    period: next.period,
    timeNanos: next.timeNanos,
    durationNanos: next.durationNanos,
    comments: [
      `allocscope diff: ${names.next} minus ${names.base}`,
      `samples of ${names.next}, and of ${names.base} negated and labelled pprof::base=true, as go tool pprof -diff_base makes them`,
    ],
  });

  const mappings = new Map<string, Mapping>();
  const mappingOf = (source: Mapping | undefined): Mapping | undefined => {
    if (source === undefined) return undefined;
    const key = `${source.file}\0${source.buildId}\0${source.memoryStart}\0${source.memoryLimit}\0${source.fileOffset}`;
    let mapping = mappings.get(key);
    if (mapping === undefined) {
      const { id: _id, ...fields } = source;
      mapping = builder.addMapping(fields);
      mappings.set(key, mapping);
    }
    return mapping;
  };
  const functionOf = (source: ProfileFunction): ProfileFunction => builder.sourceFunction(source.name, source.filename, source.startLine);

  // Locations the builder cannot make (native addresses, inlined lines, folded frames) are made
  // here, keyed by their mapping too: two processes can load different objects at one address.
  // They get their ids once the builder's locations are numbered.
  const ownLocations = new Map<string, Location>();
  const locationOf = (source: Location): Location => {
    const mapping = mappingOf(source.mapping);
    const [line, ...inlined] = source.lines;
    if (source.address === 0 && !source.isFolded && line !== undefined && inlined.length === 0) {
      const fn = line.function;
      return builder.sourceLocation({ name: fn.name, filename: fn.filename, startLine: fn.startLine, line: line.line, column: line.column }, mapping);
    }
    const lines = source.lines.map((l) => ({ function: functionOf(l.function), line: l.line, column: l.column }));
    const key = [mapping?.id ?? 0, source.address, source.isFolded, ...lines.map((l) => `${l.function.id}:${l.line}:${l.column}`)].join('\0');
    let location = ownLocations.get(key);
    if (location === undefined) {
      location = { id: 0, mapping, address: source.address, lines, isFolded: source.isFolded };
      ownLocations.set(key, location);
    }
    return location;
  };

  const addSamples = (profile: Profile, values: (sample: number[]) => number[], extraLabels: Label[]): void => {
    const copies = new Map<Location, Location>();
    for (const sample of profile.samples) {
      const locations = sample.locations.map((source) => {
        let copy = copies.get(source);
        if (copy === undefined) {
          copy = locationOf(source);
          copies.set(source, copy);
        }
        return copy;
      });
      builder.addSample(locations, values(sample.values), [...sample.labels, ...extraLabels]);
    }
  };
  addSamples(next, (values) => [...values], []);
  addSamples(base, (values) => baseColumn.map((column) => {
    const value = values[column] ?? 0;
    return value === 0 ? 0 : -value; // not -0
  }), [DIFF_BASE_LABEL]);

  const profile = builder.build();
  for (const location of ownLocations.values()) {
    location.id = profile.locations.length + 1;
    profile.locations.push(location);
  }
  profile.periodType = next.periodType === undefined ? undefined : { ...next.periodType };
  profile.dropFrames = next.dropFrames;
  profile.keepFrames = next.keepFrames;
  return profile;
}
