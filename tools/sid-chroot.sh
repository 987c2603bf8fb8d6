#!/bin/sh
# The Debian sid chroot that holds CPython 3.14 and 3.15 (issue 15): Debian
# ships them as binary packages only in sid, and they need sid's C library,
# so they run in a `debootstrap --variant=minbase` sid chroot (about 1 GB,
# made in about a minute), cached OUTSIDE the source tree and reused.
#
#   tools/sid-chroot.sh create   make the chroot, or bring it up to date (root)
#   tools/sid-chroot.sh status   say whether it is ready; exit 1 if not
#   tools/sid-chroot.sh pythons  the interpreters it holds, one path a line
#   tools/sid-chroot.sh run [--bind DIR]... [--env NAME=VALUE]... [--cd DIR] -- COMMAND...
#                                COMMAND inside it (root), with /proc and /dev
#                                mounted and each DIR bind-mounted at its own
#                                path, all unmounted when COMMAND ends
#
# PYLOOP_SID_CHROOT: where it lives (default /var/cache/pyloop/sid-chroot).
# PYLOOP_SID_MIRROR: the Debian mirror (default: the host's, from
# /etc/apt/sources.list*, else http://deb.debian.org/debian).
#
# The mirror's sid Release files may have expired (a snapshot, or a mirror
# that stopped syncing): apt inside runs with Acquire::Check-Valid-Until=false.
# The chroot gets the host's /etc/resolv.conf and /etc/ssl/certs, so it
# resolves names and trusts the host's certificate authorities (pip works
# inside). `run` mounts in a private mount namespace (unshare -m): two runs
# at once, from two build trees, do not unmount each other's /proc, and an
# rbind of /dev cannot propagate its unmount back to the host's /dev/pts.
set -eu

root=${PYLOOP_SID_CHROOT:-/var/cache/pyloop/sid-chroot}
# What the build and the tests need inside: the interpreters with their
# headers, venv and CPython's own test suite (test_asyncio, for the
# conformance runs), the compiler and the tools configure and make call.
# Not here: python3.13-dev and valgrind, which only docs/benchmarks.md's
# one-off callgrind comparison of 3.13/3.14/3.15 used (installed by hand).
packages="python3.14-dev python3.14-venv libpython3.14-testsuite
python3.15-dev python3.15-venv libpython3.15-testsuite
gcc libc6-dev make autoconf automake libtool pkg-config check ca-certificates procps"
versions="3.14 3.15"
apt_opts="-o Acquire::Check-Valid-Until=false -o APT::Install-Recommends=false -o Dpkg::Use-Pty=0"
stamp=$root/.pyloop-sid-chroot
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

say() { printf 'sid-chroot: %s\n' "$*"; }
die() { say "$*" >&2; exit 1; }

mirror() {
    if [ -n "${PYLOOP_SID_MIRROR:-}" ]; then echo "$PYLOOP_SID_MIRROR"; return; fi
    # The first Debian archive the host's apt uses (deb822 URIs: or a
    # one-line "deb URL suite" entry), not its security archive.
    url=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
        sed -n -e 's/^URIs:[[:space:]]*//p' -e 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]*\).*/\2/p' |
        tr ' ' '\n' | grep -E '/debian/?$' | head -n 1)
    echo "${url:-http://deb.debian.org/debian}"
}

# Ready: made by `create` with today's package list, and its interpreters run.
ready() {
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(echo $packages)" ] || return 1
    for v in $versions; do [ -x "$root/usr/bin/python$v" ] || return 1; done
}

copy_host_files() {
    # Names and certificate authorities as on the host (resolv.conf may be a
    # link into /run: copy what it points at).
    rm -f "$root/etc/resolv.conf"
    cp -L /etc/resolv.conf "$root/etc/resolv.conf"
    if [ -d /etc/ssl/certs ]; then
        rm -rf "$root/etc/ssl/certs"
        mkdir -p "$root/etc/ssl"
        cp -rL /etc/ssl/certs "$root/etc/ssl/certs"
    fi
}

