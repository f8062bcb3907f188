// etvk_run: loads a .pte with ExecuTorch's Module API and runs it, with the etvk Vulkan backend
// (libetvk_executorch.so, linked --no-as-needed so it registers "VulkanBackend") and the CPU
// kernels (libexecutorch_kernels_optimized.so) for ops left on CPU.
//
//   etvk_run MODEL.pte [--data FILE.ptd] [--inputs a.npy b.npy ...] [--expected x.npy ...]
//            [--atol A] [--rtol R] [--iters N] [--warmup N] [--loader mmap|file] [--json]
//            [--method NAME] [--seed S] [--save DIR]
//
// Exit status: 0 ok (outputs match when --expected is given), 1 mismatch, 2 usage or input
// file error, 3 load or execute error.

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <executorch/extension/module/module.h>
#include <executorch/extension/tensor/tensor_ptr.h>
#include <executorch/runtime/backend/interface.h>
#include <executorch/runtime/core/evalue.h>
#include <executorch/runtime/core/exec_aten/util/scalar_type_util.h>
#include <executorch/runtime/platform/runtime.h>

#include "etvk.h"

#ifdef ETVK_RUN_PLUGIN
#include <dlfcn.h>
#endif

using executorch::aten::Half;
using executorch::aten::ScalarType;
using executorch::aten::Tensor;
using executorch::extension::TensorPtr;
using executorch::extension::module::Module;
using executorch::runtime::Error;
using executorch::runtime::EValue;
using executorch::runtime::MethodMeta;
using executorch::runtime::Program;
using executorch::runtime::Tag;

namespace {

// ---------------------------------------------------------------------------------------------
// Small helpers

// etvk's message for the last failure on this thread (ExecuTorch runs the backend on the
// calling thread), or a pointer to the log when the failure was not etvk's.
// The plugin's etvk_last_error (set once the plugin is known; see EtvkApi below).
const char* (*g_last_error)() = nullptr;

std::string etvk_reason() {
  const char* msg = g_last_error ? g_last_error() : nullptr;
  if (msg && msg[0]) return std::string(": etvk: ") + msg;
  return "; etvk reported nothing, see ExecuTorch's log above";
}

bool g_json = false; // --json: failures also print {"error": ...} on stdout

std::string json_escape(const std::string& s);

[[noreturn]] void die(int code, const std::string& msg) {
  std::fprintf(stderr, "etvk_run: %s\n", msg.c_str());
  if (g_json) std::printf("{\"error\": \"%s\", \"exit_code\": %d}\n", json_escape(msg).c_str(), code);
  std::exit(code);
}

std::string hex(Error e) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", static_cast<unsigned>(e));
  return buf;
}

