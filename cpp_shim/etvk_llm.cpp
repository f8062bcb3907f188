// etvk_llm: token generation with a Llama program from export_llama (KV cache inside the
// program), through ExecuTorch's Module API with the etvk plugin, for the LLM benchmark.
//
//   etvk_llm MODEL.pte [--prompt-len N] [--new-tokens N] [--seed S] [--json] [--profile]
//
// forward(tokens int64 [1, S], input_pos int64 [1]) -> logits [1, vocab] of the last token.
// A one-token call first (pipelines, first-use costs; it also gives the vocabulary size),
// then a prefill of --prompt-len random tokens at position 0 and --new-tokens greedy decode
// steps (argmax of the last logits), each timed. Prints load time, etvk's accounted memory,
// peak RSS, prefill and decode tokens/s. The program is loaded with ExecuTorch's
// InternalConsistency verification. --profile times every dispatch on the GPU and prints the
// last decode step's dispatches (GPU time per op and kernel). Exit status: 0 ok, 2 usage,
// 3 load or execute error.

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
#include <string>
#include <vector>

#include <dlfcn.h>

#include <executorch/extension/module/module.h>
#include <executorch/extension/tensor/tensor_ptr.h>
#include <executorch/runtime/backend/interface.h>
#include <executorch/runtime/core/evalue.h>
#include <executorch/runtime/platform/runtime.h>

#include "etvk.h"

using executorch::aten::ScalarType;
using executorch::extension::TensorPtr;
using executorch::extension::module::Module;
using executorch::runtime::Error;
using executorch::runtime::EValue;
using executorch::runtime::Program;

namespace {

[[noreturn]] void die(int code, const std::string& msg) {
  const char* why = etvk_last_error();
  std::fprintf(stderr, "etvk_llm: %s%s%s\n", msg.c_str(), why && why[0] ? ": etvk: " : "",
               why && why[0] ? why : "");
  std::exit(code);
}

double now_ms() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

// A byte count from /proc/self/status ("VmHWM", ...), or -1.
int64_t proc_status_bytes(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  size_t n = std::strlen(key);
  while (std::getline(f, line)) {
    if (line.compare(0, n, key) == 0 && line.size() > n && line[n] == ':') {
      return std::atoll(line.c_str() + n + 1) * 1024;
    }
  }
  return -1;
}

struct Options {
  std::string model;
  int prompt_len = 128;
  int new_tokens = 64;
  uint32_t seed = 0;
  bool json = false;
  bool profile = false;
};

[[noreturn]] void usage(const char* why) {
  if (why) std::fprintf(stderr, "etvk_llm: %s\n", why);
  std::fprintf(stderr,
               "usage: etvk_llm MODEL.pte [--prompt-len N] [--new-tokens N] [--seed S] [--json] "
               "[--profile]\n");
  std::exit(2);
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto number = [&]() -> long {
      if (i + 1 >= argc) usage((a + " needs a value").c_str());
      char* end = nullptr;
      long v = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || v < 0) usage((a + " needs a non-negative integer").c_str());
      return v;
    };
    if (a == "--prompt-len") o.prompt_len = static_cast<int>(number());
    else if (a == "--new-tokens") o.new_tokens = static_cast<int>(number());
    else if (a == "--seed") o.seed = static_cast<uint32_t>(number());
    else if (a == "--json") o.json = true;
    else if (a == "--profile") o.profile = true;
    else if (a == "-h" || a == "--help") usage(nullptr);
    else if (a.rfind("--", 0) == 0) usage(("unknown option " + a).c_str());
    else if (o.model.empty()) o.model = a;
    else usage(("unexpected argument " + a).c_str());
  }
  if (o.model.empty()) usage("no model given");
  if (o.prompt_len < 1) usage("--prompt-len must be at least 1");
  return o;
}

