"""Podman for the container test: storage, run state and settings of its own under one directory,
and a base image made from this machine's Debian packages (no image registry is reachable here).

Where podman, runc or mmdebstrap is missing, or the test is not root, the container test skips,
saying why; with SCALINGLAW_REQUIRE_CONTAINER=1 (as .ci/run sets) it fails instead.

What these machines need of podman 4.3 (measured, issue 11), written to the containers.conf
that CONTAINERS_CONF names: runc (crun fails: "cgroups in hybrid mode not supported"), the
cgroupfs manager and a file for events (no systemd), and default ulimits within the sandbox's hard
limits. Images are built with `--format docker`, as the OCI format drops HEALTHCHECK; without
systemd nothing runs the periodic check, so `podman healthcheck run` asks for it.

The base (Debian minbase + python3, venv, `python`, the machine's CA certificates) takes a couple
of minutes with mmdebstrap; its tarball is cached in ~/.cache/scalinglaw/container-base under a key
made of everything that goes into it, and only imported by later runs (seconds).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REQUIRE_VARIABLE = "SCALINGLAW_REQUIRE_CONTAINER"
TOOLS = ("podman", "runc", "mmdebstrap")

# What the Dockerfile needs of BASE: `python` (3.11, as the release's python3 is) and its venv
# module; ca-certificates so pip can reach its index from inside the build.
BASE_PACKAGES = ("python3", "python3-venv", "python-is-python3", "ca-certificates")
CA_DIR = Path("/usr/local/share/ca-certificates")  # the machine's extra CAs (its egress proxy's)
SOURCES = Path("/etc/apt/sources.list.d")
# Like the official slim images: no manuals, translations or docs beyond the copyright files.
# merged-usr: /usr merged by mmdebstrap itself, so usrmerge (and the perl it pulls in) stays out.
MMDEBSTRAP_OPTIONS = (
    "--variant=minbase",
    "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
    "--dpkgopt=path-exclude=/usr/share/man/*",
    "--dpkgopt=path-exclude=/usr/share/locale/*",
    "--dpkgopt=path-exclude=/usr/share/info/*",
    "--dpkgopt=path-exclude=/usr/share/doc/*",
    "--dpkgopt=path-include=/usr/share/doc/*/copyright",
)
# `podman import` sets one variable per --change ("ENV A=1 B=2" would be one variable named A).
IMPORT_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["python"]',
)


def require() -> None:
    """Skip (fail, with SCALINGLAW_REQUIRE_CONTAINER=1) when this machine cannot run the test."""
    problem = _problem()
    if problem:
        if os.environ.get(REQUIRE_VARIABLE) == "1":
            pytest.fail(f"{problem} (and {REQUIRE_VARIABLE}=1)")
        pytest.skip(problem)


def _problem() -> str:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return f"the container test needs {', '.join(missing)} (apt-get install podman runc mmdebstrap)"
    if os.geteuid() != 0:
        return "the container test needs root (rootful podman, and mmdebstrap for the base image)"
    if not _release() or not _sources():
        return f"the base image is made from Debian packages: no Debian release or apt sources in {SOURCES}"
    return ""


class Podman:
    """`podman` with its own storage (--root), run state (--runroot, tmp_dir) and containers.conf
    under `home`, so it shares nothing with other podman users; close() removes all of it."""

    def __init__(self, home: Path):
        self.home = home
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        nofile = 1 << 20 if nofile == resource.RLIM_INFINITY else nofile
        conf = home / "containers.conf"
        conf.write_text(
            "[containers]\n"
            f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc=32768:32768"]\n'
            "[engine]\n"
            'runtime = "runc"\n'
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "file"\n'
            f'tmp_dir = "{home / "tmp"}"\n'
        )
        self.env = {**os.environ, "CONTAINERS_CONF": str(conf)}
        self.argv = ["podman", "--root", str(home / "root"), "--runroot", str(home / "run")]

    def __call__(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Runs `podman ARGS`; unless check=False, a non-zero exit fails with podman's output."""
        done = subprocess.run(
            [*self.argv, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and done.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
        return done

    def close(self) -> None:
        """Removes every container, image and volume in this storage, then the storage itself."""
        self("system", "reset", "--force", timeout=300, check=False)
        shutil.rmtree(self.home, ignore_errors=True)


def import_base(podman: Podman) -> str:
    """The base image's name in podman's storage: the cached tarball (built first when missing)."""
    tarball = base_tarball()
    name = f"localhost/scalinglaw-base:{tarball.stem.rsplit('-', 1)[-1]}"
    changes = [arg for change in IMPORT_CHANGES for arg in ("--change", change)]
    podman("import", *changes, str(tarball), name, timeout=600)
    return name


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "scalinglaw" / "container-base"


def base_tarball() -> Path:
    """The base's root filesystem as a tarball, built by mmdebstrap once per set of inputs."""
    directory = cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"debian-python-{base_key()}.tar"
    with _locked(directory / ".lock"):  # two runs at once build it once
        if not path.exists():
            partial = path.with_name(f"{path.stem}.partial.tar")  # .tar: mmdebstrap writes a tarball
            done = subprocess.run(_mmdebstrap_argv(partial), capture_output=True, text=True, timeout=1200)
            if done.returncode != 0:
                partial.unlink(missing_ok=True)
                raise AssertionError(f"mmdebstrap exited {done.returncode}:\n{done.stdout}{done.stderr[-4000:]}")
            partial.replace(path)
            for stale in directory.glob("debian-python-*.tar"):  # built from inputs that changed since
                if stale != path:
                    stale.unlink()
    return path


def base_key() -> str:
    """A hash of everything the base is made of: the recipe (mmdebstrap's arguments, the package
    list), the Debian release and architecture, the apt sources and the CA certificates."""
    inputs = {
        "argv": _mmdebstrap_argv(Path("OUT")),
        "arch": subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True).stdout.strip(),
        "sources": {str(p): p.read_text() for p in _sources()},
        "certificates": {str(p): p.read_text() for p in _certificates()},
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]


def _mmdebstrap_argv(out: Path) -> list[str]:
    hooks = []
    if _certificates():
        hooks = [f"--customize-hook=sync-in {CA_DIR} {CA_DIR}", '--customize-hook=chroot "$1" update-ca-certificates']
    return [
        "mmdebstrap",
        *MMDEBSTRAP_OPTIONS,
        f"--include={','.join(BASE_PACKAGES)}",
        *hooks,
        _release(),
        str(out),
        *map(str, _sources()),
    ]


def _release() -> str:
    """This machine's Debian release (e.g. bookworm): the base has the same python3 as the host."""
    try:
        fields = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line)
    except OSError:
        return ""
    return fields.get("VERSION_CODENAME", "").strip('"') if fields.get("ID") == "debian" else ""


