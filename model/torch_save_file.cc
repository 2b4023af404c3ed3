#include "model/torch_save_file.h"

#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/status_macros.h"

namespace galaxy {
namespace {

// A pickled value, as far as tensors need it. Containers are shared: the memo refers to the same
// dict that later SETITEMS fill.
struct Value;
using ValuePtr = std::shared_ptr<Value>;
struct Value {
  enum class Kind { kNone, kBool, kInt, kFloat, kString, kTuple, kList, kDict, kGlobal, kObject, kStorage, kTensor };
  Kind kind = Kind::kNone;
  int64_t integer = 0;
  double real = 0;
  std::string text;                                    // kString, kGlobal ("module.name"), kObject (its class)
  std::vector<ValuePtr> items;                         // kTuple, kList; kObject: its arguments
  std::vector<std::pair<ValuePtr, ValuePtr>> entries;  // kDict, in insertion order
  ValuePtr state;                                      // kObject: what BUILD gave it
  torch::Tensor tensor;                                // kStorage (1-D), kTensor
};

// The dtype of a storage class torch.save names ("torch.FloatStorage").
absl::StatusOr<torch::ScalarType> StorageType(const std::string& name) {
  static const std::map<std::string, torch::ScalarType> kTypes = {
      {"torch.DoubleStorage", torch::kFloat64}, {"torch.FloatStorage", torch::kFloat32},
      {"torch.HalfStorage", torch::kFloat16},   {"torch.BFloat16Storage", torch::kBFloat16},
      {"torch.LongStorage", torch::kInt64},     {"torch.IntStorage", torch::kInt32},
      {"torch.ShortStorage", torch::kInt16},    {"torch.CharStorage", torch::kInt8},
      {"torch.ByteStorage", torch::kUInt8},     {"torch.BoolStorage", torch::kBool},
      {"torch.UntypedStorage", torch::kUInt8}};
  auto it = kTypes.find(name);
  if (it == kTypes.end()) return absl::InvalidArgumentError(absl::StrCat("unsupported storage type ", name));
  return it->second;
}

class Unpickler {
 public:
  Unpickler(absl::string_view bytes, const StorageReader& read_storage) : in_(bytes), read_storage_(read_storage) {}
  Unpickler(const Unpickler&) = delete;
  Unpickler& operator=(const Unpickler&) = delete;
  // A pickle can make a container hold itself (DUP, then APPENDS or SETITEMS): emptying every
  // value made frees such cycles, which shared ownership alone would leak. Whatever Run returned
  // is emptied too: read it before the unpickler goes.
  ~Unpickler() {
    for (const ValuePtr& v : made_) {
      v->items.clear();
      v->entries.clear();
      v->state.reset();
    }
  }

  size_t values_made() const { return made_.size(); }

  absl::StatusOr<ValuePtr> Run() {
    while (pos_ < in_.size()) {
      const size_t at = pos_;
      const uint8_t op = static_cast<uint8_t>(in_[pos_++]);
      if (op == '.') {
        if (stack_.empty()) return Error(at, "STOP with an empty stack");
        return stack_.back();
      }
      absl::Status s = Step(op);
      if (!s.ok()) return Error(at, absl::StrFormat("opcode 0x%02x: %s", op, s.message()));
    }
    return absl::InvalidArgumentError("pickle ends without STOP (truncated?)");
  }

 private:
  static absl::Status Error(size_t at, absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("pickle byte ", at, ": ", what));
  }

