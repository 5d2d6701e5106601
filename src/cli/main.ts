#!/usr/bin/env node
// allocscope's command line: picks the subcommand, and turns errors a user can fix into one line on stderr.
import { AllocscopeError } from '../errors';
import { VERSION } from '../version';
import type { Command } from './command';
import { diff } from './commands/diff';
import { convert } from './commands/convert';
import { leaks } from './commands/leaks';
import { view } from './commands/view';
import { run } from './commands/run';
import { top } from './commands/top';
import { suggestion } from '../util/options';

const COMMANDS: Command[] = [run, top, diff, leaks, convert, view];

const HELP = `Usage: allocscope <command> [options]

Sampling allocation profiler for Node.js; writes pprof profiles.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(10)}${c.summary}`).join('\n')}

Run 'allocscope <command> --help' for a command's options.
Options: -h, --help  show this help;  -v, --version  print the version
`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    const command = COMMANDS.find((c) => c.name === rest[0]);
    process.stdout.write(command?.help ?? HELP);
    return name === undefined ? 2 : 0;
  }
  if (name === '-v' || name === '--version') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    throw new AllocscopeError(
      'ERR_USAGE',
      `unknown command '${name}'${suggestion(name, COMMANDS.map((c) => c.name))}\nRun 'allocscope --help' for the list of commands.`,
    );
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof AllocscopeError) {
      process.stderr.write(`allocscope: ${error.message}\n`);
      process.exitCode = error.code === 'ERR_USAGE' ? 2 : 1;
    } else {
      // Not a user error: a bug, so show everything needed to report it.
      process.stderr.write(`allocscope: internal error, please report it: ${(error as Error)?.stack ?? String(error)}\n`);
      process.exitCode = 70;
    }
  },
);
