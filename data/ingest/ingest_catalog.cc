#include "data/ingest/ingest_catalog.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/status_macros.h"

namespace galaxy {

absl::StatusOr<InputCatalog> ReadNumericCsv(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::string line;
  if (!std::getline(in, line)) return absl::InvalidArgumentError(absl::StrCat(path, ": empty"));
  InputCatalog catalog;
  for (absl::string_view h : absl::StrSplit(line, ',')) {
    catalog.order.emplace_back(absl::StripAsciiWhitespace(h));
  }
  int64_t row = 0;
  while (std::getline(in, line)) {
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    std::vector<std::string> cells = absl::StrSplit(line, ',');
    if (cells.size() != catalog.order.size()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": line ", row + 2, " has ", cells.size(),
                                                     " cells, the header ", catalog.order.size()));
    }
    for (size_t c = 0; c < cells.size(); ++c) {
      const std::string cell(absl::StripAsciiWhitespace(cells[c]));
      const std::string& name = catalog.order[c];
      double v = 0;
      if (!absl::SimpleAtod(cell, &v)) {
        return absl::InvalidArgumentError(absl::StrCat(path, ": line ", row + 2, " column '", name,
                                                       "': '", cell, "' is not a number"));
      }
      catalog.values[name].push_back(v);
      int64_t exact = 0;
      if (absl::SimpleAtoi(cell, &exact)) catalog.integers[name].push_back(exact);
    }
    ++row;
  }
  // Keep exact integers only for columns that were integers on every row.
  for (auto it = catalog.integers.begin(); it != catalog.integers.end();) {
    it = static_cast<int64_t>(it->second.size()) == row ? std::next(it) : catalog.integers.erase(it);
  }
  catalog.rows = row;
  if (row == 0) return absl::InvalidArgumentError(absl::StrCat(path, ": no rows after the header"));
  return catalog;
}

std::string NativeColumnName(const std::string& name,
                             const std::map<std::string, std::string>& renames) {
  if (auto it = renames.find(name); it != renames.end()) return it->second;
  const std::string lower = absl::AsciiStrToLower(name);
  if (lower == "objid" || lower == "obj_id" || lower == "id") return kIdKey;
  if (lower == "ra") return kRaKey;
  if (lower == "dec") return kDecKey;
  if (lower == "ebv" || lower == "e_bv" || lower == "e(b-v)") return kEbvKey;
  if (lower == "z" || lower == "specz" || lower == "redshift" || lower == "specz_redshift" ||
      lower == "zspec") {
    return kRedshiftKey;
  }
  return "";
}

absl::StatusOr<CatalogPlan> PlanCatalog(const InputCatalog& catalog, const IngestOptions& options,
                                        std::vector<std::string>* notes) {
  CatalogPlan plan;
  std::map<std::string, std::string> taken;  // output name -> input name
  for (const std::string& name : catalog.order) {
    std::string native = NativeColumnName(name, options.renames);
    std::string* slot = nullptr;
    if (native == kIdKey) slot = &plan.id;
    if (native == kRaKey) slot = &plan.ra;
    if (native == kDecKey) slot = &plan.dec;
    if (native == kEbvKey) slot = &plan.e_bv;
    if (native == kRedshiftKey) slot = &plan.redshift;
    const std::string out = native.empty() ? name : native;
    if (auto it = taken.find(out); it != taken.end()) {
      return absl::InvalidArgumentError(absl::StrCat("columns '", it->second, "' and '", name,
                                                     "' both map to '", out, "'; use --rename"));
    }
    taken[out] = name;
    if (slot != nullptr) {
      *slot = name;
    } else if (out != kImagesKey) {
      plan.extra.emplace_back(name, out);
    }
  }
  const std::string found = absl::StrJoin(catalog.order, ", ");
  if (plan.id.empty() && options.id_base < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no ID column (ObjID/objid/id) among [", found,
        "]; use --rename NAME=ObjID or --id-base N to number the rows"));
  }
  if (plan.ra.empty() || plan.dec.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no ra/dec columns among [", found, "]; use --rename NAME=ra"));
  }
  if (plan.id.empty()) notes->push_back(absl::StrCat("IDs numbered from ", options.id_base));
  if (plan.e_bv.empty()) notes->push_back("no E(B-V) column: e_bv set to 0 (no de-reddening)");
  if (plan.redshift.empty()) notes->push_back("no redshift column: specz_redshift left unknown");
  return plan;
}