  absl::StatusOr<std::string> Take(uint64_t n) {
    if (n > in_.size() - pos_) return absl::InvalidArgumentError("runs past the end of the pickle (truncated?)");
    std::string out(in_.substr(pos_, n));
    pos_ += n;
    return out;
  }
  absl::StatusOr<uint64_t> Unsigned(int bytes) {
    GALAXY_ASSIGN_OR_RETURN(std::string b, Take(static_cast<uint64_t>(bytes)));
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[static_cast<size_t>(i)]);
    return v;
  }
  absl::StatusOr<std::string> Line() {
    const size_t end = in_.find('\n', pos_);
    if (end == absl::string_view::npos) return absl::InvalidArgumentError("unterminated line");
    std::string out(in_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return out;
  }
  absl::StatusOr<ValuePtr> Pop() {
    if (stack_.size() <= Floor()) return absl::InvalidArgumentError("pops an empty stack");
    ValuePtr v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  size_t Floor() const { return marks_.empty() ? 0 : marks_.back(); }
  // The values above the last MARK, which is removed.
  absl::StatusOr<std::vector<ValuePtr>> PopToMark() {
    if (marks_.empty()) return absl::InvalidArgumentError("no MARK");
    const size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> out(stack_.begin() + static_cast<ptrdiff_t>(mark), stack_.end());
    stack_.resize(mark);
    return out;
  }
  absl::StatusOr<ValuePtr> Top() {
    if (stack_.size() <= Floor()) return absl::InvalidArgumentError("needs a value on the stack");
    return stack_.back();
  }
  void Push(ValuePtr v) { stack_.push_back(std::move(v)); }
  void PushInt(int64_t i) {
    ValuePtr v = Make(Value::Kind::kInt);
    v->integer = i;
    Push(std::move(v));
  }
  void PushString(std::string s) {
    ValuePtr v = Make(Value::Kind::kString);
    v->text = std::move(s);
    Push(std::move(v));
  }
  absl::Status Put(uint64_t key) {
    GALAXY_ASSIGN_OR_RETURN(ValuePtr top, Top());
    memo_[key] = top;
    return absl::OkStatus();
  }
  absl::Status Get(uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) return absl::InvalidArgumentError(absl::StrCat("memo ", key, " was never stored"));
    Push(it->second);
    return absl::OkStatus();
  }
  absl::Status Tuple(size_t n) {
    if (stack_.size() < Floor() + n) return absl::InvalidArgumentError("too few values for a tuple");
    ValuePtr t = Make(Value::Kind::kTuple);
    t->items.assign(stack_.end() - static_cast<ptrdiff_t>(n), stack_.end());
    stack_.resize(stack_.size() - n);
    Push(std::move(t));
    return absl::OkStatus();
  }
  absl::Status SetItems(const std::vector<ValuePtr>& kv) {
    if (kv.size() % 2 != 0) return absl::InvalidArgumentError("an odd number of keys and values");
    GALAXY_ASSIGN_OR_RETURN(ValuePtr dict, Top());
    if (dict->kind != Value::Kind::kDict) return absl::OkStatus();  // an object's items: not ours
    for (size_t i = 0; i < kv.size(); i += 2) dict->entries.emplace_back(kv[i], kv[i + 1]);
    return absl::OkStatus();
  }
  absl::Status Appends(const std::vector<ValuePtr>& values) {
    GALAXY_ASSIGN_OR_RETURN(ValuePtr list, Top());
    if (list->kind == Value::Kind::kList) list->items.insert(list->items.end(), values.begin(), values.end());
    return absl::OkStatus();
  }

  // Storage `pid` = ('storage', storage class, key, location, element count), read once per key.
  absl::StatusOr<ValuePtr> LoadStorage(const ValuePtr& pid) {
    if (pid->kind != Value::Kind::kTuple || pid->items.size() < 5 || pid->items[0]->text != "storage" ||
        pid->items[1]->kind != Value::Kind::kGlobal || pid->items[2]->kind != Value::Kind::kString ||
        pid->items[4]->kind != Value::Kind::kInt) {
      return absl::InvalidArgumentError("a persistent ID that is not ('storage', type, key, location, count)");
    }
    const std::string& key = pid->items[2]->text;
    if (auto it = storages_.find(key); it != storages_.end()) return it->second;
    GALAXY_ASSIGN_OR_RETURN(torch::ScalarType type, StorageType(pid->items[1]->text));
    const int64_t count = pid->items[4]->integer;
    GALAXY_ASSIGN_OR_RETURN(std::string bytes, read_storage_(key));
    const int64_t item = static_cast<int64_t>(c10::elementSize(type));
    // (An untyped storage is bytes: its count is its size.)
    if (count < 0 || static_cast<int64_t>(bytes.size()) != count * item) {
      return absl::InvalidArgumentError(absl::StrCat("storage ", key, " holds ", bytes.size(), " bytes, not ", count,
                                                     " elements of ", item));
    }
    ValuePtr s = Make(Value::Kind::kStorage);
    s->tensor = torch::empty({count}, torch::TensorOptions().dtype(type));
    if (!bytes.empty()) std::memcpy(s->tensor.data_ptr(), bytes.data(), bytes.size());
    storages_[key] = s;
    return s;
  }

  // torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...): the view, copied out.
  absl::StatusOr<ValuePtr> RebuildTensor(const std::vector<ValuePtr>& args) {
    if (args.size() < 4 || args[0]->kind != Value::Kind::kStorage || args[1]->kind != Value::Kind::kInt ||
        args[2]->kind != Value::Kind::kTuple || args[3]->kind != Value::Kind::kTuple ||
        args[2]->items.size() != args[3]->items.size()) {
      return absl::InvalidArgumentError("a tensor rebuilt from something other than (storage, offset, size, stride)");
    }
    const torch::Tensor& storage = args[0]->tensor;
    std::vector<int64_t> size, stride;
    bool empty = false;
    for (size_t d = 0; d < args[2]->items.size(); ++d) {
      const ValuePtr& n = args[2]->items[d];
      const ValuePtr& s = args[3]->items[d];
      if (n->kind != Value::Kind::kInt || s->kind != Value::Kind::kInt || n->integer < 0 || s->integer < 0 ||
          n->integer > (int64_t{1} << 40) || s->integer > (int64_t{1} << 40)) {
        return absl::InvalidArgumentError("a tensor size or stride that is not a small non-negative integer");
      }
      size.push_back(n->integer);
      stride.push_back(s->integer);
      empty = empty || n->integer == 0;
    }
    ValuePtr t = Make(Value::Kind::kTensor);
    if (empty) {
      t->tensor = torch::empty(size, storage.options());
      return t;
    }
    // The furthest element the view reaches and how many it holds, saturating at kFar rather than
    // overflowing (sizes and strides up to 2^40 in any number of dimensions).
    constexpr int64_t kFar = int64_t{1} << 62;
    const auto saturating_add = [](int64_t a, int64_t b) { return b > kFar - a ? kFar : a + b; };
    const auto saturating_mul = [](int64_t a, int64_t b) { return b != 0 && a > kFar / b ? kFar : a * b; };
    int64_t last = args[1]->integer, elements = 1;
    for (size_t d = 0; d < size.size() && last >= 0; ++d) {
      last = saturating_add(last, saturating_mul(size[d] - 1, stride[d]));
      elements = saturating_mul(elements, size[d]);
    }
    if (args[1]->integer < 0 || last >= storage.numel()) {
      return absl::InvalidArgumentError(absl::StrCat("a tensor reaches element ", last, " of a storage of ",
                                                     storage.numel()));
    }
    // A view with more elements than its storage repeats some (stride 0, as expand() makes): state
    // dicts hold none, and copying one out could turn a small storage into terabytes.
    if (elements > storage.numel()) {
      return absl::InvalidArgumentError(absl::StrCat("a tensor of ", elements, " elements views a storage of ",
                                                     storage.numel(), " (an expanded view; save it contiguous)"));
    }
    t->tensor = storage.as_strided(size, stride, args[1]->integer).clone(torch::MemoryFormat::Contiguous);
    return t;
  }

  // What calling `callable` with `args` (REDUCE) makes.
  absl::StatusOr<ValuePtr> Call(const ValuePtr& callable, const ValuePtr& args) {
    if (callable->kind != Value::Kind::kGlobal || args->kind != Value::Kind::kTuple) {
      ValuePtr o = Make(Value::Kind::kObject);  // e.g. a method of an object: nothing of ours
      return o;
    }
    const std::string& name = callable->text;
    if (name == "collections.OrderedDict" || name == "builtins.dict") return Make(Value::Kind::kDict);
    if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor") {
      return RebuildTensor(args->items);
    }
    if ((name == "torch._utils._rebuild_parameter" || name == "torch._utils._rebuild_parameter_with_state") &&
        !args->items.empty() && args->items[0]->kind == Value::Kind::kTensor) {
      return args->items[0];
    }
    if (name == "torch._tensor._rebuild_from_type_v2" && args->items.size() >= 3 &&
        args->items[2]->kind == Value::Kind::kTuple) {
      return Call(args->items[0], args->items[2]);  // a tensor subclass: the tensor inside
    }
    if (name == "builtins.set" || name == "builtins.frozenset" || name == "builtins.list") {
      ValuePtr l = Make(Value::Kind::kList);
      if (!args->items.empty() && args->items[0]->kind == Value::Kind::kList) l->items = args->items[0]->items;
      return l;
    }
    ValuePtr o = Make(Value::Kind::kObject);
    o->text = name;
    o->items = args->items;
    return o;
  }

