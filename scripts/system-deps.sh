#!/usr/bin/env bash
# System libraries the pip wheels of gmsh (GLU, X font/cursor libs, OpenMP) and VTK's
# off-screen rendering (EGL + Mesa) load at run time. Installs what is missing when
# running as root with apt-get; otherwise names what to install and carries on.
set -euo pipefail
declare -A lib_for_pkg=(
  [libglu1-mesa]=libGLU.so.1 [libxcursor1]=libXcursor.so.1 [libxft2]=libXft.so.2
  [libxinerama1]=libXinerama.so.1 [libgomp1]=libgomp.so.1 [libegl1]=libEGL.so.1
  [libgl1-mesa-dri]=swrast_dri.so [libegl-mesa0]=libEGL_mesa.so.0
)
missing=()
known=$(ldconfig -p 2>/dev/null || true)  # read once: grep -q on a pipe trips pipefail
for pkg in "${!lib_for_pkg[@]}"; do
  lib=${lib_for_pkg[$pkg]}
  if ! grep -qF "$lib" <<<"$known" && [ -z "$(find /usr/lib -name "$lib" -print -quit 2>/dev/null)" ]; then
    missing+=("$pkg")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "Installing system libraries: ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "warning: missing system libraries (install them with your package manager): ${missing[*]}" >&2
fi
