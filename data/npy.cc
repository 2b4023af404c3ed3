#include "data/npy.h"

#include <cstdio>
#include <cstring>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/file_util.h"

namespace galaxy {
namespace {

// A tiny cursor over the header's Python-literal text.
class Parser {
 public:
  explicit Parser(const std::string& text) : s_(text) {}
  void Skip() {
    while (i_ < s_.size() && absl::ascii_isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  bool Eat(char c) {
    Skip();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  char Peek() {
    Skip();
    return i_ < s_.size() ? s_[i_] : '\0';
  }
  absl::StatusOr<std::string> String() {
    Skip();
    if (i_ >= s_.size() || (s_[i_] != '\'' && s_[i_] != '"')) return Error("a string");
    const char quote = s_[i_++];
    const size_t end = s_.find(quote, i_);
    if (end == std::string::npos) return Error("a closing quote");
    std::string out = s_.substr(i_, end - i_);
    i_ = end + 1;
    return out;
  }
  absl::StatusOr<int64_t> Integer() {
    Skip();
    size_t start = i_;
    while (i_ < s_.size() && (absl::ascii_isdigit(static_cast<unsigned char>(s_[i_])) || s_[i_] == '-')) ++i_;
    int64_t v = 0;
    if (!absl::SimpleAtoi(s_.substr(start, i_ - start), &v)) return Error("an integer");
    return v;
  }
  absl::StatusOr<std::string> Word() {
    Skip();
    size_t start = i_;
    while (i_ < s_.size() && absl::ascii_isalpha(static_cast<unsigned char>(s_[i_]))) ++i_;
    if (start == i_) return Error("a word");
    return s_.substr(start, i_ - start);
  }
  // A tuple of integers: "()", "(3,)", "(3, 4)".
  absl::StatusOr<std::vector<int64_t>> Shape() {
    if (!Eat('(')) return Error("'('");
    std::vector<int64_t> shape;
    while (!Eat(')')) {
      absl::StatusOr<int64_t> v = Integer();
      if (!v.ok()) return v.status();
      shape.push_back(*v);
      Eat(',');
    }
    return shape;
  }
  absl::Status Error(const std::string& what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("npy header: expected ", what, " at position ", i_, " of '", s_, "'"));
  }

 private:
  const std::string& s_;
  size_t i_ = 0;
};

absl::StatusOr<NpyScalar> ParseScalar(const std::string& descr) {
  if (descr.size() < 3) return absl::InvalidArgumentError(absl::StrCat("npy dtype '", descr, "' is not supported"));
  const char order = descr[0], kind = descr[1];
  int size = 0;
  if (!absl::SimpleAtoi(descr.substr(2), &size)) {
    return absl::InvalidArgumentError(absl::StrCat("npy dtype '", descr, "' is not supported"));
  }
  if (order == '>' && size > 1) {
    return absl::InvalidArgumentError(absl::StrCat("npy dtype '", descr, "' is big-endian; convert it with .astype('<", std::string(1, kind), size, "')"));
  }
  const bool ok = (kind == 'f' && (size == 4 || size == 8)) ||
                  ((kind == 'i' || kind == 'u') && (size == 1 || size == 2 || size == 4 || size == 8)) ||
                  (kind == 'b' && size == 1);
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("npy dtype '", descr, "' is not supported (numeric types only)"));
  }
  return NpyScalar{kind, size};
}

}  // namespace

double NpyScalar::Read(const char* p) const {
  switch (kind) {
    case 'f':
      if (size == 4) {
        float v;
        std::memcpy(&v, p, 4);
        return v;
      } else {
        double v;
        std::memcpy(&v, p, 8);
        return v;
      }
    case 'i': {
      int64_t v = 0;
      switch (size) {
        case 1: { int8_t x; std::memcpy(&x, p, 1); v = x; break; }
        case 2: { int16_t x; std::memcpy(&x, p, 2); v = x; break; }
        case 4: { int32_t x; std::memcpy(&x, p, 4); v = x; break; }
        default: std::memcpy(&v, p, 8);
      }
      return static_cast<double>(v);
    }
    default: {
      uint64_t v = 0;
      std::memcpy(&v, p, static_cast<size_t>(size));  // little-endian host
      return static_cast<double>(v);
    }
  }
}

int64_t NpyHeader::count() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// Bounds that keep sizes computed from a header far from int64 overflow.
constexpr int64_t kMaxSubArray = int64_t{1} << 20;
constexpr int64_t kMaxElements = int64_t{1} << 48;

absl::StatusOr<NpyHeader> ParseNpyHeaderDict(const std::string& dict) {
  Parser p(dict);
  NpyHeader header;
  bool have_descr = false, have_shape = false;
  if (!p.Eat('{')) return p.Error("'{'");
  while (!p.Eat('}')) {
    absl::StatusOr<std::string> key = p.String();
    if (!key.ok()) return key.status();
    if (!p.Eat(':')) return p.Error("':'");
    if (*key == "descr") {
      if (p.Peek() == '[') {
        p.Eat('[');
        int64_t offset = 0;
        while (!p.Eat(']')) {
          if (!p.Eat('(')) return p.Error("'(' of a field");
          absl::StatusOr<std::string> name = p.String();
          if (!name.ok()) return name.status();
          p.Eat(',');
          if (p.Peek() == '[') {
            return absl::InvalidArgumentError(
                absl::StrCat("npy field '", *name, "' is a nested record; flatten it first"));
          }
          absl::StatusOr<std::string> type = p.String();
          if (!type.ok()) return type.status();
          absl::StatusOr<NpyScalar> scalar = ParseScalar(*type);
          if (!scalar.ok()) {
            return absl::InvalidArgumentError(absl::StrCat("npy field '", *name, "': ", scalar.status().message()));
          }
          int64_t count = 1;
          if (p.Eat(',') && p.Peek() == '(') {
            absl::StatusOr<std::vector<int64_t>> sub = p.Shape();
            if (!sub.ok()) return sub.status();
            for (int64_t d : *sub) {
              if (d < 1 || count > kMaxSubArray / d) {
                return absl::InvalidArgumentError(absl::StrCat("npy field '", *name, "': sub-array dimension ", d,
                                                               " (each must be 1..", kMaxSubArray, " in all)"));
              }
              count *= d;
            }
          }
          if (!p.Eat(')')) return p.Error("')' of a field");
          p.Eat(',');
          header.fields.push_back({*name, *scalar, offset, count});
          offset += scalar->size * count;
        }
        header.item_size = offset;
      } else {
        absl::StatusOr<std::string> descr = p.String();
        if (!descr.ok()) return descr.status();
        absl::StatusOr<NpyScalar> scalar = ParseScalar(*descr);
        if (!scalar.ok()) return scalar.status();
        header.scalar = *scalar;
        header.item_size = scalar->size;
      }
      have_descr = true;
    } else if (*key == "fortran_order") {
      absl::StatusOr<std::string> word = p.Word();
      if (!word.ok()) return word.status();
      header.fortran_order = *word == "True";
    } else if (*key == "shape") {
      absl::StatusOr<std::vector<int64_t>> shape = p.Shape();
      if (!shape.ok()) return shape.status();
      header.shape = *shape;
      have_shape = true;
    } else {
      return p.Error("one of descr, fortran_order, shape");
    }
    p.Eat(',');
  }
  if (!have_descr || !have_shape) return p.Error("both 'descr' and 'shape'");
  if (header.item_size <= 0) {
    return absl::InvalidArgumentError("npy dtype of 0 bytes per element (an empty record?)");
  }
  int64_t elements = 1;
  for (int64_t d : header.shape) {
    if (d < 0) return absl::InvalidArgumentError("npy header: negative dimension");
    if (d > 0 && elements > kMaxElements / d) {
      return absl::InvalidArgumentError("npy header: more than 2^48 elements");
    }
    elements *= d;
  }
  return header;
}

absl::Status ReadExactly(const ByteSource& source, char* buffer, int64_t n, const std::string& name) {
  int64_t done = 0;
  while (done < n) {
    absl::StatusOr<int64_t> got = source(buffer + done, n - done);
    if (!got.ok()) return got.status();
    if (*got == 0) {
      return absl::DataLossError(absl::StrCat(name, ": truncated (", done, " of ", n,
                                              " bytes read)"));
    }
    done += *got;
  }
  return absl::OkStatus();
}

absl::StatusOr<NpyHeader> ReadNpyHeader(const ByteSource& source, const std::string& name) {
  char magic[8];
  if (absl::Status s = ReadExactly(source, magic, 8, name); !s.ok()) return s;
  if (std::memcmp(magic, "\x93NUMPY", 6) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": not an .npy array (bad magic)"));
  }
  const int major = static_cast<unsigned char>(magic[6]);
  int64_t header_len = 0;
  if (major == 1) {
    unsigned char len[2];
    if (absl::Status s = ReadExactly(source, reinterpret_cast<char*>(len), 2, name); !s.ok()) return s;
    header_len = len[0] | (len[1] << 8);
  } else if (major == 2 || major == 3) {
    unsigned char len[4];
    if (absl::Status s = ReadExactly(source, reinterpret_cast<char*>(len), 4, name); !s.ok()) return s;
    header_len = len[0] | (len[1] << 8) | (len[2] << 16) | (static_cast<int64_t>(len[3]) << 24);
  } else {
    return absl::InvalidArgumentError(absl::StrCat(name, ": .npy version ", major, " is not supported"));
  }
  if (header_len <= 0 || header_len > (1 << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": implausible .npy header length ", header_len));
  }
  std::string dict(static_cast<size_t>(header_len), '\0');
  if (absl::Status s = ReadExactly(source, dict.data(), header_len, name); !s.ok()) return s;
  absl::StatusOr<NpyHeader> header = ParseNpyHeaderDict(dict);
  if (!header.ok()) return absl::InvalidArgumentError(absl::StrCat(name, ": ", header.status().message()));
  return header;
}

