"""Validates Pixzoo's OpenAPI document with openapi-spec-validator."""

import json
import sys
import urllib.request

from openapi_spec_validator import validate


def main(base: str) -> None:
    with urllib.request.urlopen(f"{base}/api/openapi.json") as response:
        spec = json.load(response)
    validate(spec)
    expected = {
        "/api/image",
        "/api/models",
        "/api/images",
        "/api/images/{id}",
        "/v1/images/generations",
        "/api/openapi.json",
    }
    missing = expected - set(spec["paths"])
    assert not missing, f"undocumented: {missing}"
    image = spec["paths"]["/api/image"]["post"]["responses"]["200"]["content"]
    assert {"application/json", "text/event-stream"} <= set(image), f"/api/image answers: {set(image)}"
    print(f"openapi: valid {spec['openapi']} document with {len(spec['paths'])} paths")


if __name__ == "__main__":
    main(sys.argv[1])
