// Tests option text parsing (src/util/parse-units.ts) and option object checks (src/util/options.ts).
'use strict';

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { parseBytes, parseSeconds, parseCount, UnitParseError } = require('../../dist/util/parse-units');
const { checkOptionsObject, integerOption, suggestion } = require('../../dist/util/options');

/** rejects checks `fn` throws a UnitParseError whose message names the option and quotes the text. */
function rejects(fn, name, text, pattern) {
  assert.throws(fn, (error) => {
    assert.ok(error instanceof UnitParseError, `expected UnitParseError, got ${error}`);
    assert.ok(error instanceof Error);
    assert.ok(error.message.startsWith(`${name} must be `), error.message);
    assert.ok(error.message.endsWith(`got '${text}'`), error.message);
    if (pattern) assert.match(error.message, pattern);
    return true;
  });
}

describe('parseBytes()', () => {
  const cases = [
    ['524288', 524288],
    ['1', 1],
    ['512k', 524288],
    ['512K', 524288],
    ['512kb', 524288],
    ['512KiB', 524288],
    ['1m', 1048576],
    ['1MB', 1048576],
    ['2MiB', 2097152],
    ['1g', 1073741824],
    ['1GiB', 1073741824],
    ['100b', 100],
    ['1.5k', 1536],
    [' 64 k ', 65536],
  ];
  for (const [text, expected] of cases) {
    it(`reads '${text}' as ${expected}`, () => {
      assert.equal(parseBytes('--interval', text), expected);
    });
  }

  for (const text of ['', 'k', 'abc', '-1', '12x', '1t', '1kk', '0x10', '1e3', '5 k b']) {
    it(`rejects '${text}' as not a size`, () => {
      rejects(() => parseBytes('--interval', text), '--interval', text, /a size in bytes such as 524288 or 512k/);
    });
  }

  for (const text of ['0', '0k', '0.5', '1.1k', '99999999999g']) {
    it(`rejects '${text}' as not a whole number of at least 1 byte`, () => {
      rejects(() => parseBytes('ALLOCSCOPE_INTERVAL', text), 'ALLOCSCOPE_INTERVAL', text, /whole number of bytes of at least 1/);
    });
  }
});

describe('parseSeconds()', () => {
  for (const [text, expected] of [['60', 60], ['0.5', 0.5], [' 2 ', 2], ['86400', 86400], ['0.001', 0.001]]) {
    it(`reads '${text}' as ${expected}`, () => {
      assert.equal(parseSeconds('--duration', text), expected);
    });
  }

  for (const text of ['0', '0.0', '86400.5', '86401', '-1', 'abc', '', '1e3', '10s', '.5']) {
    it(`rejects '${text}'`, () => {
      rejects(() => parseSeconds('--duration', text), '--duration', text, /seconds above 0 and at most 86400/);
    });
  }
});

describe('parseCount()', () => {
  it('reads whole numbers within the range, bounds included', () => {
    assert.equal(parseCount('--nodes', '1', 1, 100), 1);
    assert.equal(parseCount('--nodes', '100', 1, 100), 100);
    assert.equal(parseCount('--nodes', ' 42 ', 1, 100), 42);
    assert.equal(parseCount('--depth', '0', 0, 5), 0);
  });

  for (const text of ['0', '101', '-1', '1.5', '', 'ten', '1e2', '99999999999999999999']) {
    it(`rejects '${text}' for the range 1..100`, () => {
      rejects(() => parseCount('--nodes', text, 1, 100), '--nodes', text, /a whole number from 1 to 100/);
    });
  }
});

describe('checkOptionsObject()', () => {
  const known = ['intervalBytes', 'stackDepth'];
  const where = 'allocscope heap.start()';

  it('accepts undefined, an empty object and known names', () => {
    assert.doesNotThrow(() => checkOptionsObject(undefined, known, where));
    assert.doesNotThrow(() => checkOptionsObject({}, known, where));
    assert.doesNotThrow(() => checkOptionsObject({ intervalBytes: 1, stackDepth: 2 }, known, where));
  });

  for (const [value, got] of [[null, 'null'], [5, 'number'], ['x', 'string'], [true, 'boolean'], [() => {}, 'function']]) {
    it(`throws a TypeError for non-object options (${got})`, () => {
      assert.throws(() => checkOptionsObject(value, known, where), {
        name: 'TypeError',
        message: `${where}: options must be an object, got ${got}`,
      });
    });
  }

  it('throws a TypeError for an array', () => {
    assert.throws(() => checkOptionsObject([1], known, where), { name: 'TypeError', message: /options must be an object/ });
  });

  it('names an unknown option, suggests the closest known one and lists them all', () => {
    assert.throws(() => checkOptionsObject({ intervalByte: 1 }, known, where), {
      name: 'TypeError',
      message: `${where}: unknown option 'intervalByte' (did you mean 'intervalBytes'?); known options: intervalBytes, stackDepth`,
    });
  });

  it('suggests by prefix and by case-insensitive edit distance', () => {
    assert.throws(() => checkOptionsObject({ interval: 1 }, known, where), { message: /did you mean 'intervalBytes'\?/ });
    assert.throws(() => checkOptionsObject({ stackdepht: 1 }, known, where), { message: /did you mean 'stackDepth'\?/ });
  });

  it('suggests nothing for a name unlike any known option', () => {
    assert.throws(() => checkOptionsObject({ colour: 'red' }, known, where), (error) => {
      assert.equal(error.message, `${where}: unknown option 'colour'; known options: intervalBytes, stackDepth`);
      return true;
    });
    assert.equal(suggestion('zzzzzzzz', known), '');
  });

  it('reports an unknown option even next to known ones', () => {
    assert.throws(() => checkOptionsObject({ stackDepth: 8, sampleRate: 2 }, known, where), { message: /unknown option 'sampleRate'/ });
  });
});

describe('integerOption()', () => {
  const where = 'allocscope heap.start()';

  it('returns the fallback for undefined and the value when valid', () => {
    assert.equal(integerOption(where, 'stackDepth', undefined, 64, 1, 1024), 64);
    assert.equal(integerOption(where, 'stackDepth', 1, 64, 1, 1024), 1);
    assert.equal(integerOption(where, 'stackDepth', 1024, 64, 1, 1024), 1024);
  });

  for (const [value, got] of [['512k', 'string'], [null, 'object'], [10n, 'bigint'], [NaN, 'NaN']]) {
    it(`throws a TypeError naming the option for ${got}`, () => {
      assert.throws(() => integerOption(where, 'intervalBytes', value, 1, 1, 100), (error) => {
        assert.equal(error.constructor, TypeError);
        assert.equal(error.message, `${where}: option 'intervalBytes' must be a number, got ${got}`);
        return true;
      });
    });
  }

  for (const value of [0, 101, 1.5, -3, Infinity, -Infinity]) {
    it(`throws a RangeError naming the option and range for ${value}`, () => {
      assert.throws(() => integerOption(where, 'stackDepth', value, 1, 1, 100), (error) => {
        assert.equal(error.constructor, RangeError);
        assert.equal(error.message, `${where}: option 'stackDepth' must be an integer from 1 to 100, got ${value}`);
        return true;
      });
    });
  }
});
