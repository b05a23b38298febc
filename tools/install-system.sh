#!/usr/bin/env bash
# Debian packages the stack needs: Redis, ffmpeg (audio decoding), espeak-ng/flite (test voices).
set -euo pipefail
needed=()
command -v redis-server >/dev/null || needed+=(redis-server)
command -v ffmpeg >/dev/null || needed+=(ffmpeg)
command -v espeak-ng >/dev/null || needed+=(espeak-ng)
command -v flite >/dev/null || needed+=(flite)
[ ${#needed[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing Debian packages: ${needed[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${needed[@]}"
