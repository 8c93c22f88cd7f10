#include "io/aligned_bytes.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace mammosweep::io {

void AlignedBytes::Free::operator()(char* p) const { std::free(p); }

void AlignedBytes::resize(std::size_t n) {
  if (n > capacity_) {
    void* p = nullptr;
    if (::posix_memalign(&p, kPageBytes, n) != 0) throw std::bad_alloc();
    if (size_ > 0) std::memcpy(p, data_.get(), size_);
    data_.reset(static_cast<char*>(p));
    capacity_ = n;
  }
  size_ = n;
}

}  // namespace mammosweep::io
