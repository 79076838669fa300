# bench/proxy-config.sh: the Sluice config of the proxy benchmarks (sourced by bench/proxy.sh and
# bench/proxy-cpu.sh, so both measure the same gateway): one TLS 1.3 listener on 127.0.0.1 with
# the bench certificate, every path proxied to one upstream, access log off.
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
