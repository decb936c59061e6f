"""Every byte that enters or leaves Anju: file and SQL sources, Parquet/SQL/report sinks."""
from connectors.errors import SourceError
from connectors.sources import SourceFrame, read_source

__all__ = ["SourceError", "SourceFrame", "read_source"]
