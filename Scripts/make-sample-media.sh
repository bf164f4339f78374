#!/usr/bin/env bash
# Regenerates the synthetic demo pictures in SampleMedia/ (nothing here is a real person or place).
# Needs ffmpeg, exiftool and heif-enc. The pictures are test patterns drawn by ffmpeg; the metadata is invented.
set -euo pipefail
cd "$(dirname "$0")/../SampleMedia"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ffmpeg -loglevel error -y -f lavfi -i "testsrc2=size=640x480:rate=1" -frames:v 1 -q:v 4 "$tmp/a.jpg"
ffmpeg -loglevel error -y -f lavfi -i "smptebars=size=480x640:rate=1" -frames:v 1 -q:v 4 "$tmp/b.jpg"
ffmpeg -loglevel error -y -f lavfi -i "mandelbrot=size=320x240:rate=1" -frames:v 1 "$tmp/c.png"

# A phone-style photo: GPS, device serials, a comment naming a (fictitious) patient, XMP, IPTC, rotated.
exiftool -q -overwrite_original \
  -Make="DemoPhone" -Model="DemoPhone 12 (DEMO)" -SerialNumber="DEMO-SN-0042" \
  -BodySerialNumber="DEMO-BODY-7731" -Software="DemoCam 1.0" -Artist="Demo Photographer" \
  -DateTimeOriginal="2026:01:15 10:30:00" -GPSLatitude=47.3769 -GPSLatitudeRef=N \
  -GPSLongitude=8.5417 -GPSLongitudeRef=E -GPSAltitude=408 -Orientation#=6 \
  -Comment="Patient: Jane Demo-Doe (FAKE), ward 7" -XMP-dc:Creator="Demo Clinic Photographer" \
  -XMP-dc:Description="Before/after, patient DEMO-P-0001" -IPTC:City="Demotown" \
  -IPTC:Caption-Abstract="Jane Demo-Doe (FAKE)" -ThumbnailImage'<='"$tmp/a.jpg" \
  "$tmp/a.jpg"
cp "$tmp/a.jpg" demo-phone-photo.jpg

# A camera photo with maker-style fields and an ICC profile copied from itself (sRGB via exiftool).
exiftool -q -overwrite_original \
  -Make="DemoCam" -Model="DemoCam X100 (DEMO)" -SerialNumber="DEMO-CAM-1234" -LensSerialNumber="DEMO-LENS-99" \
  -OwnerName="Demo Clinic Marketing" -DateTimeOriginal="2026:02:01 09:00:00" \
  -GPSLatitude=51.5007 -GPSLatitudeRef=N -GPSLongitude=0.1246 -GPSLongitudeRef=W \
  -UserComment="Patient DEMO-P-0002 consented verbally (FAKE)" "$tmp/b.jpg"
cp "$tmp/b.jpg" demo-camera-photo.jpg

# A PNG screenshot with text chunks and an eXIf chunk.
exiftool -q -overwrite_original -PNG:Author="Demo Nurse (FAKE)" -PNG:Comment="Patient Jane Demo-Doe (FAKE)" \
  -XMP-dc:Title="Demo chart" -EXIF:Orientation#=1 -EXIF:Make="DemoScanner" "$tmp/c.png"
cp "$tmp/c.png" demo-screenshot.png

# A copy of the phone photo whose metadata was edited: same picture, so the same content_sha256.
cp demo-phone-photo.jpg demo-phone-photo-edited.jpg
exiftool -q -overwrite_original -Comment="edited later (FAKE)" -Artist="Someone Else (FAKE)" demo-phone-photo-edited.jpg

# A YCCK JPEG (print workflow): its Adobe APP14 segment decides its colours, so it must survive stripping.
cc -O1 -o "$tmp/make-ycck" ../Scripts/fixtures/make-ycck.c -ljpeg
"$tmp/make-ycck" > "$tmp/d.jpg"
exiftool -q -overwrite_original -Comment="Scanned consent sheet of Jane Demo-Doe (FAKE)" -GPSLatitude=40.7 \
  -GPSLatitudeRef=N -GPSLongitude=74.0 -GPSLongitudeRef=W "$tmp/d.jpg"
cp "$tmp/d.jpg" demo-ycck-print.jpg