create() {
    [ "$(id -u)" -eq 0 ] || die "create needs root (debootstrap, chroot)"
    command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing (./bootstrap installs it)"
    if ready; then say "$root is ready (reused)"; return 0; fi
    url=$(mirror)
    if [ ! -x "$root/usr/bin/apt-get" ]; then
        # Into a side folder, renamed when complete: an interrupted
        # debootstrap leaves nothing that looks like a chroot.
        rm -rf "$root.new"
        mkdir -p "$(dirname "$root")"
        say "debootstrap --variant=minbase sid $root ($url)"
        debootstrap --variant=minbase sid "$root.new" "$url" >"$root.new.log" 2>&1 ||
            { tail -n 20 "$root.new.log"; die "debootstrap failed (log: $root.new.log)"; }
        rm -rf "$root" && mv "$root.new" "$root" && mv "$root.new.log" "$root.debootstrap.log"
    fi
    echo "deb $url sid main" >"$root/etc/apt/sources.list"
    printf 'Acquire::Check-Valid-Until "false";\n' >"$root/etc/apt/apt.conf.d/99pyloop-valid-until"
    copy_host_files
    say "apt-get install $(echo $packages)"
    # shellcheck disable=SC2086
    run_inside -- env DEBIAN_FRONTEND=noninteractive sh -c \
        "apt-get $apt_opts -qq update && apt-get $apt_opts -y -qq install $(echo $packages) >/dev/null && apt-get clean" ||
        die "apt-get install in $root failed"
    # Installing ca-certificates rebuilt /etc/ssl/certs from sid's list: the
    # host's authorities win (a proxy's CA, say).
    copy_host_files
    echo $packages >"$stamp"
    for v in $versions; do say "$(chroot "$root" "python$v" -VV)"; done
    say "$root is ready"
}

status() {
    if [ ! -d "$root" ]; then say "no chroot at $root (create it: ./bootstrap --sid-chroot)"; return 1; fi
    if ! ready; then say "$root is incomplete or out of date (./bootstrap --sid-chroot)"; return 1; fi
    if [ "$(id -u)" -ne 0 ]; then say "$root is ready, but running in it needs root"; return 1; fi
    say "$root is ready"
}

pythons() { for v in $versions; do echo "/usr/bin/python$v"; done; }

# run_inside [--bind DIR]... [--env NAME=VALUE]... [--cd DIR] -- COMMAND...
run_inside() {
    [ "$(id -u)" -eq 0 ] || die "run needs root (chroot, mount)"
    [ -d "$root" ] || die "no chroot at $root"
    exec_unshare=$(command -v unshare) || die "unshare (util-linux) is missing"
    "$exec_unshare" --mount --propagation private -- /bin/sh "$self" __inner "$@"
}

inner() {
    binds= envs= dir=/
    while [ $# -gt 0 ]; do
        case $1 in
            --bind) binds="$binds $2"; shift 2 ;;
            --env) envs="$envs $2"; shift 2 ;;
            --cd) dir=$2; shift 2 ;;
            --) shift; break ;;
            *) die "run: unknown option $1" ;;
        esac
    done
    [ $# -gt 0 ] || die "run: no command"
    mounted=
    # Unmounted in reverse order whatever happens (the private namespace
    # would drop them when it ends too, but say so rather than rely on it).
    cleanup() { for m in $mounted; do umount -R "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done; }
    trap cleanup EXIT
    trap 'exit 130' INT TERM HUP
    mkdir -p "$root/proc" "$root/dev"
    mount -t proc proc "$root/proc" && mounted="$root/proc $mounted"
    mount --rbind /dev "$root/dev" && mounted="$root/dev $mounted"
    for b in $binds; do
        b=$(cd "$b" && pwd -P)
        mkdir -p "$root$b"
        mount --bind "$b" "$root$b" && mounted="$root$b $mounted"
    done
    # A clean environment: the host's PATH or PYTHONPATH mean nothing inside.
    # shellcheck disable=SC2086
    chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" $envs \
        /bin/sh -c 'cd "$1" && shift && exec "$@"' sh "$dir" "$@"
}

case ${1:-} in
    create) create ;;
    status) status ;;
    pythons) pythons ;;
    run) shift; run_inside "$@" ;;
    __inner) shift; inner "$@" ;;
    *) sed -n '2,16p' "$0" >&2; exit 2 ;;
esac
