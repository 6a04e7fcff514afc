"""A C++ toolchain config that compiles nothing, for linux arm64 targets.

Bazel 4's native py_binary asks for a C++ toolchain of the target platform
even when nothing is compiled; this machine has none for arm64. Tests that
build workspaces (tests/image_ws, example/oci) register it with --extra_toolchains.
"""

def _impl(ctx):
    # buildifier: disable=native-cc-common
    return cc_common.create_cc_toolchain_config_info(
        ctx = ctx,
        toolchain_identifier = "stub-linux-arm64",
        host_system_name = "local",
        target_system_name = "aarch64-unknown-linux-gnu",
        target_cpu = "aarch64",
        target_libc = "glibc",
        compiler = "stub",
        abi_version = "stub",
        abi_libc_version = "stub",
    )

stub_cc_toolchain_config = rule(
    implementation = _impl,
    provides = [CcToolchainConfigInfo],
)
