// ESM entry: the same objects as the CommonJS build, so `import` and `require` share one profiler state.
import allocscope from './index.js';

export const { heap, native, startContinuous, encode, decode, validateProfile, AllocscopeError, VERSION } = allocscope;
export default allocscope;