  absl::Status Step(uint8_t op) {
    switch (op) {
      case 0x80: return Take(1).status();                // PROTO
      case 0x95: return Take(8).status();                // FRAME
      case '(': marks_.push_back(stack_.size()); return absl::OkStatus();
      case '}': Push(Make(Value::Kind::kDict)); return absl::OkStatus();
      case ']': Push(Make(Value::Kind::kList)); return absl::OkStatus();
      case 0x8f: Push(Make(Value::Kind::kList)); return absl::OkStatus();  // EMPTY_SET
      case ')': Push(Make(Value::Kind::kTuple)); return absl::OkStatus();
      case 'N': Push(Make(Value::Kind::kNone)); return absl::OkStatus();
      case 0x88: case 0x89: {                            // NEWTRUE, NEWFALSE
        ValuePtr b = Make(Value::Kind::kBool);
        b->integer = op == 0x88;
        Push(std::move(b));
        return absl::OkStatus();
      }
      case 'J': {
        GALAXY_ASSIGN_OR_RETURN(uint64_t v, Unsigned(4));
        PushInt(static_cast<int32_t>(static_cast<uint32_t>(v)));
        return absl::OkStatus();
      }
      case 'K': case 'M': {
        GALAXY_ASSIGN_OR_RETURN(uint64_t v, Unsigned(op == 'K' ? 1 : 2));
        PushInt(static_cast<int64_t>(v));
        return absl::OkStatus();
      }
      case 0x8a: {                                       // LONG1: little-endian two's complement
        GALAXY_ASSIGN_OR_RETURN(uint64_t n, Unsigned(1));
        if (n > 8) return absl::InvalidArgumentError(absl::StrCat("an integer of ", n, " bytes"));
        GALAXY_ASSIGN_OR_RETURN(uint64_t v, n == 0 ? absl::StatusOr<uint64_t>(0) : Unsigned(static_cast<int>(n)));
        if (n > 0 && n < 8 && (v >> (8 * n - 1)) != 0) v |= ~uint64_t{0} << (8 * n);  // sign-extend
        PushInt(static_cast<int64_t>(v));
        return absl::OkStatus();
      }
      case 'G': {                                        // BINFLOAT, big-endian
        GALAXY_ASSIGN_OR_RETURN(std::string b, Take(8));
        uint64_t bits = 0;
        for (char c : b) bits = (bits << 8) | static_cast<uint8_t>(c);
        ValuePtr f = Make(Value::Kind::kFloat);
        std::memcpy(&f->real, &bits, 8);
        Push(std::move(f));
        return absl::OkStatus();
      }
      case 'X': case 0x8c: case 0x8d: case 'T': case 'U': case 'B': case 'C': case 0x8e: {
        const int width = (op == 0x8c || op == 'U' || op == 'C') ? 1 : (op == 0x8d || op == 0x8e) ? 8 : 4;
        GALAXY_ASSIGN_OR_RETURN(uint64_t n, Unsigned(width));
        GALAXY_ASSIGN_OR_RETURN(std::string s, Take(n));
        PushString(std::move(s));
        return absl::OkStatus();
      }
      case 'q': { GALAXY_ASSIGN_OR_RETURN(uint64_t k, Unsigned(1)); return Put(k); }
      case 'r': { GALAXY_ASSIGN_OR_RETURN(uint64_t k, Unsigned(4)); return Put(k); }
      case 0x94: return Put(memo_.size());               // MEMOIZE
      case 'h': { GALAXY_ASSIGN_OR_RETURN(uint64_t k, Unsigned(1)); return Get(k); }
      case 'j': { GALAXY_ASSIGN_OR_RETURN(uint64_t k, Unsigned(4)); return Get(k); }
      case 't': {
        GALAXY_ASSIGN_OR_RETURN(std::vector<ValuePtr> items, PopToMark());
        ValuePtr t = Make(Value::Kind::kTuple);
        t->items = std::move(items);
        Push(std::move(t));
        return absl::OkStatus();
      }
      case 0x85: return Tuple(1);
      case 0x86: return Tuple(2);
      case 0x87: return Tuple(3);
      case 'c': {
        GALAXY_ASSIGN_OR_RETURN(std::string module, Line());
        GALAXY_ASSIGN_OR_RETURN(std::string name, Line());
        ValuePtr g = Make(Value::Kind::kGlobal);
        g->text = absl::StrCat(module, ".", name);
        Push(std::move(g));
        return absl::OkStatus();
      }
      case 0x93: {                                       // STACK_GLOBAL
        GALAXY_ASSIGN_OR_RETURN(ValuePtr name, Pop());
        GALAXY_ASSIGN_OR_RETURN(ValuePtr module, Pop());
        // Strings, as Python's unpickler demands: a global named by globals would let each
        // DUP and STACK_GLOBAL double a name's length.
        if (module->kind != Value::Kind::kString || name->kind != Value::Kind::kString) {
          return absl::InvalidArgumentError("a global whose module or name is not a string");
        }
        ValuePtr g = Make(Value::Kind::kGlobal);
        g->text = absl::StrCat(module->text, ".", name->text);
        Push(std::move(g));
        return absl::OkStatus();
      }
      case 'R': case 0x81: {                             // REDUCE, NEWOBJ
        GALAXY_ASSIGN_OR_RETURN(ValuePtr args, Pop());
        GALAXY_ASSIGN_OR_RETURN(ValuePtr callable, Pop());
        GALAXY_ASSIGN_OR_RETURN(ValuePtr made, Call(callable, args));
        Push(std::move(made));
        return absl::OkStatus();
      }
      case 0x92: {                                       // NEWOBJ_EX
        GALAXY_RETURN_IF_ERROR(Pop().status());
        GALAXY_ASSIGN_OR_RETURN(ValuePtr args, Pop());
        GALAXY_ASSIGN_OR_RETURN(ValuePtr callable, Pop());
        GALAXY_ASSIGN_OR_RETURN(ValuePtr made, Call(callable, args));
        Push(std::move(made));
        return absl::OkStatus();
      }
      case 'b': {                                        // BUILD: an object's state; a dict's attributes
        GALAXY_ASSIGN_OR_RETURN(ValuePtr state, Pop());
        GALAXY_ASSIGN_OR_RETURN(ValuePtr target, Top());
        if (target->kind == Value::Kind::kObject) target->state = std::move(state);
        return absl::OkStatus();
      }
      case 's': {
        GALAXY_ASSIGN_OR_RETURN(ValuePtr value, Pop());
        GALAXY_ASSIGN_OR_RETURN(ValuePtr key, Pop());
        return SetItems({key, value});
      }
      case 'u': {
        GALAXY_ASSIGN_OR_RETURN(std::vector<ValuePtr> kv, PopToMark());
        return SetItems(kv);
      }
      case 'a': {
        GALAXY_ASSIGN_OR_RETURN(ValuePtr value, Pop());
        return Appends({value});
      }
      case 'e': case 0x90: {                             // APPENDS, ADDITEMS
        GALAXY_ASSIGN_OR_RETURN(std::vector<ValuePtr> values, PopToMark());
        return Appends(values);
      }
      case 'Q': {                                        // BINPERSID
        GALAXY_ASSIGN_OR_RETURN(ValuePtr pid, Pop());
        GALAXY_ASSIGN_OR_RETURN(ValuePtr storage, LoadStorage(pid));
        Push(std::move(storage));
        return absl::OkStatus();
      }
      case '0': return Pop().status();
      case '1': return PopToMark().status();
      case '2': {
        GALAXY_ASSIGN_OR_RETURN(ValuePtr top, Top());
        Push(top);
        return absl::OkStatus();
      }
      default:
        return absl::InvalidArgumentError("not an opcode torch.save writes");
    }
  }

