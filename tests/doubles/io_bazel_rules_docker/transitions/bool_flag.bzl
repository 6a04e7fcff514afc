"""Test double of bazel_skylib's `rules/common_settings.bzl` `bool_flag` (1.x), for rules_docker v0.25.0 `transitions/BUILD`.

rules_docker loads it from @bazel_skylib; the double has it here so test
workspaces need no skylib.
"""

BuildSettingInfo = provider(doc = "The value of a build setting.", fields = ["value"])

def _impl(ctx):
    return [BuildSettingInfo(value = ctx.build_setting_value)]

bool_flag = rule(
    implementation = _impl,
    build_setting = config.bool(flag = True),
)
