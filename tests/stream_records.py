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
