// The hooks' per-thread state, defined apart so that unit tests can define their own copy.
#include "sampler/thread-state.h"

namespace allocscope::sampler {

__thread ThreadState t_state __attribute__((tls_model("initial-exec"))) = {};

}  // namespace allocscope::sampler
