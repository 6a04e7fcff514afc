"""Test double of rules_docker v0.25.0 `stamp/stamp.bzl`: the stamp_setting rule."""

load("//container:providers.bzl", "StampSettingInfo")

def _stamp_setting_impl(ctx):
    return [StampSettingInfo(value = ctx.attr.stamp)]

stamp_setting = rule(
    implementation = _stamp_setting_impl,
    attrs = {"stamp": attr.bool(mandatory = True)},
)
