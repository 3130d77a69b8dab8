"""Regenerate gRPC stubs from ``protos/`` (``hub protogen``), or check them for drift (``--check``).

The map from proto file to the package that receives its stubs is ``[tool.hub.protos]`` in the
project's ``pyproject.toml``; a third-party plugin uses the same command on its own project.
protoc writes absolute imports (``from hub.era.v1 import era_pb2``) that only work if the stubs
live at their proto path; they are rewritten to relative imports so stubs can live in the plugin's
own package."""

from __future__ import annotations

import re
import sys
import tempfile
import tomllib
from pathlib import Path

from grpc_tools import protoc


class ProtogenError(Exception):
    """Nothing to generate from, or protoc refused a proto; the message says which."""


def _targets(project: Path) -> dict[str, str]:
    path = project / "pyproject.toml"
    try:
        config = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ProtogenError(f"{path}: not found (give the project's directory)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProtogenError(f"{path}: {exc}") from None
    targets = dict(config.get("tool", {}).get("hub", {}).get("protos", {}))
    if not targets:
        raise ProtogenError(f"{path}: no [tool.hub.protos] table maps a proto to a package")
    return targets


def _generate(project: Path, proto: str, out: Path) -> dict[str, str]:
    """Generated files for one proto, by file name, with imports made relative."""
    if not (project / "protos" / proto).is_file():  # protoc's own words name no directory
        raise ProtogenError(
            f"[tool.hub.protos] names {proto}, but there is no {project / 'protos' / proto}"
            " (the names are paths under protos/)"
        )
    include = str(Path(protoc.__file__).parent / "_proto")
    args = [
        "protoc",
        f"-I{project / 'protos'}",
        f"-I{include}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        proto,
    ]
    if protoc.main(args) != 0:
        raise ProtogenError(f"protoc failed on {proto} (its message is above)")
    package = str(Path(proto).parent).replace("/", ".")
    stem = Path(proto).stem
    files = {}
    for suffix in ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py"):
        text = (out / Path(proto).parent / f"{stem}{suffix}").read_text()
        text = re.sub(rf"^from {re.escape(package)} import ", "from . import ", text, flags=re.M)
        files[stem + suffix] = text
    return files


def run(project: Path, check: bool) -> int:
    """Write the stubs that differ (or, with ``check``, list them and fail), saying which:
    one ``wrote PATH`` line per file written, then a count of those already up to date."""
    stale, current = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for proto, target in _targets(project).items():
            target_dir = project / target
            for name, text in _generate(project, proto, Path(tmp)).items():
                path = target_dir / name
                if path.exists() and path.read_text() == text:
                    current += 1
                    continue
                stale.append(path)
                if check:
                    continue
                target_dir.mkdir(parents=True, exist_ok=True)
                if not (target_dir / "__init__.py").exists():
                    (target_dir / "__init__.py").touch()
                    print(f"wrote {target_dir / '__init__.py'}")
                path.write_text(text)
                print(f"wrote {path}")
    if check and stale:
        print("generated stubs are out of date (run `hub protogen`):", *stale, sep="\n  ")
        return 1
    if check:
        print(f"all {current} generated files are up to date")
    else:
        print(f"{len(stale)} generated files written, {current} already up to date")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    check = "--check" in argv
    rest = [a for a in argv if a != "--check"]
    try:
        return run(Path(rest[0] if rest else "."), check)
    except ProtogenError as exc:
        print(f"hub protogen: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