absl::StatusOr<ByteSource> FileByteSource(const std::string& path) {
  std::shared_ptr<FILE> file(std::fopen(path.c_str(), "rb"), [](FILE* f) {
    if (f != nullptr) std::fclose(f);
  });
  if (!file) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  return ByteSource([file, path](char* buffer, int64_t n) -> absl::StatusOr<int64_t> {
    const size_t got = std::fread(buffer, 1, static_cast<size_t>(n), file.get());
    if (got == 0 && std::ferror(file.get())) return absl::DataLossError(absl::StrCat(path, ": read error"));
    return static_cast<int64_t>(got);
  });
}

namespace {

std::string NpyHeaderBytes(const std::string& descr, const std::vector<int64_t>& shape) {
  std::vector<std::string> dims;
  for (int64_t d : shape) dims.push_back(absl::StrCat(d));
  std::string shape_text = absl::StrCat("(", absl::StrJoin(dims, ", "), shape.size() == 1 ? ",)" : ")");
  std::string dict = absl::StrCat("{'descr': '", descr, "', 'fortran_order': False, 'shape': ",
                                  shape_text, ", }");
  // Pad so that the data starts on a 64-byte boundary; the header ends with a newline.
  const size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict.push_back('\n');
  std::string out = "\x93NUMPY";
  out.push_back('\x01');
  out.push_back('\x00');
  out.push_back(static_cast<char>(dict.size() & 0xFF));
  out.push_back(static_cast<char>((dict.size() >> 8) & 0xFF));
  out += dict;
  return out;
}

}  // namespace