double now_ms() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    s += (i ? ", " : "") + std::to_string(shape[i]);
  }
  return s + "]";
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string fmt_double(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// A "Field:   N kB" line of /proc/self/status, in bytes (-1 when absent).
int64_t proc_status_bytes(const char* field) {
  std::ifstream f("/proc/self/status");
  std::string line;
  size_t n = std::strlen(field);
  while (std::getline(f, line)) {
    if (line.compare(0, n, field) == 0 && line.size() > n && line[n] == ':') {
      return std::strtoll(line.c_str() + n + 1, nullptr, 10) * 1024;
    }
  }
  return -1;
}

int64_t peak_rss_bytes() { return proc_status_bytes("VmHWM"); }

// ---------------------------------------------------------------------------------------------
// dtypes: the subset of ScalarType that .npy files and this runner handle

struct DtypeInfo {
  ScalarType type;
  const char* npy;  // numpy descr, little-endian
  const char* name; // numpy-style name for printing
  size_t size;
};

const DtypeInfo kDtypes[] = {
    {ScalarType::Float, "<f4", "float32", 4},
    {ScalarType::Double, "<f8", "float64", 8},
    {ScalarType::Half, "<f2", "float16", 2},
    {ScalarType::Int, "<i4", "int32", 4},
    {ScalarType::Long, "<i8", "int64", 8},
    {ScalarType::Short, "<i2", "int16", 2},
    {ScalarType::Char, "|i1", "int8", 1},
    {ScalarType::Byte, "|u1", "uint8", 1},
    {ScalarType::Bool, "|b1", "bool", 1},
};

const DtypeInfo* dtype_info(ScalarType t) {
  for (const auto& d : kDtypes) {
    if (d.type == t) return &d;
  }
  return nullptr;
}

const DtypeInfo* dtype_from_npy(const std::string& descr) {
  // Byte order: '<' little-endian, '|' not applicable, '=' native (little-endian here).
  if (descr.size() != 3 || std::strchr("<|=", descr[0]) == nullptr) return nullptr;
  std::string canon = std::string(descr[2] == '1' ? "|" : "<") + descr.substr(1);
  for (const auto& d : kDtypes) {
    if (canon == d.npy) return &d;
  }
  return nullptr;
}

std::string dtype_name(ScalarType t) {
  const DtypeInfo* d = dtype_info(t);
  return d ? d->name : executorch::runtime::toString(t);
}

double load_elem(ScalarType t, const uint8_t* p) {
  switch (t) {
    case ScalarType::Float: {
      float v;
      std::memcpy(&v, p, 4);
      return v;
    }
    case ScalarType::Double: {
      double v;
      std::memcpy(&v, p, 8);
      return v;
    }
    case ScalarType::Half: {
      Half v;
      std::memcpy(&v, p, 2);
      return static_cast<float>(v);
    }
    case ScalarType::Int: {
      int32_t v;
      std::memcpy(&v, p, 4);
      return v;
    }
    case ScalarType::Long: {
      int64_t v;
      std::memcpy(&v, p, 8);
      return static_cast<double>(v);
    }
    case ScalarType::Short: {
      int16_t v;
      std::memcpy(&v, p, 2);
      return v;
    }
    case ScalarType::Char:
      return static_cast<int8_t>(*p);
    case ScalarType::Byte:
      return *p;
    case ScalarType::Bool:
      return *p ? 1.0 : 0.0;
    default:
      return std::nan("");
  }
}

void store_elem(ScalarType t, double v, uint8_t* p) {
  switch (t) {
    case ScalarType::Float: {
      float x = static_cast<float>(v);
      std::memcpy(p, &x, 4);
      break;
    }
    case ScalarType::Double:
      std::memcpy(p, &v, 8);
      break;
    case ScalarType::Half: {
      Half x(static_cast<float>(v));
      std::memcpy(p, &x, 2);
      break;
    }
    case ScalarType::Int: {
      int32_t x = static_cast<int32_t>(v);
      std::memcpy(p, &x, 4);
      break;
    }
    case ScalarType::Long: {
      int64_t x = static_cast<int64_t>(v);
      std::memcpy(p, &x, 8);
      break;
    }
    case ScalarType::Short: {
      int16_t x = static_cast<int16_t>(v);
      std::memcpy(p, &x, 2);
      break;
    }
    case ScalarType::Char:
      *p = static_cast<uint8_t>(static_cast<int8_t>(v));
      break;
    case ScalarType::Byte:
      *p = static_cast<uint8_t>(v);
      break;
    case ScalarType::Bool:
      *p = v != 0.0;
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// .npy (format versions 1-3; little-endian, C order)

struct Array {
  ScalarType type = ScalarType::Float;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;

  size_t numel() const {
    size_t n = 1;
    for (int64_t s : shape) n *= static_cast<size_t>(s);
    return n;
  }
  double at(size_t i) const {
    return load_elem(type, data.data() + i * dtype_info(type)->size);
  }
};

// Finds `'key':` in the header dict and returns the text after the colon.
std::string npy_field(const std::string& header, const std::string& key, const std::string& path) {
  size_t k = header.find("'" + key + "'");
  if (k == std::string::npos) die(2, path + ": .npy header has no '" + key + "'");
  size_t colon = header.find(':', k);
  if (colon == std::string::npos) die(2, path + ": malformed .npy header");
  size_t start = header.find_first_not_of(" ", colon + 1);
  return header.substr(start);
}

Array read_npy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) die(2, "cannot open " + path);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  static const uint8_t magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (bytes.size() < 10 || std::memcmp(bytes.data(), magic, 6) != 0) {
    die(2, path + ": not a .npy file");
  }
  uint8_t major = bytes[6];
  size_t header_len, header_start;
  if (major == 1) {
    header_len = bytes[8] | (bytes[9] << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) die(2, path + ": truncated .npy header");
    header_len = bytes[8] | (bytes[9] << 8) | (bytes[10] << 16) | (size_t(bytes[11]) << 24);
    header_start = 12;
  } else {
    die(2, path + ": unsupported .npy version " + std::to_string(major));
  }
  if (header_start + header_len > bytes.size()) die(2, path + ": truncated .npy header");
  std::string header(bytes.begin() + header_start, bytes.begin() + header_start + header_len);

  std::string descr = npy_field(header, "descr", path);
  if (descr.empty() || descr[0] != '\'') die(2, path + ": malformed descr");
  descr = descr.substr(1, descr.find('\'', 1) - 1);
  const DtypeInfo* d = dtype_from_npy(descr);
  if (!d) die(2, path + ": unsupported dtype '" + descr + "' (want <f4 <f8 <f2 <i4 <i8 <i2 |i1 |u1 |b1)");

  if (npy_field(header, "fortran_order", path).rfind("False", 0) != 0) {
    die(2, path + ": Fortran-order arrays are not supported");
  }

  std::string shape_txt = npy_field(header, "shape", path);
  if (shape_txt.empty() || shape_txt[0] != '(') die(2, path + ": malformed shape");
  shape_txt = shape_txt.substr(1, shape_txt.find(')') - 1);
  Array a;
  a.type = d->type;
  std::stringstream ss(shape_txt);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.find_first_not_of(" ") == std::string::npos) continue;
    a.shape.push_back(std::stoll(item));
  }
  size_t nbytes = a.numel() * d->size;
  size_t data_start = header_start + header_len;
  if (bytes.size() - data_start < nbytes) {
    die(2, path + ": has " + std::to_string(bytes.size() - data_start) + " data bytes, shape " +
               shape_str(a.shape) + " needs " + std::to_string(nbytes));
  }
  a.data.assign(bytes.begin() + data_start, bytes.begin() + data_start + nbytes);
  return a;
}

