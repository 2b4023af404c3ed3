// Colour composites of multi-band galaxy images, for people to look at: the asinh stretch of
// Lupton et al. (2004, PASP 116, 133), which keeps colours true from the faint outskirts to the
// saturated core, on three bands (SDSS: i, r, g as red, green, blue).
#ifndef GALAXY_DATA_COMPOSITE_H_
#define GALAXY_DATA_COMPOSITE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace galaxy {

struct CompositeOptions {
  // Bands (indices into the image's bands) shown as red, green, blue. Default i, r, g of ugriz.
  int red = 3, green = 2, blue = 1;
  // Per-channel flux multipliers (colour balance). Defaults suit SDSS nanomaggies.
  float red_scale = 1.0f, green_scale = 1.3f, blue_scale = 2.0f;
  // Lupton's softening Q and linear stretch (nanomaggies). Defaults 8 and 0.4.
  float q = 8.0f, stretch = 0.4f;
  // Output magnification (nearest neighbour), so that a 64 px cutout is visible. Default 2.
  int zoom = 2;
};

// The composite for an image of `bands` bands: i, r, g of ugriz; otherwise the last three bands
// (or one band as grey), balanced equally.
CompositeOptions DefaultComposite(int bands);

// Renders `image` (bands x height x width, C order) to 8-bit RGB (height*zoom x width*zoom x 3).
// INVALID_ARGUMENT when a chosen band is out of range.
absl::StatusOr<std::vector<uint8_t>> RenderComposite(const float* image, int bands, int height,
                                                     int width, const CompositeOptions& options);

// PNG bytes of an 8-bit RGB image.
absl::StatusOr<std::string> EncodePng(const std::vector<uint8_t>& rgb, int height, int width);

// PNG bytes of `image`'s composite (RenderComposite, then EncodePng).
absl::StatusOr<std::string> CompositePng(const float* image, int bands, int height, int width,
                                         const CompositeOptions& options);


}  // namespace galaxy

#endif  // GALAXY_DATA_COMPOSITE_H_
