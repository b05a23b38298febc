#!/usr/bin/env bash
# Debian packages the stack needs: Redis, ffmpeg (audio decoding), espeak-ng/flite (test voices),
# Mono + NUnit 2.6 for the Unity player's engine-free core, Node.js for the web player's tests, and
# Prometheus (promtool checks the alert rules; the dashboards are queried against a real one).
set -euo pipefail
needed=()
command -v redis-server >/dev/null || needed+=(redis-server)
command -v ffmpeg >/dev/null || needed+=(ffmpeg)
command -v espeak-ng >/dev/null || needed+=(espeak-ng)
command -v flite >/dev/null || needed+=(flite)
command -v promtool >/dev/null || needed+=(prometheus)
command -v node >/dev/null || needed+=(nodejs)
# Headless Chromium for the page tests (tests/browser.py: Playwright drives it; it cannot download its own).
command -v chromium >/dev/null || needed+=(chromium)
# kubectl renders deploy/k8s in the tests (kubectl kustomize); it is on these machines. Debian's
# kubernetes-client (1.20) is too old for the kustomizations: install a current one from your
# Kubernetes distribution where it is missing.
command -v kubectl >/dev/null || echo "warning: kubectl is missing; tests/unit/test_k8s_manifests.py needs it" >&2
command -v mcs >/dev/null || needed+=(mono-mcs)
command -v nunit-console >/dev/null || needed+=(nunit-console)
dpkg -s libnunit-framework2.6.3-cil >/dev/null 2>&1 || needed+=(libnunit-framework2.6.3-cil)
dpkg -s libmono-system-runtime-serialization4.0-cil >/dev/null 2>&1 \
    || needed+=(libmono-system-runtime-serialization4.0-cil)
[ ${#needed[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing Debian packages: ${needed[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${needed[@]}"