# A portrait-format picture whose (fictitious) patient later revokes consent.
ffmpeg -loglevel error -y -f lavfi -i "rgbtestsrc=size=360x480:rate=1" -frames:v 1 -q:v 4 "$tmp/e.jpg"
exiftool -q -overwrite_original -Make="DemoPhone" -Model="DemoPhone 12 (DEMO)" -GPSLatitude=48.85 -GPSLatitudeRef=N \
  -GPSLongitude=2.35 -GPSLongitudeRef=E -ImageDescription="Patient DEMO-P-0005 discharge day (FAKE)" "$tmp/e.jpg"
cp "$tmp/e.jpg" demo-portrait.jpg

# A group photo whose (fictitious) patient revokes consent after it was published (the demo's retraction).
ffmpeg -loglevel error -y -f lavfi -i "testsrc=size=640x360:rate=1" -frames:v 1 -q:v 4 "$tmp/f.jpg"
exiftool -q -overwrite_original -Make="DemoCam" -Model="DemoCam X100 (DEMO)" -SerialNumber="DEMO-CAM-5678" \
  -Artist="Demo Photographer" -DateTimeOriginal="2026:04:01 15:00:00" "$tmp/f.jpg"
cp "$tmp/f.jpg" demo-group-photo.jpg

# A photo dropped before its (fictitious) patient's consent is recorded: the demo's pending story.
ffmpeg -loglevel error -y -f lavfi -i "smptehdbars=size=480x320:rate=1" -frames:v 1 -q:v 4 "$tmp/h.jpg"
exiftool -q -overwrite_original -Make="DemoPhone" -Model="DemoPhone 12 (DEMO)" -GPSLatitude=41.88 -GPSLatitudeRef=N \
  -GPSLongitude=87.63 -GPSLongitudeRef=W -ImageDescription="Patient DEMO-P-0009 first visit (FAKE)" "$tmp/h.jpg"
cp "$tmp/h.jpg" demo-before-consent.jpg

# An animated GIF (it loops) with a comment and XMP naming a fictitious patient.
ffmpeg -loglevel error -y -f lavfi -i "testsrc=size=160x120:rate=5" -frames:v 6 -loop 0 "$tmp/g.gif"
exiftool -q -overwrite_original -Comment="Jane Demo-Doe (FAKE) physio session 3" \
  -XMP-dc:Creator="Demo Physio Team (FAKE)" "$tmp/g.gif"
cp "$tmp/g.gif" demo-animation.gif

# A WebP sticker with EXIF (GPS, serials, Orientation 6) and XMP in an extended (VP8X) file. exiftool 12.57
# does not write WebP, so the chunks are assembled here around ffmpeg's VP8 bitstream.
ffmpeg -loglevel error -y -f lavfi -i "testsrc2=size=96x64" -frames:v 1 -c:v libwebp -quality 80 "$tmp/s.webp"
exiftool -b -EXIF demo-phone-photo.jpg > "$tmp/exif.bin"
python3 - "$tmp/s.webp" "$tmp/exif.bin" demo-sticker.webp <<'PY'
import struct, sys
plain = open(sys.argv[1], "rb").read()
exif = open(sys.argv[2], "rb").read()
def chunk(name, payload):
    return name + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) % 2 else b"")
xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator><rdf:Seq>'
       b'<rdf:li>Jane Demo-Doe (FAKE)</rdf:li></rdf:Seq></dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>')
vp8x = chunk(b"VP8X", bytes([0x08 | 0x04, 0, 0, 0]) + (96 - 1).to_bytes(3, "little") + (64 - 1).to_bytes(3, "little"))
body = b"WEBP" + vp8x + plain[12:] + chunk(b"EXIF", exif) + chunk(b"XMP ", xmp)
open(sys.argv[3], "wb").write(b"RIFF" + struct.pack("<I", len(body)) + body)
PY

# A short video clip with a GPS position and a title naming a fictitious patient (MP4 udta).
ffmpeg -loglevel error -y -f lavfi -i "testsrc=size=64x48:rate=5" -t 1 -c:v libx264 -pix_fmt yuv420p \
  -metadata location="+47.3769+008.5417/" -metadata title="Jane Demo-Doe (FAKE) walking again" \
  -fflags +bitexact -flags:v +bitexact "$tmp/clip.mp4"
cp "$tmp/clip.mp4" demo-clip.mp4

# A phone-style HEIC: the phone photo (its EXIF with GPS and serials, its XMP) encoded by heif-enc, with a
# thumbnail. Needs heif-enc (libheif-examples).
heif-enc -q 40 -t 64 demo-phone-photo.jpg -o demo-phone-photo.heic >/dev/null

# Something that is not a picture at all, to show a refusal.
printf 'This is not a picture.\n' > not-a-picture.jpg
ls -l
