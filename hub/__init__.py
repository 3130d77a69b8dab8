"""hub: one GraphQL API and gRPC over several outside systems, each brought in by a plugin."""

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "hub-gateway"  # "hub" on PyPI is another project; the import name stays ``hub``

try:
    __version__ = version(DISTRIBUTION)
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"
