"""hub: one GraphQL API and gRPC over several outside systems, each brought in by a plugin."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hub")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"
