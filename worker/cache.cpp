#include "worker/cache.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "io/files.h"
#include "io/lock.h"
#include "worker/dicom_helper.h"

namespace mammosweep::worker {
namespace {

constexpr char kMagic[8] = {'M', 'S', 'W', 'C', 'A', 'C', 'H', 'E'};
constexpr char kCommit[8] = {'M', 'S', 'W', 'D', 'O', 'N', 'E', '!'};
constexpr std::uint32_t kVersion = 1;
constexpr std::size_t kHeaderBytes = 64;
constexpr std::size_t kTrailerBytes = 16;

struct Header {
  char magic[8];
  std::uint32_t version;
  std::uint32_t channels;
  std::uint64_t key;
  std::uint64_t count;
  std::uint32_t image_size;
  std::uint32_t reserved;
  std::uint64_t num_records;
  std::uint8_t zero[16];
};
static_assert(sizeof(Header) == kHeaderBytes, "cache header must be 64 bytes");

std::string errno_text() { return std::strerror(errno); }

std::size_t align8(std::size_t n) { return (n + 7) & ~std::size_t{7}; }

/// Byte offsets of the sections of a cache with `count` images of `image_bytes` each.
struct Layout {
  std::size_t labels, sources, trailer, total;
  Layout(std::size_t count, std::size_t image_bytes) {
    labels = align8(kHeaderBytes + count * image_bytes);
    sources = align8(labels + count * sizeof(std::int32_t));
    trailer = sources + count * sizeof(std::int64_t);
    total = trailer + kTrailerBytes;
  }
};

/// Owns a file descriptor.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string cache_path(const CacheOptions& o, std::uint64_t key) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016" PRIx64, key);
  return io::join_path(o.cache_dir, o.name + "-" + hex + ".mswc");
}

std::uint64_t metadata_checksum(const std::uint8_t* base, const Layout& layout) {
  std::uint64_t h = fnv1a64(base, kHeaderBytes);
  return fnv1a64(base + layout.labels, layout.trailer - layout.labels, h);
}

struct Mapping {
  void* addr = nullptr;
  std::size_t size = 0;
};

/// Maps `path` and checks it is a complete cache for these parameters. Returns nullopt (and
/// maps nothing) for a missing or invalid file.
std::optional<Mapping> map_valid(const std::string& path, std::uint64_t key,
                                 const CacheOptions& o, std::size_t num_records) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return std::nullopt;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return std::nullopt;
  const auto size = static_cast<std::size_t>(st.st_size);
  if (size < kHeaderBytes + kTrailerBytes) return std::nullopt;
  void* addr = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd.get(), 0);
  if (addr == MAP_FAILED) return std::nullopt;
  auto fail = [&]() -> std::optional<Mapping> {
    ::munmap(addr, size);
    return std::nullopt;
  };
  const auto* base = static_cast<const std::uint8_t*>(addr);
  Header h;
  std::memcpy(&h, base, sizeof h);
  if (std::memcmp(h.magic, kMagic, 8) != 0 || h.version != kVersion || h.key != key ||
      h.channels != static_cast<std::uint32_t>(o.channels) ||
      h.image_size != static_cast<std::uint32_t>(o.image_size) ||
      h.num_records != num_records || h.count == 0 || h.count > num_records)
    return fail();
  const std::size_t image_bytes =
      static_cast<std::size_t>(o.image_size) * o.image_size * o.channels;
  const Layout layout(h.count, image_bytes);
  if (layout.total != size) return fail();
  std::uint64_t checksum;
  std::memcpy(&checksum, base + layout.trailer, 8);
  if (std::memcmp(base + layout.trailer + 8, kCommit, 8) != 0 ||
      checksum != metadata_checksum(base, layout))
    return fail();
  return Mapping{addr, size};
}

/// Deletes `<final>.tmp.*` left by crashed builders. Only called under the build lock.
void remove_stale_temps(const std::string& final_path) {
  const std::string dir = io::parent_dir(final_path);
  const std::string prefix = io::file_name(final_path) + ".tmp.";
  for (const std::string& name : io::list_dir(dir)) {
    if (name.rfind(prefix, 0) == 0) ::unlink(io::join_path(dir, name).c_str());
  }
}

