#pragma once
// Decode-once image cache.
//
// Decoding and preprocessing (resize, CLAHE, windowing) a mammogram costs far more than a
// training step reads from it, and every trial of a sweep uses the same preprocessed pixels.
// `ImageCache::open_or_build` therefore computes them ONCE per (file list, preprocessing)
// and stores them in one file that every trial and every rank on a node maps read-only
// (mmap, MAP_SHARED): the page cache holds one copy per node.
//
// Cache key (64-bit FNV-1a, see cache_key): format version, image size, channels, the
// preprocessing signature string, the number of records and, per record in order: path,
// label, file size and mtime (ns). Changing any file, its order, a label or a preprocessing
// setting gives a new file name; split and patient_id are NOT in the key (they do not change
// the stored pixels; the cache is indexed by record position).
//
// File `<cache_dir>/<name>-<key:016x>.mswc`, native byte order (little-endian hosts):
//   [0, 64)            header: magic "MSWCACHE", u32 version, u32 channels, u64 key,
//                      u64 count (stored images), u32 image_size, u32 reserved,
//                      u64 num_records (input records, stored + skipped), 16 bytes zero
//   [64, 64+P*count)   pixels, P = image_size*image_size*channels, uint8 HWC, in record order
//   then               i32 labels[count], i64 source_index[count] (record position)
//   last 16 bytes      trailer: u64 FNV-1a of header+labels+source_index, u64 "MSWDONE!"
// Pixels are not checksummed (reading 0.5 GB per open would defeat the cache); a torn
// file cannot be trusted anyway because of the protocol below.
//
// Build protocol (crash- and concurrency-safe):
//   1. If a valid file exists (header, key, exact size, trailer checksum + marker): hit.
//   2. Else flock(LOCK_EX) `<file>.lock` (blocks while another process on the node builds),
//      then re-check 1 (the other builder may have finished: hit, `waited_for_lock`).
//   3. Decode with `threads` threads into `<file>.tmp.<pid>`, write header + trailer last,
//      fsync, rename over `<file>`, fsync the directory, unlock.
//   A crash leaves at most a stray .tmp (never opened) and the lock is dropped by the
//   kernel. An invalid final file (truncated, foreign) is rebuilt.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/hash.h"
#include "worker/dataset.h"  // ImageRecord
#include "worker/image.h"  // decode_image
#include "worker/preprocess.h"

namespace mammosweep::worker {

/// I/O or format failure of the cache, or a bad image under OnBadImage::error.
class CacheError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// What to do when the decode callback throws or returns the wrong number of bytes.
enum class OnBadImage { error, skip };

/// Decode + preprocess one record into image_size*image_size*channels uint8 HWC bytes.
/// Throw (any std::exception) for a bad image. Called concurrently from build threads.
using DecodeFn = std::function<std::vector<std::uint8_t>(const ImageRecord&)>;

struct CacheOptions {
  std::string cache_dir;               ///< created if missing
  std::string name = "dataset";        ///< file name prefix, for humans only
  int image_size = 224;                ///< height == width of the stored images
  int channels = 3;
  std::string preprocess_signature;    ///< every preprocessing setting, as text; in the key
  OnBadImage on_bad_image = OnBadImage::error;
  int threads = 1;                     ///< decode threads while building (>= 1)
};

struct SkippedImage {
  std::string path;
  std::string reason;  ///< the decode error; "skipped when the cache was built" on a hit
};

struct CacheStats {
  bool hit = false;              ///< true: opened an existing cache, decoded nothing
  bool waited_for_lock = false;  ///< another process built it while we waited
  double build_seconds = 0.0;    ///< decode + write time (0 on a hit)
  std::size_t decoded = 0;       ///< decode callback calls made by this open
  std::vector<SkippedImage> skipped;
  std::uint64_t key = 0;
  std::string path;              ///< the cache file
};

/// The cache key of `records` under `options` (stat()s every file; throws CacheError
/// naming a file that cannot be stat()ed).
std::uint64_t cache_key(const std::vector<ImageRecord>& records, const CacheOptions& options);
/// `h` chained (FNV-1a) with the number of records and, per record in order, its path, label,
/// file size and mtime: cache_key's part that changes when an image file is replaced (the
/// leakage guard's kept report uses it too, worker/leakage_cache.h). Throws CacheError naming
/// a file that cannot be stat()ed.
std::uint64_t records_key(const std::vector<ImageRecord>& records, std::uint64_t h);

/// Read-only view of a built cache file. Move-only; unmaps on destruction.
class ImageCache {
 public:
  /// Opens the valid cache for (records, options) or builds it with `decode` (see the
  /// protocol above). Throws CacheError on I/O errors, or naming the file of a bad image
  /// under OnBadImage::error, or when every image was skipped.
  static ImageCache open_or_build(const std::vector<ImageRecord>& records,
                                  const CacheOptions& options, const DecodeFn& decode);

  ImageCache(ImageCache&&) noexcept;
  ImageCache& operator=(ImageCache&&) noexcept;
  ImageCache(const ImageCache&) = delete;
  ImageCache& operator=(const ImageCache&) = delete;
  ~ImageCache();

  std::size_t size() const { return count_; }  ///< stored images
  int image_size() const { return image_size_; }
  int channels() const { return channels_; }
  std::size_t image_bytes() const;            ///< image_size^2 * channels
  /// Pixels of stored image i (uint8 HWC, image_bytes() long), valid while *this lives.
  const std::uint8_t* pixels(std::size_t i) const;
  int label(std::size_t i) const;
  /// Position in the `records` vector that stored image i came from.
  std::int64_t source_index(std::size_t i) const;
  const CacheStats& stats() const { return stats_; }

 private:
  ImageCache() = default;
  void unmap() noexcept;

  void* map_ = nullptr;
  std::size_t map_size_ = 0;
  std::size_t count_ = 0;
  int image_size_ = 0;
  int channels_ = 0;
  const std::uint8_t* pixels_ = nullptr;
  const std::int32_t* labels_ = nullptr;
  const std::int64_t* source_ = nullptr;
  CacheStats stats_;
};

/// Every PreprocessOptions field as text ("image_size=224;keep_aspect=0;clahe=0;window=minmax;
/// window_low_pct=0.5;window_high_pct=99.5;preprocess_version=1"), for the cache key. Bump
/// preprocess_version in cache.cpp when preprocess() changes its output.
std::string preprocess_signature(const PreprocessOptions& options);

/// The production decode callback: preprocess(decode_image(record.path), options).
DecodeFn make_decode_fn(const PreprocessOptions& options);

/// CacheOptions for `pre`: image_size, channels = 3 and preprocess_signature filled in.
CacheOptions cache_options_for(const PreprocessOptions& pre, const std::string& cache_dir,
                               const std::string& name = "dataset");

/// Stored-image indices whose record has `split` ("train", "val", "test"), in record order.
std::vector<std::int64_t> split_indices(const ImageCache& cache,
                                        const std::vector<ImageRecord>& records,
                                        const std::string& split);

using io::fnv1a64;  // the cache's checksum and key

}  // namespace mammosweep::worker
