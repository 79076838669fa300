# sluice_native: the thin, batched native boundary of the packet path (STYLE.md §8).
# Built by native/build.sh (node-gyp rebuild --directory native).
{
  "variables": {
    # 1 when libdpdk's pkg-config file is present at build time: then src/dpdk.cc joins the build
    # (cflags and libs from pkg-config) and the addon reports features.dpdk. Without it the addon
    # still builds, with the tap backend only (sluice doctor says what to install).
    "sluice_have_libdpdk%": "<!(pkg-config --exists libdpdk && echo 1 || echo 0)",
    # 1 when libbpf's pkg-config file is present: the XDP loader (src/xdp.cc) is compiled in.
    "sluice_have_libbpf%": "<!(pkg-config --exists libbpf && echo 1 || echo 0)"
  },
  "targets": [
    {
      "target_name": "sluice_native",
      "sources": [
        "src/addon.cc",
        "src/checksum.cc",
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
        "SLUICE_HAVE_LIBDPDK=<(sluice_have_libdpdk)",
        "SLUICE_HAVE_LIBBPF=<(sluice_have_libbpf)"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags": ["-Wall", "-Wextra", "-O2"],
      "cflags_cc": ["-Wall", "-Wextra", "-O2", "-std=c++17", "-fno-exceptions"],
      "conditions": [
        ["sluice_have_libbpf==1", {
          "sources": ["src/xdp.cc"],
          "cflags_cc": ["<!@(pkg-config --cflags libbpf)"],
          "libraries": ["<!@(pkg-config --libs libbpf)"]
        }],
        ["sluice_have_libdpdk==1", {
          # flow.cc: the packet filter's rules in the NIC through rte_flow (src/io/flow.ts).
          "sources": ["src/dpdk.cc", "src/flow.cc"],
          # DPDK's flags include -include rte_config.h and -march; both apply to dpdk.cc and
          # flow.cc only in effect (the other files include no DPDK header), and -march matches
          # what libdpdk was built for, which its inline burst functions need.
          "cflags_cc": ["<!@(pkg-config --cflags libdpdk)"],
          "libraries": ["<!@(pkg-config --libs libdpdk)"],
          "defines": ["SLUICE_HAVE_DPDK=1"]
        }]
      ]
    }
  ]
}