/// Decodes every record and writes the complete cache to `path` (via a temp file).
void build(const std::vector<ImageRecord>& records, const CacheOptions& o, std::uint64_t key,
           const DecodeFn& decode, const std::string& path, CacheStats& stats) {
  const std::size_t image_bytes =
      static_cast<std::size_t>(o.image_size) * o.image_size * o.channels;
  io::AtomicFile file(path);

  std::vector<std::int32_t> labels;
  std::vector<std::int64_t> sources;
  const int threads = std::max(1, o.threads);
  const std::size_t block = static_cast<std::size_t>(threads) * 32;
  std::vector<std::vector<std::uint8_t>> out(block);
  std::vector<std::string> errors(block);

  for (std::size_t begin = 0; begin < records.size(); begin += block) {
    const std::size_t n = std::min(block, records.size() - begin);
    std::atomic<std::size_t> next{0};
    std::mutex fatal_mutex;
    std::exception_ptr fatal;  // not a bad image: no DICOM decoder to run (dicom_helper.h)
    auto work = [&] {
      for (std::size_t j = next++; j < n; j = next++) {
        const ImageRecord& r = records[begin + j];
        errors[j].clear();
        try {
          out[j] = decode(r);
          if (out[j].size() != image_bytes)
            errors[j] = "expected " + std::to_string(image_bytes) + " bytes (" +
                        std::to_string(o.image_size) + "x" + std::to_string(o.image_size) +
                        "x" + std::to_string(o.channels) +
                        " uint8 HWC) from preprocessing, got " + std::to_string(out[j].size());
        } catch (const DicomHelperError&) {
          std::lock_guard<std::mutex> lock(fatal_mutex);
          fatal = std::current_exception();
        } catch (const std::exception& e) {
          errors[j] = e.what();
          if (errors[j].empty()) errors[j] = "decode failed";
        }
      }
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < threads && static_cast<std::size_t>(t) < n; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    if (fatal) std::rethrow_exception(fatal);
    stats.decoded += n;

    for (std::size_t j = 0; j < n; ++j) {
      const std::size_t i = begin + j;
      if (!errors[j].empty()) {
        if (o.on_bad_image == OnBadImage::error)
          throw CacheError("bad image '" + records[i].path + "' (record " + std::to_string(i) +
                           ") while building cache '" + path + "': " + errors[j]);
        stats.skipped.push_back({records[i].path, errors[j]});
        continue;
      }
      file.write_at(out[j].data(), image_bytes, kHeaderBytes + labels.size() * image_bytes);
      labels.push_back(records[i].label);
      sources.push_back(static_cast<std::int64_t>(i));
    }
  }
  if (labels.empty())
    throw CacheError("building cache '" + path + "': all " + std::to_string(records.size()) +
                     " images were skipped" +
                     (stats.skipped.empty() ? std::string()
                                            : "; first: '" + stats.skipped.front().path +
                                                  "': " + stats.skipped.front().reason));

  const Layout layout(labels.size(), image_bytes);
  Header h{};
  std::memcpy(h.magic, kMagic, 8);
  h.version = kVersion;
  h.channels = static_cast<std::uint32_t>(o.channels);
  h.key = key;
  h.count = labels.size();
  h.image_size = static_cast<std::uint32_t>(o.image_size);
  h.num_records = records.size();
  // Metadata region [labels, trailer), zero padding included, assembled in memory so the
  // checksum covers exactly the bytes on disk.
  std::vector<std::uint8_t> meta(layout.trailer - layout.labels, 0);
  std::memcpy(meta.data(), labels.data(), labels.size() * sizeof(std::int32_t));
  std::memcpy(meta.data() + (layout.sources - layout.labels), sources.data(),
              sources.size() * sizeof(std::int64_t));
  std::uint64_t checksum = fnv1a64(&h, sizeof h);
  checksum = fnv1a64(meta.data(), meta.size(), checksum);
  std::uint8_t trailer[kTrailerBytes];
  std::memcpy(trailer, &checksum, 8);
  std::memcpy(trailer + 8, kCommit, 8);

  file.write_at(meta.data(), meta.size(), layout.labels);
  file.write_at(trailer, kTrailerBytes, layout.trailer);
  file.write_at(&h, sizeof h, 0);
  file.commit();
}

}  // namespace

