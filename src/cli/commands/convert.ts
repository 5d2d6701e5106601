// `allocscope convert`: a profile in another viewer's format, Speedscope's JSON or Chrome DevTools' .heapprofile.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from '../command';
import { parseOptions, usageError } from '../args';
import { readProfileFile, withFileName } from '../read-profile';
import { AllocscopeError } from '../../errors';
import { toHeapProfile } from '../../format/heapprofile';
import { toSpeedscope } from '../../format/speedscope';
import { describeIoError } from '../../util/io-errors';
import { suggestion } from '../../util/options';

const OPTIONS = {
  to: { type: 'string' },
  out: { type: 'string', short: 'o' },
  help: { type: 'boolean', short: 'h' },
} as const;

const FORMATS = ['speedscope', 'heapprofile'] as const;

export const convert: Command = {
  name: 'convert',
  summary: 'convert a profile for Speedscope (speedscope) or Chrome DevTools (heapprofile)',
  help: `Usage: allocscope convert FILE --to FORMAT -o OUT

Writes a pprof profile in another viewer's format.

Formats:
  speedscope   Speedscope's JSON file format, one profile per sample type (the profile's
               default type shown first); heap and native profiles. Open it at
               https://www.speedscope.app or with 'npx speedscope OUT'.
  heapprofile  Chrome DevTools' .heapprofile (Memory panel, Load); JS heap profiles only,
               sized by inuse_space.

Options:
  --to FORMAT     speedscope or heapprofile (required)
  -o, --out OUT   file to write (required); written whole or not at all
  -h, --help      show this help

Example:
  allocscope convert profiles/2026-11-21T06-04-12.953Z-pid4171-0001.heap.pb.gz \\
    --to heapprofile -o leak.heapprofile
`,
  async run(args) {
    const { values, positionals } = parseOptions('convert', args, OPTIONS);
    if (values.help) {
      process.stdout.write(this.help);
      return 0;
    }
    if (positionals.length !== 1) throw usageError('convert', `expected one profile file, got ${positionals.length}`);
    const file = positionals[0] as string;
    const to = values.to;
    if (to === undefined) throw usageError('convert', `--to is required: ${FORMATS.join(' or ')}`);
    if (!(FORMATS as readonly string[]).includes(to)) {
      throw usageError('convert', `unknown format '${to}'${suggestion(to, FORMATS)}; formats: ${FORMATS.join(', ')}`);
    }
    const out = values.out;
    if (out === undefined || out === '') throw usageError('convert', '-o OUT is required: the file to write');

    const profile = readProfileFile(file);
    const converted = withFileName(file, () => (to === 'heapprofile' ? toHeapProfile(profile, file) : toSpeedscope(profile, path.basename(file))));
    writeWhole(out, JSON.stringify(converted));
    return 0;
  },
};

/** writeWhole writes OUT.tmp and renames it to OUT, so OUT is never half written; a failure leaves no .tmp. */
function writeWhole(out: string, text: string): void {
  const tmp = `${out}.tmp`;
  try {
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, out);
  } catch (error) {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // Something else is in the way at OUT.tmp; the error below is the one to report.
    }
    // ENOENT on a write means the directory is missing, not the file.
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'its directory does not exist' : describeIoError(error);
    throw new AllocscopeError('ERR_IO', `${out}: ${reason}`, { cause: error });
  }
}
