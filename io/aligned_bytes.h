#pragma once
// A resizable byte buffer whose data() starts on a page boundary (kPageBytes), so that a file
// written from it by AtomicFile::write can bypass the page cache (io/files.h). The trainer's
// checkpoint image lives in one: 290 MB a rank writes every epoch and nobody reads back soon.
#include <cstddef>
#include <memory>
#include <string_view>

namespace mammosweep::io {

class AlignedBytes {
 public:
  static constexpr std::size_t kPageBytes = 4096;

  AlignedBytes() = default;
  /// Size n; the first min(n, size()) bytes are kept. Never shrinks the capacity, so a buffer
  /// resized to the same sizes again allocates nothing. Throws std::bad_alloc.
  void resize(std::size_t n);
  char* data() { return data_.get(); }
  const char* data() const { return data_.get(); }
  std::size_t size() const { return size_; }
  std::string_view view() const { return {data_.get(), size_}; }

 private:
  struct Free {
    void operator()(char* p) const;
  };
  std::unique_ptr<char, Free> data_;
  std::size_t size_ = 0, capacity_ = 0;
};

}  // namespace mammosweep::io