std::uint64_t cache_key(const std::vector<ImageRecord>& records, const CacheOptions& o) {
  auto mix = [](std::uint64_t h, auto v) { return fnv1a64(&v, sizeof v, h); };
  std::uint64_t h = fnv1a64("mammosweep-cache", 16);
  h = mix(h, kVersion);
  h = mix(h, static_cast<std::int64_t>(o.image_size));
  h = mix(h, static_cast<std::int64_t>(o.channels));
  h = mix(h, static_cast<std::uint64_t>(o.preprocess_signature.size()));
  h = fnv1a64(o.preprocess_signature.data(), o.preprocess_signature.size(), h);
  return records_key(records, h);
}

std::uint64_t records_key(const std::vector<ImageRecord>& records, std::uint64_t h) {
  auto mix = [](std::uint64_t h, auto v) { return fnv1a64(&v, sizeof v, h); };
  h = mix(h, static_cast<std::uint64_t>(records.size()));
  for (const ImageRecord& r : records) {
    struct stat st {};
    if (::stat(r.path.c_str(), &st) != 0)
      throw CacheError("cannot stat image '" + r.path + "' for the cache key: " + errno_text());
    h = mix(h, static_cast<std::uint64_t>(r.path.size()));
    h = fnv1a64(r.path.data(), r.path.size(), h);
    h = mix(h, static_cast<std::int64_t>(r.label));
    h = mix(h, static_cast<std::int64_t>(st.st_size));
    h = mix(h, static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000LL +
                   static_cast<std::int64_t>(st.st_mtim.tv_nsec));
  }
  return h;
}

ImageCache ImageCache::open_or_build(const std::vector<ImageRecord>& records,
                                     const CacheOptions& o, const DecodeFn& decode) {
  if (o.cache_dir.empty()) throw CacheError("CacheOptions.cache_dir is empty");
  if (o.image_size <= 0 || o.channels <= 0)
    throw CacheError("CacheOptions: expected image_size > 0 and channels > 0, got " +
                     std::to_string(o.image_size) + " and " + std::to_string(o.channels));
  if (records.empty()) throw CacheError("cannot build an image cache from 0 records");
  if (!decode) throw CacheError("ImageCache::open_or_build: empty decode callback");

  CacheStats stats;
  stats.key = cache_key(records, o);
  stats.path = cache_path(o, stats.key);
  std::optional<Mapping> m = map_valid(stats.path, stats.key, o, records.size());
  stats.hit = m.has_value();
  if (!m) {
    try {
      io::make_dirs(o.cache_dir);
    } catch (const io::IoError& e) {
      throw CacheError(std::string("cache directory: ") + e.what());
    }
    io::FileLock lock(stats.path + ".lock", io::FileLock::Mode::wait);
    m = map_valid(stats.path, stats.key, o, records.size());
    if (m) {
      stats.hit = true;
      stats.waited_for_lock = true;
    } else {
      remove_stale_temps(stats.path);
      const auto t0 = std::chrono::steady_clock::now();
      try {
        build(records, o, stats.key, decode, stats.path, stats);
      } catch (const io::IoError& e) {
        throw CacheError(std::string("writing the image cache: ") + e.what());
      }
      stop_idle_dicom_helpers();  // decoding is done (worker/dicom_helper.h)
      stats.build_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      m = map_valid(stats.path, stats.key, o, records.size());
      if (!m)
        throw CacheError("cache file '" + stats.path + "' is invalid right after building it");
    }
  }

  ImageCache c;
  c.map_ = m->addr;
  c.map_size_ = m->size;
  const auto* base = static_cast<const std::uint8_t*>(m->addr);
  Header h;
  std::memcpy(&h, base, sizeof h);
  c.count_ = h.count;
  c.image_size_ = o.image_size;
  c.channels_ = o.channels;
  const Layout layout(c.count_, c.image_bytes());
  c.pixels_ = base + kHeaderBytes;
  c.labels_ = reinterpret_cast<const std::int32_t*>(base + layout.labels);
  c.source_ = reinterpret_cast<const std::int64_t*>(base + layout.sources);
  if (stats.hit) {
    // Re-derive the skipped list: records that have no stored image.
    std::size_t k = 0;
    for (std::size_t i = 0; i < records.size(); ++i) {
      if (k < c.count_ && c.source_[k] == static_cast<std::int64_t>(i)) {
        ++k;
      } else {
        stats.skipped.push_back({records[i].path, "skipped when the cache was built"});
      }
    }
  }
  c.stats_ = std::move(stats);
  return c;
}

