// Command-line parsing shared by the subcommands: node:util parseArgs with errors rewritten as one clear line.
import { parseArgs } from 'node:util';
import { AllocscopeError } from '../errors';
import { suggestion } from '../util/options';
import { UnitParseError } from '../util/parse-units';

export type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;

/** The parsed values: strings for string options, booleans for flags, undefined when absent. */
export type OptionValues<T extends OptionSpec> = { [K in keyof T]?: T[K]['type'] extends 'boolean' ? boolean : string };

export function usageError(command: string, message: string): AllocscopeError {
  return new AllocscopeError('ERR_USAGE', `${message}\nRun 'allocscope ${command} --help' for usage.`);
}

/** parseOptions parses argv strictly; unknown options and missing values name the fix. */
export function parseOptions<T extends OptionSpec>(command: string, args: string[], options: T): { values: OptionValues<T>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { values: values as OptionValues<T>, positionals };
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    const option = /'(-[^']*)'/.exec(message)?.[1] ?? '';
    const known = Object.keys(options).map((name) => `--${name}`);
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      throw usageError(command, `unknown option '${option}'${suggestion(option, known)}`);
    }
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      // parseArgs quotes options as '--out <value>' or '-h, --help': keep the long name.
      const name = /--[\w-]+/.exec(option)?.[0] ?? option;
      if (/does not take an argument/.test(message)) throw usageError(command, `option '${name}' takes no value`);
      const dashHint = /ambiguous/.test(message) ? `; to pass a value that starts with '-', write ${name}=VALUE` : '';
      throw usageError(command, `option '${name}' needs a value${dashHint}`);
    }
    throw usageError(command, message);
  }
}

/** checked runs a parser of option text and turns its error into a usage error of `command`. */
export function checked<T>(command: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof UnitParseError) throw usageError(command, error.message);
    throw error;
  }
}
