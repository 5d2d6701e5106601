// Measures what naming JS frames in native stacks costs a process that loads and compiles much JS (time and memory).
'use strict';
const v8 = require('node:v8');
const { runChild, reportResult } = require('./lib/child');
const { parseBenchArgs, writeJson } = require('./lib/cli');
const { environment, formatEnvironment } = require('./lib/env');
const { loadAllocscope } = require('./lib/profilers');
const { summarize, ratio, mulberry32, shuffled, bootstrapRatioCI } = require('./lib/stats');
const { formatTable, fmt, fmtRatio } = require('./lib/table');

const USAGE = `Usage: node bench/js-frames-cost.js [--rounds N] [--quick] [--seed S] [--json FILE]

Native profiling names the JS frames of native stacks: it listens to V8's code events (a map of
every JIT code object and bytecode array, filled by V8 when listening starts, on every
compilation and on every move by the GC). That costs most where much JS is loaded and compiled. Each trial is a
fresh process that loads the TypeScript compiler (about 9 MB of JS, a devDependency) and
transpiles a small module with it, timing that; then it reports RSS growth and V8's code space.
Configurations, in a shuffled order in every round (default 9; --quick: 3):

  baseline       no profiler
  baseline-2     the same again: the A/A control
  js-frames      native.nameJsFrames() before loading: the code-event map alone
  native         native.start({ intervalBytes: 1 GiB }) before loading: hooks and JS frame naming,
                 almost no samples

Reports the median load+transpile time, RSS growth and code space, with ratios to baseline.`;

const CONFIGS = ['baseline', 'baseline-2', 'js-frames', 'native'];

/** Child: one trial. */
function trial(config) {
  if (config === 'js-frames') loadAllocscope().native.nameJsFrames();
  if (config === 'native') loadAllocscope().native.start({ intervalBytes: 2 ** 30 });
  const rssBefore = process.memoryUsage().rss;
  const start = process.hrtime.bigint();
  const ts = require('typescript');
  const source = 'const x: number = 1;\nexport function f(a: string): number { return a.length + x; }\n'.repeat(200);
  const output = ts.transpileModule(source, {}).outputText;
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const code = v8.getHeapSpaceStatistics().find((space) => space.space_name === 'code_space');
  reportResult({ ms, rssGrowthMiB: (process.memoryUsage().rss - rssBefore) / 2 ** 20, codeSpaceMiB: code.space_used_size / 2 ** 20, outputLength: output.length });
}

async function main() {
  const argv = process.argv.slice(2);
  if (argv[0] === '--trial') return trial(argv[1]);
  const options = parseBenchArgs(argv, { usage: USAGE, defaultRounds: 9, quickRounds: 3 });
  const env = environment();
  console.log(formatEnvironment(env));
  const seed = options.seed ?? (Date.now() >>> 0);
  const rng = mulberry32(seed);
  console.log(`js-frames-cost: ${options.rounds} rounds x ${CONFIGS.length} configurations, seed ${seed}`);
  const results = Object.fromEntries(CONFIGS.map((c) => [c, []]));
  for (let round = 0; round < options.rounds; round++) {
    for (const config of shuffled(CONFIGS, rng)) results[config].push(await runChild(__filename, ['--trial', config]));
  }
  const lengths = new Set(CONFIGS.flatMap((c) => results[c].map((r) => r.outputLength)));
  if (lengths.size !== 1) throw new Error(`trials transpiled differently: ${[...lengths].join(', ')}`);
  const of = (config, key) => results[config].map((r) => r[key]);
  const rows = CONFIGS.map((config) => {
    const ms = summarize(of(config, 'ms'));
    const rss = summarize(of(config, 'rssGrowthMiB'));
    const code = summarize(of(config, 'codeSpaceMiB'));
    const ci = config === 'baseline' ? undefined : bootstrapRatioCI(of(config, 'ms'), of('baseline', 'ms'), { seed });
    return { config, ms, rss, code, ratio: ratio(ms.median, summarize(of('baseline', 'ms')).median), ci };
  });
  console.log(formatTable(
    [{ title: 'config', align: 'left' }, { title: 'load+transpile ms median', align: 'right' }, { title: 'min-max', align: 'right' },
      { title: 'x baseline', align: 'right' }, { title: '95% CI', align: 'right' }, { title: 'RSS growth MiB', align: 'right' },
      { title: 'code space MiB', align: 'right' }],
    rows.map((r) => [r.config, fmt(r.ms.median, 1), `${fmt(r.ms.min, 1)}-${fmt(r.ms.max, 1)}`, fmtRatio(r.ratio),
      r.ci ? `${fmtRatio(r.ci.low)}..${fmtRatio(r.ci.high)}` : '', fmt(r.rss.median, 1), fmt(r.code.median, 2)]),
  ));
  if (options.json) writeJson(options.json, { benchmark: 'js-frames-cost', env, seed, rows });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
