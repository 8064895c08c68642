// poolrun thumbnails: area-average downscale of every image of an N x H x W (x C) stack (uint8 or
// float32) to --size WxH, written to /result/thumbnails (N x H' x W' (x C), one HDF5 chunk an
// image). A task reads a block of images from the input the pool initializer opened and returns
// their thumbnails; the master writes each block at its images' place.

#include "common/cli.hpp"
#include "common/errors.hpp"
#include "common/h5.hpp"
#include "kernels/resize.hpp"
#include "poolrun.hpp"

namespace poolrun {

namespace {

template <class T>
std::vector<T> thumbnails_block(std::uint64_t first, std::uint64_t count, std::uint64_t oh,
                                std::uint64_t ow) {
  test_delay();
  const h5::Dataset& d = input_dataset();
  const std::vector<hsize_t> shape = d.shape();
  const std::uint64_t h = shape[1];
  const std::uint64_t w = shape[2];
  const std::uint64_t c = shape.size() == 4 ? shape[3] : 1;
  const std::uint64_t in_px = h * w * c;
  const std::uint64_t out_px = oh * ow * c;
  std::vector<hsize_t> offset(shape.size(), 0);
  std::vector<hsize_t> counts = shape;
  offset[0] = first;
  counts[0] = count;
  std::vector<T> in(count * in_px);
  try {
    d.read_slab(offset, counts, std::span<T>(in));
  } catch (const h5::Error& e) {
    throw_input_error(first, first + count, e);
  }
  std::vector<T> out(count * out_px);
  for (std::uint64_t i = 0; i < count; ++i)
    kernels::area_resize(in.data() + i * in_px, h, w, c, out.data() + i * out_px, oh, ow);
  return out;
}

}  // namespace

std::vector<std::uint8_t> thumbnails_u8_task(std::uint64_t oh, std::uint64_t ow,
                                             std::uint64_t begin, std::uint64_t end) {
  return thumbnails_block<std::uint8_t>(begin, end - begin, oh, ow);
}

std::vector<float> thumbnails_f32_task(std::uint64_t oh, std::uint64_t ow, std::uint64_t begin,
                                       std::uint64_t end) {
  return thumbnails_block<float>(begin, end - begin, oh, ow);
}

namespace {

class Thumbnails final : public libpool::batch::Workload {
 public:
  std::string name() const override { return "thumbnails"; }
  std::string description() const override {
    return "area-average downscale of every image of an N x H x W (x C) stack";
  }
  void options(libpool::batch::Options& o) override {
    o.add("input", input_, "The images: N x H x W or N x H x W x C, uint8 or float32")
        .required()
        .input();
    o.add("--size", size_text_, "Thumbnail size WxH").required();
  }
  void check() const override {
    size_ = common::cli::parse_size(size_text_, "--size");
    const common::cli::DatasetSpec spec{input_.file, input_.dataset};
    info_ = check_input(spec);
    const std::string what = input_.str();
    if (info_.shape.size() != 3 && info_.shape.size() != 4)
      throw common::UsageError(what + ": expected N x H x W or N x H x W x C images, found " +
                               std::to_string(info_.shape.size()) + " dimension(s)");
    if (info_.dtype != h5::Dtype::uint8 && info_.dtype != h5::Dtype::float32)
      throw common::UsageError(what + ": expected uint8 or float32 images, found " +
                               std::string(h5::to_string(info_.dtype)));
    // A task holds one input image and its thumbnail at least (before the size checks below:
    // those would read --size against an image that can never be resized anyway).
    check_fits(what, {info_.shape.begin() + 1, info_.shape.end()}, info_.element_size, "one image");
    // A task returns at least one thumbnail, in one MPI message (libpool: below 2 GiB).
    const double thumb_bytes = static_cast<double>(size_.width) *
                               static_cast<double>(size_.height) *
                               static_cast<double>(info_.shape.size() == 4 ? info_.shape[3] : 1) *
                               static_cast<double>(info_.element_size);
    if (thumb_bytes >= static_cast<double>((std::uint64_t{2} << 30) - (std::uint64_t{16} << 20)))
      throw common::UsageError("--size " + std::to_string(size_.width) + "x" +
                               std::to_string(size_.height) +
                               ": one thumbnail must stay below 2 GiB, the most a task can return");
    if (size_.width > info_.shape[2] || size_.height > info_.shape[1])
      throw common::UsageError("--size " + std::to_string(size_.width) + "x" +
                               std::to_string(size_.height) + " is larger than the images of " +
                               what + " (" + std::to_string(info_.shape[2]) + "x" +
                               std::to_string(info_.shape[1]) + ")");
  }
  void tasks(libpool::Registry& registry) const override {
    registry.add("poolrun.thumbnails_u8", thumbnails_u8_task);
    registry.add("poolrun.thumbnails_f32", thumbnails_f32_task);
  }
  // Every rank opens the input once; its tasks read their images through it.
  void setup() override { init_input(input_.file, input_.dataset); }

  void run(libpool::batch::Run& run) override {
    if (info_.dtype == h5::Dtype::uint8) return run_typed<std::uint8_t>(run, thumbnails_u8_task);
    run_typed<float>(run, thumbnails_f32_task);
  }

 private:
  template <class T>
  void run_typed(libpool::batch::Run& run, std::vector<T> (*task)(std::uint64_t, std::uint64_t,
                                                                  std::uint64_t, std::uint64_t)) {
    const std::uint64_t n = info_.shape[0];
    const std::uint64_t oh = size_.height;
    const std::uint64_t ow = size_.width;
    std::vector<std::uint64_t> thumb{oh, ow};
    if (info_.shape.size() == 4) thumb.push_back(info_.shape[3]);
    // Images per chunk: --chunksize, or ~4 MiB of input and at least 4 chunks a worker.
    const std::uint64_t image_bytes = info_.shape[1] * info_.shape[2] *
                                      (info_.shape.size() == 4 ? info_.shape[3] : 1) * sizeof(T);
    const std::uint64_t max_auto = std::max<std::uint64_t>(1, (4u << 20) / image_bytes);
    // The thumbnails go at their place as blocks complete (one HDF5 chunk an image): /chunks
    // says which are done, and --resume computes only the rest.
    auto out = run.rows<T>("thumbnails", n, thumb, 1);
    run.result().attr("thumbnails", "input", input_.str());
    run.result().attr("thumbnails", "filter", std::string("area average (INTER_AREA)"));
    const auto done = run.write_rows(
        {.name = "images", .space = {0, n}, .unit = "images", .max_chunk = max_auto},
        [&](const libpool::Span& span, std::vector<T>& v) -> std::uint64_t {
          out.write(span.begin, std::span<const T>(v));
          return span.size();
        },
        task, oh, ow);
    if (!done) return;
    auto& result = run.result();
    result.attr("input", input_.str());
    result.attr("width", ow);
    result.attr("height", oh);
    result.attr("chunksize", run.chunk_size());
    result.attr("schedule", run.schedule());
    run.summary("thumbnails: " + std::to_string(n) + " images " + std::to_string(info_.shape[2]) +
                "x" + std::to_string(info_.shape[1]) + " -> " + std::to_string(ow) + "x" +
                std::to_string(oh));
  }

  libpool::batch::DatasetSpec input_;
  std::string size_text_;
  mutable common::cli::Size2 size_;
  mutable InputInfo info_;
};

}  // namespace

std::unique_ptr<libpool::batch::Workload> make_thumbnails() {
  return std::make_unique<Thumbnails>();
}

}  // namespace poolrun
