"""Ingest: walk an images folder, hash and check files, and decode images safely to RGB."""

from labeler.ingest.decode import load_image
from labeler.ingest.records import ImageFile, ScanResult, Skipped
from labeler.ingest.scan import scan

__all__ = ["ImageFile", "ScanResult", "Skipped", "load_image", "scan"]
