// The ExecuTorch side of etvk: a BackendInterface registered as "VulkanBackend" that forwards
// every call to the etvk C ABI (include/etvk.h, implemented in Rust).
//
// Built into libetvk_executorch.so together with the Rust static library. Loading that library
// into a process that uses libexecutorch.so (a runner linked with --no-as-needed, or
// ctypes.CDLL(path, RTLD_GLOBAL) after importing the Python bindings) registers the backend.

#include <algorithm>
#include <cinttypes>
#include <cstdint>
#include <cstring>
#include <new>
#include <string_view>
#include <vector>

#include <executorch/runtime/backend/interface.h>
#include <executorch/runtime/core/error.h>
#include <executorch/runtime/core/event_tracer_hooks_delegate.h>
#include <executorch/runtime/core/evalue.h>
#include <executorch/runtime/core/exec_aten/util/tensor_util.h>
#include <executorch/runtime/core/freeable_buffer.h>
#include <executorch/runtime/core/named_data_map.h>
#include <executorch/runtime/platform/log.h>

#include "etvk.h"

namespace etvk_shim {
namespace {

using executorch::aten::ScalarType;
using executorch::aten::SizesType;
using executorch::aten::Tensor;
using executorch::runtime::ArrayRef;
using executorch::runtime::Backend;
using executorch::runtime::BackendExecutionContext;
using executorch::runtime::BackendInitContext;
using executorch::runtime::BackendInterface;
using executorch::runtime::CompileSpec;
using executorch::runtime::DelegateHandle;
using executorch::runtime::Error;
using executorch::runtime::EValue;
using executorch::runtime::FreeableBuffer;
using executorch::runtime::NamedDataMap;
using executorch::runtime::Result;
using executorch::runtime::Span;

constexpr const char* kBackendName = "VulkanBackend";

Error to_error(uint32_t status) {
  return static_cast<Error>(status);
}

// Logs the failing call with etvk's message and returns the status as an ExecuTorch Error.
Error fail(const char* what, uint32_t status) {
  const char* msg = etvk_last_error();
  ET_LOG(
      Error,
      "etvk: %s failed (error 0x%" PRIx32 "): %s",
      what,
      status,
      (msg && msg[0]) ? msg : "(no message)");
  return to_error(status);
}

// ScalarType <-> VkDataType tag (ETVK_DTYPE_*). Returns false for dtypes etvk does not take.
bool to_etvk_dtype(ScalarType t, uint32_t* out) {
  switch (t) {
    case ScalarType::Bool:
      *out = ETVK_DTYPE_BOOL;
      return true;
    case ScalarType::Byte:
      *out = ETVK_DTYPE_UINT8;
      return true;
    case ScalarType::Char:
      *out = ETVK_DTYPE_INT8;
      return true;
    case ScalarType::Int:
      *out = ETVK_DTYPE_INT32;
      return true;
    case ScalarType::Half:
      *out = ETVK_DTYPE_FLOAT16;
      return true;
    case ScalarType::Float:
      *out = ETVK_DTYPE_FLOAT32;
      return true;
    case ScalarType::Double:
      *out = ETVK_DTYPE_FLOAT64;
      return true;
    case ScalarType::Long:
      *out = ETVK_DTYPE_INT64;
      return true;
    default:
      return false;
  }
}

// --- NamedDataMap adapter -------------------------------------------------------------------
// The token is a heap FreeableBuffer; release frees and deletes it. Neither callback may let a
// C++ exception escape into Rust, and release does not touch ctx (the map may be gone by then).

uint32_t named_get(
    void* ctx,
    const char* key,
    size_t key_len,
    const void** data,
    size_t* size,
    void** token) {
  try {
    const auto* map = static_cast<const NamedDataMap*>(ctx);
    Result<FreeableBuffer> r = map->get_data(std::string_view(key, key_len));
    if (!r.ok()) {
      return static_cast<uint32_t>(r.error());
    }
    auto* buf = new (std::nothrow) FreeableBuffer(std::move(r.get()));
    if (buf == nullptr) {
      return static_cast<uint32_t>(Error::MemoryAllocationFailed);
    }
    *data = buf->data();
    *size = buf->size();
    *token = buf;
    return static_cast<uint32_t>(Error::Ok);
  } catch (...) {
    return static_cast<uint32_t>(Error::Internal);
  }
}

void named_release(void* /*ctx*/, void* token) {
  auto* buf = static_cast<FreeableBuffer*>(token);
  if (buf != nullptr) {
    buf->Free();
    delete buf;
  }
}

// --- The backend ----------------------------------------------------------------------------

class EtvkBackend final : public BackendInterface {
 public:
  ~EtvkBackend() override = default;

