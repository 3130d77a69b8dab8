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


def _targets(project: Path) -> dict[str, str]:
    config = tomllib.loads((project / "pyproject.toml").read_text())
    return dict(config.get("tool", {}).get("hub", {}).get("protos", {}))


def _generate(project: Path, proto: str, out: Path) -> dict[str, str]:
    """Generated files for one proto, by file name, with imports made relative."""
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
        raise SystemExit(f"protoc failed on {proto}")
    package = str(Path(proto).parent).replace("/", ".")
    stem = Path(proto).stem
    files = {}
    for suffix in ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py"):
        text = (out / Path(proto).parent / f"{stem}{suffix}").read_text()
        text = re.sub(rf"^from {re.escape(package)} import ", "from . import ", text, flags=re.M)
        files[stem + suffix] = text
    return files


def run(project: Path, check: bool) -> int:
    drift = []
    with tempfile.TemporaryDirectory() as tmp:
        for proto, target in _targets(project).items():
            target_dir = project / target
            for name, text in _generate(project, proto, Path(tmp)).items():
                path = target_dir / name
                if check:
                    if not path.exists() or path.read_text() != text:
                        drift.append(str(path.relative_to(project)))
                    continue
                target_dir.mkdir(parents=True, exist_ok=True)
                (target_dir / "__init__.py").touch()
                path.write_text(text)
    if drift:
        print("generated stubs are out of date (run `hub protogen`):", *drift, sep="\n  ")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    check = "--check" in argv
    rest = [a for a in argv if a != "--check"]
    return run(Path(rest[0] if rest else "."), check)


if __name__ == "__main__":
    raise SystemExit(main())
