#pragma once
// Scratch memory for large temporaries (QSUR's 4096² double matrices), mapped with a request
// for transparent huge pages. Touching fresh 4 KiB pages is the kernel's work, one fault per
// page: on this project's 2-core VMs 134 MB took 385 ms to first touch with 4 KiB pages and
// 12 ms with 2 MiB ones, against 7 ms to write it again. The request is advice (the kernel's
// madvise mode); without it the buffer is ordinary memory. Not initialised.
#include <cstddef>

namespace quantlens {

class HugePageBuffer {
public:
    explicit HugePageBuffer(std::size_t bytes);
    ~HugePageBuffer();
    HugePageBuffer(const HugePageBuffer&) = delete;
    HugePageBuffer& operator=(const HugePageBuffer&) = delete;

    void* data() const { return data_; }  // 2 MiB aligned
    std::size_t size() const { return bytes_; }
    template <class T>
    T* as() const {
        return static_cast<T*>(data_);
    }

private:
    void* mapping_ = nullptr;
    std::size_t mapped_ = 0;
    void* data_ = nullptr;
    std::size_t bytes_ = 0;
};

}  // namespace quantlens