  bool is_available() const override {
    if (etvk_is_available()) {
      return true;
    }
    // ExecuTorch only says "not available"; say why (e.g. ETVK_DEVICE matching no device).
    const char* msg = etvk_last_error();
    ET_LOG(
        Error,
        "etvk: no usable Vulkan device: %s",
        (msg && msg[0]) ? msg : "(no message)");
    return false;
  }

  Result<DelegateHandle*> init(
      BackendInitContext& context,
      FreeableBuffer* processed,
      ArrayRef<CompileSpec> compile_specs) const override {
    if (processed == nullptr || processed->data() == nullptr) {
      ET_LOG(Error, "etvk: init got no delegate blob");
      return Error::InvalidArgument;
    }
    std::vector<EtvkCompileSpec> specs(compile_specs.size());
    for (size_t i = 0; i < compile_specs.size(); ++i) {
      specs[i].key = compile_specs[i].key;
      specs[i].value = compile_specs[i].value.buffer;
      specs[i].value_len = compile_specs[i].value.nbytes;
    }

    EtvkNamedData named{};
    const NamedDataMap* map = context.get_named_data_map();
    if (map != nullptr) {
      named.ctx = const_cast<NamedDataMap*>(map);
      named.get = &named_get;
      named.release = &named_release;
    }

    EtvkDelegate* handle = nullptr;
    uint32_t status = etvk_init(
        processed->data(),
        processed->size(),
        map != nullptr ? &named : nullptr,
        specs.data(),
        specs.size(),
        &handle);
    // etvk copies what it needs; the blob is not referenced after init.
    processed->Free();
    if (status != ETVK_STATUS_OK) {
      return fail("init", status);
    }
    // The handle is the etvk delegate itself; destroy() hands it back to etvk_destroy.
    return static_cast<DelegateHandle*>(handle);
  }

  // Logs the last execute's dispatches as delegate events: the exporter's operator node id is
  // the delegate debug id (its debug handle map is keyed by it), the kernel name the metadata.
  static void log_profile(executorch::runtime::EventTracer* tracer, EtvkDelegate* handle) {
    size_t n = 0;
    if (etvk_profile(handle, nullptr, 0, &n) != ETVK_STATUS_OK || n == 0) return;
    std::vector<EtvkProfileEntry> entries(n);
    if (etvk_profile(handle, entries.data(), n, &n) != ETVK_STATUS_OK) return;
    for (size_t i = 0; i < std::min(n, entries.size()); ++i) {
      const EtvkProfileEntry& e = entries[i];
      executorch::runtime::event_tracer_log_profiling_delegate(
          tracer,
          nullptr,
          static_cast<executorch::runtime::DebugHandle>(e.node_id),
          static_cast<et_timestamp_t>(e.start_ns),
          static_cast<et_timestamp_t>(e.end_ns),
          e.kernel,
          std::strlen(e.kernel));
    }
  }