void write_npy(const std::string& path, const Array& a) {
  const DtypeInfo* d = dtype_info(a.type);
  if (!d) die(3, "cannot save dtype " + dtype_name(a.type) + " to .npy");
  std::string shape = "(";
  for (size_t i = 0; i < a.shape.size(); ++i) {
    shape += std::to_string(a.shape[i]) + ",";
    if (i + 1 < a.shape.size()) shape += " ";
  }
  if (a.shape.size() > 1) shape.pop_back(); // "(2, 3)" but "(4,)"
  shape += ")";
  std::string header = "{'descr': '" + std::string(d->npy) + "', 'fortran_order': False, 'shape': " +
      shape + ", }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::ofstream f(path, std::ios::binary);
  if (!f) die(3, "cannot write " + path);
  const char magic[8] = {'\x93', 'N', 'U', 'M', 'P', 'Y', 1, 0};
  f.write(magic, 8);
  uint16_t len = static_cast<uint16_t>(header.size());
  const char len_bytes[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
  f.write(len_bytes, 2);
  f.write(header.data(), header.size());
  f.write(reinterpret_cast<const char*>(a.data.data()), a.data.size());
}

// ---------------------------------------------------------------------------------------------
// Memory report

void print_memory_report(FILE* f, const EtvkMemoryStats& m) {
  auto mb = [](uint64_t b) { return b / 1e6; };  // MB = 10^6 bytes, etvk's one unit
  static const char* tags[ETVK_NUM_TAGS] = {"weight", "staging", "activation", "io", "params", "source"};
  std::fprintf(f, "etvk memory (%u delegate%s, %s order, activations by %s):\n", m.delegates,
               m.delegates == 1 ? "" : "s", m.legacy_order ? "legacy" : "lazy",
               m.used_arena ? "lifetime arena" : "exporter shared objects");
  std::fprintf(f, "  W  weights            %12" PRIu64 " B  %9.3f MB\n", m.weights_bytes, mb(m.weights_bytes));
  std::fprintf(f, "  A  activations        %12" PRIu64 " B  %9.3f MB (arena %" PRIu64 ", shared objects %" PRIu64 ")\n",
               m.activations_bytes, mb(m.activations_bytes), m.arena_bytes, m.shared_objects_bytes);
  std::fprintf(f, "     staging ring       %12" PRIu64 " B  (%u weights written directly)\n",
               m.staging_ring_bytes, m.direct_weights);
  std::fprintf(f, "  %-12s %14s %14s\n", "tag", "current", "peak");
  for (int t = 0; t < ETVK_NUM_TAGS; ++t)
    std::fprintf(f, "  %-12s %14" PRIu64 " %14" PRIu64 "\n", tags[t], m.current[t], m.peak[t]);
  std::fprintf(f, "  %-12s %14" PRIu64 " %14" PRIu64 "\n", "device", m.device_current, m.device_peak);
  std::fprintf(f, "  %-12s %14" PRIu64 " %14" PRIu64 "  (device + source)\n", "accounted", m.total_current, m.total_peak);
  std::fprintf(f, "  %-12s %14" PRIu64 " %14" PRIu64 "  (Vulkan memory blocks the allocator holds)\n", "reserved",
               m.reserved_current, m.reserved_peak);
  static const char* phases[ETVK_NUM_PHASES] = {"build", "prepack", "activations", "ready"};
  std::fprintf(f, "  accounted peak by init phase:");
  for (int p = 0; p < ETVK_NUM_PHASES; ++p) std::fprintf(f, " %s %" PRIu64, phases[p], m.phase_peak[p]);
  std::fprintf(f, "\n");
  std::fprintf(f, "  W + A = %" PRIu64 " B; accounted peak - (W + A) = %" PRId64 " B\n",
               m.weights_bytes + m.activations_bytes,
               static_cast<int64_t>(m.total_peak) - static_cast<int64_t>(m.weights_bytes + m.activations_bytes));
}

// ---------------------------------------------------------------------------------------------
// Arguments

// The per-dispatch table of --profile: op, kernel, bound shapes, GPU microseconds, and GFLOP/s
// (dispatches that count their flops) or GB/s of the tensors they bind.
void print_profile(FILE* f, const std::vector<EtvkProfileEntry>& profile) {
  double total_us = 0;
  uint64_t first = UINT64_MAX, last = 0;
  for (const auto& e : profile) {
    total_us += e.busy_ns / 1000.0;
    first = std::min(first, e.start_ns);
    last = std::max(last, e.end_ns);
  }
  // The span also counts the gaps between dispatches (barriers, idle), which busy time omits.
  double span_us = profile.empty() ? 0.0 : (last - first) / 1000.0;
  std::fprintf(f, "profile (last execute, GPU time per dispatch; total %.1f us, span %.1f us from "
                  "the first dispatch's start to the last one's end):\n", total_us, span_us);
  std::fprintf(f, "  %4s  %-30s %-16s %10s %9s  %s\n", "op", "name", "kernel", "us", "rate",
               "shapes");
  for (const auto& e : profile) {
    double us = e.busy_ns / 1000.0;
    char rate[32] = "";
    if (us > 0 && e.flops > 0) std::snprintf(rate, sizeof rate, "%.1f GF/s", e.flops / us / 1e3);
    else if (us > 0) std::snprintf(rate, sizeof rate, "%.1f GB/s", e.bytes / us / 1e3);
    std::fprintf(f, "  %4u  %-30s %-16s %10.1f %9s  %s\n", e.op_index, e.op_name, e.kernel, us,
                 rate, e.shapes);
  }
}

// The etvk C ABI functions the runner calls. etvk_run links the plugin and calls it directly;
// etvk_bench (built with ETVK_RUN_PLUGIN) loads any VulkanBackend plugin given by --plugin and
// finds them with dlsym, so a plugin without them (another implementation) still runs, without
// etvk's memory figures and profile.
struct EtvkApi {
  decltype(&etvk_memory_stats) memory_stats = nullptr;
  decltype(&etvk_last_error) last_error = nullptr;
  decltype(&etvk_set_profiling_default) set_profiling_default = nullptr;
  decltype(&etvk_profile) profile = nullptr;
};
EtvkApi g_etvk;

const char* etvk_error_text() { return g_etvk.last_error ? g_etvk.last_error() : "(unknown)"; }

struct Options {
  std::string model;
  std::string data;
  std::string method = "forward";
  std::vector<std::string> inputs;
  std::vector<std::string> expected;
  double atol = 1e-4;
  double rtol = 1e-4;
  int iters = 5;
  int warmup = 0;
  bool mmap = true;
  bool json = false;
  bool memory_report = false;
  bool profile = false;
  std::string plugin;
  uint32_t seed = 0;
  std::string save_dir;
};

[[noreturn]] void usage(const char* why) {
  if (why) std::fprintf(stderr, "etvk_run: %s\n", why);
  std::fprintf(
      stderr,
      "usage: etvk_run MODEL.pte [--data FILE.ptd] [--inputs a.npy ...] [--expected x.npy ...]\n"
      "                [--atol A] [--rtol R] [--iters N] [--warmup N] [--loader mmap|file]\n"
      "                [--json] [--memory-report] [--profile] [--method NAME] [--seed S]\n"
      "                [--save DIR] [--plugin PLUGIN.so (etvk_bench only)]\n"
      "Without --inputs, float inputs are random (seeded), integer inputs 0 (valid token ids\n"
      "and positions whatever the vocabulary or cache). --expected compares every\n"
      "output with allclose: |out - exp| <= atol + rtol * |exp| (defaults 1e-4, 1e-4).\n");
  std::exit(2);
}

Options parse_args(int argc, char** argv) {
  Options o;
  auto value = [&](int& i) -> std::string {
    if (i + 1 >= argc) usage((std::string(argv[i]) + " needs a value").c_str());
    return argv[++i];
  };
  auto number = [&](int& i) -> double {
    std::string v = value(i);
    char* end = nullptr;
    double d = std::strtod(v.c_str(), &end);
    if (v.empty() || *end) usage(("bad number '" + v + "'").c_str());
    return d;
  };
  auto list = [&](int& i, std::vector<std::string>& out) {
    while (i + 1 < argc && std::strncmp(argv[i + 1], "--", 2) != 0) out.push_back(argv[++i]);
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--data") o.data = value(i);
    else if (a == "--inputs") list(i, o.inputs);
    else if (a == "--expected") list(i, o.expected);
    else if (a == "--atol") o.atol = number(i);
    else if (a == "--rtol") o.rtol = number(i);
    else if (a == "--iters") o.iters = static_cast<int>(number(i));
    else if (a == "--warmup") o.warmup = static_cast<int>(number(i));
    else if (a == "--seed") o.seed = static_cast<uint32_t>(number(i));
    else if (a == "--method") o.method = value(i);
    else if (a == "--save") o.save_dir = value(i);
    else if (a == "--json") o.json = true;
    else if (a == "--memory-report") o.memory_report = true;
    else if (a == "--profile") o.profile = true;
    else if (a == "--plugin") o.plugin = value(i);
    else if (a == "--loader") {
      std::string v = value(i);
      if (v == "mmap") o.mmap = true;
      else if (v == "file") o.mmap = false;
      else usage("--loader takes mmap or file");
    } else if (a == "-h" || a == "--help") usage(nullptr);
    else if (a.rfind("--", 0) == 0) usage(("unknown option " + a).c_str());
    else if (o.model.empty()) o.model = a;
    else usage(("unexpected argument " + a).c_str());
  }
  if (o.model.empty()) usage("no model given");
  if (o.iters < 0 || o.warmup < 0) usage("--iters and --warmup must be >= 0");
  return o;
}

// ---------------------------------------------------------------------------------------------
// Inputs and outputs

// Converts `a` to dtype `t` (element-wise through double) when they differ.
Array cast(const Array& a, ScalarType t) {
  if (a.type == t) return a;
  Array out;
  out.type = t;
  out.shape = a.shape;
  size_t n = a.numel();
  size_t es = dtype_info(t)->size;
  out.data.resize(n * es);
  for (size_t i = 0; i < n; ++i) store_elem(t, a.at(i), out.data.data() + i * es);
  return out;
}

bool is_float_type(ScalarType t) {
  return t == ScalarType::Float || t == ScalarType::Double || t == ScalarType::Half;
}

// A made-up input: uniform in [-1, 1) for floats, random for bools, 0 for integers.
Array random_array(ScalarType t, const std::vector<int64_t>& shape, std::mt19937& rng) {
  Array a;
  a.type = t;
  a.shape = shape;
  size_t n = a.numel();
  size_t es = dtype_info(t)->size;
  a.data.resize(n * es);
  std::uniform_real_distribution<double> real(-1.0, 1.0);
  std::uniform_int_distribution<int> bit(0, 1);
  for (size_t i = 0; i < n; ++i) {
    double v;
    if (is_float_type(t)) v = real(rng);
    else if (t == ScalarType::Bool) v = bit(rng);
    // Integer inputs are mostly indices (token ids, positions): only 0 is valid whatever the
    // vocabulary or cache size, which the program does not state.
    else v = 0;
    store_elem(t, v, a.data.data() + i * es);
  }
  return a;
}

Array from_tensor(const Tensor& t) {
  Array a;
  a.type = t.scalar_type();
  for (ssize_t d = 0; d < t.dim(); ++d) a.shape.push_back(t.size(d));
  const auto* p = static_cast<const uint8_t*>(t.const_data_ptr());
  a.data.assign(p, p + t.nbytes());
  return a;
}

struct Comparison {
  bool match = true;
  std::string message;
};

Comparison compare(const Array& out, const Array& exp, double atol, double rtol) {
  Comparison c;
  if (out.shape != exp.shape) {
    c.match = false;
    c.message = "shape " + shape_str(out.shape) + " != expected " + shape_str(exp.shape);
    return c;
  }
  size_t n = out.numel(), bad = 0, first_bad = 0;
  double max_abs = 0, max_rel = 0;
  for (size_t i = 0; i < n; ++i) {
    double a = out.at(i), b = exp.at(i);
    bool ok;
    if (std::isnan(a) || std::isnan(b)) ok = std::isnan(a) && std::isnan(b);
    else if (std::isinf(a) || std::isinf(b)) ok = a == b;
    else {
      double diff = std::fabs(a - b);
      ok = diff <= atol + rtol * std::fabs(b);
      max_abs = std::max(max_abs, diff);
      if (b != 0) max_rel = std::max(max_rel, diff / std::fabs(b));
    }
    if (!ok && bad++ == 0) first_bad = i;
  }
  std::ostringstream m;
  m << "max_abs_diff " << fmt_double(max_abs) << ", max_rel_diff " << fmt_double(max_rel);
  if (bad) {
    c.match = false;
    m << "; " << bad << "/" << n << " elements differ, first at flat index " << first_bad
      << ": got " << fmt_double(out.at(first_bad)) << ", expected "
      << fmt_double(exp.at(first_bad));
  }
  c.message = m.str();
  return c;
}

void summarize(FILE* f, size_t i, const Array& a) {
  size_t n = a.numel();
  double mn = INFINITY, mx = -INFINITY, sum = 0;
  size_t nan = 0;
  for (size_t k = 0; k < n; ++k) {
    double v = a.at(k);
    if (std::isnan(v)) {
      ++nan;
      continue;
    }
    mn = std::min(mn, v);
    mx = std::max(mx, v);
    sum += v;
  }
  std::fprintf(
      f,
      "output %zu: shape %s dtype %s",
      i,
      shape_str(a.shape).c_str(),
      dtype_name(a.type).c_str());
  if (n > nan) {
    std::fprintf(
        f,
        " min %s max %s mean %s",
        fmt_double(mn).c_str(),
        fmt_double(mx).c_str(),
        fmt_double(sum / double(n - nan)).c_str());
  }
  if (nan) std::fprintf(f, " nan %zu", nan);
  std::fprintf(f, "\n  first:");
  for (size_t k = 0; k < std::min<size_t>(n, 8); ++k) std::fprintf(f, " %s", fmt_double(a.at(k)).c_str());
  std::fprintf(f, n > 8 ? " ...\n" : "\n");
}

} // namespace

