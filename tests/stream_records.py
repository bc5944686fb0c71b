"""Test helpers shared by the codec and restore tests: DynamoDB values in the shape a Lambda event carries them."""

from __future__ import annotations

import base64


def lambda_shape(av: dict) -> dict:
    """The client shape (bytes) -> the Lambda event shape (base64 text for B and BS), at any depth."""
    ((kind, value),) = av.items()
    if kind == "B":
        return {"B": base64.b64encode(value).decode()}
    if kind == "BS":
        return {"BS": [base64.b64encode(v).decode() for v in value]}
    if kind == "M":
        return {"M": {k: lambda_shape(v) for k, v in value.items()}}
    if kind == "L":
        return {"L": [lambda_shape(v) for v in value]}
    return av


def archived_lines(session, bucket: str, prefix: str = "") -> list[dict]:
    """Every archive line under ``prefix`` in ``bucket``, parsed, GZIP or plain by content (as Firehose wrote it)."""
    import gzip
    import json

    s3 = session.client("s3")
    lines: list[dict] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            text = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
            lines += [json.loads(line) for line in text.decode().splitlines() if line.strip()]
    return lines
