// poolrun datagen: test inputs for stats and thumbnails, written to `-o FILE.h5:/DSET` (default
// dataset /data), chunked along dimension 0, optionally gzip + shuffle.
//
// Every value is a function of (seed, flat element index) alone, through the Philox4x32-10 stream
// of kernels::pi_block (key = seed, counter = {i, 0, 0} for element i, words r0..r3), so the data
// do not depend on the rank count or the chunking:
//   uniform  u53(r0, r1) = ((r0 << 21) | (r1 >> 11)) * 2^-53 in [0, 1); float32: (r0 >> 8) * 2^-24
//   normal   Box-Muller: sqrt(-2 ln(1 - u53(r0, r1))) * cos(2 pi u53(r2, r3))
//   integer  floor(r0 * 2000 / 2^32) - 1000 in [-1000, 999]; uint8: r0 >> 24
//   image    N x H x W (x C): per image (counter {n, 0, 1, 0} and {n, 0, 2, 0}) a random gradient
//            direction, a disc and a rectangle; per element noise of +-0.02 from word i % 4 of
//            block i / 4 (counter {i / 4, 0, 0}: one block serves four elements); values in
//            [0, 1], uint8 as round(255 v). (Stream 2: until 2026-11 every element took word 0
//            of its own block i, four times the Philox work; the identity's image_stream says
//            which, so a file of the old stream is never resumed with the new one.)
// The pass runs over the rows with an HDF5 chunk as its granule: a task generates a run of whole
// HDF5 chunks and returns it, and the master writes it at its place. With --gzip the tasks also
// shuffle and deflate their chunks, and the master stores the bytes (HDF5 direct chunk writes),
// so compression runs on every rank.
#include <cmath>
#include <cstring>
#include <numbers>
#include <optional>

#include "common/cli.hpp"
#include "common/errors.hpp"
#include "common/h5.hpp"
#include "kernels/image.hpp"
#include "kernels/montecarlo.hpp"
#include "poolrun.hpp"

