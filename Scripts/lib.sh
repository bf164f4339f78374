# Shared by the scripts: install Debian packages that are missing (apt-get update once, then install).
need_packages() {
  local missing=()
  for package in "$@"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing: ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# What building ConsentGate needs (Debian/Ubuntu): the C libraries its system-library targets find through
# pkg-config (libexif, libjpeg, libpng, libwebp, libsodium, libseccomp, SQLite, libavcodec/libavutil/libswscale,
# libheif) and dlib with the LAPACK and BLAS its headers call. Every script that builds installs these.
build_packages=(libseccomp-dev libdlib-dev liblapack-dev libblas-dev libavcodec-dev libavutil-dev libswscale-dev
  libheif-dev libexif-dev libjpeg-dev libpng-dev libwebp-dev zlib1g-dev libsodium-dev libsqlite3-dev pkg-config)
