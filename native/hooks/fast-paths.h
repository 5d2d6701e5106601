// The replacement allocator functions (C linkage, so that they are plain code addresses for the GOT).
#pragma once

#include <cstddef>

extern "C" {
void* allocscope_malloc(size_t size) noexcept;
void allocscope_free(void* address) noexcept;
void* allocscope_calloc(size_t count, size_t size) noexcept;
void* allocscope_realloc(void* old, size_t size) noexcept;
void* allocscope_reallocarray(void* old, size_t count, size_t size) noexcept;
int allocscope_posix_memalign(void** result, size_t alignment, size_t size) noexcept;
void* allocscope_aligned_alloc(size_t alignment, size_t size) noexcept;
void* allocscope_memalign(size_t alignment, size_t size) noexcept;
void* allocscope_valloc(size_t size) noexcept;
void* allocscope_pvalloc(size_t size) noexcept;
void allocscope_free_sized(void* address, size_t size) noexcept;
void allocscope_free_aligned_sized(void* address, size_t alignment, size_t size) noexcept;
}