std::vector<ColumnSpec> PlanExtraColumns(const CatalogPlan& plan, const IngestOptions& options) {
  std::vector<ColumnSpec> out;
  for (const auto& [in, name] : plan.extra) out.push_back({name, ColumnType::kFloat64});
  if (options.non_finite == NonFinite::kZero) out.push_back({std::string(kNonFiniteColumn), ColumnType::kInt32});
  return out;
}

absl::Status AppendGalaxies(DatasetWriter* writer, GalaxyBatch* batch, const IngestOptions& options,
                            IngestReport* report) {
  const DatasetLayout& layout = writer->layout();
  const int64_t ppi = layout.pixels_per_image(), plane = static_cast<int64_t>(layout.height) * layout.width;
  std::vector<int64_t> left_out;
  for (int64_t i = 0; i < batch->count; ++i) {
    float* image = batch->images.data() + i * ppi;
    const int64_t first = FirstNonFinite(image, ppi);
    int64_t bad = 0;
    if (first >= 0) {
      for (int64_t p = first; p < ppi; ++p) bad += std::isfinite(image[p]) ? 0 : 1;
      ++report->non_finite_galaxies;
      const std::string what = absl::StrCat(
          "ObjID ", batch->ids[static_cast<size_t>(i)], ": ", bad, " NaN/Inf pixel(s), the first in band ",
          layout.band_names[static_cast<size_t>(first / plane)], " at row ", first % plane / layout.width, ", column ",
          first % layout.width);
      switch (options.non_finite) {
        case NonFinite::kFail:
          return absl::InvalidArgumentError(absl::StrCat(
              what, " (--non-finite skip leaves such galaxies out, zero keeps them with those pixels at 0)"));
        case NonFinite::kSkip:
          report->skipped.push_back(what);
          left_out.push_back(i);
          break;
        case NonFinite::kZero:
          for (int64_t p = first; p < ppi; ++p) {
            if (!std::isfinite(image[p])) image[p] = 0;
          }
          break;
      }
    }
    if (options.non_finite == NonFinite::kZero) batch->extra[std::string(kNonFiniteColumn)][static_cast<size_t>(i)] = static_cast<double>(bad);
  }
  if (left_out.empty()) return writer->Append(*batch);
  GalaxyBatch kept;
  kept.Resize(layout, 0);
  int64_t start = 0;
  left_out.push_back(batch->count);
  for (int64_t skip : left_out) {
    if (skip > start) kept.AppendRows(*batch, start, skip - start, layout);
    start = skip + 1;
  }
  return kept.count == 0 ? absl::OkStatus() : writer->Append(kept);
}

absl::Status FinishIngest(DatasetWriter* writer, const IngestOptions& options, IngestReport* report) {
  if (report->non_finite_galaxies > 0) {
    report->notes.push_back(
        options.non_finite == NonFinite::kSkip
            ? absl::StrCat(report->non_finite_galaxies, " galaxies with NaN/Inf pixels left out (listed below; ",
                           "--non-finite zero keeps them with those pixels at 0)")
            : absl::StrCat(report->non_finite_galaxies, " galaxies had NaN/Inf pixels, set to 0 (counted in column ",
                           kNonFiniteColumn, ")"));
  }
  if (writer->count() == 0) {
    return absl::InvalidArgumentError(absl::StrCat("no galaxy left to write: every one of ", report->non_finite_galaxies,
                                                   " has NaN/Inf pixels (--non-finite zero keeps them)"));
  }
  GALAXY_RETURN_IF_ERROR(writer->Commit());
  report->written = writer->count();
  return absl::OkStatus();
}

int64_t IdAt(const InputCatalog& catalog, const CatalogPlan& plan, const IngestOptions& options,
             int64_t row) {
  if (plan.id.empty()) return options.id_base + row;
  const size_t held = static_cast<size_t>(row - catalog.first_row);
  if (auto it = catalog.integers.find(plan.id); it != catalog.integers.end()) return it->second[held];
  return static_cast<int64_t>(std::llround(catalog.values.at(plan.id)[held]));
}

