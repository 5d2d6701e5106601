// `allocscope diff`: what grew between two profiles of one program, per allocation site, and the change as a pprof file.
import * as fs from 'node:fs';
import type { Command } from '../command';
import { checked, parseOptions, usageError } from '../args';
import { readProfileFile } from '../read-profile';
import { AllocscopeError } from '../../errors';
import { encode } from '../../format';
import { diffProfile, diffSites, diffTypes, formatDiff, type DiffNames } from '../../report/diff';
import { describeIoError } from '../../util/io-errors';
import { parseCount } from '../../util/parse-units';

const OPTIONS = {
  'sample-index': { type: 'string' },
  nodes: { type: 'string' },
  json: { type: 'boolean' },
  out: { type: 'string', short: 'o' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** writeAtomically writes FILE.tmp and renames it, so a reader never sees half a profile. */
function writeAtomically(file: string, bytes: Buffer): void {
  const temporary = `${file}.tmp`;
  try {
    fs.writeFileSync(temporary, bytes);
    fs.renameSync(temporary, file);
  } catch (error) {
    fs.rmSync(temporary, { force: true });
    throw new AllocscopeError('ERR_IO', `${file}: ${describeIoError(error)}`, { cause: error });
  }
}

export const diff: Command = {
  name: 'diff',
  summary: 'rank the allocation sites that grew between two profiles of the same kind',
  help: `Usage: allocscope diff BASE NEW [--sample-index TYPE] [--nodes N] [--json] [-o OUT.pb.gz]

Compares two profiles of the same kind (two JS heap profiles, or two native ones), usually an
early and a late one of the same process, and ranks the allocation sites (the innermost frame in
the application's own code) by how much their memory grew from BASE to NEW; shrinking sites come
last. Each line: function file:line  size=NEW (change)  count=NEW (change).

Options:
  --sample-index TYPE  value to compare: a sample type name (inuse_space, inuse_objects, ...)
                       or its position in NEW; default: NEW's default type
  --nodes N            show the first N sites (default 20; with --json, all unless given)
  --json               print a JSON array of { function, file, line, size, sizeDelta, count,
                       countDelta } instead, one per site in the same order
  -o, --out FILE       also write the change as a pprof profile (NEW minus BASE, as
                       'go tool pprof -diff_base BASE NEW' sees it)
  -h, --help           show this help
`,
  async run(args) {
    const { values, positionals } = parseOptions('diff', args, OPTIONS);
    if (values.help) {
      process.stdout.write(this.help);
      return 0;
    }
    if (positionals.length !== 2) throw usageError('diff', `expected two profile files, BASE and NEW, got ${positionals.length}`);
    if (values.out === '') throw usageError('diff', `option '--out' needs a file name`);
    const nodes = values.nodes === undefined ? undefined : checked('diff', () => parseCount('--nodes', values.nodes as string, 1, 1_000_000));
    const [baseFile, nextFile] = positionals as [string, string];
    const base = readProfileFile(baseFile);
    const next = readProfileFile(nextFile);
    const names: DiffNames = { base: `BASE ${baseFile}`, next: `NEW ${nextFile}` };
    const { sampleType, countType } = diffTypes(base, next, values['sample-index'], names);
    const rows = diffSites(base, next, values['sample-index'], names);
    if (values.out !== undefined) writeAtomically(values.out, encode(diffProfile(base, next, names)));
    if (values.json) {
      const json = rows.slice(0, nodes ?? rows.length).map((row) => ({
        function: row.site.name,
        file: row.site.file,
        line: row.site.line,
        size: row.value,
        sizeDelta: row.delta,
        // No count column for this sample type (e.g. inuse_objects itself): null, not a made-up 0.
        count: countType === undefined ? null : row.count,
        countDelta: countType === undefined ? null : row.countDelta,
      }));
      process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
    } else {
      process.stdout.write(formatDiff(rows, sampleType, countType, nodes ?? 20));
    }
    return 0;
  },
};
