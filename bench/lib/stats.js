// Statistics for benchmark samples: quantiles (linear interpolation), median, spread summaries.
'use strict';

/** sorted returns an ascending copy of the numbers. */
function sorted(values) {
  return Float64Array.from(values).sort();
}

/** quantile of ascending values at q in [0, 1], interpolated linearly (R type 7, numpy default). */
function quantileSorted(ascending, q) {
  const n = ascending.length;
  if (n === 0) return NaN;
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return ascending[lo] + (ascending[hi] - ascending[lo]) * (pos - lo);
}

function quantile(values, q) {
  return quantileSorted(sorted(values), q);
}

function median(values) {
  return quantile(values, 0.5);
}

/** summarize returns n, median, min, max, q1, q3, iqr and mean of the numbers. */
function summarize(values) {
  const s = sorted(values);
  const n = s.length;
  let total = 0;
  for (const v of s) total += v;
  const q1 = quantileSorted(s, 0.25);
  const q3 = quantileSorted(s, 0.75);
  return {
    n,
    median: quantileSorted(s, 0.5),
    min: n ? s[0] : NaN,
    max: n ? s[n - 1] : NaN,
    q1,
    q3,
    iqr: q3 - q1,
    mean: n ? total / n : NaN,
  };
}

/** ratio of a to b, NaN when b is not a positive number. */
function ratio(a, b) {
  return b > 0 ? a / b : NaN;
}

/** mulberry32 returns a seeded PRNG of floats in [0, 1). */
function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** shuffled returns a Fisher-Yates shuffled copy of items, drawing from rng. */
function shuffled(items, rng) {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** resample draws values.length values from values with replacement. */
function resample(values, rng) {
  const out = new Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[Math.floor(rng() * values.length)];
  return out;
}

/**
 * bootstrapRatioCI estimates a confidence interval of median(a) / median(b) by resampling each
 * group with replacement (percentile bootstrap). Returns { low, high, level }.
 */
function bootstrapRatioCI(a, b, { level = 0.95, iterations = 4000, seed = 1 } = {}) {
  const rng = mulberry32(seed);
  const ratios = new Float64Array(iterations);
  for (let i = 0; i < iterations; i++) ratios[i] = ratio(median(resample(a, rng)), median(resample(b, rng)));
  ratios.sort();
  const tail = (1 - level) / 2;
  return { low: quantileSorted(ratios, tail), high: quantileSorted(ratios, 1 - tail), level };
}

/**
 * bootstrapDiffCI estimates a confidence interval of median(a) - median(b) by resampling each
 * group with replacement (percentile bootstrap). Returns { low, high, level }.
 */
function bootstrapDiffCI(a, b, { level = 0.95, iterations = 4000, seed = 1 } = {}) {
  const rng = mulberry32(seed);
  const diffs = new Float64Array(iterations);
  for (let i = 0; i < iterations; i++) diffs[i] = median(resample(a, rng)) - median(resample(b, rng));
  diffs.sort();
  const tail = (1 - level) / 2;
  return { low: quantileSorted(diffs, tail), high: quantileSorted(diffs, 1 - tail), level };
}

/**
 * bootstrapPairedCI estimates a confidence interval of `statistic(pairs)` by resampling whole
 * pairs (e.g. blocks of phases measured together) with replacement. Returns { low, high, level }.
 */
function bootstrapPairedCI(pairs, statistic, { level = 0.95, iterations = 4000, seed = 1 } = {}) {
  const rng = mulberry32(seed);
  const values = new Float64Array(iterations);
  for (let i = 0; i < iterations; i++) values[i] = statistic(resample(pairs, rng));
  values.sort();
  const tail = (1 - level) / 2;
  return { low: quantileSorted(values, tail), high: quantileSorted(values, 1 - tail), level };
}

module.exports = { sorted, quantile, quantileSorted, median, summarize, ratio, mulberry32, shuffled, bootstrapRatioCI, bootstrapDiffCI, bootstrapPairedCI };
