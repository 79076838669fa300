# bench/proxy-lib.sh: what the proxy benchmarks share (sourced by bench/proxy.sh and
# bench/proxy-cpu.sh, so both measure the same gateway the same way).

# free_ports N: N ephemeral ports the kernel hands out on 127.0.0.1, released just before use.
free_ports() {
  node -e '
    const net = require("node:net");
    const n = Number(process.argv[1]); const servers = [];
    (async () => {
      for (let i = 0; i < n; i++) {
        const s = net.createServer();
        await new Promise((r) => s.listen(0, "127.0.0.1", r));
        servers.push(s);
      }
      console.log(servers.map((s) => s.address().port).join(" "));
      for (const s of servers) s.close();
    })();' "$1"
}

# The Sluice config: one TLS 1.3 listener on 127.0.0.1 with the bench certificate, every path
# proxied to one upstream, access log off.
# sluice_proxy_config PORT ADMIN_PORT UPSTREAM_PORT CERT KEY > sluice.yaml
sluice_proxy_config() {
  cat <<EOF2
listeners:
  - name: bench
    address: 127.0.0.1
    port: $1
    transport: kernel
    tls:
      certificates:
        - cert: $4
          key: $5
      alpn: [http/1.1]
      min_version: TLSv1.3
routes:
  - name: all
    match:
      path:
        prefix: /
    proxy:
      cluster: upstream
clusters:
  - name: upstream
    endpoints: ["127.0.0.1:$3"]
    max_connections: 64
admin:
  address: 127.0.0.1
  port: $2
logging:
  level: warn
  access_log: false
EOF2
}
