// The shape of one CLI subcommand: its name, its help text and what it does.

export interface Command {
  name: string;
  /** One line for `allocscope --help`. */
  summary: string;
  /** The whole `--help` text. */
  help: string;
  /** Runs with the arguments after the subcommand name; resolves to the exit code. */
  run(args: string[]): Promise<number>;
}
