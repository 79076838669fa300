# sluice_native: the thin, batched native boundary of the packet path (STYLE.md §8).
# Built by native/build.sh (node-gyp rebuild --directory native).
{
  "variables": {
    # 1 when libdpdk's pkg-config file is present at build time. Nothing uses DPDK yet: the dpdk
    # port (src/dpdk_port.cc, cflags/libs from pkg-config) joins the "conditions" below in its own
    # issue, so this addon must (and does) build with libdpdk-dev absent.
    "sluice_have_libdpdk%": "<!(pkg-config --exists libdpdk && echo 1 || echo 0)"
  },
  "targets": [
    {
      "target_name": "sluice_native",
      "sources": [
        "src/addon.cc",
        "src/errors.cc",
        "src/tap.cc",
        "src/waiter.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      # C++ exceptions stay off: every failure path sets a pending JS error and returns, which
      # keeps the per-burst code free of unwinding tables and makes each error site explicit.
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_DISABLE_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "SLUICE_HAVE_LIBDPDK=<(sluice_have_libdpdk)"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags": ["-Wall", "-Wextra", "-O2"],
      "cflags_cc": ["-Wall", "-Wextra", "-O2", "-std=c++17", "-fno-exceptions"],
      "conditions": [
        # ["sluice_have_libdpdk==1", {
        #   "sources": ["src/dpdk_port.cc"],
        #   "cflags_cc": ["<!@(pkg-config --cflags libdpdk)"],
        #   "libraries": ["<!@(pkg-config --libs libdpdk)"],
        #   "defines": ["SLUICE_WITH_DPDK=1"]
        # }]
      ]
    }
  ]
}
