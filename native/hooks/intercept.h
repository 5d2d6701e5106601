// The replacement allocator functions and the list of symbols they interpose.
#pragma once

#include <vector>

#include "hooks/got-patcher.h"

namespace allocscope::hooks {

// interpositions lists every symbol the hooks replace, with its replacement. C23's sized frees
// are included only when libc has them.
std::vector<Interposition> interpositions();

// The dlopen hook calls this after a successful dlopen, to patch the objects it brought in.
void setDlopenListener(void (*listener)());

// The dlclose hook hands the call to this listener, which closes the handle with libc's dlclose
// itself and sees what it unloaded (Node unloads a worker's addons when the worker ends).
void setDlcloseListener(int (*listener)(void* handle));

}  // namespace allocscope::hooks
