#!/bin/bash
# Container health probe for the mcpgateway image, without curl or wget in the image: one
# HTTP/1.0 GET over bash's /dev/tcp to the gateway on loopback.
#
#   healthcheck [PATH]    PATH defaults to /health (liveness); use /ready for readiness.
#
# Exits 0 when the answer's status is 200, 1 otherwise (refused, timed out, other status).
# It speaks plain HTTP: with SSL=true (TLS in the gateway) probe with your orchestrator's own
# HTTPS check instead. PORT is read from the environment like the gateway does (default 4444).
set -u
path=${1:-/health}
port=${PORT:-4444}
exec 3<>"/dev/tcp/127.0.0.1/${port}" || exit 1
printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$path" >&3
IFS= read -r -t 3 status <&3 || exit 1
exec 3<&-
[[ $status == "HTTP/1."[01]" 200 "* ]]
