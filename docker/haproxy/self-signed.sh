#!/bin/sh
# Makes a self-signed certificate for a trial of docker-compose.prod.yml:
# docker/haproxy/certs/sesame.pem (certificate and key, mode 0600). Browsers
# warn about it; use a real certificate in production (docs/deployment.md).
# Usage: docker/haproxy/self-signed.sh [HOSTNAME]   (default: localhost)
set -eu
host=${1:-localhost}
dir=$(dirname "$0")/certs
mkdir -p "$dir"
umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=$host" \
  -addext "subjectAltName=DNS:$host" -addext "basicConstraints=critical,CA:FALSE" \
  -addext "extendedKeyUsage=serverAuth" -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
cat "$work/cert.pem" "$work/key.pem" > "$dir/sesame.pem"
echo "wrote $dir/sesame.pem for $host (self-signed, 30 days)"
