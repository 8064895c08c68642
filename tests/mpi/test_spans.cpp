// map_spans(): the chunk-level interface (every chunk once, completion order, skip, breaks,
// guided, stop, errors, timeouts). Runs at 1, 2, 3 and 4 ranks like the rest of the pool tests.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <set>
#include <stdexcept>

#include "pool_tasks.hpp"

using libpool::Executor;
using libpool::Span;
using libpool::SpanOptions;
using pool_tests::registry;
using namespace std::chrono_literals;

namespace {

std::uint64_t series(std::uint64_t offset, std::uint64_t begin, std::uint64_t end) {
  std::uint64_t s = 0;
  for (std::uint64_t i = begin; i < end; ++i) s += i + offset;
  return s;
}

struct Collected {
  std::vector<Span> spans;
  std::uint64_t sum = 0;
  std::uint64_t errors = 0;
};

Collected collect(libpool::SpanMap<std::uint64_t>& chunks) {
  Collected c;
  for (auto& chunk : chunks) {
    if (chunk.error) {
      ++c.errors;
      continue;
    }
    c.spans.push_back(chunk.span);
    c.sum += chunk.value();
  }
  EXPECT_TRUE(chunks.finished());
  std::sort(c.spans.begin(), c.spans.end(),
            [](const Span& a, const Span& b) { return a.begin < b.begin; });
  return c;
}

// The spans tile exactly the given pieces, in order, with no overlap and no gap.
void expect_tiles(const std::vector<Span>& spans, const std::vector<Span>& pieces) {
  std::vector<Span> merged;
  for (const Span& s : spans) {
    ASSERT_FALSE(s.empty());
    if (!merged.empty() && merged.back().end == s.begin) {
      merged.back().end = s.end;
    } else {
      if (!merged.empty()) {
        ASSERT_LT(merged.back().end, s.begin) << "overlap or disorder";
      }
      merged.push_back(s);
    }
  }
  EXPECT_EQ(merged, pieces);
}

}  // namespace

TEST(MapSpans, EveryItemOnceWithFixedArguments) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  for (std::uint64_t cs : {0u, 1u, 7u, 1000u, 5000u}) {
    auto chunks =
        ex.map_spans(pool_tests::span_series, Span{10, 3010}, {.chunksize = cs}, std::uint64_t{5});
    const auto c = collect(chunks);
    EXPECT_EQ(c.sum, series(5, 10, 3010)) << "chunksize " << cs;
    expect_tiles(c.spans, {{10, 3010}});
    EXPECT_EQ(chunks.items_total(), 3000u);
    EXPECT_EQ(chunks.items_done(), 3000u);
    if (cs != 0) {
      EXPECT_EQ(chunks.chunks_done(), (3000 + cs - 1) / cs);
    }
  }
}

TEST(MapSpans, AutoChunkSizeRespectsBounds) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  auto small = ex.map_spans(pool_tests::span_series, Span{0, 100000}, {.min_chunk = 40000},
                            std::uint64_t{0});
  EXPECT_EQ(small.chunk_size(), 40000u);
  EXPECT_EQ(collect(small).sum, series(0, 0, 100000));
  auto capped =
      ex.map_spans(pool_tests::span_series, Span{0, 100000}, {.max_chunk = 10}, std::uint64_t{0});
  EXPECT_EQ(capped.chunk_size(), 10u);
  EXPECT_EQ(collect(capped).sum, series(0, 0, 100000));
}

TEST(MapSpans, SkipsDoneSpansAndNeverCrossesBreaks) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  SpanOptions opt;
  opt.chunksize = 100;
  opt.skip = {{50, 120}, {0, 10}, {110, 130}, {900, 2000}};  // unsorted, overlapping, past the end
  opt.breaks = {55, 333, 334, 700};
  auto chunks = ex.map_spans(pool_tests::span_series, Span{0, 1000}, opt, std::uint64_t{1});
  const auto c = collect(chunks);
  expect_tiles(c.spans, {{10, 50}, {130, 900}});
  for (const Span& s : c.spans) {
    for (auto b : opt.breaks) {
      EXPECT_FALSE(s.begin < b && b < s.end) << "crosses " << b;
    }
  }
  EXPECT_EQ(chunks.items_total(), 40u + 770u);
  EXPECT_EQ(c.sum, series(1, 10, 50) + series(1, 130, 900));

  SpanOptions all;
  all.skip = {{0, 1000}};
  auto none = ex.map_spans(pool_tests::span_series, Span{0, 1000}, all, std::uint64_t{1});
  EXPECT_EQ(none.next(), nullptr);
  EXPECT_TRUE(none.finished());
}

