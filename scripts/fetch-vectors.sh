#!/usr/bin/env bash
# Fetches the Project Wycheproof vector files the tests read (tests/vectors/) into
# ../shared/vectors/wycheproof, from C2SP/wycheproof at a pinned commit. Needs git and a network;
# `make test` never runs it (without the vectors it skips those suites and says so at the end).
#   bash scripts/fetch-vectors.sh            # into ../shared/vectors/wycheproof
#   bash scripts/fetch-vectors.sh DIR        # into DIR/wycheproof instead (DIR = a vectors dir)
set -euo pipefail
REPO_URL="https://github.com/C2SP/wycheproof.git"
COMMIT="073df56bfc1f2719eecad1e32391b8a80b43338a"
FILES=(
  aes_cbc_pkcs5_test.json aes_gcm_test.json
  ecdsa_secp256r1_sha256_p1363_test.json ecdsa_secp384r1_sha384_p1363_test.json
  ecdsa_secp521r1_sha512_p1363_test.json ed25519_test.json hkdf_sha256_test.json
  hmac_sha256_test.json hmac_sha384_test.json hmac_sha512_test.json
  json_web_key_test.json json_web_signature_test.json pbkdf2_hmacsha256_test.json
  rsa_pss_2048_sha256_mgf1_32_test.json rsa_pss_4096_sha512_mgf1_64_test.json
  rsa_signature_2048_sha256_test.json rsa_signature_2048_sha384_test.json
  rsa_signature_2048_sha512_test.json rsa_signature_3072_sha256_test.json
  rsa_signature_4096_sha256_test.json rsa_signature_4096_sha512_test.json
)
root="$(cd "$(dirname "$0")/.." && pwd)"
vectors="${1:-$root/../shared/vectors}"
dest="$vectors/wycheproof"
if [ -d "$dest" ]; then
  echo "$dest already exists: nothing to do (remove it to fetch again)"
  exit 0
fi
command -v git >/dev/null || { echo "fetch-vectors: git is not installed" >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work" "$dest.partial"' EXIT
echo "fetching C2SP/wycheproof at $COMMIT ..."
git -C "$work" init -q
git -C "$work" remote add origin "$REPO_URL"
if ! git -C "$work" fetch -q --depth 1 origin "$COMMIT"; then
  echo "fetch-vectors: could not fetch $REPO_URL (no network?); the vector suites stay skipped" >&2
  exit 1
fi
git -C "$work" checkout -q FETCH_HEAD
mkdir -p "$dest.partial"
for name in "${FILES[@]}"; do
  cp "$work/testvectors_v1/$name" "$dest.partial/$name"
done
cp "$work/LICENSE" "$dest.partial/LICENSE"
mv "$dest.partial" "$dest"
echo "wrote ${#FILES[@]} vector files and the LICENSE (Apache-2.0) to $dest"