  ValuePtr Make(Value::Kind kind) {
    auto v = std::make_shared<Value>();
    v->kind = kind;
    made_.push_back(v);
    return v;
  }

  absl::string_view in_;
  size_t pos_ = 0;
  const StorageReader& read_storage_;
  std::vector<ValuePtr> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, ValuePtr> memo_;
  std::map<std::string, ValuePtr> storages_;
  std::vector<ValuePtr> made_;
};

// What Collect may still do. A state dict or checkpoint is a tree with a few values shared (a
// tensor in two places) and names of tens of characters. Without limits, a pickle whose
// containers share others, each twice, 40 levels deep, would take 2^40 visits; one whose dicts
// hold each other under a long key, shared the same way, would name thousands of tensors with
// paths 64 keys long: memory quadratic in the pickle's size.
struct CollectBudget {
  int64_t visits;      // values visited
  int64_t name_bytes;  // the names of the tensors collected, all together
};

// The start of `path`, for messages.
std::string PathForMessage(const std::string& path) {
  constexpr size_t kShown = 120;
  return path.size() <= kShown ? path : absl::StrCat(path.substr(0, kShown), "... (", path.size(), " characters)");
}

// Collects the tensors under `v` at `path`; deeper than 64 levels (or a cycle) is refused, and so
// is going past `budget`.
absl::Status Collect(const ValuePtr& v, const std::string& path, int depth, CollectBudget* budget,
                     TorchSaveTensors* out) {
  if (depth > 64) {
    return absl::InvalidArgumentError(absl::StrCat("nested deeper than 64 levels at '", PathForMessage(path), "'"));
  }
  if (--budget->visits < 0) {
    return absl::InvalidArgumentError(absl::StrCat("values shared far more than a state dict's are (at '",
                                                   PathForMessage(path), "'): not read"));
  }
  const auto child = [&](const std::string& key) { return path.empty() ? key : absl::StrCat(path, ".", key); };
  switch (v->kind) {
    case Value::Kind::kTensor:
      budget->name_bytes -= static_cast<int64_t>(path.size());
      if (budget->name_bytes < 0) {
        return absl::InvalidArgumentError(absl::StrCat("tensor names far longer than a state dict's (at '",
                                                       PathForMessage(path), "'): not read"));
      }
      (*out)[path] = v->tensor;
      return absl::OkStatus();
    case Value::Kind::kDict:
      for (const auto& [key, value] : v->entries) {
        std::string name;
        if (key->kind == Value::Kind::kString) {
          name = key->text;
        } else if (key->kind == Value::Kind::kInt) {
          name = absl::StrCat(key->integer);
        } else {
          continue;
        }
        GALAXY_RETURN_IF_ERROR(Collect(value, child(name), depth + 1, budget, out));
      }
      return absl::OkStatus();
    case Value::Kind::kList:
    case Value::Kind::kTuple:
      for (size_t i = 0; i < v->items.size(); ++i) {
        GALAXY_RETURN_IF_ERROR(Collect(v->items[i], child(absl::StrCat(i)), depth + 1, budget, out));
      }
      return absl::OkStatus();
    default:
      return absl::OkStatus();
  }
}

}  // namespace

