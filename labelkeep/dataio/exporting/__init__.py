"""Exports: tasks with their annotations as JSON, CSV, CoNLL, COCO, YOLO or Pascal VOC.

`selection` says which tasks and annotations, `source` reads them in keyset chunks (or
from a snapshot file), the format modules turn them into bytes, `services` starts sync
exports and snapshots, `api` serves them. See docs/export.md.
"""
