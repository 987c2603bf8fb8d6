"""Builds data_bridge.pyloop._pyloop from the same C sources as Autotools.

Nothing here lists a phase or a source file. The phases are
csrc/PHASES (crates/data-bridge-pyloop/PHASES, which configure reads too);
the C sources are the Automake lists: py/Makefile.am's _pyloop_la_SOURCES
and, following its _pyloop_la_LIBADD, each library's _SOURCES in its own
Makefile.am. A new source file goes into those lists only.

The phase is chosen like configure's switches, through the environment:
    PYLOOP_PHASE=<a name in PHASES>                  (default native)
    PYLOOP_BATCH_LIMIT=N|none                        (override one axis)
    PYLOOP_WAIT=sleep|adaptive|condvar|poller        (override one axis)
Both build paths write the same pyloop_config.h; loop_impl/phase.h turns it
into the phase's axes, so they cannot drift apart. Every build recompiles
everything (build_ext.force): objects of another phase are never reused.
Metadata (name, version from csrc/VERSION, ...) is in pyproject.toml.
"""
import os
import re
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
SOURCE = "csrc"  # a link to crates/data-bridge-pyloop (real files in an sdist)
WAITS = {
    "sleep": "PYLOOP_WAIT_SLEEP",
    "adaptive": "PYLOOP_WAIT_ADAPTIVE",
    "condvar": "PYLOOP_WAIT_CONDVAR",
    "poller": "PYLOOP_WAIT_POLLER",
}


def source_path(*parts):
    return os.path.join(HERE, SOURCE, *parts)


def read_version():
    with open(source_path("VERSION")) as version_file:
        return version_file.read().strip()


def phase_identifier(name):
    """The C identifier of a phase name (as configure derives it)."""
    return "PYLOOP_PHASE_" + name.upper().replace(".", "_")


def read_phases():
    """The phase names of csrc/PHASES, checked against loop_impl/phase.h."""
    with open(source_path("PHASES")) as phases_file:
        phases = phases_file.read().split()
    with open(source_path("loop_impl", "phase.h")) as header:
        in_header = re.findall(r'^#define PYLOOP_PHASE_NAME "(.*)"$', header.read(), re.MULTILINE)
    if in_header != phases:
        sys.exit(f"loop_impl/phase.h names {in_header}, PHASES names {phases}: make them the same")
    return phases


def makefile_variables(path):
    """{NAME: [word, ...]} of a Makefile.am's assignments (=, +=), with the
    continuation lines joined; both branches of a conditional are kept."""
    with open(path) as makefile:
        text = makefile.read().replace("\\\n", " ")
    variables = {}
    for line in text.splitlines():
        match = re.match(r"([A-Za-z_][A-Za-z0-9_]*)\s*(\+?=)(.*)$", line)
        if match:
            name, operator, value = match.groups()
            words = value.split(" #", 1)[0].split()
            variables[name] = (variables.get(name, []) if operator == "+=" else []) + words
    return variables


def library_sources(directory, library):
    """The sources of an Automake library (DIR/LIB.la's _SOURCES) and of the
    libraries in its _LIBADD, recursively, as paths relative to setup.py."""
    variables = makefile_variables(os.path.join(HERE, directory, "Makefile.am"))
    canonical = re.sub(r"[^A-Za-z0-9_]", "_", library)
    if canonical + "_SOURCES" not in variables:
        sys.exit(f"{directory}/Makefile.am has no {canonical}_SOURCES")
    sources = [os.path.join(directory, name) for name in variables[canonical + "_SOURCES"]]
    for dependency in variables.get(canonical + "_LIBADD", []):
        if dependency.endswith(".la"):
            where = os.path.normpath(os.path.join(directory, os.path.dirname(dependency)))
            sources += library_sources(where, os.path.basename(dependency))
    return list(dict.fromkeys(sources))


def extension_sources():
    """(.c files to compile, include folders) of the _pyloop extension."""
    sources = library_sources(os.path.join(SOURCE, "py"), "_pyloop.la")
    compiled = [path for path in sources if path.endswith(".c")]
    folders = list(dict.fromkeys(os.path.dirname(path) for path in sources))
    return compiled, folders


def config_header_lines():
    """The pyloop_config.h lines for the phase asked for in the environment."""
    phases = read_phases()
    phase = os.environ.get("PYLOOP_PHASE", "native")
    if phase not in phases:
        sys.exit(f"PYLOOP_PHASE={phase!r} is not a phase: choose one of {', '.join(phases)}")
    lines = [f"#define PYLOOP_PHASE {phase_identifier(phase)}"]
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


if __name__ == "__main__":
    config_header_lines()  # fail early, before setuptools, on a bad phase
    sources, include_dirs = extension_sources()
    setup(
        ext_modules=[
            Extension(
                "data_bridge.pyloop._pyloop",
                sources=sources,
                include_dirs=include_dirs,
                define_macros=[("_GNU_SOURCE", "1")],
                extra_compile_args=["-std=gnu11", "-O2", "-pthread"],
                extra_link_args=["-pthread"],
            )
        ],
        cmdclass={"build_ext": BuildExt},
    )