namespace poolrun {

namespace {

enum Kind : std::uint32_t { normal = 0, uniform = 1, integer = 2, image = 3 };

double u53(std::uint32_t a, std::uint32_t b) {
  return static_cast<double>((std::uint64_t{a} << 21) | (b >> 11)) * 0x1p-53;
}

double u32(std::uint32_t a) {
  return static_cast<double>(a) * 0x1p-32;
}

kernels::ImageParams image_params(std::uint64_t seed, std::uint64_t n, double h, double w) {
  const std::array<std::uint32_t, 2> key{static_cast<std::uint32_t>(seed),
                                         static_cast<std::uint32_t>(seed >> 32)};
  const auto lo = static_cast<std::uint32_t>(n);
  const auto hi = static_cast<std::uint32_t>(n >> 32);
  const auto a = kernels::philox4x32_10({lo, hi, 1, 0}, key);
  const auto b = kernels::philox4x32_10({lo, hi, 2, 0}, key);
  kernels::ImageParams p;
  const double angle = 2 * std::numbers::pi * u32(a[0]);
  p.gx = 0.3 * std::cos(angle);
  p.gy = 0.3 * std::sin(angle);
  p.cx = u32(a[1]) * w;
  p.cy = u32(a[2]) * h;
  const double r = (0.1 + 0.2 * u32(a[3])) * std::min(h, w);
  p.r2 = r * r;
  p.x0 = u32(b[0]) * w * 0.7;
  p.y0 = u32(b[1]) * h * 0.7;
  p.x1 = p.x0 + (0.1 + 0.2 * u32(b[2])) * w;
  p.y1 = p.y0 + (0.1 + 0.2 * u32(b[3])) * h;
  p.disc_level = 0.85;
  p.rect_level = 0.1;
  return p;
}

// Elements [first, first + count) of the stream, as T.
template <class T>
void generate(Kind kind, std::uint64_t seed, const std::vector<std::uint64_t>& shape,
              std::uint64_t first, std::uint64_t count, T* out) {
  constexpr std::size_t batch = 4096;
  // 4 words an element, or for the image kind one word an element (plus a block's slack at
  // each end).
  std::vector<std::uint32_t> words(4 * batch + 8);
  const auto simd = kernels::best_simd_path();
  // Image geometry (only for the image kind).
  const std::uint64_t h = shape.size() >= 3 ? shape[1] : 1;
  const std::uint64_t w = shape.size() >= 3 ? shape[2] : 1;
  const std::uint64_t c = shape.size() == 4 ? shape[3] : 1;
  const std::uint64_t per_image = h * w * c;
  std::uint64_t params_of = ~std::uint64_t{0};
  // The image kind's position (image n, row y, element k of the row) of element first + done + j,
  // stepped along instead of divided out per element (three 64-bit divisions an element were
  // most of the generator's time).
  std::uint64_t pos_n = 0, pos_y = 0, pos_k = 0;
  const std::uint64_t row_len = w * c;
  std::optional<kernels::ImageGenerator> gen;
  if (kind == image) {
    gen.emplace(h, w, c);
    const std::uint64_t rest = first % per_image;
    pos_n = first / per_image;
    pos_y = rest / row_len;
    pos_k = rest % row_len;
  }
  for (std::uint64_t done = 0; done < count; done += batch) {
    const std::size_t m = static_cast<std::size_t>(std::min<std::uint64_t>(batch, count - done));
    if (kind == image) {
      // Noise words of elements e0 .. e0 + m - 1: blocks e0 / 4 .. (e0 + m - 1) / 4.
      const std::uint64_t e0 = first + done;
      const std::uint64_t b0 = e0 / 4;
      kernels::pi_blocks(simd, seed, b0, static_cast<std::size_t>((e0 + m - 1) / 4 - b0 + 1),
                         words.data());
      const std::uint32_t* noise = words.data() + (e0 % 4);
      for (std::size_t j = 0; j < m;) {
        if (pos_n != params_of) {
          gen->set_image(image_params(seed, pos_n, static_cast<double>(h), static_cast<double>(w)));
          params_of = pos_n;
        }
        const auto k0 = static_cast<std::size_t>(pos_k);
        const std::size_t len = std::min<std::size_t>(m - j, row_len - k0);
        if constexpr (std::is_same_v<T, std::uint8_t> || std::is_same_v<T, float>)
          gen->run(pos_y, k0, len, noise + j, out + done + j);
        else
          throw std::logic_error("datagen: images are uint8 or float32");
        j += len;
        pos_k = k0 + len;
        if (pos_k == row_len) {
          pos_k = 0;
          if (++pos_y == h) {
            pos_y = 0;
            ++pos_n;
          }
        }
      }
      continue;
    }
    kernels::pi_blocks(simd, seed, first + done, m, words.data());
    for (std::size_t j = 0; j < m; ++j) {
      const std::uint32_t* r = &words[4 * j];
      T v{};
      switch (kind) {
        case normal: {
          const double z = std::sqrt(-2.0 * std::log(1.0 - u53(r[0], r[1]))) *
                           std::cos(2 * std::numbers::pi * u53(r[2], r[3]));
          v = static_cast<T>(z);
          break;
        }
        case uniform:
          if constexpr (std::is_same_v<T, float>)
            v = static_cast<float>(r[0] >> 8) * 0x1p-24f;
          else
            v = static_cast<T>(u53(r[0], r[1]));
          break;
        case integer:
          if constexpr (std::is_same_v<T, std::uint8_t>)
            v = static_cast<T>(r[0] >> 24);
          else
            v = static_cast<T>(static_cast<std::int64_t>((std::uint64_t{r[0]} * 2000) >> 32) -
                               1000);
          break;
        case image:  // handled above
          break;
      }
      out[done + j] = v;
    }
  }
}

std::uint64_t product(const std::vector<std::uint64_t>& dims, std::size_t from) {
  std::uint64_t p = 1;
  for (std::size_t i = from; i < dims.size(); ++i) p *= dims[i];
  return p;
}

template <class T>
std::vector<T> datagen_block(std::uint32_t kind, std::uint64_t seed,
                             std::vector<std::uint64_t> shape, std::uint64_t begin,
                             std::uint64_t end) {
  test_delay();
  const std::uint64_t row = product(shape, 1);
  std::vector<T> out((end - begin) * row);
  generate<T>(static_cast<Kind>(kind), seed, shape, begin * row, out.size(), out.data());
  return out;
}

// Rows [begin, end), whole HDF5 chunks (the pass's granule), as the file stores them with --gzip:
// each chunk shuffled and deflated here, on the worker (sizes[i] bytes each, one after the other
// in bytes).
struct DeflatedRows {
  std::vector<std::uint64_t> sizes;
  std::vector<std::uint8_t> bytes;
  LIBPOOL_FIELDS(sizes, bytes)
};

template <class T>
DeflatedRows deflated_block(std::uint32_t kind, std::uint64_t seed,
                            std::vector<std::uint64_t> shape, std::uint64_t chunk_rows,
                            std::uint32_t level, std::uint64_t begin, std::uint64_t end) {
  test_delay();
  const std::uint64_t row = product(shape, 1);
  const std::uint64_t rows = shape[0];
  if (begin % chunk_rows != 0 || (end % chunk_rows != 0 && end != rows))
    throw std::invalid_argument("datagen: rows [" + std::to_string(begin) + ", " +
                                std::to_string(end) + ") are not whole HDF5 chunks");
  DeflatedRows r;
  // The edge chunk is stored whole, its rows past the end holding the fill value (0).
  std::vector<T> chunk(chunk_rows * row);
  for (std::uint64_t c = begin; c < end; c += chunk_rows) {
    const std::uint64_t n = std::min(chunk_rows, rows - c);
    std::fill(chunk.begin() + static_cast<std::ptrdiff_t>(n * row), chunk.end(), T{});
    generate<T>(static_cast<Kind>(kind), seed, shape, c * row, n * row, chunk.data());
    const std::vector<std::uint8_t> z =
        libpool::batch::deflate_chunk(std::span<const T>(chunk), static_cast<int>(level));
    r.sizes.push_back(z.size());
    r.bytes.insert(r.bytes.end(), z.begin(), z.end());
  }
  return r;
}

}  // namespace

// --gzip: one task a type, rows [begin, end) deflated by the worker.
DeflatedRows datagen_f32_gz_task(std::uint32_t kind, std::uint64_t seed,
                                 std::vector<std::uint64_t> shape, std::uint64_t chunk_rows,
                                 std::uint32_t level, std::uint64_t begin, std::uint64_t end) {
  return deflated_block<float>(kind, seed, std::move(shape), chunk_rows, level, begin, end);
}
DeflatedRows datagen_f64_gz_task(std::uint32_t kind, std::uint64_t seed,
                                 std::vector<std::uint64_t> shape, std::uint64_t chunk_rows,
                                 std::uint32_t level, std::uint64_t begin, std::uint64_t end) {
  return deflated_block<double>(kind, seed, std::move(shape), chunk_rows, level, begin, end);
}
DeflatedRows datagen_i32_gz_task(std::uint32_t kind, std::uint64_t seed,
                                 std::vector<std::uint64_t> shape, std::uint64_t chunk_rows,
                                 std::uint32_t level, std::uint64_t begin, std::uint64_t end) {
  return deflated_block<std::int32_t>(kind, seed, std::move(shape), chunk_rows, level, begin, end);
}
DeflatedRows datagen_i64_gz_task(std::uint32_t kind, std::uint64_t seed,
                                 std::vector<std::uint64_t> shape, std::uint64_t chunk_rows,
                                 std::uint32_t level, std::uint64_t begin, std::uint64_t end) {
  return deflated_block<std::int64_t>(kind, seed, std::move(shape), chunk_rows, level, begin, end);
}
DeflatedRows datagen_u8_gz_task(std::uint32_t kind, std::uint64_t seed,
                                std::vector<std::uint64_t> shape, std::uint64_t chunk_rows,
                                std::uint32_t level, std::uint64_t begin, std::uint64_t end) {
  return deflated_block<std::uint8_t>(kind, seed, std::move(shape), chunk_rows, level, begin, end);
}

// One task a type: rows [begin, end) along dimension 0.
std::vector<float> datagen_f32_task(std::uint32_t kind, std::uint64_t seed,
                                    std::vector<std::uint64_t> shape, std::uint64_t begin,
                                    std::uint64_t end) {
  return datagen_block<float>(kind, seed, std::move(shape), begin, end);
}
std::vector<double> datagen_f64_task(std::uint32_t kind, std::uint64_t seed,
                                     std::vector<std::uint64_t> shape, std::uint64_t begin,
                                     std::uint64_t end) {
  return datagen_block<double>(kind, seed, std::move(shape), begin, end);
}
std::vector<std::int32_t> datagen_i32_task(std::uint32_t kind, std::uint64_t seed,
                                           std::vector<std::uint64_t> shape, std::uint64_t begin,
                                           std::uint64_t end) {
  return datagen_block<std::int32_t>(kind, seed, std::move(shape), begin, end);
}
std::vector<std::int64_t> datagen_i64_task(std::uint32_t kind, std::uint64_t seed,
                                           std::vector<std::uint64_t> shape, std::uint64_t begin,
                                           std::uint64_t end) {
  return datagen_block<std::int64_t>(kind, seed, std::move(shape), begin, end);
}
std::vector<std::uint8_t> datagen_u8_task(std::uint32_t kind, std::uint64_t seed,
                                          std::vector<std::uint64_t> shape, std::uint64_t begin,
                                          std::uint64_t end) {
  return datagen_block<std::uint8_t>(kind, seed, std::move(shape), begin, end);
}

namespace {

void register_datagen(libpool::Registry& registry) {
  registry.add("poolrun.datagen_f32", datagen_f32_task);
  registry.add("poolrun.datagen_f64", datagen_f64_task);
  registry.add("poolrun.datagen_i32", datagen_i32_task);
  registry.add("poolrun.datagen_i64", datagen_i64_task);
  registry.add("poolrun.datagen_u8", datagen_u8_task);
  registry.add("poolrun.datagen_f32_gz", datagen_f32_gz_task);
  registry.add("poolrun.datagen_f64_gz", datagen_f64_gz_task);
  registry.add("poolrun.datagen_i32_gz", datagen_i32_gz_task);
  registry.add("poolrun.datagen_i64_gz", datagen_i64_gz_task);
  registry.add("poolrun.datagen_u8_gz", datagen_u8_gz_task);
}

constexpr std::uint64_t kChunkBytes = std::uint64_t{1} << 20;  // default HDF5 chunk
constexpr std::uint64_t kWorkBytes = std::uint64_t{4} << 20;   // default work chunk
// The most a task may return (libpool's message limit, 2 GiB less 8 MiB, with room to spare).
constexpr std::uint64_t kMaxResultBytes = (std::uint64_t{2} << 30) - (std::uint64_t{16} << 20);

class Datagen final : public libpool::batch::Workload {
 public:
  std::string name() const override { return "datagen"; }
  std::string description() const override {
    return "writes test input: normal/uniform/integer vectors and matrices, image stacks";
  }
  void options(libpool::batch::Options& o) override {
    o.add("--kind", kind_, "normal, uniform, integer or image");
    o.add("--shape", shape_text_, "Dimensions: 1e8, 1000x512, 100x64x64x3 (N x H x W x C)")
        .required();
    o.add("--seed", seed_, "Key of the Philox stream");
    o.add("--dtype", dtype_,
          "float32, float64, int32, int64 or uint8 (auto: float64, uint8 for images)");
    o.add("--chunk", chunk_, "Rows along dimension 0 per HDF5 chunk (0: about 1 MiB a chunk)");
    o.add("--gzip", gzip_, "Deflate level 1..9 with shuffle (0: off)");
    o.output_dataset(dataset_);
    // Which image noise stream (see the top of this file): a file of the other never resumes.
    o.identity("image_stream", image_stream_);
  }
  void check() const override {
    if (kind_ != "normal" && kind_ != "uniform" && kind_ != "integer" && kind_ != "image")
      throw common::UsageError("--kind: '" + kind_ +
                               "' is not one of normal, uniform, integer, image");
    if (dtype_ != "auto" && dtype_ != "float32" && dtype_ != "float64" && dtype_ != "int32" &&
        dtype_ != "int64" && dtype_ != "uint8")
      throw common::UsageError("--dtype: '" + dtype_ +
                               "' is not one of auto, float32, float64, int32, int64, uint8");
    shape_.clear();
    std::string_view rest = shape_text_;
    while (true) {
      const auto x = rest.find_first_of("xX");
      shape_.push_back(common::cli::parse_u64(rest.substr(0, x), "--shape"));
      if (shape_.back() == 0) throw common::UsageError("--shape: every dimension must be positive");
      if (x == std::string_view::npos) break;
      rest = rest.substr(x + 1);
    }
    if (shape_.size() > 4) throw common::UsageError("--shape: at most 4 dimensions");
    std::uint64_t total = 1;
    for (auto v : shape_) {
      if (total > (std::uint64_t{1} << 50) / v)
        throw common::UsageError("--shape: more than 2^50 elements");
      total *= v;
    }
    dtype_value_ = dtype_ != "auto" ? dtype_ : kind_ == "image" ? "uint8" : "float64";
    image_stream_ = kind_ == "image" ? "2" : "";
    const bool floating = dtype_value_ == "float32" || dtype_value_ == "float64";
    if (kind_ == "image") {
      if (shape_.size() != 3 && shape_.size() != 4)
        throw common::UsageError("--kind image: --shape must be N x H x W or N x H x W x C");
      if (dtype_value_ != "uint8" && dtype_value_ != "float32")
        throw common::UsageError("--kind image: --dtype must be uint8 or float32");
    } else if (kind_ != "integer" && !floating) {
      throw common::UsageError("--kind " + kind_ + ": --dtype must be float32 or float64");
    }
    if (gzip_ > 9) throw common::UsageError("--gzip: a level from 1 to 9 (0: off)");
    const std::uint64_t row_bytes = product(shape_, 1) * element_size();
    if (chunk_ > shape_[0]) throw common::UsageError("--chunk: more rows than --shape has");
    const std::uint64_t c0 =
        chunk_ != 0 ? chunk_ : std::clamp<std::uint64_t>(kChunkBytes / row_bytes, 1, shape_[0]);
    // A task's result travels in one MPI message, which libpool keeps below 2 GiB.
    if (c0 * row_bytes >= kMaxResultBytes)
      throw common::UsageError("--chunk: an HDF5 chunk (" + std::to_string(c0) + " row(s) of " +
                               std::to_string(row_bytes) +
                               " bytes) must stay below 2 GiB, the most a task can return");
    chunk_rows_ = c0;
    // A task generates at least one HDF5 chunk in memory.
    std::vector<hsize_t> chunk_dims(shape_.begin(), shape_.end());
    chunk_dims[0] = c0;
    check_fits("--shape " + shape_text_, chunk_dims, element_size(), "one HDF5 chunk");
  }
  void tasks(libpool::Registry& registry) const override { register_datagen(registry); }

