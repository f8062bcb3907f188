"""etvk: the Vulkan backend for ExecuTorch, as a Python package.

    import etvk   # registers "VulkanBackend" in ExecuTorch's Python bindings
    from executorch.extension.pybindings.portable_lib import _load_for_executorch
    module = _load_for_executorch("model.pte")   # a program exported with VulkanPartitioner

Importing loads the bindings (so libexecutorch.so is in the process), then the plugin
libetvk_executorch.so shipped in this package with RTLD_GLOBAL: its static initializer
registers the backend into that libexecutorch.so.
"""

import ctypes
import os

# First: the plugin resolves libexecutorch.so to the copy the bindings loaded.
from executorch.extension.pybindings import portable_lib as _portable_lib

BACKEND_NAME = "VulkanBackend"
PLUGIN_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "libetvk_executorch.so")

_plugin = ctypes.CDLL(PLUGIN_PATH, mode=ctypes.RTLD_GLOBAL)
_plugin.etvk_is_available.restype = ctypes.c_bool
_plugin.etvk_is_available.argtypes = []
_plugin.etvk_last_error.restype = ctypes.c_char_p
_plugin.etvk_last_error.argtypes = []

if BACKEND_NAME not in _portable_lib._get_registered_backend_names():
    raise ImportError(f"etvk: {PLUGIN_PATH} loaded but {BACKEND_NAME} is not registered")


def is_available() -> bool:
    """True when a Vulkan device with compute support can be used (ETVK_DEVICE applies)."""
    return bool(_plugin.etvk_is_available())


def last_error() -> str:
    """etvk's message for the last failure on this thread ("" when none)."""
    msg = _plugin.etvk_last_error()
    return msg.decode("utf-8", "replace") if msg else ""


__all__ = ["BACKEND_NAME", "PLUGIN_PATH", "is_available", "last_error"]
