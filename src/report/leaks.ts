// Ranks the allocation sites (and handle types) whose in-use memory keeps growing across a series of periodic profiles.
import type { ProfileKind } from '../record/file-names';
import type { Profile } from '../model/profile';
import { formatValue } from './format-value';
import { siteTotals } from './sites';

/** One profile of a series, with when it was taken. */
export interface SeriesPoint {
  timeMs: number;
  profile: Profile;
}

export interface LeakSuspect {
  kind: 'js' | 'native' | 'handles';
  /** The function (for handles: the resource type, e.g. Timeout). */
  site: string;
  file: string;
  line: number;
  pid: number;
  threadId: number;
  unit: string;
  /** In use at the end of the window minus at its start (bytes, or handles). */
  growth: number;
  /** Least-squares slope over the window, per minute. */
  slopePerMinute: number;
  /** This site's part of the growth of all growing sites of the same series. */
  share: number;
  /** 0..1: how well a steady rise explains the points (fit and share of rising steps). */
  confidence: number;
  points: number;
}

/** Fewer profiles than this in a series and nothing can be told apart from warm-up and noise. */
export const MIN_POINTS = 4;

/**
 * Below this, a rise is not told from noise. Periodic JS heap profiles skip the full GC, so
 * garbage not collected yet makes even a real leak's series uneven (0.55-0.85 measured on
 * test/fixtures/leaky-service); churn that is freed has no steady rise at all and stays far below.
 */
const MIN_CONFIDENCE = 0.4;

const KIND_OF: Record<ProfileKind, LeakSuspect['kind']> = { heap: 'js', native: 'native', handles: 'handles' };
const VALUE_TYPE: Record<ProfileKind, string> = { heap: 'inuse_space', native: 'inuse_space', handles: 'resources' };

/**
 * leakSuspects looks at one series (one process and thread, one kind, in time order). The
 * first quarter of the points is warm-up (caches filling, code loading) and is left out; over
 * the rest, a suspect is a site whose in-use value rises steadily: a positive slope that a
 * straight line explains well (R²), mostly rising steps, and growth above the noise (1% of the
 * series' final total, at least 64 KiB, or 3 handles). Churn that is freed stays flat and never
 * qualifies; a one-time rise ends in the warm-up or flattens and fails the fit.
 */
export function leakSuspects(kind: ProfileKind, points: SeriesPoint[], series: { pid: number; threadId: number }): LeakSuspect[] {
  if (points.length < MIN_POINTS) return [];
  const window = points.slice(Math.max(1, Math.floor(points.length / 4)));
  const valueIndex = (window[0] as SeriesPoint).profile.sampleTypes.findIndex((t) => t.type === VALUE_TYPE[kind]);
  if (valueIndex < 0) return [];
  const unit = (window[0] as SeriesPoint).profile.sampleTypes[valueIndex]?.unit ?? '';
  const perPoint = window.map((p) => siteTotals(p.profile, valueIndex));
  const minutes = window.map((p) => (p.timeMs - (window[0] as SeriesPoint).timeMs) / 60_000);
  const finalTotal = [...(perPoint.at(-1) as Map<string, { value: number }>).values()].reduce((sum, t) => sum + Math.max(0, t.value), 0);
  const threshold = kind === 'handles' ? 3 : Math.max(64 * 1024, 0.01 * finalTotal);

  const candidates: LeakSuspect[] = [];
  const keys = new Set(perPoint.flatMap((totals) => [...totals.keys()]));
  for (const key of keys) {
    const values = perPoint.map((totals) => totals.get(key)?.value ?? 0);
    const site = perPoint.map((totals) => totals.get(key)?.site).find((s) => s !== undefined);
    if (site === undefined) continue;
    const growth = (values.at(-1) as number) - (values[0] as number);
    const { slope, r2 } = linearFit(minutes, values);
    const rising = values.slice(1).filter((v, i) => v > (values[i] as number)).length / (values.length - 1);
    if (growth < threshold || slope <= 0) continue;
    candidates.push({
      kind: KIND_OF[kind], site: site.name, file: site.file, line: site.line, pid: series.pid, threadId: series.threadId, unit,
      growth, slopePerMinute: slope, share: 0, confidence: Math.min(1, r2 * rising * Math.min(1, window.length / 6)), points: window.length,
    });
  }
  const totalGrowth = candidates.reduce((sum, c) => sum + c.growth, 0);
  for (const c of candidates) c.share = totalGrowth > 0 ? c.growth / totalGrowth : 0;
  return candidates.filter((c) => c.confidence >= MIN_CONFIDENCE);
}

/** SUSPECT_COLUMNS and suspectCells: how a suspect reads in the CLI table and on the view page alike. */
export const SUSPECT_COLUMNS = ['kind', 'site', 'where', 'growth', 'slope', 'share', 'confidence', 'process'] as const;

export function suspectCells(s: LeakSuspect): Record<(typeof SUSPECT_COLUMNS)[number], string> {
  return {
    kind: s.kind,
    site: s.site,
    where: s.file === '' ? '' : `${s.file}:${s.line}`,
    growth: `+${formatValue(s.growth, s.unit)}`,
    slope: `+${formatValue(Math.round(s.slopePerMinute), s.unit)}/min`,
    share: `${Math.round(100 * s.share)}%`,
    confidence: s.confidence.toFixed(2),
    process: `pid ${s.pid}${s.threadId === 0 ? '' : ` w${s.threadId}`}`,
  };
}

/** rankSuspects orders suspects of several series: most confident first, then the larger share of growth. */
export function rankSuspects(suspects: LeakSuspect[]): LeakSuspect[] {
  return [...suspects].sort((a, b) => b.confidence - a.confidence || b.share - a.share || a.site.localeCompare(b.site));
}

/** linearFit: least-squares slope of y over x and the fit's R² (1 for a flat series at the mean: no variance left). */
function linearFit(x: number[], y: number[]): { slope: number; r2: number } {
  const n = x.length;
  const meanX = x.reduce((a, b) => a + b, 0) / n;
  const meanY = y.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (x[i] as number) - meanX;
    const dy = (y[i] as number) - meanY;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  if (sxx === 0) return { slope: 0, r2: 0 };
  const slope = sxy / sxx;
  return { slope, r2: syy === 0 ? 1 : (sxy * sxy) / (sxx * syy) };
}