void FillCatalogRows(const InputCatalog& catalog, const CatalogPlan& plan, const IngestOptions& options,
                     int64_t start, int64_t n, GalaxyBatch* batch, int64_t batch_row) {
  auto value = [&](const std::string& name, int64_t row) {
    const size_t held = static_cast<size_t>(row - catalog.first_row);
    if (auto it = catalog.integers.find(name); it != catalog.integers.end()) {
      return static_cast<double>(it->second[held]);
    }
    return catalog.values.at(name)[held];
  };
  for (int64_t i = 0; i < n; ++i) {
    const int64_t row = start + i;
    const size_t r = static_cast<size_t>(batch_row + i);
    batch->ids[r] = IdAt(catalog, plan, options, row);
    batch->ra[r] = value(plan.ra, row);
    batch->dec[r] = value(plan.dec, row);
    batch->e_bv[r] = plan.e_bv.empty() ? 0.0f : static_cast<float>(value(plan.e_bv, row));
    batch->redshift[r] = plan.redshift.empty() ? std::nanf("") : static_cast<float>(value(plan.redshift, row));
    for (const auto& [in, out] : plan.extra) batch->extra[out][r] = value(in, row);
  }
}

std::vector<std::string> WrittenColumns(const CatalogPlan& plan) {
  std::vector<std::string> names;
  for (const std::string* name : {&plan.id, &plan.ra, &plan.dec, &plan.e_bv, &plan.redshift}) {
    if (!name->empty()) names.push_back(*name);
  }
  for (const auto& [in, out] : plan.extra) names.push_back(in);
  return names;
}

absl::Status CatalogWindows::CheckIds(const IngestOptions& options, const std::string& source) {
  InputCatalog ids;
  ids.rows = total_rows_;
  if (!plan_.id.empty()) GALAXY_RETURN_IF_ERROR(read_({plan_.id}, 0, total_rows_, &ids));
  return CheckUniqueIds(ids, plan_, options, source);
}

absl::Status CatalogWindows::Fill(const IngestOptions& options, int64_t start, int64_t n, GalaxyBatch* batch) {
  for (int64_t row = start; row < start + n;) {
    if (row < window_.first_row || row >= window_.first_row + window_.rows) {
      window_ = InputCatalog();
      window_.first_row = row;
      window_.rows = std::min(window_rows_, total_rows_ - row);
      GALAXY_RETURN_IF_ERROR(read_(columns_, row, window_.rows, &window_));
    }
    const int64_t m = std::min(start + n, window_.first_row + window_.rows) - row;
    FillCatalogRows(window_, plan_, options, row, m, batch, row - start);
    row += m;
  }
  return absl::OkStatus();
}

absl::Status CheckUniqueIds(const InputCatalog& catalog, const CatalogPlan& plan,
                            const IngestOptions& options, const std::string& source) {
  if (plan.id.empty()) return absl::OkStatus();
  if (auto it = catalog.beyond_int64.find(plan.id); it != catalog.beyond_int64.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": column '", plan.id, "' row ", it->second, ": unsigned IDs above 2^63 - 1 do not fit galaxy-search's "
        "signed 64-bit IDs; map them to smaller IDs first, or number the rows with --id-base N"));
  }
  if (catalog.integers.count(plan.id) == 0) {
    constexpr double kExact = 9007199254740992.0;  // 2^53: float64 holds every integer up to it
    const std::vector<double>& values = catalog.values.at(plan.id);
    for (int64_t row = 0; row < catalog.rows; ++row) {
      const double v = values[static_cast<size_t>(row)];
      if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) <= kExact) continue;
      char text[32];
      std::snprintf(text, sizeof(text), std::isfinite(v) && v == std::floor(v) ? "%.0f" : "%.17g", v);
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": column '", plan.id, "' row ", row, ": ", text,
          " is not an ID: the column is floating-point, which holds integer IDs exactly only up to 2^53 ",
          "(SDSS ObjIDs are ~1.2e18); store the IDs as 64-bit integers, or number the rows with --id-base N"));
    }
  }
  // Sorted (ID, row) pairs, 16 bytes a galaxy (a hash set of the IDs took about 50). The row named
  // is the first whose ID an earlier row has: the smallest row after the first of a run of one ID.
  std::vector<std::pair<int64_t, int64_t>> ids(static_cast<size_t>(catalog.rows));
  for (int64_t row = 0; row < catalog.rows; ++row) ids[static_cast<size_t>(row)] = {IdAt(catalog, plan, options, row), row};
  std::sort(ids.begin(), ids.end());
  const std::pair<int64_t, int64_t>* repeat = nullptr;
  for (size_t i = 1; i < ids.size(); ++i) {
    if (ids[i].first == ids[i - 1].first && (repeat == nullptr || ids[i].second < repeat->second)) {
      repeat = &ids[i];
    }
  }
  if (repeat != nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": column '", plan.id, "': ID ", repeat->first,
                                                   " appears more than once (row ", repeat->second, ")"));
  }
  return absl::OkStatus();
}

}  // namespace galaxy