TEST(MapSpans, ChunksAreWholeGranules) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  // A granule of 64 items (an HDF5 chunk of 64 rows, say): every chunk starts and ends on a
  // granule, except at the end of the space or a break; a --chunksize of 100 becomes 128.
  for (const auto sched : {libpool::Schedule::Dynamic, libpool::Schedule::Guided}) {
    for (std::uint64_t cs : {0u, 1u, 100u, 640u}) {
      SpanOptions opt;
      opt.chunksize = cs;
      opt.granule = 64;
      opt.schedule = sched;
      opt.breaks = {1000};
      auto chunks = ex.map_spans(pool_tests::span_series, Span{0, 5000}, opt, std::uint64_t{0});
      if (cs != 0) {
        EXPECT_EQ(chunks.chunk_size() % 64, 0u);
        EXPECT_GE(chunks.chunk_size(), cs);
      }
      const auto c = collect(chunks);
      expect_tiles(c.spans, {{0, 5000}});
      EXPECT_EQ(c.sum, series(0, 0, 5000));
      for (const Span& s : c.spans) {
        EXPECT_TRUE(s.begin % 64 == 0 || s.begin == 1000) << s.begin << " cs " << cs;
        EXPECT_TRUE(s.end % 64 == 0 || s.end == 1000 || s.end == 5000) << s.end << " cs " << cs;
      }
    }
  }
}

TEST(MapSpans, GuidedChunksShrinkAndStayAboveTheMinimum) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  auto chunks =
      ex.map_spans(pool_tests::span_series, Span{0, 100000},
                   {.chunksize = 500, .schedule = libpool::Schedule::Guided}, std::uint64_t{0});
  std::vector<Span> by_index(1000);
  std::uint64_t n = 0, sum = 0;
  for (auto& c : chunks) {
    by_index.at(c.index) = c.span;
    sum += c.value();
    ++n;
  }
  EXPECT_EQ(sum, series(0, 0, 100000));
  const std::uint64_t workers = ex.workers();
  EXPECT_EQ(by_index[0].size(), (100000 + 2 * workers - 1) / (2 * workers));
  for (std::uint64_t i = 0; i + 1 < n; ++i) {
    EXPECT_GE(by_index[i].size(), by_index[i + 1].size());
    EXPECT_GE(by_index[i].size(), 500u);
  }
}

TEST(MapSpans, IndexSpaceNearTheTopOfUint64) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  const std::uint64_t top = std::numeric_limits<std::uint64_t>::max();
  auto chunks = ex.map_spans(pool_tests::span_count, Span{top - 1000, top},
                             {.schedule = libpool::Schedule::Guided});
  std::uint64_t items = 0;
  for (auto& c : chunks) items += c.value();
  EXPECT_EQ(items, 1000u);
}

TEST(MapSpans, AFailedChunkIsYieldedWithItsErrorAndStopEndsTheMap) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  // span_fail_at throws for the chunk holding item 250.
  auto chunks = ex.map_spans(pool_tests::span_fail_at, Span{0, 100000},
                             {.chunksize = 10, .buffersize = 8}, std::uint64_t{250});
  std::uint64_t failed = 0, ok = 0;
  for (auto& c : chunks) {
    if (c.error) {
      ++failed;
      EXPECT_TRUE(c.span.begin <= 250 && 250 < c.span.end);
      EXPECT_THROW(c.value(), std::out_of_range);
      try {
        std::rethrow_exception(c.error);
      } catch (const std::out_of_range& e) {
        EXPECT_NE(std::string(e.what()).find("item 250"), std::string::npos) << e.what();
      }
      chunks.stop();
    } else {
      ++ok;
    }
  }
  EXPECT_EQ(failed, 1u);
  EXPECT_TRUE(chunks.finished());
  EXPECT_LT(ok * 10, 100000u / 2) << "stop() must cancel what is queued";
  // The pool is still usable.
  EXPECT_EQ(ex.submit(pool_tests::square, 3).get(), 9);
}

TEST(MapSpans, NextTimesOutWhileChunksRun) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  // One chunk of 300 ms: next(50 ms) comes back empty-handed first, the map is not finished.
  auto chunks = ex.map_spans(pool_tests::span_sleep, Span{0, 300}, {.chunksize = 300});
  const auto t0 = std::chrono::steady_clock::now();
  auto* c = chunks.next(50ms);
  if (ex.size() > 1) {  // on one rank the task runs inline and cannot be interrupted
    EXPECT_EQ(c, nullptr);
    EXPECT_FALSE(chunks.finished());
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 250ms);
    c = chunks.next();
  }
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->value(), 300u);
  EXPECT_GE(c->info.end_s - c->info.start_s, 0.29);
  EXPECT_EQ(chunks.next(), nullptr);
  EXPECT_TRUE(chunks.finished());
}

TEST(MapSpans, DroppingTheMapCancelsQueuedChunks) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  {
    auto chunks = ex.map_spans(pool_tests::span_sleep, Span{0, 1000}, {.chunksize = 20});
    auto* c = chunks.next();
    ASSERT_NE(c, nullptr);
  }
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(ex.submit(pool_tests::square, 4).get(), 16);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms) << "queued chunks were not cancelled";
}
