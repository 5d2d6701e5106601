// `allocscope top`: the heaviest functions of a profile, as `go tool pprof -top` prints them.
import type { Command } from '../command';
import { checked, parseOptions, usageError } from '../args';
import { readProfileFile } from '../read-profile';
import { formatTopTable, sampleIndexOf, topTable } from '../../report/top';
import { parseCount } from '../../util/parse-units';

const OPTIONS = {
  'sample-index': { type: 'string' },
  nodes: { type: 'string' },
  cum: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const top: Command = {
  name: 'top',
  summary: 'print the functions holding the most memory in a profile (like go tool pprof -top)',
  help: `Usage: allocscope top FILE [--sample-index TYPE] [--nodes N] [--cum]

Prints the functions of a pprof profile ranked by the memory they hold themselves (flat) and
with their callees (cum), with the columns of 'go tool pprof -top'.

Options:
  --sample-index TYPE  value to rank by: a sample type name (inuse_space, inuse_objects, ...)
                       or its position; default: the profile's default type
  --nodes N            show the first N functions (default 20)
  --cum                sort by cumulative value instead of flat
  -h, --help           show this help
`,
  async run(args) {
    const { values, positionals } = parseOptions('top', args, OPTIONS);
    if (values.help) {
      process.stdout.write(this.help);
      return 0;
    }
    if (positionals.length !== 1) throw usageError('top', `expected one profile file, got ${positionals.length}`);
    const nodes = values.nodes === undefined ? 20 : checked('top', () => parseCount('--nodes', values.nodes as string, 1, 1_000_000));
    const profile = readProfileFile(positionals[0] as string);
    const index = sampleIndexOf(profile, values['sample-index']);
    process.stdout.write(formatTopTable(topTable(profile, index, values.cum ? 'cum' : 'flat'), nodes));
    return 0;
  },
};
