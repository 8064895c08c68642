// poolreport_lib on files the output writer makes: complete, crashed (uneven columns), many
// chunks (the timeline merges sub-pixel boxes), and the escapers.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/h5.hpp"
#include "common/output.hpp"
#include "poolreport.hpp"
#include "test_common_util.hpp"

using common::OutputFile;
using common::RunStatus;
using test_common::chunk_row;
using test_common::TempDir;

namespace {

common::RunMeta meta() {
  common::RunMeta m;
  m.workload = "primes";
  m.config = "to = 1000\n";
  m.command_line = "poolrun primes --to 1000 \"quoted\"";
  m.ranks = 3;
  m.hosts = {"node1"};
  m.identity = {{"workload", "primes"}, {"to", "1000"}};
  return m;
}

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

}  // namespace

TEST(Report, Escapers) {
  EXPECT_EQ(poolreport::json_escape("a\"b\\c\nd\te\x01"), "a\\\"b\\\\c\\nd\\te\\u0001");
  EXPECT_EQ(poolreport::json_escape("h\xc3\xa9"), "h\xc3\xa9");
  EXPECT_EQ(poolreport::xml_escape("<a & 'b' \"c\">"),
            "&lt;a &amp; &apos;b&apos; &quot;c&quot;&gt;");
}

TEST(Report, CompleteFile) {
  TempDir dir;
  const auto path = dir / "p.h5";
  {
    OutputFile out = OutputFile::create(path, false, meta());
    out.result().write_scalar("count", std::uint64_t{168});
    out.append_chunk(chunk_row(0, 500, 1, 0.0, 1.0));
    out.append_chunk(chunk_row(500, 900, 2, 0.0, 0.5));
    out.append_chunk(chunk_row(900, 1000, 2, 0.5, 1.0, "failed"));
    const std::vector<common::WorkerRow> workers{
        {0, "node1", 0, 0, 1}, {1, "node1", 1, 1.0, 0}, {2, "node2", 2, 1.0, 0}};
    out.set_workers(workers);
    out.set_error({2, "node2", 900, 1000, "boom <bad>"});
    out.finish(RunStatus::failed, 2.0);
  }
  const auto r = poolreport::read_report(path);
  EXPECT_FALSE(r.swmr);
  EXPECT_EQ(r.status, "failed");
  EXPECT_EQ(r.done, 2u);
  EXPECT_EQ(r.failed, 1u);
  EXPECT_EQ(r.items_done, 900u);
  EXPECT_DOUBLE_EQ(r.throughput, 450.0);
  ASSERT_EQ(r.per_rank.size(), 3u);
  EXPECT_EQ(r.per_rank[2].host, "node2");
  EXPECT_EQ(r.per_rank[2].chunks, 2u);
  EXPECT_DOUBLE_EQ(r.per_rank[1].busy_pct, 100.0);
  EXPECT_DOUBLE_EQ(r.imbalance, 1.0);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].message, "boom <bad>");
  EXPECT_EQ(r.slowest.front().begin, 0u);
  const auto json = poolreport::to_json(r);
  EXPECT_NE(json.find("\"command_line\":\"poolrun primes --to 1000 \\\"quoted\\\"\""),
            std::string::npos);
  EXPECT_NE(json.find("\"result\":{\"count\":168}"), std::string::npos) << json;
  const auto svg = poolreport::timeline_svg(r);
  EXPECT_EQ(count(svg, "class=\"chunk\""), 3u);
  EXPECT_NE(svg.find("rank 2 (node2)"), std::string::npos);
  EXPECT_NE(svg.find("xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
  EXPECT_FALSE(r.partial_beside);
  {  // a --force run writes p.h5.partial beside p.h5 and dies
    OutputFile again = OutputFile::create(path, true, meta());
    again.start();
  }
  const auto beside = poolreport::read_report(path);
  EXPECT_TRUE(beside.partial_beside);
  EXPECT_EQ(beside.status, "failed");
  EXPECT_NE(poolreport::to_text(beside).find("p.h5.partial exists too"), std::string::npos);
  EXPECT_EQ(poolreport::read_report(dir / "p.h5.partial").status, "running");
}

TEST(Report, CrashedFileShortestColumn) {
  TempDir dir;
  const auto path = dir / "c.h5";
  {
    OutputFile out = OutputFile::create(path, false, meta());
    out.start();
    for (std::uint64_t i = 0; i < 10; ++i)
      out.append_chunk(chunk_row(i * 100, i * 100 + 100, 1, 0, 1));
    out.flush();
  }  // no finish(): FILE.h5.partial, status running
  ASSERT_FALSE(std::filesystem::exists(path));
  {  // a crash in the middle of a flush: one column longer than the others
    auto f = h5::File::open(h5::PendingFile::partial_path_for(path), h5::Access::read_write, false,
                            h5::OpenMode::clear_write_flag);
    f.open_dataset("chunks/begin").resize({13});
  }
  const auto r = poolreport::read_report(path);
  EXPECT_TRUE(r.swmr);
  EXPECT_EQ(r.status, "running");
  EXPECT_EQ(r.chunks.size(), 10u);
  EXPECT_FALSE(r.last_flush.empty());
  EXPECT_NE(poolreport::to_text(r).find("still writing or died"), std::string::npos);
  EXPECT_THROW(poolreport::read_report(dir / "missing.h5"), poolreport::ReportError);
}

TEST(Report, MillionChunksTimelineStaysSmall) {
  TempDir dir;
  const auto path = dir / "m.h5";
  {
    OutputFile out = OutputFile::create(path, false, meta());
    constexpr std::uint64_t n = 1'000'000;
    for (std::uint64_t i = 0; i < n; ++i) {
      const double t = static_cast<double>(i / 2) * 1e-5;
      out.append_chunk(chunk_row(i, i + 1, static_cast<std::int64_t>(i % 2) + 1, t, t + 1e-5));
    }
    out.finish(RunStatus::complete, 5.0);
  }
  const auto r = poolreport::read_report(path);
  EXPECT_EQ(r.chunks.size(), 1'000'000u);
  const auto svg = poolreport::timeline_svg(r, 1200);
  EXPECT_LT(svg.size(), 2'000'000u);
  EXPECT_EQ(count(svg, "class=\"chunk\""), 0u);
  EXPECT_GT(count(svg, "class=\"agg\""), 100u);
}

TEST(Report, TimelineLanesGroupedByHost) {
  // Ranks placed round-robin on two nodes: the lanes of one node come together.
  poolreport::Report r;
  r.workload = "pi";
  r.status = "complete";
  const char* hosts[] = {"nodeB", "nodeA", "nodeB", "nodeA"};
  for (std::int64_t rank = 0; rank < 4; ++rank) {
    poolreport::RankRow row;
    row.rank = rank;
    row.host = hosts[rank];
    r.per_rank.push_back(row);
    r.chunks.push_back(chunk_row(static_cast<std::uint64_t>(rank) * 10,
                                 static_cast<std::uint64_t>(rank) * 10 + 10, rank, 0.0, 1.0));
  }
  const auto svg = poolreport::timeline_svg(r);
  const auto at = [&](const std::string& label) { return svg.find(label); };
  ASSERT_NE(at("rank 1 (nodeA)"), std::string::npos) << svg;
  EXPECT_LT(at("rank 1 (nodeA)"), at("rank 3 (nodeA)"));
  EXPECT_LT(at("rank 3 (nodeA)"), at("rank 0 (nodeB)"));
  EXPECT_LT(at("rank 0 (nodeB)"), at("rank 2 (nodeB)"));
  EXPECT_EQ(count(svg, "class=\"chunk\""), 4u);
}
