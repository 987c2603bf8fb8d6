"""Builds data_bridge.pyloop._pyloop from the same C sources as Autotools.

The phase is chosen like configure's switches, through the environment:
    PYLOOP_PHASE=baseline|3.1.1|3.1.2|3.1.3|native   (default native)
    PYLOOP_BATCH_LIMIT=N|none                        (override one axis)
    PYLOOP_WAIT=sleep|adaptive|condvar|poller         (override one axis)
Both build paths write the same pyloop_config.h; loop_impl/phase.h turns it
into the phase's axes, so they cannot drift apart. Every build recompiles
everything (build_ext.force): objects of another phase are never reused.
"""
import os
import shutil
import sys
import tempfile

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

try:
    from setuptools.errors import CompileError, LinkError
except ImportError:  # setuptools < 59
    from distutils.errors import CompileError, LinkError

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = "csrc"  # a link to crates/data-bridge-pyloop
PHASES = {
    "baseline": "PYLOOP_PHASE_BASELINE",
    "3.1.1": "PYLOOP_PHASE_3_1_1",
    "3.1.2": "PYLOOP_PHASE_3_1_2",
    "3.1.3": "PYLOOP_PHASE_3_1_3",
    "native": "PYLOOP_PHASE_NATIVE",
}
WAITS = {
    "sleep": "PYLOOP_WAIT_SLEEP",
    "adaptive": "PYLOOP_WAIT_ADAPTIVE",
    "condvar": "PYLOOP_WAIT_CONDVAR",
    "poller": "PYLOOP_WAIT_POLLER",
}


def read_version():
    with open(os.path.join(HERE, SOURCE, "VERSION")) as version_file:
        return version_file.read().strip()


def config_header_lines():
    """The pyloop_config.h lines for the phase asked for in the environment."""
    phase = os.environ.get("PYLOOP_PHASE", "native")
    if phase not in PHASES:
        sys.exit(f"PYLOOP_PHASE={phase!r} is not a phase: choose one of {', '.join(PHASES)}")
    lines = [f"#define PYLOOP_PHASE {PHASES[phase]}"]
    batch = os.environ.get("PYLOOP_BATCH_LIMIT")
    if batch is not None:
        if batch == "none":
            lines.append("#define PYLOOP_BATCH_LIMIT_SET 0")
        elif batch.isdigit() and int(batch) > 0:
            lines.append(f"#define PYLOOP_BATCH_LIMIT_SET {int(batch)}")
        else:
            sys.exit(f"PYLOOP_BATCH_LIMIT={batch!r}: give a positive whole number, or none")
    wait = os.environ.get("PYLOOP_WAIT")
    if wait is not None:
        if wait not in WAITS:
            sys.exit(f"PYLOOP_WAIT={wait!r} is not a wait strategy: choose one of {', '.join(WAITS)}")
        lines.append(f"#define PYLOOP_WAIT_SET {WAITS[wait]}")
    lines.append(f'#define PACKAGE_VERSION "{read_version()}"')
    return lines


class BuildExt(build_ext):
    def finalize_options(self):
        super().finalize_options()
        self.force = True

    def compiles(self, source):
        """True when `source` compiles and links here (configure's AC_LINK_IFELSE)."""
        directory = tempfile.mkdtemp(prefix="pyloop-check-")
        path = os.path.join(directory, "check.c")
        with open(path, "w") as check:
            check.write(source)
        try:
            objects = self.compiler.compile([path], output_dir=directory, macros=[("_GNU_SOURCE", "1")])
            self.compiler.link_executable(objects, "check", output_dir=directory)
            return True
        except (CompileError, LinkError):
            return False
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    def system_lines(self):
        checks = {
            "HAVE_SYS_EPOLL_H": "#include <sys/epoll.h>\nint main(void) { return epoll_create1(0) < 0; }\n",
            "HAVE_SYS_EVENTFD_H": "#include <sys/eventfd.h>\nint main(void) { return eventfd(0, 0) < 0; }\n",
            "HAVE_EPOLL_PWAIT2": "#include <sys/epoll.h>\n#include <stddef.h>\n"
            "int main(void) { return epoll_pwait2(-1, NULL, 0, NULL, NULL); }\n",
        }
        return [f"#define {macro} 1" for macro, source in checks.items() if self.compiles(source)]

    def build_extensions(self):
        generated = os.path.join(self.build_temp, "generated")
        os.makedirs(generated, exist_ok=True)
        lines = ["/* written by bindings/python/setup.py */"] + config_header_lines() + self.system_lines()
        with open(os.path.join(generated, "pyloop_config.h"), "w") as header:
            header.write("\n".join(lines) + "\n")
        for extension in self.extensions:
            extension.include_dirs.insert(0, generated)
        super().build_extensions()


extension = Extension(
    "data_bridge.pyloop._pyloop",
    sources=[
        f"{SOURCE}/queue/queue.c",
        f"{SOURCE}/timers/timers.c",
        f"{SOURCE}/loop_impl/loop.c",
        f"{SOURCE}/loop_impl/poller.c",
        f"{SOURCE}/loop_impl/wait.c",
        f"{SOURCE}/py/module.c",
        f"{SOURCE}/py/handle.c",
        f"{SOURCE}/py/loop_object.c",
    ],
    include_dirs=[f"{SOURCE}/{part}" for part in ("queue", "timers", "loop_impl", "py")],
    define_macros=[("_GNU_SOURCE", "1")],
    extra_compile_args=["-std=gnu11", "-O2", "-pthread"],
    extra_link_args=["-pthread"],
    depends=[],
)

if __name__ == "__main__":
    config_header_lines()  # fail early, before setuptools, on a bad phase
    setup(
        version=read_version(),
        packages=["data_bridge", "data_bridge.pyloop"],
        ext_modules=[extension],
        cmdclass={"build_ext": BuildExt},
    )
