// `allocscope leaks`: from a series of periodic profiles, the sites whose in-use memory (or handle count) keeps growing.
import type { Command } from '../command';
import { parseOptions, usageError } from '../args';
import { readProfileFile } from '../read-profile';
import { type LeakSuspect, leakSuspects, MIN_POINTS, rankSuspects, SUSPECT_COLUMNS, suspectCells } from '../../report/leaks';
import { findSeries, readSeries } from '../../report/series';

const OPTIONS = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function formatSuspects(suspects: LeakSuspect[]): string {
  const rows = suspects.map((s) => {
    const cells = suspectCells(s);
    return SUSPECT_COLUMNS.map((column) => cells[column]);
  });
  const header: string[] = [...SUSPECT_COLUMNS];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  return [header, ...rows].map((r) => r.map((cell, i) => cell.padEnd(widths[i] as number)).join('  ').trimEnd()).join('\n') + '\n';
}

export const leaks: Command = {
  name: 'leaks',
  summary: 'rank the sites whose memory keeps growing across periodic profiles',
  help: `Usage: allocscope leaks DIR|FILES... [--json]

Reads a series of periodic profiles (allocscope run --every S writes them; JS heap, native and
handle counts) and ranks the allocation sites, and the handle types, whose in-use memory or count
keeps growing: a steady rise after the warm-up (the first quarter of the series is left out), not
noise, not churn that is freed. A site is the innermost frame in the application's own code.
Each suspect shows its growth over the series, its slope per minute, its share of the growth and a
confidence from 0 to 1. Needs at least ${MIN_POINTS} profiles of a kind from one process.
A profile in DIR that cannot be read is skipped and named on stderr; the suspects are still
printed, and the exit status is 1. A FILE that cannot be read is an error.

Options:
  --json      print an array of suspects: { kind, site, file, line, growth, slopePerMinute,
              share, confidence, unit, pid, threadId, points }
  -h, --help  show this help

Example:
  allocscope run --every 60 -- node server.js
  allocscope leaks allocscope-profiles
`,
  async run(args) {
    const { values, positionals } = parseOptions('leaks', args, OPTIONS);
    if (values.help) {
      process.stdout.write(this.help);
      return 0;
    }
    if (positionals.length === 0) throw usageError('leaks', 'expected a directory of profiles or profile files');
    const suspects: LeakSuspect[] = [];
    let longest = 0;
    let skipped = 0;
    for (const series of findSeries(positionals, 'leaks')) {
      const points = readSeries(series, readProfileFile, (error) => {
        skipped++;
        process.stderr.write(`allocscope: skipped ${error.message}\n`);
      });
      longest = Math.max(longest, points.length);
      suspects.push(...leakSuspects(series.kind, points, series));
    }
    const ranked = rankSuspects(suspects);
    if (longest < MIN_POINTS) {
      process.stderr.write(`allocscope: not enough data: the longest series has ${longest} profile${longest === 1 ? '' : 's'}; leaks needs at least ${MIN_POINTS} periodic profiles of a kind from one process (allocscope run --every SECONDS)\n`);
    }
    if (values.json) {
      process.stdout.write(`${JSON.stringify(ranked, null, 2)}\n`);
    } else if (longest >= MIN_POINTS) {
      process.stdout.write(ranked.length === 0 ? 'no leak suspects: nothing grew steadily after the warm-up\n' : formatSuspects(ranked));
    }
    // The ranking stands, but without some of the data: a script should notice.
    return skipped === 0 ? 0 : 1;
  },
};
