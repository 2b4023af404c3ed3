// The web explorer's files (web/ in the source tree), built into the server binary by
// cmake/embed_files.cmake, so that a server needs nothing beside itself to serve its page.
#ifndef GALAXY_SERVER_WEB_ASSETS_H_
#define GALAXY_SERVER_WEB_ASSETS_H_

#include <cstddef>
#include <string>
#include <vector>

namespace galaxy {

struct WebAsset {
  std::string path;          // relative to web/, e.g. "app.js"
  const char* content_type;  // e.g. "text/javascript; charset=utf-8"
  const char* data;
  size_t size;
};

const std::vector<WebAsset>& WebAssets();

}  // namespace galaxy

#endif  // GALAXY_SERVER_WEB_ASSETS_H_
