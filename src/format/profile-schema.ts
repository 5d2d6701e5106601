// Loads the pprof message types from profile.proto once, for decoding; the only place that reads the schema.
import * as path from 'node:path';
import * as protobuf from 'protobufjs';

let root: protobuf.Root | undefined;

function schema(): protobuf.Root {
  root ??= protobuf.loadSync(path.join(__dirname, 'profile.proto'));
  return root;
}

/** profileMessageType returns protobufjs's reflected `perftools.profiles.Profile` type. */
export function profileMessageType(): protobuf.Type {
  return schema().lookupType('perftools.profiles.Profile');
}