// One forward call: tokens at position `pos`; returns the logits of the last token.
std::vector<float> forward(Module& m, const std::vector<int64_t>& tokens, int64_t pos) {
  std::vector<int64_t> toks = tokens;
  std::vector<int64_t> p{pos};
  TensorPtr t = executorch::extension::make_tensor_ptr(
      {1, static_cast<executorch::aten::SizesType>(toks.size())}, toks.data(), ScalarType::Long);
  TensorPtr tp = executorch::extension::make_tensor_ptr({1}, p.data(), ScalarType::Long);
  std::vector<EValue> inputs{EValue(*t), EValue(*tp)};
  auto r = m.execute("forward", inputs);
  if (!r.ok()) die(3, "forward at position " + std::to_string(pos) + " failed");
  const auto& out = r.get();
  if (out.empty() || !out[0].isTensor()) die(3, "forward returned no logits tensor");
  const auto& logits = out[0].toTensor();
  if (logits.scalar_type() != ScalarType::Float) die(3, "logits are not float32");
  size_t vocab = static_cast<size_t>(logits.size(logits.dim() - 1));
  const float* d = logits.const_data_ptr<float>();
  // The last row (a program returning every position's logits gives [1, S, vocab]).
  size_t rows = static_cast<size_t>(logits.numel()) / vocab;
  return std::vector<float>(d + (rows - 1) * vocab, d + rows * vocab);
}

