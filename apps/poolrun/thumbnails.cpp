// poolrun thumbnails: area-average downscale of every image of an N x H x W (x C) stack (uint8 or
// float32) to --size WxH, written to /result/thumbnails (N x H' x W' (x C), one HDF5 chunk an
// image). A task reads a block of images from the input the pool initializer opened and returns
// their thumbnails; the master writes each block at its images' place.
#include <iostream>

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

void register_thumbnails(libpool::Registry& registry) {
  registry.add("poolrun.thumbnails_u8", thumbnails_u8_task);
  registry.add("poolrun.thumbnails_f32", thumbnails_f32_task);
}

namespace {

class Thumbnails final : public Workload {
 public:
  std::string name() const override { return "thumbnails"; }
  std::string description() const override {
    return "area-average downscale of every image of an N x H x W (x C) stack";
  }
  void add_options(CLI::App& sub) override {
    common::cli::add_dataset_spec(sub, "input", input_,
                                  "The images: N x H x W or N x H x W x C, uint8 or float32")
        ->required();
    common::cli::add_size(sub, "--size", size_, "Thumbnail size WxH")->required();
  }
  void validate(const CommonOptions&) const override {
    info_ = check_input(input_);
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
  void configure(libpool::Options& options) const override {
    options.initializer(init_input, input_.file, input_.dataset);
  }
  std::vector<std::string> input_files() const override { return {input_.file}; }
  common::Identity identity() const override {
    return {{"input", input_.str()},
            {"input_file", common::file_identity(input_.file)},
            {"size", std::to_string(size_.width) + "x" + std::to_string(size_.height)}};
  }

  int run(Run& run) override {
    if (info_.dtype == h5::Dtype::uint8) return run_typed<std::uint8_t>(run, thumbnails_u8_task);
    return run_typed<float>(run, thumbnails_f32_task);
  }

 private:
  template <class T>
  int run_typed(Run& run, std::vector<T> (*task)(std::uint64_t, std::uint64_t, std::uint64_t,
                                                 std::uint64_t)) {
    // An incomplete stack stays in place (status and /chunks say which images are done), so
    // that --resume only computes the rest.
    const std::uint64_t n = info_.shape[0];
    const std::uint64_t oh = size_.height;
    const std::uint64_t ow = size_.width;
    std::vector<hsize_t> out_shape = info_.shape;
    out_shape[1] = oh;
    out_shape[2] = ow;
    std::vector<hsize_t> chunk = out_shape;
    chunk[0] = 1;
    // Images per chunk: --chunksize, or ~4 MiB of input and at least 4 chunks a worker.
    const std::uint64_t image_bytes = info_.shape[1] * info_.shape[2] *
                                      (info_.shape.size() == 4 ? info_.shape[3] : 1) * sizeof(T);
    const std::uint64_t max_auto = std::max<std::uint64_t>(1, (4u << 20) / image_bytes);
    // The thumbnails are written at their place as blocks complete: /chunks says which are.
    h5::Dataset out;
    if (run.out().resumed() && run.out().result().exists("thumbnails")) {
      out = run.out().result().open_dataset("thumbnails");
    } else {
      h5::DatasetOptions opts;
      opts.chunk = chunk;
      out = run.out().result().create_dataset("thumbnails", h5::dtype_of<T>(), out_shape, opts);
      out.set_attr("input", input_.str());
      out.set_attr("filter", "area average (INTER_AREA)");
    }
    run.out().start();
    std::vector<hsize_t> offset(out_shape.size(), 0);
    std::vector<hsize_t> count = out_shape;
    auto chunks = run.pool().map_spans(task, libpool::Span{0, n},
                                       run.span_options("images", 1, max_auto), oh, ow);
    run.start_progress("thumbnails", chunks.items_total());
    const bool ok = run.drive<std::vector<T>>(
        "images", chunks, [&](libpool::SpanChunk<std::vector<T>>& c, common::ChunkRow&) {
          offset[0] = c.span.begin;
          count[0] = c.span.size();
          out.write_slab(offset, count, std::span<const T>(c.value()));
        });
    out = h5::Dataset();
    if (ok) {
      auto& result = run.out().result();
      result.set_attr("input", input_.str());
      result.set_attr("width", ow);
      result.set_attr("height", oh);
      result.set_attr("chunksize", chunks.chunk_size());
      result.set_attr("schedule", run.options().schedule);
    }
    const double wall = run.elapsed();
    const int code = run.finish();
    if (!run.quiet() && code == exit_complete)
      std::cout << "thumbnails: " << n << " images " << info_.shape[2] << "x" << info_.shape[1]
                << " -> " << ow << "x" << oh << "\n  on " << run.pool().size() << " rank(s) in "
                << human_seconds(wall) << ", "
                << human_rate(static_cast<double>(n) / wall, "images/s") << " -> "
                << run.options().output << '\n';
    return code;
  }

  common::cli::DatasetSpec input_;
  common::cli::Size2 size_;
  mutable InputInfo info_;
};

}  // namespace

std::unique_ptr<Workload> make_thumbnails() {
  return std::make_unique<Thumbnails>();
}

}  // namespace poolrun