ImageCache::ImageCache(ImageCache&& o) noexcept { *this = std::move(o); }

ImageCache& ImageCache::operator=(ImageCache&& o) noexcept {
  if (this != &o) {
    unmap();
    map_ = std::exchange(o.map_, nullptr);
    map_size_ = std::exchange(o.map_size_, 0);
    count_ = std::exchange(o.count_, 0);
    image_size_ = o.image_size_;
    channels_ = o.channels_;
    pixels_ = std::exchange(o.pixels_, nullptr);
    labels_ = std::exchange(o.labels_, nullptr);
    source_ = std::exchange(o.source_, nullptr);
    stats_ = std::move(o.stats_);
  }
  return *this;
}

ImageCache::~ImageCache() { unmap(); }

void ImageCache::unmap() noexcept {
  if (map_ != nullptr) ::munmap(map_, map_size_);
  map_ = nullptr;
}

std::size_t ImageCache::image_bytes() const {
  return static_cast<std::size_t>(image_size_) * image_size_ * channels_;
}

const std::uint8_t* ImageCache::pixels(std::size_t i) const {
  if (i >= count_)
    throw std::out_of_range("ImageCache::pixels: index " + std::to_string(i) + " >= size " +
                            std::to_string(count_));
  return pixels_ + i * image_bytes();
}

int ImageCache::label(std::size_t i) const {
  if (i >= count_)
    throw std::out_of_range("ImageCache::label: index " + std::to_string(i) + " >= size " +
                            std::to_string(count_));
  return labels_[i];
}

std::int64_t ImageCache::source_index(std::size_t i) const {
  if (i >= count_)
    throw std::out_of_range("ImageCache::source_index: index " + std::to_string(i) +
                            " >= size " + std::to_string(count_));
  return source_[i];
}

std::string preprocess_signature(const PreprocessOptions& p) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "image_size=%d;keep_aspect=%d;clahe=%d;window=%s;window_low_pct=%.17g;"
                "window_high_pct=%.17g;preprocess_version=1",
                p.image_size, p.keep_aspect ? 1 : 0, p.clahe ? 1 : 0,
                p.window == PreprocessOptions::Window::minmax ? "minmax" : "percentile",
                p.window_low_pct, p.window_high_pct);
  return buf;
}

DecodeFn make_decode_fn(const PreprocessOptions& options) {
  return [options](const ImageRecord& r) { return preprocess(decode_image(r.path), options); };
}

CacheOptions cache_options_for(const PreprocessOptions& pre, const std::string& cache_dir,
                               const std::string& name) {
  CacheOptions o;
  o.cache_dir = cache_dir;
  o.name = name;
  o.image_size = pre.image_size;
  o.channels = 3;
  o.preprocess_signature = preprocess_signature(pre);
  return o;
}

std::vector<std::int64_t> split_indices(const ImageCache& cache,
                                        const std::vector<ImageRecord>& records,
                                        const std::string& split) {
  std::vector<std::int64_t> out;
  for (std::size_t i = 0; i < cache.size(); ++i) {
    const std::int64_t src = cache.source_index(i);
    if (src < 0 || static_cast<std::size_t>(src) >= records.size())
      throw CacheError("cache '" + cache.stats().path + "' refers to record " +
                       std::to_string(src) + " but only " + std::to_string(records.size()) +
                       " records were given");
    if (records[static_cast<std::size_t>(src)].split == split)
      out.push_back(static_cast<std::int64_t>(i));
  }
  return out;
}

}  // namespace mammosweep::worker
