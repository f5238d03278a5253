"""Standalone funnel anchors for ``bench/funnel.py``: plain ClickHouse (chdb) and DuckDB SQL, one process each.

Each script takes the Parquet dataset (a file or a folder such as ``sopflow events export`` writes), the
steps and the window in seconds, and prints one JSON object: ``{"anchor", "users": [persons reaching step
1..n], "query_seconds"}``. They import nothing from sopflow, so a whole-process time is the anchor's own.
"""