def _sources() -> list[Path]:
    return sorted(p for p in SOURCES.glob("*") if p.suffix in (".sources", ".list"))


def _certificates() -> list[Path]:
    return sorted(CA_DIR.rglob("*.crt")) if CA_DIR.is_dir() else []


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def local_wheels() -> Path | None:
    """The local directory pip takes torch from on this machine (its find-links setting), if any:
    mounted into the build so the image gets the CPU wheel from disk, not a multi-GB download."""
    listed = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True).stdout
    entries = [os.environ.get("PIP_FIND_LINKS", "")]
    entries += [line.split("=", 1)[1].strip("'\"") for line in listed.splitlines() if "find-links=" in line]
    for entry in " ".join(entries).split():
        path = Path(entry.removeprefix("file://"))
        if path.is_dir() and any(path.glob("torch-*.whl")):
            return path
    return None


def build_image(podman: Podman, context: Path, base: str, tag: str) -> None:
    """The image from the checkout at `context`, on `base`, with the local torch wheel if any."""
    args = ["build", "--format", "docker", "--pull=never", "--tag", tag, "--build-arg", f"BASE={base}"]
    wheels = local_wheels()
    if wheels is not None:  # torch from there, its dependencies from pip's own index
        args += ["--volume", f"{wheels}:/wheels:ro", "--build-arg", "PIP_FIND_LINKS=/wheels"]
        args += ["--build-arg", "TORCH_INDEX="]
    podman(*args, str(context), timeout=1800)
