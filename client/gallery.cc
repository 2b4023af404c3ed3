#include "client/gallery.h"

#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/file_util.h"
#include "core/status_macros.h"
#include "data/composite.h"

namespace galaxy {
namespace {

std::string Escape(const std::string& text) {
  return absl::StrReplaceAll(text, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}});
}

// A PNG data URI of the image's colour composite.
absl::StatusOr<std::string> CompositeUri(const v1::Image& image) {
  const int bands = static_cast<int>(image.bands()), h = static_cast<int>(image.height()),
            w = static_cast<int>(image.width());
  const size_t n = static_cast<size_t>(bands) * h * w;
  std::vector<float> pixels(n);
  if (image.dtype() == v1::DTYPE_FLOAT64 && image.data().size() == n * 8) {
    for (size_t i = 0; i < n; ++i) {
      double v;
      std::memcpy(&v, image.data().data() + i * 8, 8);
      pixels[i] = static_cast<float>(v);
    }
  } else if (image.dtype() == v1::DTYPE_FLOAT32 && image.data().size() == n * 4) {
    std::memcpy(pixels.data(), image.data().data(), n * 4);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("gallery: an image of ", image.data().size(), " bytes does not match ", bands, " x ", h, " x ", w));
  }
  CompositeOptions options = DefaultComposite(bands);
  options.zoom = h <= 96 ? 2 : 1;
  GALAXY_ASSIGN_OR_RETURN(std::string png, CompositePng(pixels.data(), bands, h, w, options));
  return absl::StrCat("data:image/png;base64,", absl::Base64Escape(png));
}

absl::StatusOr<std::string> Tile(const GalleryTile& tile, const char* css_class) {
  std::string out = absl::StrCat("<figure class=\"", css_class, "\">");
  if (tile.image) {
    GALAXY_ASSIGN_OR_RETURN(std::string uri, CompositeUri(*tile.image));
    absl::StrAppend(&out, "<img alt=\"", Escape(tile.title), "\" src=\"", uri, "\">");
  } else {
    absl::StrAppend(&out, "<div class=\"noimage\">no image</div>");
  }
  absl::StrAppend(&out, "<figcaption><b>", Escape(tile.title), "</b>");
  for (const auto& [label, value] : tile.facts) {
    absl::StrAppend(&out, "<br><span class=\"label\">", Escape(label), "</span> ", Escape(value));
  }
  if (!tile.note.empty()) absl::StrAppend(&out, "<br><i>", Escape(tile.note), "</i>");
  absl::StrAppend(&out, "</figcaption></figure>\n");
  return out;
}

}  // namespace

absl::StatusOr<std::string> RenderGallery(const GalleryPage& page) {
  std::string html = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>", Escape(page.heading),
      "</title>\n<style>\n"
      "body{font-family:sans-serif;background:#111;color:#ddd;margin:2em}\n"
      "h1{font-weight:normal}\n.sub{color:#999}\n"
      "figure{display:inline-block;vertical-align:top;margin:0 1em 1.5em 0;width:150px;font-size:12px}\n"
      "figure.query{width:180px;border-right:1px solid #444;padding-right:1.5em;margin-right:1.5em}\n"
      "figure img{width:128px;height:128px;image-rendering:pixelated;display:block;margin-bottom:4px}\n"
      "figure.query img{width:160px;height:160px}\n"
      ".noimage{width:128px;height:128px;background:#222;color:#666;display:flex;align-items:center;"
      "justify-content:center}\n.label{color:#888}\n"
      "</style></head><body>\n<h1>",
      Escape(page.heading), "</h1>\n<p class=\"sub\">", Escape(page.subtitle), "</p>\n<div>");
  if (page.query) {
    GALAXY_ASSIGN_OR_RETURN(std::string q, Tile(*page.query, "query"));
    html += q;
  }
  for (const GalleryTile& tile : page.tiles) {
    GALAXY_ASSIGN_OR_RETURN(std::string t, Tile(tile, "tile"));
    html += t;
  }
  // When every image has decoded, say so in the title (headless browsers and tests read it).
  html +=
      "</div>\n<script>\nPromise.all(Array.from(document.images).map(i => i.decode()))"
      ".then(() => { document.title += ' [' + document.images.length + ' images decoded]'; "
      "document.body.dataset.decoded = document.images.length; })"
      ".catch(e => { document.title += ' [image decode failed]'; });\n</script>\n</body></html>\n";
  return html;
}

absl::Status WriteGallery(const std::string& path, const GalleryPage& page) {
  GALAXY_ASSIGN_OR_RETURN(std::string html, RenderGallery(page));
  return WriteFileAtomically(path, html);
}

}  // namespace galaxy