  Error execute(
      BackendExecutionContext& context,
      DelegateHandle* raw_handle,
      Span<EValue*> args) const override {
    auto* handle = static_cast<EtvkDelegate*>(raw_handle);
    if (handle == nullptr) {
      ET_LOG(Error, "etvk: execute on a null delegate handle");
      return Error::DelegateInvalidHandle;
    }
    // With an event tracer (ETDump), every dispatch is timed on the GPU and logged below.
    executorch::runtime::EventTracer* tracer = context.event_tracer();
    if (tracer != nullptr && etvk_set_profiling(handle, true) != ETVK_STATUS_OK) {
      ET_LOG(Info, "etvk: no per-dispatch profile: %s", etvk_last_error());
      tracer = nullptr;
    }
    const size_t n_in = etvk_num_inputs(handle);
    const size_t n_out = etvk_num_outputs(handle);
    if (args.size() != n_in + n_out) {
      ET_LOG(
          Error,
          "etvk: execute got %zu args, the delegate takes %zu inputs + %zu outputs",
          args.size(),
          n_in,
          n_out);
      return Error::InvalidArgument;
    }

    std::vector<EtvkTensor> tensors(args.size(), EtvkTensor{});
    for (size_t i = 0; i < args.size(); ++i) {
      EValue* v = args[i];
      EtvkTensor& t = tensors[i];
      const bool is_input = i < n_in;
      if (v == nullptr) {
        ET_LOG(Error, "etvk: arg %zu is null", i);
        return Error::InvalidArgument;
      }
      if (is_input && v->isInt()) {
        t.kind = ETVK_KIND_INT;
        t.int_value = v->toInt();
        continue;
      }
      if (!v->isTensor()) {
        ET_LOG(
            Error,
            "etvk: %s %zu is not a tensor%s (tag %d)",
            is_input ? "input" : "output",
            is_input ? i : i - n_in,
            is_input ? " or int" : "",
            static_cast<int>(v->tag));
        return Error::InvalidArgument;
      }
      const Tensor& tensor = v->toTensor();
      if (!to_etvk_dtype(tensor.scalar_type(), &t.dtype)) {
        ET_LOG(
            Error,
            "etvk: arg %zu has unsupported dtype %s",
            i,
            executorch::runtime::toString(tensor.scalar_type()));
        return Error::InvalidType;
      }
      if (static_cast<size_t>(tensor.dim()) > ETVK_MAX_DIMS) {
        ET_LOG(Error, "etvk: arg %zu has %zd dims (max %d)", i, tensor.dim(), ETVK_MAX_DIMS);
        return Error::NotSupported;
      }
      if (!executorch::runtime::tensor_is_default_dim_order(tensor)) {
        ET_LOG(Error, "etvk: arg %zu is not in default (contiguous) dim order", i);
        return Error::NotSupported;
      }
      t.kind = ETVK_KIND_TENSOR;
      if (is_input) {
        t.ndim = static_cast<uint32_t>(tensor.dim());
        for (ssize_t d = 0; d < tensor.dim(); ++d) {
          t.sizes[d] = tensor.size(d);
        }
        t.data = const_cast<void*>(tensor.const_data_ptr());
        t.nbytes = tensor.nbytes();
      } else {
        // Sizes only: outputs are resized below before the data is read.
        t.data = nullptr;
        t.nbytes = 0;
      }
    }

    uint32_t status = etvk_execute(handle, tensors.data(), n_in, tensors.data() + n_in, n_out);
    if (status != ETVK_STATUS_OK) {
      return fail("execute", status);
    }
    if (tracer != nullptr) log_profile(tracer, handle);

    for (size_t o = 0; o < n_out; ++o) {
      const EtvkTensor& t = tensors[n_in + o];
      Tensor& out = args[n_in + o]->toTensor();
      SizesType sizes[ETVK_MAX_DIMS];
      for (uint32_t d = 0; d < t.ndim; ++d) {
        if (t.sizes[d] < 0 || t.sizes[d] > INT32_MAX) {
          ET_LOG(Error, "etvk: output %zu size %" PRId64 " out of range", o, t.sizes[d]);
          return Error::InvalidState;
        }
        sizes[d] = static_cast<SizesType>(t.sizes[d]);
      }
      Error err = executorch::runtime::resize_tensor(out, ArrayRef<SizesType>(sizes, t.ndim));
      if (err != Error::Ok) {
        ET_LOG(
            Error,
            "etvk: cannot resize output %zu (dim %zd) to %u dims (error 0x%x)",
            o,
            out.dim(),
            t.ndim,
            static_cast<unsigned>(err));
        return err;
      }
      status = etvk_read_output(handle, o, t.dtype, out.mutable_data_ptr(), out.nbytes());
      if (status != ETVK_STATUS_OK) {
        return fail("read_output", status);
      }
    }
    return Error::Ok;
  }

  void destroy(DelegateHandle* handle) const override {
    etvk_destroy(static_cast<EtvkDelegate*>(handle));
  }
};

EtvkBackend g_backend;

struct Registrar {
  Registrar() {
    Error err = executorch::runtime::register_backend(Backend{kBackendName, &g_backend});
    if (err != Error::Ok) {
      // The first registration of a name wins (e.g. another Vulkan backend already loaded).
      ET_LOG(
          Error,
          "etvk: register_backend(\"%s\") failed (error 0x%x); another backend of that name "
          "is registered",
          kBackendName,
          static_cast<unsigned>(err));
    }
  }
};

Registrar g_registrar;

} // namespace
} // namespace etvk_shim