absl::StatusOr<TorchSaveTensors> UnpickleTensors(absl::string_view pickle, const StorageReader& read_storage) {
  Unpickler unpickler(pickle, read_storage);
  GALAXY_ASSIGN_OR_RETURN(ValuePtr root, unpickler.Run());
  TorchSaveTensors out;
  // Each tensor costs its pickle some 50 bytes and its name is a few keys of the pickle's own:
  // 64 bytes of names per byte of pickle is far beyond any real file, and linear.
  CollectBudget budget{4 * static_cast<int64_t>(unpickler.values_made()) + 64,
                       64 * static_cast<int64_t>(pickle.size()) + (int64_t{1} << 20)};
  GALAXY_RETURN_IF_ERROR(Collect(root, "", 0, &budget, &out));
  return out;
}

absl::StatusOr<TorchSaveTensors> ReadTorchSaveFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  char magic[2] = {0, 0};
  in.read(magic, 2);
  if (magic[0] != 'P' || magic[1] != 'K') {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": not a zip archive. torch.save's legacy format (PyTorch < 1.6, or "
              "_use_new_zipfile_serialization=False) is not read: load it in PyTorch and torch.save it again"));
  }
  in.close();
  try {
    caffe2::serialize::PyTorchStreamReader reader(path);
    if (reader.hasRecord("byteorder")) {
      auto [data, size] = reader.getRecord("byteorder");
      if (std::string(static_cast<const char*>(data.get()), size) != "little") {
        return absl::InvalidArgumentError(absl::StrCat(path, ": saved on a big-endian machine; not read"));
      }
    }
    if (!reader.hasRecord("data.pkl")) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": a zip archive without data.pkl: not a torch.save file "
                                                           "(a TorchScript module? save its state_dict())"));
    }
    auto [pickle, pickle_size] = reader.getRecord("data.pkl");
    const StorageReader read_storage = [&reader](const std::string& key) -> absl::StatusOr<std::string> {
      const std::string record = "data/" + key;
      if (!reader.hasRecord(record)) return absl::InvalidArgumentError(absl::StrCat("no storage record ", record));
      auto [data, size] = reader.getRecord(record);
      return std::string(static_cast<const char*>(data.get()), size);
    };
    absl::StatusOr<TorchSaveTensors> tensors =
        UnpickleTensors(absl::string_view(static_cast<const char*>(pickle.get()), pickle_size), read_storage);
    if (!tensors.ok()) return Annotate(tensors.status(), path);
    return tensors;
  } catch (const std::exception& e) {
    std::string what = e.what();
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a readable torch.save archive (truncated?): ", what.substr(0, what.find('\n'))));
  }
}

}  // namespace galaxy
