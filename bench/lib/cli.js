// Command-line flags shared by the benchmarks (--rounds, --quick, --seed, --json, --help) and the --json writer.
'use strict';
const fs = require('node:fs');
const { parseArgs } = require('node:util');

/**
 * parseBenchArgs parses argv with the shared flags plus `extra` (util.parseArgs option specs).
 * Prints `usage` and exits on --help; prints the error and usage and exits 2 on bad flags.
 * Returns the values, with rounds resolved from --rounds, else --quick, else the default.
 */
function parseBenchArgs(argv, { usage, defaultRounds, quickRounds, extra = {} }) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        rounds: { type: 'string' },
        quick: { type: 'boolean', default: false },
        seed: { type: 'string' },
        json: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
        ...extra,
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    process.stderr.write(`${error.message}\n\n${usage}\n`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  let rounds = values.quick ? quickRounds : defaultRounds;
  if (values.rounds !== undefined) {
    rounds = Number(values.rounds);
    if (!Number.isInteger(rounds) || rounds < 1) {
      process.stderr.write(`--rounds must be a positive integer, got ${values.rounds}\n`);
      process.exit(2);
    }
  }
  const seed = values.seed !== undefined ? Number(values.seed) >>> 0 : (Date.now() ^ (process.pid << 8)) >>> 0;
  return { ...values, rounds, seed };
}

/** parseList splits a comma-separated flag; an absent flag gives `fallback`. */
function parseList(value, fallback = []) {
  return value === undefined ? fallback : value.split(',').map((s) => s.trim()).filter(Boolean);
}

/** parseSkip reads --skip: names from `known` (configurations) or `parts` (whole parts of the benchmark). */
function parseSkip(value, known, parts = []) {
  const skip = parseList(value);
  for (const s of skip) {
    if (!known.includes(s) && !parts.includes(s)) throw new Error(`--skip: unknown configuration ${s} (known: ${[...known, ...parts].join(', ')})`);
  }
  return skip;
}

/** parsePositiveInt reads a whole number above 0 from a flag; an absent flag gives `fallback`. */
function parsePositiveInt(name, value, fallback) {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new Error(`--${name} must be a positive integer, got ${value}`);
  return number;
}

/** writeJson writes results for --json FILE (BigInts as strings). */
function writeJson(file, value) {
  fs.writeFileSync(file, `${JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? String(v) : v), 2)}\n`);
}

module.exports = { parseBenchArgs, parseList, parseSkip, parsePositiveInt, writeJson };
