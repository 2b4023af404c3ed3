#include "data/fits_header.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace galaxy {
namespace {

// A table column's string-valued keyword (TTYPEn, TFORMn, TUNITn, TDISPn, TDIMn): cfitsio copies
// an unquoted value of up to 70 characters whole into a 70-byte column name and overflowed it
// (data/fits_fuzzer.cc, in CI); FITS requires these values in quotes (FITS 4.0, section 4.2.1).
bool IsColumnStringKeyword(absl::string_view key) {
  for (absl::string_view stem : {"TTYPE", "TFORM", "TUNIT", "TDISP", "TDIM"}) {
    if (!absl::StartsWith(key, stem) || key.size() == stem.size()) continue;
    const absl::string_view index = key.substr(stem.size());
    if (std::all_of(index.begin(), index.end(), absl::ascii_isdigit)) return true;
  }
  return false;
}

// A keyword that sizes the HDU: BITPIX, NAXIS, NAXISn, PCOUNT, GCOUNT, TFIELDS. A table whose
// NAXIS2 was not an integer made cfitsio allocate column descriptors for a count it had not read
// (the bits of a pointer, 9 x 10^13 columns; data/fits_fuzzer.cc): such values are refused first.
// So are a tile-compressed image's (ZBITPIX, ZNAXIS, ZNAXISn, ZTILEn, ZPCOUNT, ZGCOUNT).
bool IsStructuralKeyword(absl::string_view key) {
  if (absl::ConsumePrefix(&key, "Z")) {
    if (key == "BITPIX" || key == "NAXIS" || key == "PCOUNT" || key == "GCOUNT") return true;
    if (!absl::ConsumePrefix(&key, "NAXIS") && !absl::ConsumePrefix(&key, "TILE")) return false;
    return !key.empty() && std::all_of(key.begin(), key.end(), absl::ascii_isdigit);
  }
  if (key == "BITPIX" || key == "NAXIS" || key == "PCOUNT" || key == "GCOUNT" || key == "TFIELDS") return true;
  if (!absl::ConsumePrefix(&key, "NAXIS")) return false;
  return std::all_of(key.begin(), key.end(), absl::ascii_isdigit);
}

// Why a tile-compressed image's `key` may not be `value` (empty when it may): cfitsio divided by
// a ZTILEn of 0 (SIGFPE; data/fits_fuzzer.cc).
std::string CompressedImageValueError(absl::string_view key, int64_t value) {
  if (absl::StartsWith(key, "ZTILE") && value < 1) return "a tile is at least 1 pixel a side";
  if (absl::StartsWith(key, "ZNAXIS") && key != "ZNAXIS" && value < 0) return "an axis is 0 or more pixels";
  if (key == "ZNAXIS" && (value < 0 || value > 999)) return "an image has 0 to 999 axes";
  if (key == "ZBITPIX" && value != 8 && value != 16 && value != 32 && value != 64 && value != -32 && value != -64) {
    return "BITPIX is 8, 16, 32, 64, -32 or -64";
  }
  return "";
}

// The cards that open a table extension after XTENSION, in this order, with the values they may
// take (FITS 4.0, sections 7.2.1 and 7.3.1). cfitsio's table set-up requires the same, and where
// one failed (NAXIS1 = -32, a card out of place) it went on to allocate column descriptors for a
// count it had not read (data/fits_fuzzer.cc); such a header is refused first.
struct TableCard {
  const char* key;
  int64_t min, max;
};
constexpr TableCard kTableCards[] = {
    {"BITPIX", 8, 8},         {"NAXIS", 2, 2},          {"NAXIS1", 0, INT64_MAX}, {"NAXIS2", 0, INT64_MAX},
    {"PCOUNT", 0, INT64_MAX}, {"GCOUNT", 1, 1},         {"TFIELDS", 0, 999}};
constexpr int64_t kTableCardCount = sizeof(kTableCards) / sizeof(kTableCards[0]);

std::string AllowedValues(const TableCard& card) {
  if (card.min == card.max) return absl::StrCat("is ", card.min);
  if (card.max == INT64_MAX) return absl::StrCat("is ", card.min, " or more");
  return absl::StrCat("is ", card.min, " to ", card.max);
}

// Walks every HDU's header; `read(offset, buffer, n)` returns the bytes read (fewer at the end of
// the file).
absl::Status CheckHeaderCards(const std::string& path, const std::function<int64_t(int64_t, char*, int64_t)>& read) {
  constexpr int64_t kBlock = 2880, kCard = 80;
  char block[kBlock];
  int64_t offset = 0;
  for (int hdu = 1;; ++hdu) {
    int64_t bitpix = 8, naxis = 0, pcount = 0, gcount = 1;
    std::vector<int64_t> axes;
    bool end = false, table = false;
    int64_t index = 0;  // of the card in this HDU's header
    while (!end) {
      if (read(offset, block, kBlock) < kBlock) return absl::OkStatus();  // end (or truncated: cfitsio says)
      for (int64_t c = 0; c < kBlock; c += kCard, ++index) {
        const char* card = block + c;
        for (int64_t i = 0; i < kCard; ++i) {
          const unsigned char ch = static_cast<unsigned char>(card[i]);
          if (ch < 0x20 || ch > 0x7e) {
            return absl::InvalidArgumentError(absl::StrCat(
                path, ": HDU ", hdu, " header holds byte 0x", absl::Hex(ch), " at offset ", offset + c + i,
                "; FITS headers are printable ASCII (corrupt, or not a FITS file)"));
          }
        }
        const std::string key(absl::StripTrailingAsciiWhitespace(absl::string_view(card, 8)));
        if (index == 0 && key == "XTENSION") {
          const absl::string_view kind =
              absl::StripAsciiWhitespace(absl::StripAsciiWhitespace(absl::string_view(card + 10, 70)).substr(0, 10));
          table = absl::StartsWith(kind, "'BINTABLE") || absl::StartsWith(kind, "'TABLE") ||
                  absl::StartsWith(kind, "'A3DTABLE");
        }
        const TableCard* expected = table && index >= 1 && index <= kTableCardCount ? &kTableCards[index - 1] : nullptr;
        if (expected != nullptr && key != expected->key) {
          return absl::InvalidArgumentError(absl::StrCat(
              path, ": HDU ", hdu, " header: card ", index + 1, " at offset ", offset + c, " is '", key, "' where a table ",
              "has ", expected->key, " (XTENSION, BITPIX, NAXIS, NAXIS1, NAXIS2, PCOUNT, GCOUNT, TFIELDS open it, in order)"));
        }
        if (key == "END") {
          end = true;
          break;
        }
        if (card[8] != '=' || card[9] != ' ') {
          if (!IsStructuralKeyword(key)) continue;
          return absl::InvalidArgumentError(absl::StrCat(path, ": HDU ", hdu, " header: ", key, " at offset ",
                                                         offset + c, " has no value ('= ' in columns 9-10)"));
        }
        absl::string_view value(card + 10, kCard - 10);
        const absl::string_view text = absl::StripLeadingAsciiWhitespace(value);
        if (IsColumnStringKeyword(key) && !text.empty() && text.front() != '\'') {
          return absl::InvalidArgumentError(absl::StrCat(
              path, ": HDU ", hdu, " header: ", key, " at offset ", offset + c,
              " has a value that is not a quoted string (FITS column names and formats are in quotes)"));
        }
        value = absl::StripAsciiWhitespace(value.substr(0, value.find('/')));
        int64_t number = 0;
        if (!absl::SimpleAtoi(value, &number)) {
          if (!IsStructuralKeyword(key)) continue;
          return absl::InvalidArgumentError(absl::StrCat(path, ": HDU ", hdu, " header: ", key, " at offset ",
                                                         offset + c, " has a value that is not an integer ('",
                                                         value, "')"));
        }
        // TFIELDS among them: cfitsio allocates and fills a 160-byte column descriptor for each
        // column it declares while it parses the header (TFIELDS = 110000000 in an 8 KiB file
        // took 17.6 GB; data/fits_fuzzer.cc, in CI).
        if (expected != nullptr && (number < expected->min || number > expected->max)) {
          return absl::InvalidArgumentError(absl::StrCat(path, ": HDU ", hdu, " header: ", key, " = ", number,
                                                         " at offset ", offset + c, "; a table's ", key, " ",
                                                         AllowedValues(*expected)));
        }
        if (const std::string why = CompressedImageValueError(key, number); !why.empty()) {
          return absl::InvalidArgumentError(absl::StrCat(path, ": HDU ", hdu, " header: ", key, " = ", number,
                                                         " at offset ", offset + c, "; in a tile-compressed image ", why));
        }
        if (key == "BITPIX") bitpix = number;
        if (key == "NAXIS") naxis = number;
        if (key == "PCOUNT") pcount = number;
        if (key == "GCOUNT") gcount = number;
        if (absl::StartsWith(key, "NAXIS") && key != "NAXIS") axes.push_back(number);
      }
      offset += kBlock;
    }
    // Skip the data, padded to whole blocks; sizes out of any sane range end the walk (cfitsio
    // and CheckDeclaredData then refuse the file with their own messages).
    int64_t elements = naxis > 0 ? 1 : 0;
    for (int64_t i = 0; i < naxis && i < static_cast<int64_t>(axes.size()); ++i) {
      if (axes[i] < 0 || (axes[i] > 0 && elements > (int64_t{1} << 50) / axes[i])) return absl::OkStatus();
      elements *= axes[i];
    }
    if (pcount < 0 || pcount > (int64_t{1} << 50) || gcount < 0 || gcount > 1024 || bitpix == 0) {
      return absl::OkStatus();
    }
    const int64_t bytes = std::abs(bitpix) / 8 * gcount * (pcount + elements);
    offset += (bytes + kBlock - 1) / kBlock * kBlock;
  }
}

}  // namespace

absl::Status CheckFitsHeadersInFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return CheckHeaderCards(path, [&](int64_t at, char* buffer, int64_t n) -> int64_t {
    in.clear();
    in.seekg(at);
    in.read(buffer, n);
    return static_cast<int64_t>(in.gcount());
  });
}

absl::Status CheckFitsHeadersInMemory(const std::string& path, const std::vector<char>& bytes) {
  const int64_t size = static_cast<int64_t>(bytes.size());
  return CheckHeaderCards(path, [&](int64_t at, char* buffer, int64_t n) -> int64_t {
    const int64_t take = at >= size ? 0 : std::min(n, size - at);
    if (take > 0) std::memcpy(buffer, bytes.data() + at, static_cast<size_t>(take));
    return take;
  });
}

}  // namespace galaxy
