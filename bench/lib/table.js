// Plain-text tables and number formatting for benchmark output.
'use strict';

/**
 * formatTable lays out rows under column titles. columns: [{ title, align: 'left'|'right' }];
 * rows: arrays of strings. Returns the table as one string (no trailing newline).
 */
function formatTable(columns, rows) {
  const widths = columns.map((c, i) => Math.max(c.title.length, ...rows.map((r) => String(r[i]).length)));
  const cell = (text, i) => {
    const s = String(text);
    return columns[i].align === 'left' ? s.padEnd(widths[i]) : s.padStart(widths[i]);
  };
  const lines = [
    columns.map((c, i) => cell(c.title, i)).join('  '),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map((r) => r.map((v, i) => cell(v, i)).join('  ')),
  ];
  return lines.map((l) => l.trimEnd()).join('\n');
}

/** formatMarkdownTable lays out the same rows as a GitHub markdown table. */
function formatMarkdownTable(columns, rows) {
  const head = `| ${columns.map((c) => c.title).join(' | ')} |`;
  const rule = `| ${columns.map((c) => (c.align === 'left' ? '---' : '---:')).join(' | ')} |`;
  return [head, rule, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** fmt formats a number with a fixed count of decimals and thousands separators. */
function fmt(value, decimals = 0) {
  if (!Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

/** fmtRatio formats a ratio with 3 decimals. */
function fmtRatio(value) {
  return Number.isFinite(value) ? value.toFixed(3) : 'n/a';
}

/** fmtPct formats a fraction as a signed percentage, e.g. +1.2%. */
function fmtPct(fraction, decimals = 1) {
  if (!Number.isFinite(fraction)) return 'n/a';
  const pct = fraction * 100;
  return `${pct >= 0 ? '+' : ''}${pct.toFixed(decimals)}%`;
}

/** fmtBytes formats a byte count in B, KiB or MiB. */
function fmtBytes(bytes) {
  if (!Number.isFinite(bytes)) return 'n/a';
  if (Math.abs(bytes) < 1024) return `${Math.round(bytes)} B`;
  if (Math.abs(bytes) < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** fmtRatioWithCI formats a row's ratio of medians with its bootstrap CI: "0.987 [0.950..1.020]". */
function fmtRatioWithCI(row) {
  return `${fmtRatio(row.ratioOfMedians)} [${fmtRatio(row.ratioCI.low)}..${fmtRatio(row.ratioCI.high)}]`;
}

/**
 * formatOpsTable lays out fresh-process throughput rows, as the throughput benchmarks summarize
 * them: { config, opsPerSec (summary), ratioOfMedians, ratioCI, pairedRatio, rssMiB }.
 */
function formatOpsTable(summaryRows) {
  const columns = [
    { title: 'config', align: 'left' },
    { title: 'median ops/s', align: 'right' },
    { title: 'min', align: 'right' },
    { title: 'max', align: 'right' },
    { title: 'IQR', align: 'right' },
    { title: 'spread (max-min)/median', align: 'right' },
    { title: 'ratio of medians', align: 'right' },
    { title: '95% CI (bootstrap)', align: 'right' },
    { title: 'paired ratio median [min..max]', align: 'right' },
    { title: 'RSS MiB', align: 'right' },
  ];
  const rows = summaryRows.map((r) => [
    r.config,
    fmt(r.opsPerSec.median),
    fmt(r.opsPerSec.min),
    fmt(r.opsPerSec.max),
    fmt(r.opsPerSec.iqr),
    fmtPct((r.opsPerSec.max - r.opsPerSec.min) / r.opsPerSec.median).replace('+', ''),
    fmtRatio(r.ratioOfMedians),
    r.config === 'baseline' ? '' : `${fmtRatio(r.ratioCI.low)}..${fmtRatio(r.ratioCI.high)}`,
    `${fmtRatio(r.pairedRatio.median)} [${fmtRatio(r.pairedRatio.min)}..${fmtRatio(r.pairedRatio.max)}]`,
    fmt(r.rssMiB, 1),
  ]);
  return formatTable(columns, rows);
}

module.exports = { formatTable, formatMarkdownTable, formatOpsTable, fmt, fmtRatio, fmtRatioWithCI, fmtPct, fmtBytes };
