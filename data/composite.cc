#include "data/composite.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/file_util.h"
#include "core/status_macros.h"
#include "stb_image_write.h"

namespace galaxy {

absl::StatusOr<std::vector<uint8_t>> RenderComposite(const float* image, int bands, int height,
                                                     int width, const CompositeOptions& o) {
  for (int b : {o.red, o.green, o.blue}) {
    if (b < 0 || b >= bands) {
      return absl::InvalidArgumentError(
          absl::StrCat("composite band ", b, " is outside the image's ", bands, " bands"));
    }
  }
  if (o.zoom < 1 || o.zoom > 16) {
    return absl::InvalidArgumentError(absl::StrCat("zoom ", o.zoom, " is outside 1..16"));
  }
  const int out_w = width * o.zoom;
  std::vector<uint8_t> rgb(static_cast<size_t>(height) * o.zoom * out_w * 3);
  const size_t plane = static_cast<size_t>(height) * width;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const size_t p = static_cast<size_t>(y) * width + x;
      float c[3] = {std::max(0.0f, image[o.red * plane + p] * o.red_scale),
                    std::max(0.0f, image[o.green * plane + p] * o.green_scale),
                    std::max(0.0f, image[o.blue * plane + p] * o.blue_scale)};
      const float intensity = (c[0] + c[1] + c[2]) / 3;
      float f = 0;
      if (intensity > 0) f = std::asinh(o.q * intensity / o.stretch) / (o.q * intensity);
      float max = 0;
      for (float& v : c) max = std::max(max, v *= f);
      if (max > 1) {
        for (float& v : c) v /= max;  // clip keeping the colour (hue) of bright pixels
      }
      // Image rows go top to bottom; astronomical images have y up: flip vertically.
      for (int zy = 0; zy < o.zoom; ++zy) {
        for (int zx = 0; zx < o.zoom; ++zx) {
          const size_t out_y = static_cast<size_t>(height - 1 - y) * o.zoom + zy;
          const size_t out = (out_y * out_w + static_cast<size_t>(x) * o.zoom + zx) * 3;
          for (int k = 0; k < 3; ++k) {
            rgb[out + k] = static_cast<uint8_t>(std::lround(std::clamp(c[k], 0.0f, 1.0f) * 255));
          }
        }
      }
    }
  }
  return rgb;
}

absl::StatusOr<std::string> EncodePng(const std::vector<uint8_t>& rgb, int height, int width) {
  if (rgb.size() != static_cast<size_t>(height) * width * 3) {
    return absl::InvalidArgumentError("RGB buffer does not match its size");
  }
  std::string png;
  auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data),
                                               static_cast<size_t>(size));
  };
  if (stbi_write_png_to_func(append, &png, width, height, 3, rgb.data(), width * 3) == 0) {
    return absl::InternalError("PNG encoding failed");
  }
  return png;
}

absl::StatusOr<std::string> CompositePng(const float* image, int bands, int height, int width,
                                         const CompositeOptions& options) {
  GALAXY_ASSIGN_OR_RETURN(std::vector<uint8_t> rgb, RenderComposite(image, bands, height, width, options));
  return EncodePng(rgb, height * options.zoom, width * options.zoom);
}

CompositeOptions DefaultComposite(int bands) {
  CompositeOptions options;
  if (bands < 4) {
    options.red = bands - 1;
    options.green = std::max(0, bands - 2);
    options.blue = std::max(0, bands - 3);
    options.red_scale = options.green_scale = options.blue_scale = 1.0f;
  }
  return options;
}

}  // namespace galaxy
