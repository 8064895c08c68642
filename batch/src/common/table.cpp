#include "common/table.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace h5 {

namespace {

Dtype check_column_dtype(const Column& c) {
  switch (c.dtype) {
    case Dtype::int64:
    case Dtype::uint64:
    case Dtype::float64:
    case Dtype::string:
      return c.dtype;
    default:
      throw std::invalid_argument("h5::Table: column '" + c.name +
                                  "' must be int64, uint64, float64 or string");
  }
}

}  // namespace

Table::Table(Group group, std::vector<Column> columns, hsize_t written, bool rows_attribute)
    : group_(std::move(group)),
      columns_(std::move(columns)),
      written_(written),
      rows_attribute_(rows_attribute) {
  for (const auto& c : columns_) {
    datasets_.push_back(group_.open_dataset(c.name));
    switch (check_column_dtype(c)) {
      case Dtype::int64:
        buffers_.emplace_back(std::vector<std::int64_t>{});
        break;
      case Dtype::uint64:
        buffers_.emplace_back(std::vector<std::uint64_t>{});
        break;
      case Dtype::float64:
        buffers_.emplace_back(std::vector<double>{});
        break;
      default:
        buffers_.emplace_back(std::vector<std::string>{});
        break;
    }
  }
}

Table Table::create(Group& parent, const std::string& name, std::vector<Column> columns,
                    const TableOptions& options) {
  Group g = parent.create_group(name);
  std::vector<std::string> names;
  for (const auto& c : columns) {
    DatasetOptions o;
    o.max_dims = {unlimited};
    o.chunk = {options.chunk_rows};
    o.gzip = options.gzip;
    o.string_size = options.string_size;
    g.create_dataset(c.name, check_column_dtype(c), {0}, o);
    names.push_back(c.name);
  }
  g.set_attr("columns", std::span<const std::string>(names));
  if (options.rows_attribute) g.set_attr("rows", std::uint64_t{0});
  return Table(std::move(g), std::move(columns), 0, options.rows_attribute);
}

Table Table::open(Group& parent, const std::string& name) {
  Group g = parent.open_group(name);
  std::vector<Column> columns;
  for (auto& n : g.attr_strings("columns")) {
    const Dtype d = g.open_dataset(n).dtype();
    columns.push_back({std::move(n), d});
  }
  if (g.has_attr("rows")) {
    const auto rows = g.attr<std::uint64_t>("rows");
    return Table(std::move(g), std::move(columns), rows, true);
  }
  hsize_t rows = columns.empty() ? 0 : std::numeric_limits<hsize_t>::max();
  for (const auto& c : columns) rows = std::min(rows, g.open_dataset(c.name).num_elements());
  return Table(std::move(g), std::move(columns), rows, false);
}

Table::~Table() {
  if (!group_.valid() || buffered_ == 0) return;
  try {
    flush();
  } catch (...) {  // a destructor must not throw; the file is already in trouble
  }
}

void Table::append(const std::vector<Cell>& row) {
  if (row.size() != columns_.size())
    throw std::invalid_argument("h5::Table: row has " + std::to_string(row.size()) +
                                " cells, table has " + std::to_string(columns_.size()) +
                                " columns");
  // Check every cell before touching a buffer, so a bad row leaves the table unchanged.
  for (std::size_t i = 0; i < row.size(); ++i) {
    const bool ok = std::visit(
        [&](const auto& buf) {
          using V = typename std::decay_t<decltype(buf)>::value_type;
          return std::holds_alternative<V>(row[i]);
        },
        buffers_[i]);
    if (!ok)
      throw std::invalid_argument("h5::Table: wrong cell type for column '" + columns_[i].name +
                                  "'");
  }
  for (std::size_t i = 0; i < row.size(); ++i) {
    std::visit(
        [&](auto& buf) {
          using V = typename std::decay_t<decltype(buf)>::value_type;
          buf.push_back(std::get<V>(row[i]));
        },
        buffers_[i]);
  }
  ++buffered_;
}

void Table::flush() {
  if (buffered_ == 0) return;
  const hsize_t new_rows = written_ + buffered_;
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    Dataset& d = datasets_[i];
    d.resize({new_rows});
    std::visit(
        [&](auto& buf) {
          using V = typename std::decay_t<decltype(buf)>::value_type;
          if constexpr (std::is_same_v<V, std::string>) {
            d.write_strings(std::span<const std::string>(buf), written_);
          } else {
            d.write_slab<V>({written_}, {buf.size()}, std::span<const V>(buf));
          }
        },
        buffers_[i]);
  }
  // Last: only now do all columns hold these rows.
  if (rows_attribute_) group_.set_attr("rows", static_cast<std::uint64_t>(new_rows));
  for (auto& b : buffers_) std::visit([](auto& buf) { buf.clear(); }, b);
  written_ = new_rows;
  buffered_ = 0;
}

void Table::truncate_to_rows() {
  for (auto& d : datasets_) {
    if (d.num_elements() != written_) d.resize({written_});
  }
}

std::vector<std::string> Table::read_string_column(const std::string& name) const {
  return group_.open_dataset(name).read_strings(0, written_);
}

}  // namespace h5