int main(int argc, char** argv) {
  Options opt = parse_args(argc, argv);
  g_json = opt.json;
  FILE* info = opt.json ? stderr : stdout; // with --json stdout carries only the JSON object
  executorch::runtime::runtime_init();
#ifdef ETVK_RUN_PLUGIN
  if (opt.plugin.empty()) die(2, "etvk_bench needs --plugin PLUGIN.so");
  void* lib = dlopen(opt.plugin.c_str(), RTLD_NOW | RTLD_GLOBAL);
  if (lib == nullptr) die(3, "cannot load " + opt.plugin + ": " + dlerror());
  g_etvk.memory_stats = reinterpret_cast<decltype(&etvk_memory_stats)>(dlsym(lib, "etvk_memory_stats"));
  g_etvk.last_error = reinterpret_cast<decltype(&etvk_last_error)>(dlsym(lib, "etvk_last_error"));
  g_etvk.set_profiling_default =
      reinterpret_cast<decltype(&etvk_set_profiling_default)>(dlsym(lib, "etvk_set_profiling_default"));
  g_etvk.profile = reinterpret_cast<decltype(&etvk_profile)>(dlsym(lib, "etvk_profile"));
#else
  if (!opt.plugin.empty()) die(2, "--plugin needs etvk_bench (etvk_run links its plugin)");
  g_etvk = EtvkApi{&etvk_memory_stats, &etvk_last_error, &etvk_set_profiling_default, &etvk_profile};
#endif
  g_last_error = g_etvk.last_error;
  // Every delegate this program loads then times each dispatch (GPU timestamps).
  if (opt.profile) {
    if (!g_etvk.set_profiling_default || !g_etvk.profile) die(2, "--profile: the plugin has no etvk profile");
    g_etvk.set_profiling_default(true);
  }

  if (executorch::runtime::get_backend_class("VulkanBackend") == nullptr) {
    die(3, "VulkanBackend is not registered (is libetvk_executorch.so linked --no-as-needed?)");
  }

  // Load the program and the method (backend init happens in load_method).
  double t0 = now_ms();
  auto mode = opt.mmap ? Module::LoadMode::Mmap : Module::LoadMode::File;
  std::unique_ptr<Module> module = opt.data.empty()
      ? std::make_unique<Module>(opt.model, mode)
      : std::make_unique<Module>(opt.model, opt.data, mode);
  // Full verification: a corrupted .pte is an error here, not a crash later inside
  // ExecuTorch (Minimal verification let method_meta and parse_values read out of bounds).
  Error err = module->load(Program::Verification::InternalConsistency);
  if (err != Error::Ok) die(3, "loading program " + opt.model + " failed (ExecuTorch error " + hex(err) + ")");
  auto meta_r = module->method_meta(opt.method);
  if (!meta_r.ok()) die(3, "method '" + opt.method + "' not found in " + opt.model);
  MethodMeta meta = meta_r.get();
  // Module allocates the planned buffers with new[]: sizes from a corrupted program would end
  // in std::bad_alloc (a terminate) instead of an error.
  uint64_t planned = 0;
  for (size_t i = 0; i < meta.num_memory_planned_buffers(); ++i) {
    auto size = meta.memory_planned_buffer_size(i);
    if (!size.ok() || size.get() < 0) die(3, "planned buffer " + std::to_string(i) + " has no valid size");
    const uint64_t bytes = static_cast<uint64_t>(size.get());
    planned = bytes > UINT64_MAX - planned ? UINT64_MAX : planned + bytes;
  }
  const uint64_t ram = static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);
  if (planned > ram) {
    die(3, "method '" + opt.method + "' plans " + std::to_string(planned) +
               " bytes of memory, more than this machine's " + std::to_string(ram));
  }
  err = module->load_method(opt.method);
  if (err != Error::Ok) {
    die(3, "loading method '" + opt.method + "' failed (ExecuTorch error " + hex(err) + ")" +
               etvk_reason());
  }
  double load_ms = now_ms() - t0;
  int64_t load_peak_rss = peak_rss_bytes();

  // etvk's own accounting, over every delegate this program loaded.
  EtvkMemoryStats mem{};
  if (g_etvk.memory_stats && g_etvk.memory_stats(nullptr, &mem) != ETVK_STATUS_OK) {
    die(3, std::string("etvk_memory_stats failed: ") + etvk_error_text());
  }
  if (opt.memory_report) print_memory_report(info, mem);

  std::string backends;
  for (size_t i = 0; i < meta.num_backends(); ++i) {
    auto name = meta.get_backend_name(i);
    if (name.ok()) backends += std::string(backends.empty() ? "" : ", ") + name.get();
  }
  std::fprintf(info, "model %s: method '%s', %zu inputs, %zu outputs, delegates: %s\n",
               opt.model.c_str(), opt.method.c_str(), meta.num_inputs(), meta.num_outputs(),
               backends.empty() ? "(none)" : backends.c_str());

  // Inputs: from .npy files, or random with the method's declared shapes and dtypes.
  if (!opt.inputs.empty() && opt.inputs.size() != meta.num_inputs()) {
    die(2, "got " + std::to_string(opt.inputs.size()) + " --inputs, the method takes " +
               std::to_string(meta.num_inputs()));
  }
  std::mt19937 rng(opt.seed);
  std::vector<Array> arrays;
  std::vector<TensorPtr> tensors;
  std::vector<EValue> inputs;
  for (size_t i = 0; i < meta.num_inputs(); ++i) {
    auto tag = meta.input_tag(i);
    if (!tag.ok()) die(3, "cannot read the tag of input " + std::to_string(i));
    std::string src = opt.inputs.empty() ? "random" : opt.inputs[i];
    if (tag.get() == Tag::Tensor) {
      auto tm = meta.input_tensor_meta(i);
      if (!tm.ok()) die(3, "cannot read the meta of input " + std::to_string(i));
      ScalarType t = tm->scalar_type();
      if (!dtype_info(t)) die(3, "input " + std::to_string(i) + " has unsupported dtype " + dtype_name(t));
      Array a;
      if (opt.inputs.empty()) {
        std::vector<int64_t> shape(tm->sizes().begin(), tm->sizes().end());
        a = random_array(t, shape, rng);
        if (!is_float_type(t) && t != ScalarType::Bool) {
          src = "zeros";
          std::fprintf(stderr,
                       "etvk_run: note: input %zu (%s) is all 0: the program does not say which "
                       "integers are valid (token ids, positions); pass --inputs for others\n",
                       i, dtype_name(t).c_str());
        }
      } else {
        a = read_npy(opt.inputs[i]);
        if (a.type != t) {
          std::fprintf(stderr, "etvk_run: note: input %zu: casting %s from %s to %s\n", i,
                       src.c_str(), dtype_name(a.type).c_str(), dtype_name(t).c_str());
          a = cast(a, t);
        }
      }
      arrays.push_back(std::move(a));
      Array& held = arrays.back();
      std::vector<executorch::aten::SizesType> sizes(held.shape.begin(), held.shape.end());
      tensors.push_back(executorch::extension::make_tensor_ptr(sizes, held.data.data(), t));
      inputs.emplace_back(*tensors.back());
      std::fprintf(info, "input %zu: shape %s dtype %s (%s)\n", i, shape_str(held.shape).c_str(),
                   dtype_name(t).c_str(), src.c_str());
    } else if (tag.get() == Tag::Int) {
      // As for integer tensors: 0 is the one value valid as an index or position.
      int64_t v = 0;
      if (!opt.inputs.empty()) {
        Array a = read_npy(opt.inputs[i]);
        if (a.numel() != 1) die(2, src + ": int input " + std::to_string(i) + " needs one element");
        v = static_cast<int64_t>(a.at(0));
      }
      inputs.emplace_back(v);
      std::fprintf(info, "input %zu: int %" PRId64 " (%s)\n", i, v, src.c_str());
    } else if (tag.get() == Tag::Double) {
      double v = opt.inputs.empty() ? 1.0 : read_npy(opt.inputs[i]).at(0);
      inputs.emplace_back(v);
      std::fprintf(info, "input %zu: double %s (%s)\n", i, fmt_double(v).c_str(), src.c_str());
    } else if (tag.get() == Tag::Bool) {
      bool v = opt.inputs.empty() ? false : read_npy(opt.inputs[i]).at(0) != 0;
      inputs.emplace_back(v);
      std::fprintf(info, "input %zu: bool %d (%s)\n", i, v, src.c_str());
    } else {
      die(3, "input " + std::to_string(i) + " has an unsupported EValue tag");
    }
  }

  // First execute, warmup, timed iterations.
  auto run_once = [&]() {
    auto r = module->execute(opt.method, inputs);
    if (!r.ok()) {
      die(3, "execute failed (ExecuTorch error " + hex(r.error()) + ")" + etvk_reason());
    }
    return std::move(r.get());
  };
  double t1 = now_ms();
  std::vector<EValue> outputs = run_once();
  double first_ms = now_ms() - t1;
  for (int i = 0; i < opt.warmup; ++i) outputs = run_once();
  std::vector<double> times;
  for (int i = 0; i < opt.iters; ++i) {
    double s = now_ms();
    outputs = run_once();
    times.push_back(now_ms() - s);
  }
  double median_ms = first_ms, min_ms = first_ms;
  if (!times.empty()) {
    std::sort(times.begin(), times.end());
    min_ms = times.front();
    size_t m = times.size() / 2;
    median_ms = times.size() % 2 ? times[m] : (times[m - 1] + times[m]) / 2;
  }

  // Outputs: summary, optional save, optional comparison.
  std::vector<Array> results;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const EValue& v = outputs[i];
    Array a;
    if (v.isTensor()) {
      a = from_tensor(v.toTensor());
      if (!dtype_info(a.type)) die(3, "output " + std::to_string(i) + " has unsupported dtype " + dtype_name(a.type));
    } else if (v.isInt() || v.isDouble() || v.isBool()) {
      a.type = v.isInt() ? ScalarType::Long : v.isDouble() ? ScalarType::Double : ScalarType::Bool;
      a.data.resize(dtype_info(a.type)->size);
      store_elem(a.type, v.isInt() ? double(v.toInt()) : v.isDouble() ? v.toDouble() : double(v.toBool()),
                 a.data.data());
    } else {
      die(3, "output " + std::to_string(i) + " is not a tensor or scalar");
    }
    summarize(info, i, a);
    if (!opt.save_dir.empty()) write_npy(opt.save_dir + "/output" + std::to_string(i) + ".npy", a);
    results.push_back(std::move(a));
  }

  int status = 0;
  std::string match_json = "null";
  if (!opt.expected.empty()) {
    bool all = true;
    if (opt.expected.size() != results.size()) {
      std::fprintf(stderr, "etvk_run: MISMATCH: %zu --expected files for %zu outputs\n",
                   opt.expected.size(), results.size());
      all = false;
    } else {
      for (size_t i = 0; i < results.size(); ++i) {
        Array exp = read_npy(opt.expected[i]);
        Comparison c = compare(results[i], exp, opt.atol, opt.rtol);
        std::fprintf(c.match ? info : stderr, "%s output %zu vs %s: %s\n",
                     c.match ? "match" : "etvk_run: MISMATCH", i, opt.expected[i].c_str(),
                     c.message.c_str());
        all = all && c.match;
      }
    }
    match_json = all ? "true" : "false";
    if (!all) status = 1;
  }

  // Per-dispatch GPU times of the last execute, over every delegate.
  std::vector<EtvkProfileEntry> profile;
  if (opt.profile) {
    size_t n = 0;
    if (g_etvk.profile(nullptr, nullptr, 0, &n) != ETVK_STATUS_OK) {
      die(3, std::string("etvk_profile failed: ") + etvk_error_text());
    }
    profile.resize(n);
    if (n > 0 && g_etvk.profile(nullptr, profile.data(), n, &n) != ETVK_STATUS_OK) {
      die(3, std::string("etvk_profile failed: ") + etvk_error_text());
    }
    profile.resize(std::min(n, profile.size()));
    print_profile(info, profile);
  }

  int64_t rss = peak_rss_bytes();
  // Split of the resident set after the last execute: anonymous pages (heap, device memory
  // on unified-memory drivers) and file-backed ones (shared-library code such as a JIT's).
  int64_t rss_anon = proc_status_bytes("RssAnon"), rss_file = proc_status_bytes("RssFile");
  std::fprintf(info, "load %.3f ms, first execute %.3f ms, median execute %.3f ms (min %.3f) over "
                     "%d iters, peak RSS %.1f MB\n",
               load_ms, first_ms, median_ms, min_ms, opt.iters, rss / 1e6);
  if (opt.json) {
    std::ostringstream j;
    j << "{\"model\": \"" << json_escape(opt.model) << "\", \"load_ms\": " << load_ms
      << ", \"first_execute_ms\": " << first_ms << ", \"median_execute_ms\": " << median_ms << ", \"min_execute_ms\": " << min_ms
      << ", \"iters\": " << opt.iters << ", \"peak_rss_bytes\": " << rss
      << ", \"load_peak_rss_bytes\": " << load_peak_rss << ", \"end_rss_anon_bytes\": " << rss_anon
      << ", \"end_rss_file_bytes\": " << rss_file << ", \"delegates\": " << mem.delegates
      << ", \"weights_bytes\": " << mem.weights_bytes
      << ", \"activations_bytes\": " << mem.activations_bytes
      << ", \"arena_bytes\": " << mem.arena_bytes
      << ", \"shared_objects_bytes\": " << mem.shared_objects_bytes
      << ", \"used_arena\": " << (mem.used_arena ? "true" : "false")
      << ", \"legacy_order\": " << (mem.legacy_order ? "true" : "false")
      << ", \"pipelines\": " << mem.pipelines << ", \"host_heap_peak_bytes\": " << mem.host_heap_peak
      << ", \"staging_ring_bytes\": " << mem.staging_ring_bytes
      << ", \"staging_peak_bytes\": " << mem.peak[ETVK_TAG_STAGING]
      << ", \"source_peak_bytes\": " << mem.peak[ETVK_TAG_SOURCE]
      << ", \"device_peak_bytes\": " << mem.device_peak
      << ", \"reserved_peak_bytes\": " << mem.reserved_peak
      << ", \"accounted_peak_bytes\": " << mem.total_peak << ", \"outputs\": [";
    for (size_t i = 0; i < results.size(); ++i) {
      j << (i ? ", " : "") << "{\"shape\": [";
      for (size_t d = 0; d < results[i].shape.size(); ++d) j << (d ? ", " : "") << results[i].shape[d];
      j << "], \"dtype\": \"" << dtype_name(results[i].type) << "\"}";
    }
    j << "], \"match\": " << match_json;
    if (opt.profile) {
      j << ", \"profile\": [";
      for (size_t i = 0; i < profile.size(); ++i) {
        const EtvkProfileEntry& e = profile[i];
        j << (i ? ", " : "") << "{\"op_index\": " << e.op_index << ", \"node_id\": " << e.node_id
          << ", \"op\": \"" << json_escape(e.op_name) << "\", \"kernel\": \""
          << json_escape(e.kernel) << "\", \"shapes\": \"" << json_escape(e.shapes)
          << "\", \"us\": " << e.busy_ns / 1000.0 << ", \"flops\": " << e.flops
          << ", \"bytes\": " << e.bytes << "}";
      }
      j << "]";
    }
    j << "}";
    std::printf("%s\n", j.str().c_str());
  }
  // Tear down explicitly so delegate destroy errors show up before exit.
  outputs.clear();
  inputs.clear();
  module.reset();
  return status;
}
