// allocscope's public API: named exports only, no logic.
export { heap } from './heap/heap-profiler';
export type { HeapSnapshotOptions } from './heap/heap-profiler';
export type { HeapProfilerOptions, HeapProfilerSettings } from './heap/options';
export { native } from './native-heap/native-profiler';
export type { NativeProfilerOptions, NativeProfilerSettings } from './native-heap/options';
export type { NativeStats } from './native/types';
export { startContinuous } from './record/continuous';
export type { ContinuousOptions, ContinuousHandle } from './record/continuous';
export type { DeliveryCounters, DropReason } from './deliver/delivery-queue';
export type { Retention } from './deliver/file-destination';
export { encode, decode } from './format';
export { validateProfile } from './model/validate';
export type { Profile, Sample, Location, Line, ProfileFunction, Mapping, Label, ValueType } from './model/profile';
export { AllocscopeError } from './errors';
export type { AllocscopeErrorCode } from './errors';
export { VERSION } from './version';
