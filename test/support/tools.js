// Finds external tools for tests: outside CI a missing tool skips the test with a reason; in CI it fails it.
'use strict';
const { spawnSync } = require('node:child_process');

/**
 * missingTool returns true (after t.skip) when `command args` does not run here and this is
 * not CI; in CI (CI=true) a missing tool throws, failing the test, because CI installs it.
 */
function missingTool(t, command, args) {
  const probe = spawnSync(command, args, { encoding: 'utf8' });
  if (probe.status === 0) return false;
  const reason = `${command} is not installed; .ci/run installs it`;
  if (process.env.CI) throw new Error(`${reason}, yet this is CI and it is missing`);
  t.skip(reason);
  return true;
}

module.exports = { missingTool };
