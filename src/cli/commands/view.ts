// `allocscope view`: a local web page on a profile (Speedscope) or on a directory of periodic profiles (timeline and leak suspects).
import type { Command } from '../command';
import { checked, parseOptions, usageError } from '../args';
import { AllocscopeError } from '../../errors';
import { describeIoError } from '../../util/io-errors';
import { parseCount } from '../../util/parse-units';
import { startViewServer } from '../../view/view-server';

const OPTIONS = {
  port: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const view: Command = {
  name: 'view',
  summary: 'show a profile in Speedscope, or a directory\'s memory timeline and leak suspects, on a local page',
  help: `Usage: allocscope view FILE|DIR [--port N]

Serves a page on 127.0.0.1 and prints its URL; open it in a browser. No network access is
needed: the Speedscope viewer comes from the speedscope npm package.

  FILE  a profile: opens in Speedscope (flame graph, sandwich, left heavy), one view per sample type
  DIR   periodic profiles (allocscope run --every S): the memory timeline of each process (JS heap,
        native, handles per period) and the leak suspects of 'allocscope leaks', each linked to
        the flame graph of its newest profile. Reload to see new periods. A profile there that
        cannot be read is skipped, and named on stderr and on the page.

Options:
  --port N    port to listen on (default 0: any free port)
  -h, --help  show this help

Example:
  allocscope view allocscope-profiles
`,
  async run(args) {
    const { values, positionals } = parseOptions('view', args, OPTIONS);
    if (values.help) {
      process.stdout.write(this.help);
      return 0;
    }
    if (positionals.length !== 1) throw usageError('view', `expected one profile file or directory, got ${positionals.length}`);
    const port = values.port === undefined ? 0 : checked('view', () => parseCount('--port', values.port as string, 0, 65535));
    const target = positionals[0] as string;
    let server;
    try {
      server = await startViewServer(target, port, (message) => process.stderr.write(`allocscope: ${message}\n`));
    } catch (error) {
      if (error instanceof AllocscopeError) throw error;
      throw new AllocscopeError('ERR_IO', `${target}: ${describeIoError(error)}`, { cause: error });
    }
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        process.removeListener('SIGINT', stop);
        process.removeListener('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      // Only now: whoever reads the URL may stop the server at once, and it should stop cleanly.
      process.stdout.write(`allocscope: viewing ${target} at ${server.url} (Ctrl-C to stop)\n`);
    });
    await server.close();
    return 0;
  },
};
