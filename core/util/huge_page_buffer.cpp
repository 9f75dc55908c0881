#include "util/huge_page_buffer.hpp"

#include <sys/mman.h>

#include <cstdint>
#include <new>

namespace quantlens {

namespace {
constexpr std::size_t kHugePage = std::size_t{2} << 20;
}

HugePageBuffer::HugePageBuffer(std::size_t bytes) : bytes_(bytes) {
    // One huge page more than asked for, so the data can start on a huge-page boundary (the
    // kernel only backs aligned 2 MiB ranges with huge pages).
    mapped_ = (bytes + kHugePage - 1) / kHugePage * kHugePage + kHugePage;
    mapping_ = ::mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping_ == MAP_FAILED) {
        mapping_ = nullptr;
        throw std::bad_alloc();
    }
    const auto address = reinterpret_cast<std::uintptr_t>(mapping_);
    data_ = reinterpret_cast<void*>((address + kHugePage - 1) / kHugePage * kHugePage);
#ifdef MADV_HUGEPAGE
    ::madvise(data_, mapped_ - (reinterpret_cast<std::uintptr_t>(data_) - address),
              MADV_HUGEPAGE);  // advice: failure changes nothing
#endif
}

HugePageBuffer::~HugePageBuffer() {
    if (mapping_)
        ::munmap(mapping_, mapped_);
}

}  // namespace quantlens
