// A table stored without compound types: a group with one 1-D extendible dataset per column,
// so h5py (f["chunks/begin"][:]) and h5dump read each column directly. Rows are buffered and
// written by flush(); the group attribute "rows" counts the rows fully written to every column
// (a crash between column writes can leave some columns longer; readers trust "rows", or the
// shortest column in tables made for SWMR, which have no such attribute).
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "common/h5.hpp"

namespace h5 {

using Cell = std::variant<std::int64_t, std::uint64_t, double, std::string>;

struct Column {
  std::string name;
  Dtype dtype = Dtype::int64;  // int64, uint64, float64 or string
};

struct TableOptions {
  hsize_t chunk_rows = 1024;
  int gzip = 0;
  // For tables written under SWMR (no attribute may change, SWMR readers cannot read
  // variable-length strings): strings of at most this many bytes (0: variable-length), and no
  // "rows" attribute; the committed rows are then the shortest column's.
  std::size_t string_size = 0;
  bool rows_attribute = true;
};

class Table {
 public:
  Table() = default;
  // Creates group `name` in parent with the given columns (attribute "columns" keeps the order).
  static Table create(Group& parent, const std::string& name, std::vector<Column> columns,
                      const TableOptions& options = {});
  // Opens an existing table to read it or append to it.
  static Table open(Group& parent, const std::string& name);

  Table(Table&&) noexcept = default;
  Table& operator=(Table&&) noexcept = default;
  // Writes what is still buffered (best effort; errors are swallowed).
  ~Table();

  const std::vector<Column>& columns() const noexcept { return columns_; }
  Group& group() noexcept { return group_; }
  const Group& group() const noexcept { return group_; }
  // Rows written plus rows buffered.
  hsize_t rows() const noexcept { return written_ + buffered_; }
  hsize_t buffered() const noexcept { return buffered_; }

  // Cells in column order, each of its column's type.
  void append(const std::vector<Cell>& row);
  void flush();
  // Cuts columns that a crash left longer than the committed rows back to them.
  void truncate_to_rows();

  // Reads a column (only the committed rows).
  template <Numeric T>
  std::vector<T> read_column(const std::string& name) const {
    std::vector<T> out(written_);
    group_.open_dataset(name).read_slab<T>({0}, {written_}, std::span<T>(out));
    return out;
  }
  std::vector<std::string> read_string_column(const std::string& name) const;

 private:
  using Buffer = std::variant<std::vector<std::int64_t>, std::vector<std::uint64_t>,
                              std::vector<double>, std::vector<std::string>>;
  Table(Group group, std::vector<Column> columns, hsize_t written, bool rows_attribute);

  Group group_;
  std::vector<Column> columns_;
  std::vector<Dataset> datasets_;
  std::vector<Buffer> buffers_;
  hsize_t written_ = 0;
  hsize_t buffered_ = 0;
  bool rows_attribute_ = true;
};

}  // namespace h5
