#!/usr/bin/env bash
# Regenerates the demo authorization records in SampleMedia/records, signed with the DEMO key in
# SampleMedia/keys (a key made for the demo only: never trust it anywhere real). Each record shows one
# outcome of the consent decision on the "website" channel:
#   AUTH-DEMO-0001  demo-phone-photo.jpg   website + instagram, valid           -> publishable (and its edited copy)
#   AUTH-DEMO-0002  demo-camera-photo.jpg  expired on 2026-06-01                -> quarantined
#   AUTH-DEMO-0003  demo-screenshot.png    print only                           -> channel not permitted
#   AUTH-DEMO-0004  demo-ycck-print.jpg    two people in frame, one consented   -> 1 of 2 people consented
#   AUTH-DEMO-0005  demo-portrait.jpg      revoked by AUTH-DEMO-0005-revoked-*  -> quarantined
#   AUTH-DEMO-0006  demo-group-photo.jpg   valid (Scripts/demo revokes it)      -> published, then retracted
#   AUTH-DEMO-0007  demo-clip.mp4          website + instagram, valid           -> published without GPS/title
#   AUTH-DEMO-0008  demo-phone-photo.heic  website, valid (same patient as 0001) -> published without Exif/XMP
# Subjects are pseudonymous (P-DEMO-...); nothing here is a real person.
set -euo pipefail
cd "$(dirname "$0")/.."
# SCRATCH: the build folder to use (default .build), e.g. SCRATCH=.build-fp beside another build.
scratch=${SCRATCH:-.build}
swift build --scratch-path "$scratch" --product consentgate >/dev/null
bin=$(swift build --scratch-path "$scratch" --show-bin-path)/consentgate
media=SampleMedia
keys=$media/keys
records=$media/records
mkdir -p "$keys"
if [ ! -f "$keys/demo-office.DEMO.key" ]; then
  "$bin" keys generate --name demo-office.DEMO --dir "$keys" > "$keys/generate.out"
  { echo "# DEMO trust file for SampleMedia: trusts only the DEMO key. Never use it in production."
    sed -n '/^- key_id/,$p' "$keys/generate.out" \
      | sed -e 's/valid_from: "[0-9-]*"/valid_from: "2026-01-01"/' -e 's/comment: ".*"/comment: "DEMO key for SampleMedia only"/' \
            -e 's/roles: \[authorize, revoke\]/roles: [authorize, revoke, takedown]/'
  } > "$media/trust.DEMO.yml"
  rm "$keys/generate.out"
fi
chmod 600 "$keys/demo-office.DEMO.key"   # git does not keep file modes; the key must be private to sign
rm -rf "$records" && mkdir -p "$records"
common=(--key "$keys/demo-office.DEMO.key" --out "$records" --covered-entity "Demo Clinic (FAKE)"
  --recipients "Demo Clinic marketing office" --signer patient --form-template DEMO-MKT-AUTH-v1
  --recorded-by po-demo --effective 2026-01-01)
"$bin" authorize "${common[@]}" --id AUTH-DEMO-0001 --subject P-DEMO-0001 --channels website,instagram \
  --expires 2036-01-01 --signed-on 2026-01-01 "$media/demo-phone-photo.jpg"
# AUTH-DEMO-0002 is expired on purpose, and `authorize` refuses to write an expired record: it is written with a
# later expiry into a scratch folder, its expiry set back to 2026-06-01, and signed with the stock minisign tool
# (the DEMO key is minisign's unencrypted layout), with the trusted comment ConsentGate writes.
expired=$(mktemp -d)
trap 'rm -rf "$expired"' EXIT
"$bin" authorize "${common[@]}" --out "$expired" --id AUTH-DEMO-0002 --subject P-DEMO-0002 --channels website \
  --expires 2036-01-01 --signed-on 2026-01-01 "$media/demo-camera-photo.jpg" >/dev/null
sed 's/"expires": "2036-01-01"/"expires": "2026-06-01"/' "$expired/AUTH-DEMO-0002.json" > "$records/AUTH-DEMO-0002.json"
signed_at=$(sed -n 's/.*"recorded_at": "\(.*\)".*/\1/p' "$records/AUTH-DEMO-0002.json")
minisign -S -s "$keys/demo-office.DEMO.key" -m "$records/AUTH-DEMO-0002.json" \
  -t "type=consentgate.authorization/v1 id=AUTH-DEMO-0002 signed_at=$signed_at" </dev/null >/dev/null
"$bin" authorize "${common[@]}" --id AUTH-DEMO-0003 --subject P-DEMO-0003 --channels print \
  --expires 2036-01-01 "$media/demo-screenshot.png"
"$bin" authorize "${common[@]}" --id AUTH-DEMO-0004 --subject P-DEMO-0004 --channels website \
  --expires 2036-01-01 --people-in-frame 2 "$media/demo-ycck-print.jpg"
"$bin" authorize "${common[@]}" --id AUTH-DEMO-0005 --subject P-DEMO-0005 --channels website \
  --expires 2036-01-01 "$media/demo-portrait.jpg"
"$bin" authorize "${common[@]}" --id AUTH-DEMO-0006 --subject P-DEMO-0006 --channels website \
  --expires 2036-01-01 --signed-on 2026-01-01 "$media/demo-group-photo.jpg"
"$bin" authorize "${common[@]}" --id AUTH-DEMO-0007 --subject P-DEMO-0007 --channels website,instagram \
  --expires 2036-01-01 --signed-on 2026-01-01 "$media/demo-clip.mp4"
"$bin" authorize "${common[@]}" --id AUTH-DEMO-0008 --subject P-DEMO-0001 --channels website \
  --expires 2036-01-01 --signed-on 2026-01-01 "$media/demo-phone-photo.heic"
"$bin" revoke --key "$keys/demo-office.DEMO.key" --authorization AUTH-DEMO-0005 \
  --received-at 2026-03-01T09:00:00Z --recorded-by po-demo --out "$records"
"$bin" records verify --authorizations "$records" --trust "$media/trust.DEMO.yml"