  void run(libpool::batch::Run& run) override {
    if (dtype_value_ == "float32")
      return run_typed<float>(run, datagen_f32_task, datagen_f32_gz_task);
    if (dtype_value_ == "float64")
      return run_typed<double>(run, datagen_f64_task, datagen_f64_gz_task);
    if (dtype_value_ == "int32")
      return run_typed<std::int32_t>(run, datagen_i32_task, datagen_i32_gz_task);
    if (dtype_value_ == "int64")
      return run_typed<std::int64_t>(run, datagen_i64_task, datagen_i64_gz_task);
    run_typed<std::uint8_t>(run, datagen_u8_task, datagen_u8_gz_task);
  }

 private:
  std::uint64_t element_size() const {
    if (dtype_value_ == "float32" || dtype_value_ == "int32") return 4;
    if (dtype_value_ == "uint8") return 1;
    return 8;
  }

  template <class T>
  void run_typed(libpool::batch::Run& run,
                 std::vector<T> (*task)(std::uint32_t, std::uint64_t, std::vector<std::uint64_t>,
                                        std::uint64_t, std::uint64_t),
                 DeflatedRows (*gz_task)(std::uint32_t, std::uint64_t, std::vector<std::uint64_t>,
                                         std::uint64_t, std::uint32_t, std::uint64_t,
                                         std::uint64_t)) {
    const std::uint64_t rows = shape_[0];
    const std::uint64_t row = product(shape_, 1);
    const std::vector<std::uint64_t> row_shape(shape_.begin() + 1, shape_.end());
    auto out = run.rows<T>(dataset_, rows, row_shape, chunk_rows_, static_cast<int>(gzip_));
    const std::uint32_t kind = kind_ == "normal"    ? normal
                               : kind_ == "uniform" ? uniform
                               : kind_ == "integer" ? integer
                                                    : image;
    // Work chunks are runs of whole HDF5 chunks (a compressed chunk is written once): automatic
    // ones of ~4 MiB.
    const std::uint64_t chunk_bytes = chunk_rows_ * row * sizeof(T);
    const libpool::batch::Pass pass{
        .name = "rows",
        .space = {0, rows},
        .unit = "rows",
        .max_chunk = std::max<std::uint64_t>(1, kWorkBytes / chunk_bytes) * chunk_rows_,
        .granule = chunk_rows_};
    std::optional<std::uint64_t> done;
    if (gzip_ == 0) {
      done = run.write_rows(
          pass,
          [&](const libpool::Span& span, std::vector<T>& block) -> std::uint64_t {
            if (block.size() != span.size() * row) throw std::runtime_error("datagen: short block");
            out.write(span.begin, std::span<const T>(block));
            return 0;
          },
          task, kind, seed_, shape_);
    } else {
      // The workers deflate (a master compressing every chunk alone does not scale); the
      // master stores their bytes as they are.
      done = run.write_rows(
          pass,
          [&](const libpool::Span& span, DeflatedRows& block) -> std::uint64_t {
            if (block.sizes.size() != libpool::ceil_div(span.size(), chunk_rows_))
              throw std::runtime_error("datagen: short block");
            std::size_t at = 0;
            std::uint64_t first = span.begin;
            for (std::uint64_t size : block.sizes) {
              if (size > block.bytes.size() - at) throw std::runtime_error("datagen: short block");
              out.write_chunk(first, {block.bytes.data() + at, static_cast<std::size_t>(size)});
              at += static_cast<std::size_t>(size);
              first += chunk_rows_;
            }
            return 0;
          },
          gz_task, kind, seed_, shape_, chunk_rows_, static_cast<std::uint32_t>(gzip_));
    }
    if (!done) return;
    auto& result = run.result();
    for (const std::string& object : {std::string(), dataset_}) {
      const auto attr = [&](const std::string& name, const libpool::batch::Value& v) {
        object.empty() ? result.attr(name, v) : result.attr(object, name, v);
      };
      if (object.empty()) attr("dataset", dataset_);
      attr("kind", kind_);
      attr("seed", seed_);
      attr("generator", std::string("Philox4x32-10"));
      if (object.empty()) attr("chunk_rows", chunk_rows_);
    }
    InputInfo data;
    data.elements = rows * row;
    data.element_size = sizeof(T);
    run.summary("datagen: " + kind_ + " " + shape_text_ + " " + dtype_value_ + " (seed " +
                std::to_string(seed_) + ", chunk " + std::to_string(chunk_rows_) + " rows" +
                (gzip_ > 0 ? ", gzip " + std::to_string(gzip_) : std::string()) + ") -> " +
                run.output() + ":" + dataset_ + ", " + data_rate(data, run.elapsed()));
  }

  std::string kind_ = "normal";
  std::string shape_text_;
  std::uint64_t seed_ = 0;
  std::string dtype_ = "auto";
  std::uint64_t chunk_ = 0;
  std::uint64_t gzip_ = 0;
  std::string dataset_ = "/data";
  mutable std::vector<std::uint64_t> shape_;
  mutable std::string dtype_value_;
  mutable std::string image_stream_;
  mutable std::uint64_t chunk_rows_ = 1;
};

}  // namespace

std::unique_ptr<libpool::batch::Workload> make_datagen() {
  return std::make_unique<Datagen>();
}

}  // namespace poolrun
