#!/bin/sh
# Regenerates SampleMedia's face pictures (issue #24) from public-domain NASA photographs in a scikit-image
# checkout (skimage/data/astronaut.png, rocket.jpg; in scikit-image before its src/ layout).
#   Scripts/make-face-samples.sh PATH/TO/skimage/data
set -eu
data=${1:?usage: make-face-samples.sh PATH/TO/skimage/data}
out=$(cd "$(dirname "$0")/../SampleMedia" && pwd)
ffmpeg -v error -y -i "$data/astronaut.png" -vf scale=320:320 -q:v 4 "$out/faces-one-person.jpg"
ffmpeg -v error -y -i "$data/astronaut.png" -filter_complex \
    "[0]scale=256:256,split=3[a][b][c];[b]eq=brightness=-0.05[bb];[c]eq=brightness=0.04[cc];[a][bb][cc]hstack=3" \
    -q:v 4 "$out/faces-group-of-three.jpg"
ffmpeg -v error -y -i "$data/astronaut.png" -filter_complex \
    "[0]scale=320:320,split=2[a][b];[b]eq=contrast=1.1[bb];[a][bb]hstack=2" -q:v 4 "$out/demo-two-people.jpg"
ffmpeg -v error -y -i "$data/rocket.jpg" -vf scale=320:-2 -q:v 5 "$out/faces-no-people.jpg"
