// The page `allocscope view DIR` shows: the memory timeline of each process (JS heap, native, handles) and the leak suspects, each linked to its flame graph.
import { formatValue } from '../report/format-value';
import { type LeakSuspect, SUSPECT_COLUMNS, suspectCells } from '../report/leaks';
import { escapeHtml } from './html';

/** One line of the timeline: a series' total per period. */
export interface TimelineSeries {
  label: string;
  unit: string;
  points: { timeMs: number; value: number }[];
}

export interface OverviewData {
  title: string;
  /** Panels by kind: JS heap, native, handles. */
  panels: { title: string; series: TimelineSeries[] }[];
  suspects: LeakSuspect[];
  /** Where a suspect's flame graph opens (the newest profile of its kind and process). */
  flameGraphUrl: (suspect: LeakSuspect) => string | undefined;
  notes: string[];
}

const WIDTH = 640;
const HEIGHT = 180;
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

/** chart draws a panel's series as polylines in an inline SVG (no script, no network). */
function chart(panel: OverviewData['panels'][number]): string {
  const all = panel.series.flatMap((s) => s.points);
  if (all.length === 0) return `<p class="empty">no ${escapeHtml(panel.title)} profiles</p>`;
  const t0 = Math.min(...all.map((p) => p.timeMs));
  const t1 = Math.max(...all.map((p) => p.timeMs));
  const top = Math.max(1, ...all.map((p) => p.value));
  const x = (t: number): number => 40 + ((WIDTH - 50) * (t - t0)) / Math.max(1, t1 - t0);
  const y = (v: number): number => HEIGHT - 20 - ((HEIGHT - 30) * v) / top;
  const unit = panel.series[0]?.unit ?? '';
  const lines = panel.series.map((s, i) => {
    const points = s.points.map((p) => `${x(p.timeMs).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ');
    return `<polyline class="series" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="2" points="${points}"><title>${escapeHtml(s.label)}</title></polyline>`;
  });
  const legend = panel.series.map((s, i) => `<span style="color:${COLORS[i % COLORS.length]}">&#9632; ${escapeHtml(s.label)}</span>`).join(' ');
  return `<svg class="timeline" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="${escapeHtml(panel.title)} over time">
  <line x1="40" y1="${HEIGHT - 20}" x2="${WIDTH - 10}" y2="${HEIGHT - 20}" stroke="#999"/>
  <line x1="40" y1="10" x2="40" y2="${HEIGHT - 20}" stroke="#999"/>
  <text x="2" y="16" font-size="11">${escapeHtml(formatValue(top, unit))}</text>
  <text x="40" y="${HEIGHT - 4}" font-size="11">${escapeHtml(new Date(t0).toISOString())}</text>
  <text x="${WIDTH - 10}" y="${HEIGHT - 4}" font-size="11" text-anchor="end">+${((t1 - t0) / 1000).toFixed(0)} s</text>
  ${lines.join('\n  ')}
</svg>
<div class="legend">${legend}</div>`;
}

function suspectsTable(data: OverviewData): string {
  if (data.suspects.length === 0) return '<p class="empty">no leak suspects: nothing grew steadily after the warm-up</p>';
  const numeric = new Set(['growth', 'slope', 'share', 'confidence']);
  const rows = data.suspects.map((s) => {
    const cells = suspectCells(s);
    const url = data.flameGraphUrl(s);
    return `<tr>${SUSPECT_COLUMNS.map((column) => {
      const text = escapeHtml(cells[column]);
      if (column === 'site') return `<td class="site">${url === undefined ? text : `<a href="${escapeHtml(url)}">${text}</a>`}</td>`;
      return numeric.has(column) ? `<td class="num">${text}</td>` : `<td>${text}</td>`;
    }).join('')}</tr>`;
  });
  return `<table class="suspects"><thead><tr>${SUSPECT_COLUMNS.map((c) => `<th>${c}</th>`).join('')}</tr></thead>
<tbody>
${rows.join('\n')}
</tbody></table>`;
}

/** overviewPage renders the whole page; every value from the profiles goes through escapeHtml. */
export function overviewPage(data: OverviewData): string {
  const panels = data.panels.map((p) => `<section class="panel"><h2>${escapeHtml(p.title)}</h2>${chart(p)}</section>`).join('\n');
  const notes = data.notes.map((n) => `<p class="note">${escapeHtml(n)}</p>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'self'; style-src 'unsafe-inline'; script-src 'none'">
<title>${escapeHtml(data.title)}</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 24px; color: #222; }
.panel { display: inline-block; vertical-align: top; margin: 0 24px 24px 0; }
table { border-collapse: collapse; } td, th { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } .empty, .note { color: #777; } .legend { font-size: 12px; max-width: ${WIDTH}px; }
</style></head>
<body>
<h1>${escapeHtml(data.title)}</h1>
${notes}
<h2>Memory over time</h2>
${panels}
<h2>Leak suspects</h2>
${suspectsTable(data)}
</body></html>
`;
}