int64_t argmax(const std::vector<float>& v) {
  return std::max_element(v.begin(), v.end()) - v.begin();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse_args(argc, argv);
  executorch::runtime::runtime_init();
  // ExecuTorch's CPU kernels for ops the partitioner left on CPU (a 1B model's 1 GB fp32
  // embedding table, for one), when the library is there: loaded, not linked, so the binary
  // also runs where only the plugin and libexecutorch.so were carried.
  if (dlopen("libexecutorch_kernels_optimized.so", RTLD_NOW | RTLD_GLOBAL) == nullptr) {
    std::fprintf(stderr, "etvk_llm: note: no CPU kernels (%s); programs with ops left on CPU "
                         "will not load\n", dlerror());
  }
  if (executorch::runtime::get_backend_class("VulkanBackend") == nullptr) {
    die(3, "VulkanBackend is not registered");
  }
  if (o.profile) etvk_set_profiling_default(true);
  double t0 = now_ms();
  Module module(o.model, Module::LoadMode::Mmap);
  if (module.load(Program::Verification::InternalConsistency) != Error::Ok) {
    die(3, "loading program " + o.model + " failed");
  }
  if (module.load_method("forward") != Error::Ok) die(3, "loading method forward failed");
  double load_ms = now_ms() - t0;
  int64_t load_rss = proc_status_bytes("VmHWM");
  EtvkMemoryStats mem{};
  if (etvk_memory_stats(nullptr, &mem) != ETVK_STATUS_OK) die(3, "etvk_memory_stats failed");

  // Warm-up: one token at position 0 (the prefill below writes that position again).
  double t1 = now_ms();
  size_t vocab = forward(module, {0}, 0).size();
  double first_ms = now_ms() - t1;

  std::mt19937 rng(o.seed);
  std::uniform_int_distribution<int64_t> token(0, static_cast<int64_t>(vocab) - 1);
  std::vector<int64_t> prompt(o.prompt_len);
  for (auto& t : prompt) t = token(rng);
  double t2 = now_ms();
  std::vector<float> logits = forward(module, prompt, 0);
  double prefill_ms = now_ms() - t2;

  std::vector<double> steps;
  std::vector<int64_t> generated;
  int64_t pos = o.prompt_len;
  for (int i = 0; i < o.new_tokens; ++i) {
    int64_t next = argmax(logits);
    generated.push_back(next);
    double s = now_ms();
    logits = forward(module, {next}, pos++);
    steps.push_back(now_ms() - s);
  }
  double decode_ms = 0;
  for (double s : steps) decode_ms += s;
  int64_t rss = proc_status_bytes("VmHWM");
  double prefill_tps = o.prompt_len / (prefill_ms / 1e3);
  double decode_tps = steps.empty() ? 0.0 : steps.size() / (decode_ms / 1e3);

  // The last decode step's dispatches.
  std::vector<EtvkProfileEntry> profile;
  if (o.profile) {
    size_t n = 0;
    if (etvk_profile(nullptr, nullptr, 0, &n) != ETVK_STATUS_OK) die(3, "etvk_profile failed");
    profile.resize(n);
    if (n > 0 && etvk_profile(nullptr, profile.data(), n, &n) != ETVK_STATUS_OK) {
      die(3, "etvk_profile failed");
    }
    profile.resize(std::min(n, profile.size()));
  }

  FILE* info = o.json ? stderr : stdout;
  std::fprintf(info,
               "model %s: vocab %zu, load %.1f ms (peak RSS %.1f MB), first 1-token call %.2f ms\n",
               o.model.c_str(), vocab, load_ms, load_rss / 1e6, first_ms);
  std::fprintf(info, "etvk: W %.2f MB, A %.2f MB, accounted peak %.2f MB (%s order)\n",
               mem.weights_bytes / 1e6, mem.activations_bytes / 1e6, mem.total_peak / 1e6,
               mem.legacy_order ? "legacy" : "lazy");
  std::fprintf(info, "prefill %d tokens: %.2f ms (%.1f tokens/s)\n", o.prompt_len, prefill_ms,
               prefill_tps);
  std::fprintf(info,
               "decode %d tokens: %.2f ms (%.1f tokens/s, median step %.3f ms), peak RSS %.1f MB\n",
               o.new_tokens, decode_ms, decode_tps, median(steps), rss / 1e6);
  if (o.profile) {
    double total = 0;
    for (const auto& e : profile) total += e.busy_ns / 1e3;
    std::fprintf(info, "last decode step: %zu dispatches, %.1f us of GPU time\n", profile.size(),
                 total);
    for (const auto& e : profile) {
      std::fprintf(info, "  %4u  %-36s %-22s %9.1f us  %s\n", e.op_index, e.op_name, e.kernel,
                   e.busy_ns / 1e3, e.shapes);
    }
  }
  if (o.json) {
    std::printf(
        "{\"model\": \"%s\", \"vocab\": %zu, \"load_ms\": %.3f, \"load_peak_rss_bytes\": %" PRId64
        ", \"first_call_ms\": %.3f, \"weights_bytes\": %" PRIu64 ", \"activations_bytes\": %" PRIu64
        ", \"accounted_peak_bytes\": %" PRIu64 ", \"legacy_order\": %s, \"prompt_len\": %d"
        ", \"prefill_ms\": %.3f, \"prefill_tokens_per_s\": %.3f, \"new_tokens\": %d"
        ", \"decode_ms\": %.3f, \"decode_tokens_per_s\": %.3f, \"median_step_ms\": %.4f"
        ", \"peak_rss_bytes\": %" PRId64 ", \"generated\": [",
        o.model.c_str(), vocab, load_ms, load_rss, first_ms,
        static_cast<uint64_t>(mem.weights_bytes), static_cast<uint64_t>(mem.activations_bytes),
        static_cast<uint64_t>(mem.total_peak), mem.legacy_order ? "true" : "false", o.prompt_len,
        prefill_ms, prefill_tps, o.new_tokens, decode_ms, decode_tps, median(steps), rss);
    for (size_t i = 0; i < generated.size(); ++i) {
      std::printf("%s%" PRId64, i ? ", " : "", generated[i]);
    }
    std::printf("], \"profile\": [");
    for (size_t i = 0; i < profile.size(); ++i) {
      const auto& e = profile[i];
      std::printf("%s{\"op_index\": %u, \"op\": \"%s\", \"kernel\": \"%s\", \"us\": %.3f}",
                  i ? ", " : "", e.op_index, e.op_name, e.kernel, e.busy_ns / 1e3);
    }
    std::printf("]}\n");
  }
  return 0;
}
