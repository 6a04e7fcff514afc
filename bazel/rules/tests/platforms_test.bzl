"""Unit tests of the platform table (bazel/rules/private/platforms.bzl)."""

load("@bazel_skylib//lib:unittest.bzl", "asserts", "unittest")
load("//bazel/rules/private:platforms.bzl", "DEFAULT_PLATFORM", "PLATFORMS", "platform_config")

def _known_platforms_test_impl(ctx):
    env = unittest.begin(ctx)
    cases = {
        "//bazel/platforms:linux_x86_64": ("linux", "amd64", "", "x86_64"),
        "@pycross_image//bazel/platforms:linux_arm64": ("linux", "arm64", "v8", "arm64"),
        "//my:linux_aarch64_gpu": ("linux", "arm64", "v8", "arm64"),
        "//my/amd64": ("linux", "amd64", "", "x86_64"),
        Label("//bazel/platforms:linux_arm64"): ("linux", "arm64", "v8", "arm64"),
    }
    for platform, want in cases.items():
        got = platform_config(platform)
        asserts.true(env, got != None, "no config for %s" % platform)
        asserts.equals(env, want, (got.os, got.architecture, got.variant, got.cpu))
    asserts.equals(env, "x86_64", platform_config(DEFAULT_PLATFORM).cpu)
    return unittest.end(env)

def _unknown_platforms_test_impl(ctx):
    env = unittest.begin(ctx)

    # Only the target name counts: a cpu in the package path does not.
    for platform in ["//my:linux_riscv64", "//arm64:linux", "//x86_64/p:windows"]:
        asserts.equals(env, None, platform_config(platform), "config for %s" % platform)
    return unittest.end(env)

def _table_test_impl(ctx):
    env = unittest.begin(ctx)

    # Every cpu the image config can name is a @platforms//cpu value
    # py_image_binary checks (its _cpu_* attributes).
    asserts.equals(env, ["arm64", "x86_64"], sorted({c.cpu: 1 for _, c in PLATFORMS}.keys()))
    for token, config in PLATFORMS:
        asserts.true(env, config.architecture in ["amd64", "arm64"], token)
    return unittest.end(env)

known_platforms_test = unittest.make(_known_platforms_test_impl)
unknown_platforms_test = unittest.make(_unknown_platforms_test_impl)
table_test = unittest.make(_table_test_impl)

def platforms_test_suite(name):
    unittest.suite(name, known_platforms_test, unknown_platforms_test, table_test)
