"""Test double of rules_docker v0.25.0 `container/providers.bzl` (tests only).

The providers other rules see: a layer (`LayerInfo`), an image
(`ImageInfo`) and the stamp setting (`StampSettingInfo`). Field names follow
upstream where the double fills them; the double's images are OCI layouts.
"""

LayerInfo = provider(
    doc = "A container_layer: its uncompressed tar and the env it adds to the config.",
    fields = ["unzipped_layer", "env"],
)

ImageInfo = provider(
    doc = "A container_image: its OCI layout (double only), run flags and run behaviour.",
    fields = ["layout", "legacy_run_behavior", "docker_run_flags"],
)

StampSettingInfo = provider(
    doc = "Whether stamping is on for the rules that take `stamp`.",
    fields = ["value"],
)
