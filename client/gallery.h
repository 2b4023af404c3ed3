// Self-contained HTML pages (images embedded as PNG data URIs) for people to look at galaxies:
// the query galaxy and its neighbours, or the most anomalous galaxies, as asinh colour composites
// (i, r, g as red, green, blue; Lupton et al. 2004) with their ID, similarity and redshift.
#ifndef GALAXY_CLIENT_GALLERY_H_
#define GALAXY_CLIENT_GALLERY_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "galaxy/v1/galaxy.pb.h"

namespace galaxy {

struct GalleryTile {
  std::string title;                                        // e.g. "#1  ID 1237648720693755918"
  std::vector<std::pair<std::string, std::string>> facts;   // label, value
  std::optional<v1::Image> image;                           // none: "no image" is shown
  std::string note;                                         // e.g. why there is no image
};

struct GalleryPage {
  std::string heading;
  std::string subtitle;
  std::optional<GalleryTile> query;  // shown apart, first
  std::vector<GalleryTile> tiles;
};

// Writes the page to `path` (atomically). INVALID_ARGUMENT for an image whose data does not
// match its shape; INTERNAL when the file cannot be written.
absl::Status WriteGallery(const std::string& path, const GalleryPage& page);

// The page's HTML (for tests).
absl::StatusOr<std::string> RenderGallery(const GalleryPage& page);

}  // namespace galaxy

#endif  // GALAXY_CLIENT_GALLERY_H_
