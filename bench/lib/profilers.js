// Loads the two profilers under test: allocscope from dist/ and @datadog/pprof from node_modules.
'use strict';
const path = require('node:path');
const { allocscopeRoot } = require('./env');

/** loadAllocscope returns allocscope's public API as built by `npm run build:ts` (see allocscopeRoot). */
function loadAllocscope() {
  try {
    return require(path.join(allocscopeRoot(), 'dist', 'index.js'));
  } catch (error) {
    throw new Error(`cannot load allocscope from dist/ (run \`npm run build\` first): ${error.message}`, { cause: error });
  }
}

/** loadDatadog returns @datadog/pprof (a devDependency). */
function loadDatadog() {
  try {
    return require('@datadog/pprof');
  } catch (error) {
    throw new Error(`cannot load @datadog/pprof (run \`npm install\`): ${error.message}`, { cause: error });
  }
}

module.exports = { loadAllocscope, loadDatadog };