absl::Status WriteNpy(const std::string& path, const std::string& descr,
                      const std::vector<int64_t>& shape, const void* data, int64_t bytes) {
  std::string out = NpyHeaderBytes(descr, shape);
  out.append(static_cast<const char*>(data), static_cast<size_t>(bytes));
  return WriteFileAtomically(path, out);
}

absl::StatusOr<std::unique_ptr<NpyWriter>> NpyWriter::Create(const std::string& path, const std::string& descr,
                                                             const std::vector<int64_t>& shape, int64_t item_size) {
  std::unique_ptr<NpyWriter> w(new NpyWriter);
  w->path_ = path;
  w->tmp_ = TempPathFor(path);
  w->file_ = std::fopen(w->tmp_.c_str(), "wb");
  if (w->file_ == nullptr) return absl::InternalError(absl::StrCat("cannot create ", w->tmp_));
  const std::string header = NpyHeaderBytes(descr, shape);
  if (std::fwrite(header.data(), 1, header.size(), w->file_) != header.size()) {
    return absl::InternalError(absl::StrCat("cannot write ", w->tmp_));
  }
  w->expected_ = item_size;
  for (int64_t d : shape) w->expected_ *= d;
  return w;
}

NpyWriter::~NpyWriter() {
  if (file_ != nullptr) std::fclose(file_);
  if (!committed_ && !tmp_.empty()) std::remove(tmp_.c_str());
}

absl::Status NpyWriter::Append(const void* data, int64_t bytes) {
  if (std::fwrite(data, 1, static_cast<size_t>(bytes), file_) != static_cast<size_t>(bytes)) {
    return absl::InternalError(absl::StrCat("writing ", tmp_, " failed (disk full?)"));
  }
  written_ += bytes;
  return absl::OkStatus();
}

absl::Status NpyWriter::Commit() {
  if (written_ != expected_) {
    return absl::FailedPreconditionError(absl::StrCat(path_, ": ", written_, " bytes written, the shape needs ", expected_));
  }
  const bool ok = std::fflush(file_) == 0;
  std::fclose(file_);
  file_ = nullptr;
  if (!ok) return absl::InternalError(absl::StrCat("writing ", tmp_, " failed"));
  if (absl::Status s = DurableRename(tmp_, path_); !s.ok()) return s;
  committed_ = true;
  return absl::OkStatus();
}

}  // namespace galaxy
