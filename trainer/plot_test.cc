#include "trainer/plot.h"

#include <stb/stb_image.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "tests/temp_dir.h"

namespace galaxy {
namespace {

struct Image {
  int width = 0, height = 0;
  std::vector<unsigned char> rgb;
  // Pixels within 40 of (r, g, b) in every channel.
  int64_t Count(int r, int g, int b) const {
    int64_t n = 0;
    for (size_t i = 0; i + 2 < rgb.size(); i += 3) {
      n += std::abs(rgb[i] - r) < 40 && std::abs(rgb[i + 1] - g) < 40 && std::abs(rgb[i + 2] - b) < 40;
    }
    return n;
  }
};

Image Load(const std::string& path) {
  Image image;
  int channels = 0;
  unsigned char* data = stbi_load(path.c_str(), &image.width, &image.height, &channels, 3);
  if (data == nullptr) return image;
  image.rgb.assign(data, data + static_cast<size_t>(image.width) * image.height * 3);
  stbi_image_free(data);
  return image;
}

PlotSeries Points(const std::string& label, std::vector<double> x, std::vector<double> y) {
  PlotSeries s;
  s.label = label;
  s.x = std::move(x);
  s.y = std::move(y);
  return s;
}

int FilesIn(const std::filesystem::path& dir) {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) n += entry.is_regular_file();
  return n;
}

TEST(PlotTest, LinePlotDrawsEachSeriesInItsColourWithErrorBars) {
  testutil::ScopedTempDir dir;
  PlotSeries a{"ssl", {100, 1000, 10000}, {0.02, 0.015, 0.012}, 214, 39, 40, true, {0.001, 0.001, 0.0005}};
  PlotSeries b{"supervised", {100, 1000, 10000}, {0.03, 0.02, 0.013}, 31, 119, 180, true, {}};
  PlotOptions o;
  o.title = "sigma_MAD against labels";
  o.log_x = true;
  o.width = 640;
  o.height = 480;
  o.notes = {"a note"};
  ASSERT_TRUE(WritePlotPng(dir.File("line.png"), {a, b}, o).ok());
  Image image = Load(dir.File("line.png"));
  ASSERT_EQ(image.width, 640);
  ASSERT_EQ(image.height, 480);
  EXPECT_GT(image.Count(214, 39, 40), 200);   // the red series
  EXPECT_GT(image.Count(31, 119, 180), 200);  // the blue one
  EXPECT_GT(image.Count(255, 255, 255), 640 * 480 / 2);  // white background
  EXPECT_EQ(FilesIn(dir.path()), 1);  // no temporary file left
}

TEST(PlotTest, DensityBarAndMatrixPlotsAreWritten) {
  testutil::ScopedTempDir dir;
  std::vector<double> x, y;
  for (int i = 0; i < 5000; ++i) {
    x.push_back(0.4 * (i % 997) / 997.0);
    y.push_back(x.back() + 0.01 * std::sin(i));
  }
  PlotOptions o;
  o.x_lo = o.y_lo = 0;
  o.x_hi = o.y_hi = 0.4;
  o.diagonal = true;
  ASSERT_TRUE(WriteDensityPlotPng(dir.File("density.png"), x, y, 60, o).ok());
  Image density = Load(dir.File("density.png"));
  EXPECT_EQ(density.width, 800);
  EXPECT_GT(density.Count(30, 80, 140), 100);  // dark blue cells along the diagonal

  ASSERT_TRUE(WriteBarPlotPng(dir.File("pit.png"), {0, 0.5, 1}, {0.8, 1.2}, 1.0, o).ok());
  EXPECT_GT(Load(dir.File("pit.png")).Count(31, 119, 180), 10000);

  ASSERT_TRUE(WriteMatrixPlotPng(dir.File("confusion.png"), {{50, 2}, {5, 40}}, {"E", "S"}, o).ok());
  EXPECT_GT(Load(dir.File("confusion.png")).Count(8, 69, 148), 1000);  // the dark diagonal
}

TEST(PlotTest, BadInputIsRefusedWithoutWritingAFile) {
  testutil::ScopedTempDir dir;
  PlotOptions o;
  PlotSeries uneven = Points("uneven", {1, 2}, {1});
  absl::Status s = WritePlotPng(dir.File("a.png"), {uneven}, o);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("uneven"), std::string::npos) << s;
  o.log_x = true;
  EXPECT_EQ(WritePlotPng(dir.File("a.png"), {Points("zero", {0, 1}, {1, 2})}, o).code(),
            absl::StatusCode::kInvalidArgument);
  o.log_x = false;
  EXPECT_EQ(WritePlotPng(dir.File("a.png"), {Points("nan", {NAN}, {1})}, o).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WritePlotPng(dir.File("missing/a.png"), {Points("ok", {1}, {1})}, o).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(WriteDensityPlotPng(dir.File("a.png"), {1, 2}, {1, 2}, 1, o).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteBarPlotPng(dir.File("a.png"), {0, 1}, {1, 2}, 0, o).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteMatrixPlotPng(dir.File("a.png"), {{1, 2}}, {"a"}, o).code(), absl::StatusCode::kInvalidArgument);
  o.width = 10;
  EXPECT_EQ(WritePlotPng(dir.File("a.png"), {Points("ok", {1}, {1})}, o).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FilesIn(dir.path()), 0);
}

}  // namespace
}  // namespace galaxy
