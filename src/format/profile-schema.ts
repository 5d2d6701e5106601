// Loads the pprof message types from profile.proto once; the only place that reads the schema.
import * as path from 'node:path';
import * as protobuf from 'protobufjs';

let profileType: protobuf.Type | undefined;

/** profileMessageType returns protobufjs's reflected `perftools.profiles.Profile` type. */
export function profileMessageType(): protobuf.Type {
  if (profileType === undefined) {
    const root = protobuf.loadSync(path.join(__dirname, 'profile.proto'));
    profileType = root.lookupType('perftools.profiles.Profile');
  }
  return profileType;
}
